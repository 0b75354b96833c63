"""The session's one Config, kept in step with the widgets and the URL; cached model and data.

How the config flows through a run (app.py calls `start_run` first, then `sync_url`):
1. On a session's first run the config is parsed from the URL (`st.query_params`); every value
   that had to be replaced gets one `st.warning`.
2. On later runs the canonical config in `st.session_state` is updated from the values of the
   widgets that exist (keys `cfg_<field>`), validated by the same `parse`.
3. Widgets are seeded from the config when their key is missing (first run, or a page that was
   not shown), and their default (`value=`, `index=`) is the config's value too, so that a
   widget whose state the frontend dropped is drawn at the config's value, never at its
   minimum. So a widget of another page keeps its value across page switches: the config holds it.
4. `sync_url` writes `to_query(config)` into the URL only when it changed.

Pages read `config()`, `params()`, `data()` and `bptt_result()`. Every cache keys on what it
depends on: the config projected onto the roles of the fields it reads (`Config.project`, e.g.
`params()` on WEIGHTS, `bptt_result()` on NUMBERS), hashed by the exact bytes of
its values (ui/keys.py EXACT), never on arrays or on hash(). So a change of notation,
presentation or a page's view recomputes no engine result. Page-level settings are schema
fields rendered by `view_widget`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterable
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

import rnn_core as rc
from rnn_core.tasks import DEFAULT_DELAY
from ui.config import (EXACT_NUMBERS, FIELD_BY_NAME, FIELDS, NUMBERS, WEIGHTS, Config, Field, build_params,
                       parse, task_fixes, to_query)
from ui.keys import EXACT

CONFIG_KEY = "_config"
LINK_KEY = "_link"               # the query the session was opened with, until a run has read it
WARNED_KEY = "_warned"
WIDGET_PREFIX = "cfg_"
CACHE_ENTRIES = 32
MAX_WARNINGS = 6                 # warnings about one link; the rest are counted in the last one
# Markdown, GFM autolinks, Streamlit directives (:red[...], :material/...:) and LaTeX ($)
MARKDOWN_CHARS = frozenset("\\`*_{}[]()<>#+-.!|$~:@&")
WORD_JOINER = "\u2060"          # invisible; breaks a URL so that it is not made a link


def widget_key(name: str) -> str:
    return WIDGET_PREFIX + name


# ---- the canonical config ----------------------------------------------------------------------

def remember_link() -> None:
    """Keep the link the session was opened with until `start_run` has read it.

    Call first in every run, before any st.* call: a first run cut short there (a click on a
    page in the navigation while a slow server is still starting) is followed by a run whose
    URL has lost its query string, and the shared settings would silently become defaults.
    """
    if CONFIG_KEY not in st.session_state and LINK_KEY not in st.session_state:
        st.session_state[LINK_KEY] = st.query_params.to_dict()


def start_run() -> Config:
    """This run's config: from the URL on the session's first run, else from the widgets.

    Shows one warning per value that had to be replaced. Call once per run, before any widget.
    """
    if CONFIG_KEY not in st.session_state:
        link = st.session_state.pop(LINK_KEY, None)
        config, messages = parse(st.query_params.to_dict() if link is None else link)
    else:
        config, messages = _from_widgets(st.session_state[CONFIG_KEY])
    st.session_state[CONFIG_KEY] = config
    st.session_state[WARNED_KEY] = set()
    warn_once(messages)
    return config


def _from_widgets(base: Config) -> tuple[Config, list[str]]:
    """`base` updated with the current value of every widget that has state this run."""
    raw = {f.name: st.session_state[widget_key(f.name)] for f in FIELDS
           if widget_key(f.name) in st.session_state}
    # fields the (new) task fixes are not the user's choice: their widgets are disabled
    for name in task_fixes(raw.get("task", base.task)):
        raw.pop(name, None)
    # a segmented control clicked on its selected option is deselected (None): keep the choice, quietly
    deselected = [name for name, value in raw.items() if value is None and FIELD_BY_NAME[name].kind == "choice"]
    config, messages = parse({k: v for k, v in raw.items() if k not in deselected}, base=base)
    for name, value in raw.items():
        # a rejected, clamped or deselected widget value is put back to what the config holds
        if value != to_widget_value(FIELD_BY_NAME[name], getattr(config, name)):
            st.session_state[widget_key(name)] = to_widget_value(FIELD_BY_NAME[name], getattr(config, name))
    return config, messages


def config() -> Config:
    """This run's validated config (computed once per run by app.py)."""
    if CONFIG_KEY not in st.session_state:
        return start_run()
    return st.session_state[CONFIG_KEY]


