"""Step-by-step derivation: the BPTT equations in the reader's notation, filled with live numbers.

The view: widgets and layout only. The stages, caches, cost model and export are the page's
service (ui/pages/derivation.py, writing with ui/derivation.py), the chart
ui/figures/derivation.py.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

import rnn_core as rc
from ui import derivation_code, state
from ui import notation as nt
from ui import stages as walk
from ui.config import Config
from ui.derivation import DoubleSum, Stage, double_sum_rows, gradcheck_rows
from ui.figures.derivation import double_sum_figure
from ui.notation import NOTATIONS
from ui.pages import derivation as service
from ui.pages import guard_note

STEP_DRAWN_FOR_T = "_d_step_drawn_for_T"   # the T the step slider was last given its value for


# ---- controls ---------------------------------------------------------------------------------------

def _stage_label(key: str, config: Config) -> str:
    index = walk.keys_of(config.cell).index(key)
    info = walk.stages_of(config.cell)[index]
    return f"{index + 1}. {info.label(NOTATIONS[config.notation])} {info.tags}"


def _move_stage(step: int) -> None:
    """Previous/next: set the stage widget before the rerun reads it into the config."""
    key = state.widget_key("d_stage")
    keys = walk.keys_of(state.config().cell)
    current = keys.index(walk.stage_for(state.config().cell, st.session_state.get(key, state.config().d_stage)))
    st.session_state[key] = keys[min(max(current + step, 0), len(keys) - 1)]


def _stage_of_this_cell(config: Config) -> Config:
    """The config with a stage the cell's walk has: a link or another page may name another
    cell's stage (e.g. the vanilla "factor" for an LSTM), shown as its nearest stage."""
    shown = walk.stage_for(config.cell, config.d_stage)
    if shown == config.d_stage:
        return config
    state.set_config(config.replace(d_stage=shown), reset_widgets=False)
    st.session_state.pop(state.widget_key("d_stage"), None)
    state.sync_url()
    return state.config()


def controls(config: Config) -> tuple[int, str, float, bool]:
    """The step t, the stage, the learning rate and 'show all', from this page's widgets."""
    left, middle, right, far_right = st.columns([3, 4, 2, 2], vertical_alignment="bottom")
    with far_right:
        show_all = state.view_widget("d_all", widget="toggle")
    with left:
        if config.T > 1:
            # A new T changes the slider's range and so its identity: Streamlit would restart it
            # at 1 unless its value is set in that run (the config keeps a still valid step).
            # Only then: set on every run, it would undo keys pressed during an earlier run.
            if st.session_state.get(STEP_DRAWN_FOR_T) != config.T:
                st.session_state[state.widget_key("d_step")] = min(config.d_step, config.T)
                st.session_state[STEP_DRAWN_FOR_T] = config.T
            t = state.view_widget("d_step", min_value=1, max_value=config.T,
                                  label=f"Step t (1 to T = {config.T})")
        else:
            t = 1
            st.markdown("Step $t = 1$ (the sequence has one step).")
    with middle:
        stage = state.view_widget("d_stage", options=walk.keys_of(config.cell), format_func=lambda key: _stage_label(key, config),
                                  disabled=show_all)
    with right:
        lr = state.view_widget("d_lr", widget="number_input", step=0.05, format="%.4g")
    return min(t, config.T), stage, lr, show_all


def stage_buttons(stage: str, cell: str, presentation: bool) -> None:
    keys = walk.keys_of(cell)
    index = keys.index(stage)
    # PageUp / PageDown, the keys a presentation clicker sends, only in presentation mode: a
    # reader of this long page uses them to scroll
    back_key, next_key = ("PageUp", "PageDown") if presentation else (None, None)
    # wide enough for the label and its key hint on a projector
    back, info, forward = st.columns([2, 3, 2], vertical_alignment="center")
    back.button("◀ Previous", on_click=_move_stage, args=(-1,), disabled=index == 0,
                width="stretch", key="d_prev", shortcut=back_key, wrap=True)
    info.progress((index + 1) / len(keys), text=f"Stage {index + 1} of {len(keys)}")
    forward.button("Next ▶", on_click=_move_stage, args=(1,), disabled=index == len(keys) - 1,
                   width="stretch", key="d_next", type="primary", shortcut=next_key, wrap=True)


# ---- drawing ------------------------------------------------------------------------------------------

def show_stage(stage: Stage, terms: DoubleSum | None, config: Config, number: int) -> None:
    st.subheader(f"{number}. {stage.title} {stage.tags}", anchor=stage.key)
    st.markdown(stage.intro)
    for eq in stage.equations:
        st.latex(eq.latex(inline_tag=True))
        if eq.note:
            st.caption(eq.note)
    for note in stage.notes:
        st.caption(note)
    if stage.key == "double_sum" and terms is not None:
        show_double_sum(terms, config)


def show_double_sum(terms: DoubleSum, config: Config) -> None:
    n = NOTATIONS[config.notation]
    chart, table = st.columns([3, 2])
    with chart:
        st.plotly_chart(double_sum_figure(terms.norms, terms.shares, t=terms.t, notation=n,
                                          presentation=config.presentation), width="stretch")
        st.caption("Each bar is one term of the sum: the gradient made where the weights act at step k "
                   "and carried forward to the loss at t. On the log axis a straight slope means the "
                   "terms shrink (vanish) or grow (explode) by the same factor per step of distance.")
    with table:
        st.dataframe(pd.DataFrame(double_sum_rows(terms)), hide_index=True, width="stretch")
        st.caption(f"The terms add up to the matrix above; its norm is {service.total_norm(terms):.4g}.")


