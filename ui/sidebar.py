"""The shared sidebar: one widget per schema field it draws (`Field.in_sidebar`: the roles WEIGHTS, MODEL,
DATA, GRADIENT and DISPLAY), labelled from the schema in the reader's notation.

Drawn by app.py on every run, before the page, so every page reads the same config. In
presentation mode only the settings a lecture changes live are in view; the rest fold away.
"""
from __future__ import annotations

import streamlit as st

import rnn_core as rc
from ui import state
from ui.lessons import bar as lesson_bar
from ui.config import DEFAULT, FIELD_BY_NAME, FIELDS, Config, link_is_complete, task_fixes

# The choice fields whose options name a parameter: a new notation rewords their options.
RELABELLED = tuple(f.name for f in FIELDS if f.in_sidebar and f.in_notation and f.kind == "choice")
WORDED_IN_KEY = "_worded_in_"   # + field: the notation its options were last worded in

# Widget and step per field, where the kind's default would not suit.
WIDGET_OPTIONS = {
    "rho": {"step": 0.05, "format": "%.2f"},
    "trunc_p": {"step": 0.05, "format": "%.2f"},
    "seed": {"widget": "number_input", "step": 1},
    "activation": {"widget": "segmented_control"},
    "reduction": {"widget": "segmented_control"},
}

# The settings that stay in view in presentation mode; the others fold into an expander.
LECTURE_FIELDS = ("cell", "activation", "rho", "forget_bias", "T")
MODEL_FIELDS = ("cell", "T", "H", "D", "O", "activation", "loss", "reduction", "loss_at", "init", "rho",
                "forget_bias", "seed")


def field_widget(name: str) -> None:
    config = state.config()
    field = FIELD_BY_NAME[name]
    if name in config.unused_fields() or (name == "activation" and config.cell != "rnn"):
        _not_for_this_cell(config, field)
        return
    options = dict(WIDGET_OPTIONS.get(name, {}))
    if name == "init" and config.cell != "rnn":
        options["options"] = rc.GATED_INITIALISERS
    options.update(label=field.label_in(config.notation), help=field.help_in(config.notation) or None)
    if field.labels:
        # the notation is bound now: Streamlit may call format_func outside this run
        options["format_func"] = lambda key, field=field, notation=config.notation: \
            field.choice_label(key, notation)
    if name in task_fixes(config.task):
        options["disabled"] = True     # the task decides it; the caption under Task says so
    worded_in = WORDED_IN_KEY + name
    if name in RELABELLED and st.session_state.get(worded_in) != config.notation:
        # The frontend holds a select box's choice as its option's text: reworded options need the
        # value sent again in the run that rewords them, or the box keeps showing the old words.
        # Only then: sent on every run, it would undo keys pressed while a run was in flight.
        st.session_state[state.widget_key(name)] = state.to_widget_value(field, getattr(config, name))
        st.session_state[worded_in] = config.notation
    state.schema_widget(name, **options)


def _not_for_this_cell(config: Config, field) -> None:
    """A setting the chosen cell does not read: said, not drawn (its value waits for the cell that reads it)."""
    cell = rc.get_cell(config.cell).title
    if field.name == "activation":
        st.caption(f"**{field.label_in(config.notation)}**: the {cell}'s gates are sigmoids σ and its "
                   "candidate and output use tanh (the activation choice is the vanilla RNN's).")
    elif field.name == "rho":
        st.caption(f"**{field.label_in(config.notation)}**: the vanilla RNN's; the {cell}'s recurrent "
                   f"blocks come from the initialiser.")


def task_caption(config: Config) -> None:
    task = rc.TASKS[config.task]
    fixed = task_fixes(config.task)
    text = f"{task.description}"
    if fixed:
        text += " It fixes " + ", ".join(f"{name} = {FIELD_BY_NAME[name].choice_label(v)}"
                                         for name, v in fixed.items()) + "."
    st.caption(text)


def render(config: Config) -> None:
    """Draw the share link, "reset all" and the settings for `config` (this run's config).

    The link and the reset come first: in view without scrolling, and drawn before any page
    code runs, so a page that fails on some settings still leaves the way back on screen."""
    with st.sidebar:
        share_link(config)
        in_lesson = lesson_bar.running() is not None
        st.button("Reset all settings", icon=":material/restart_alt:", on_click=reset_all, key="reset_all",
                  disabled=config == reset_config(),
                  help="every setting back to this lesson step's" if in_lesson else
                  "every setting back to its default (presentation mode stays as it is)")
        if config.presentation:
            st.subheader("Settings")
            for name in LECTURE_FIELDS:
                field_widget(name)
            with st.expander("More settings"):
                _all_settings(skip=LECTURE_FIELDS)
        else:
            _all_settings(skip=())
        field_widget("presentation")


def reset_config() -> Config:
    """What "Reset all settings" gives: the defaults with presentation mode kept (the room still
    needs it) or, while a lesson runs, its current step's settings (the lesson goes on)."""
    now = lesson_bar.running()
    if now is not None:
        lesson, n = now
        return lesson.config(n, state.config())
    return DEFAULT.replace(presentation=state.config().presentation)


def reset_all() -> None:
    """Callback of "Reset all settings" (see reset_config); in a lesson, back to its step's page too."""
    now = lesson_bar.running()
    if now is not None:
        lesson_bar.go(*now)
    else:
        state.set_config(reset_config())


def _all_settings(skip: tuple[str, ...]) -> None:
    st.subheader("Model")
    for name in MODEL_FIELDS:
        if name not in skip:
            field_widget(name)
    st.subheader("Data and notation")
    field_widget("task")
    task_caption(state.config())
    field_widget("notation")
    st.subheader("Truncation")
    field_widget("truncation")
    # only the parameter of the chosen kind; the other keeps its value in the config
    truncation = state.config().truncation
    if truncation in ("k_step", "chunked"):
        field_widget("trunc_k")
    elif truncation == "randomized":
        field_widget("trunc_p")


def share_link(config: Config) -> None:
    with st.expander("Share this view", icon=":material/link:"):
        share_link_body(config)


def share_link_body(config: Config) -> None:
    """The link (copy button included) and, when the weight edits do not fit in it, what to do."""
    st.code(state.share_url(config), language=None, wrap_lines=True)
    if not link_is_complete(config):
        st.warning("The hand-edited weights are too many for a link: it carries the other settings "
                   "only. Download the weights file on *Model & weights* and send it with the link.")