def set_config(new: Config, *, reset_widgets: bool = True) -> None:
    """Make `new` the session's config (presets, weight edits, uploads).

    Safe in callbacks and before the widgets are drawn; after that, follow it with st.rerun().
    With reset_widgets the widget states are dropped so they are re-seeded from `new`.
    """
    st.session_state[CONFIG_KEY] = new
    if reset_widgets:
        for field in FIELDS:
            st.session_state.pop(widget_key(field.name), None)


def sync_url() -> None:
    """Write the config's non-default values into the URL, only when they differ."""
    query = to_query(config())
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def share_url(cfg: Config | None = None) -> str:
    """The URL of the current page with the config's non-default values as query parameters."""
    base = urlsplit(st.context.url or "http://localhost:8501/")
    return urlunsplit((base.scheme, base.netloc, base.path, urlencode(to_query(cfg or config())), ""))


def open_derivation(stage: str, step: int) -> None:
    """Switch to the Derivation page at `stage` and step t = `step` (a chart's "where this comes
    from"); the URL goes along, so the page is right from its first run."""
    set_config(config().replace(d_stage=stage, d_step=min(max(step, 1), config().T), d_all=False),
               reset_widgets=False)
    for name in ("d_step", "d_stage", "d_all"):
        st.session_state.pop(widget_key(name), None)
    st.switch_page("views/derivation.py", query_params=to_query(config()))


def warn_once(messages: Iterable[str]) -> None:
    """One st.warning per distinct message in this run (repeats within the run are dropped).

    Messages quote what a link asked for, and a link can be written by anyone: they are shown
    as literal text (no links, images, HTML or LaTeX), and a link with many bad values gets
    MAX_WARNINGS warnings, not one per value.
    """
    shown = st.session_state.setdefault(WARNED_KEY, set())   # emptied by start_run
    fresh = [m for m in dict.fromkeys(messages) if m not in shown]
    shown.update(fresh)
    if len(fresh) > MAX_WARNINGS:
        rest = len(fresh) - (MAX_WARNINGS - 1)
        fresh = fresh[:MAX_WARNINGS - 1] + [f"... and {rest} more settings were ignored or replaced."]
    for message in fresh:
        st.warning(literal_markdown(message), icon=":material/warning:")


def literal_markdown(text: str) -> str:
    """`text` escaped so that st.markdown shows it as typed: every markup character escaped,
    invisible ones (newlines, zero-width, right-to-left overrides) written as \\uXXXX, and
    a word joiner after ':', '@' and the first w of 'www.' (GFM makes URLs links even when escaped)."""
    out = []
    for i, c in enumerate(text):
        out.append("\\" + c if c in MARKDOWN_CHARS else c if c.isprintable() else f"\\\\u{ord(c):04x}")
        if c in ":@" or text[i:i + 4].lower() == "www.":
            out.append(WORD_JOINER)
    return "".join(out)


# ---- widgets built from the schema -------------------------------------------------------------

def to_widget_value(field: Field, value: Any) -> Any:
    """The config's value as its widget holds it (floats lists are typed as text)."""
    if field.kind == "floats":
        return ", ".join(f"{v:g}" for v in value)
    if field.kind == "choices":
        return list(value)
    return value


def _default_widget(field: Field) -> str:
    if field.kind == "bool":
        return "toggle"
    if field.kind == "choice":
        return "selectbox"
    if field.kind == "floats":
        return "text_input"
    if field.kind == "choices":
        return "multiselect"
    if field.kind in ("int", "float"):
        return "slider" if field.lo is not None else "number_input"
    raise ValueError(f"field {field.name!r} of kind {field.kind!r} has no widget")


WIDGETS: dict[str, Callable] = {
    "slider": st.slider, "number_input": st.number_input, "selectbox": st.selectbox,
    "radio": st.radio, "segmented_control": st.segmented_control, "pills": st.pills,
    "select_slider": st.select_slider, "toggle": st.toggle, "checkbox": st.checkbox,
    "text_input": st.text_input, "multiselect": st.multiselect,
}