def show_gradient_check(key: Config, notation: str) -> list[dict]:
    n = NOTATIONS[notation]
    st.subheader("Gradient check", anchor="gradient-check")
    st.markdown(f"Each analytic gradient of {_gradient_tag(key.cell)}, and {_initial_states(n, key.cell)}, "
                "against central finite differences $\\big(L(\\theta + \\epsilon e_i) - L(\\theta - "
                "\\epsilon e_i)\\big) / 2\\epsilon$, computed live on the current model.")
    report = service.gradient_check(key)
    rows = gradcheck_rows(report, notation, key.cell)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"Relative error: the largest difference over the largest magnitude (ε = {report.eps:g}); "
               f"a gradient passes within {report.rtol:g} of it plus the rounding noise of L. "
               + ("Large arrays are checked on a fixed random sample of entries, to stay live."
                  if any(r["entries checked"] < r["entries"] for r in rows) else ""))
    if not report.passed:
        st.warning("Some gradients differ from the finite differences. With overflowing values, or a "
                   "ReLU pre-activation within ε of 0, finite differences are unreliable.",
                   icon=":material/warning:")
    return rows


def _gradient_tag(cell: str) -> str:
    return {"rnn": "(10)", "lstm": "(L10)", "gru": "(G7)"}[cell]


def _initial_states(n, cell: str) -> str:
    """The initial states' gradients in words: dL/dh_0 (and dL/dc_0), in notation n."""
    names = nt.cell_names(n, cell)
    at = (lambda s: n.at(n.h, "0")) if names is None else (lambda s: names.at(s, "0"))
    states = ["h"] + (["c"] if rc.get_cell(cell).memory else [])
    return " and ".join(f"$\\partial {n.L}/\\partial {at(s)}$" for s in states)


def show_reference_loop(config: Config) -> None:
    """The engine's readable loop (st.code of its source) beside the equation of every line."""
    cell = rc.get_cell(config.cell)
    st.subheader("The engine's loop, line by line", anchor="reference-loop")
    st.markdown(f"The function `reference_bptt` of `rnn_core/cells/{config.cell}.py` is the same {cell.title} BPTT as the "
                "engine's fast path (tested equal), as a short loop to read. Each line of its loops beside "
                "the equation it computes, in this page's numbering.")
    loop = derivation_code.loop(config.cell)
    eqs = derivation_code.equations(config.cell, config.notation, loss=config.loss,
                                    activation=config.activation)
    for block in derivation_code.blocks(loop):
        code, equations = st.columns([11, 9], vertical_alignment="center")
        code.code(block.code, language="python", wrap_lines=True)
        equations.latex(derivation_code.block_latex(block, eqs))
    with st.expander(f"The whole function, as in rnn_core/cells/{config.cell}.py"):
        st.code(loop.annotated(), language="python", line_numbers=True)
    st.caption("One sequence, the loss summed (reduction 'sum'); `sig` is the logistic sigmoid σ, "
               "`*` the elementwise product ⊙, `outer` of $a$ and $b$ is $a b^{\\top}$. In the whole function "
               "the marks → (…) name the equation a line computes where its own comment does not.")


def export(stages, config: Config, t: int, rows: list[dict], terms: DoubleSum | None) -> None:
    st.download_button("Download the derivation (Markdown with LaTeX)",
                       service.markdown(stages, config, t, rows, terms),
                       file_name=f"bptt_derivation_t{t}_{config.notation}.md", mime="text/markdown",
                       icon=":material/download:", key="d_export")


def main() -> None:
    config = state.config()
    n = NOTATIONS[config.notation]
    cell = rc.get_cell(config.cell)
    st.title("Step-by-step derivation")
    through = "" if config.cell == "rnn" else f" through the **{cell.title}**"
    st.markdown(f"The equations of BPTT{through} in the notation **{n.title}** ({n.source}), each filled with "
                f"the current model's numbers at one step $t$. Pick your textbook's notation in the sidebar.")
    names = nt.cell_names(n, config.cell)
    if names is None:
        st.caption(f"Notation *{n.title}*: ${n.mapping()}$")
        st.caption(f"**Conventions.** {n.convention}")
    else:
        mapping = "" if names.mapping().startswith(r"\text") else f": ${names.mapping()}$"
        st.caption(f"**The {cell.title} in the notation {n.title}**{mapping}. {names.note}")
    if config.truncation != "full":
        st.info("This page derives the exact gradient; the truncation chosen in the sidebar applies "
                "on the graph and training pages.", icon=":material/info:")
    guard = service.guard()
    config = _stage_of_this_cell(config)
    t, stage_key, lr, show_all = controls(config)
    key = service.key(config)
    _, result = service.solved(key)
    if result.overflow:
        step = result.overflow_step or result.grad_overflow_step
        st.warning(f"The values overflow (from step {step}): some numbers below print as ∞ or nan. "
                   "Lower the spectral radius or use tanh.", icon=":material/warning:")
    stages, terms = service.stages(key, config.notation, t, lr), service.double_sum(key, t)
    if show_all:
        for number, stage in enumerate(stages, start=1):
            show_stage(stage, terms, config, number)
    else:
        stage_buttons(stage_key, config.cell, config.presentation)
        index = walk.keys_of(config.cell).index(stage_key)
        show_stage(stages[index], terms, config, index + 1)
    st.divider()
    rows = show_gradient_check(key, config.notation) if guard.allows("the gradient check") else []
    if note := guard_note(guard):
        st.info(note, icon=":material/timer:")
    st.divider()
    show_reference_loop(config)
    st.divider()
    st.subheader("Export", anchor="export")
    st.markdown("The whole derivation of this instance (every stage, the double sum, the gradient check "
                "and the engine's loop) as Markdown with `$$...$$` LaTeX, for lecture notes.")
    export(stages, config, t, rows, terms)


main()