def schema_widget(name: str, *, widget: str | None = None, **kwargs: Any) -> Any:
    """Draw the widget of schema field `name`, seeded from the config; returns its typed value.

    `widget` picks the Streamlit widget (default by kind: slider, selectbox, toggle, ...);
    other keyword arguments go to it (label, min_value, max_value, step, format_func, ...).
    min_value / max_value narrower than the schema clamp the value (and the config).
    """
    field = FIELD_BY_NAME[name]
    kind = widget or _default_widget(field)
    key = widget_key(name)
    value = _clamped_to_widget_range(field, getattr(config(), name), kwargs)
    if key not in st.session_state or st.session_state[key] != to_widget_value(field, value):
        st.session_state[key] = to_widget_value(field, value)
    options = {}
    if kind in ("slider", "number_input") and field.lo is not None:
        options = {"min_value": type(value)(field.lo), "max_value": type(value)(field.hi)}
    if kind in ("selectbox", "radio", "segmented_control", "pills", "select_slider", "multiselect"):
        options = {"options": field.options}
    kwargs.setdefault("help", field.help_in(config().notation) or None)
    label = kwargs.pop("label", field.label_in(config().notation))
    options = {**options, **kwargs}
    options.update(_default_of(kind, to_widget_value(field, value), options.get("options")))
    raw = WIDGETS[kind](label, key=key, **options)
    typed, _ = parse({name: raw}, base=config())
    return getattr(typed, name)


def _default_of(kind: str, value: Any, options: Any) -> dict[str, Any]:
    """The widget's own default set to the config's value, besides its state in st.session_state.

    Streamlit's frontend can drop a widget's state (seen when a page switch or a relabelling run
    meets a run still in flight) and then draws the widget at the default it was sent: without
    this, the minimum of every slider and the first option of every select box, which the next
    rerun would then read back as the user's choice.
    """
    if kind in ("selectbox", "radio"):
        options = list(options)
        return {"index": options.index(value)} if value in options else {}
    if kind in ("segmented_control", "pills", "multiselect"):
        return {"default": value}
    return {"value": value}


def _clamped_to_widget_range(field: Field, value: Any, kwargs: dict) -> Any:
    """The value inside a page's narrower [min_value, max_value]; the config follows."""
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if field.kind not in ("int", "float") or (lo is None and hi is None):
        return value
    clamped = type(value)(min(max(value, lo if lo is not None else value), hi if hi is not None else value))
    if clamped != value:
        st.session_state[CONFIG_KEY] = config().replace(**{field.name: clamped})
        sync_url()
    return clamped


def view_widget(name: str, **widget_kwargs: Any) -> Any:
    """A page-level widget of a schema field (role PAGE: a field the sidebar does not draw),
    its value kept in the config and the URL across reruns and page switches.

    e.g. `step = state.view_widget("g_step", min_value=1, max_value=config().T)`.
    """
    field = FIELD_BY_NAME[name]
    if field.in_sidebar:
        raise ValueError(f"view_widget: field {name!r} is drawn by the sidebar (role {field.role!r})")
    return schema_widget(name, **widget_kwargs)


# ---- the model, the data and the gradients, cached on what they depend on -----------------------

@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def _cached_params(key: Config) -> rc.Params:
    return build_params(key)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def _cached_data(key: Config) -> rc.TaskData:
    return make_data(key)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def _cached_bptt(key: Config) -> rc.BPTTResult:
    data = _cached_data(key.project(*EXACT_NUMBERS))
    return rc.bptt(_cached_params(key.project(WEIGHTS)), data.xs, data.ys, activation=key.activation,
                   loss=key.loss, reduction=key.reduction, mask=data.mask, truncation=key.truncation_spec)


def make_data(config: Config) -> rc.TaskData:
    """The config's one sequence (rnn_core.tasks), deterministic in the seed.

    The task's own mask (e.g. copy's first steps, adding's last step) is multiplied by the
    config's (loss only at the last step when loss_at is 'last').
    """
    options = {"loss": config.loss} if config.task == "random" else {}
    if config.task == "copy":
        options["delay"] = min(DEFAULT_DELAY, config.T - 1)   # shorter sequences recall sooner
    data = rc.make_task_data(config.task, T=config.T, D=config.D, O=config.O, seed=config.seed, **options)
    if config.mask is None:
        return data
    mask = config.mask if data.mask is None else data.mask * config.mask
    return replace(data, mask=mask)


def params(cfg: Config | None = None) -> rc.Params:
    """W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (O, H), b_y (O,) of the config, edits applied
    (cached on its WEIGHTS fields)."""
    return _cached_params((cfg or config()).project(WEIGHTS))


def data(cfg: Config | None = None) -> rc.TaskData:
    """The config's one sequence: xs (T, D), ys (T,) ints or (T, O), mask (T,) or None
    (cached on its WEIGHTS, MODEL and DATA fields: sizes, seed, loss, task)."""
    return _cached_data((cfg or config()).project(*EXACT_NUMBERS))


def bptt_result(cfg: Config | None = None) -> rc.BPTTResult:
    """rnn_core.bptt of the config's model on its sequence, with its truncation (cached on its
    NUMBERS fields: notation and page views never recompute it)."""
    return _cached_bptt((cfg or config()).project(*NUMBERS))
