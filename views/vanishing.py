"""Vanishing & exploding: why the gradient through time fades or blows up, and when.

Layout only: widgets from the config schema, numbers and words from the page's service
(ui.pages.vanishing: ||dh_T/dh_k|| of eq. (8), its bound (eq. (11)), the spectrum of W_hh, all
pairs ||dh_t/dh_k||, ||dL/dh_t||, the per-step factors, within a cost plan and a Guard), charts
from ui.figures.vanishing. Whatever was shrunk or skipped is said in a note next to it. The main
chart (vanilla RNN) and the all-pairs row carry sliders inside the chart (over ρ, over t) that move
through frames of exact numbers in the browser; the sidebar's ρ stays the exact value the link shares.

For a gated cell (LSTM, GRU) the main curve is ||ds_T/ds_k|| of its whole state beside its
memory path (the product of its forget or update gates); its sections show the spectra of its
recurrent blocks and its gates per unit and step, and say in one line why there are no sweeps.
"Compare cells" draws the three cells on the same inputs, seed, T and H, whatever the cell.
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import streamlit as st

from ui import state
from ui.config import FIELD_BY_NAME, Config, parse
from ui.figures import vanishing as figures
from ui.notation import NOTATIONS, Notation
from ui.pages import guard_note
from ui.pages import vanishing as service

SECTION_HEADERS = {"sweeps": "Sweeps: the same seed, one factor changed",
                   "cells": "Compare cells: vanilla RNN, LSTM and GRU on the same inputs",
                   "spectrum": "The spectrum of ${W}$",
                   "pairs": "All pairs, and the gradient each step receives", "steps": "Why it fades, step by step"}
GATED_HEADERS = {"spectrum": "The spectra of the recurrent blocks", "steps": "The {gate}s, step by step"}
# Radii offered in the sweep's multiselect; any other value in range can be typed in.
RADIUS_CHOICES = (0.25, 0.5, 0.75, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0)
RADII_KEY = "v_radii_pick"
RADII_MESSAGES = "v_radii_messages"
METRIC_WIDTH = 220               # px: each metric's share of a wrapping row


def notes(*texts: str | None, icon: str = ":material/info:") -> None:
    for text in texts:
        if text:
            st.info(text, icon=icon)


def chart(fig, key: str, filename: str) -> None:
    st.plotly_chart(fig, key=key, config={"toImageButtonOptions": {"filename": filename}})


def store_radii() -> None:
    """on_change of the radii multiselect: validated by the schema, kept in the config and URL."""
    config, messages = parse({"v_radii": st.session_state[RADII_KEY]}, base=state.config())
    state.set_config(config, reset_widgets=False)
    st.session_state[RADII_MESSAGES] = messages          # shown by radii_widget in the rerun


def radii_widget(config: Config) -> None:
    """A multiselect of spectral radii; other values can be typed. An empty choice is refused
    by the schema, so the last radius stays."""
    current = [float(r) for r in config.v_radii]
    if st.session_state.get(RADII_KEY) != current:
        st.session_state[RADII_KEY] = current
    field = FIELD_BY_NAME["v_radii"]
    state.warn_once(st.session_state.pop(RADII_MESSAGES, []))
    st.multiselect(field.label, sorted(set(RADIUS_CHOICES) | set(current)), key=RADII_KEY,
                   format_func=lambda r: f"{float(r):g}", accept_new_options=True, on_change=store_radii,
                   help=f"pick radii or type one ({field.lo:g} to {field.hi:g}); at least one stays")


def chart_options(config: Config):
    """The norm and axis choices (folded into a popover on a projector); returns the note's place."""
    controls = st.columns([1.3, 1.3, 3]) if not config.presentation else \
        [st.popover("Chart options", icon=":material/tune:")] * 2 + [st.container()]
    with controls[0]:
        state.view_widget("v_norm", widget="radio", horizontal=True, format_func=FIELD_BY_NAME["v_norm"].choice_label)
    with controls[1]:
        state.view_widget("v_axis", widget="radio", horizontal=True, format_func=FIELD_BY_NAME["v_axis"].choice_label)
    return controls[2]


def metrics(run: service.Run, nt: Notation) -> None:
    """Four short values (never cut) in a row that wraps; what qualifies them is the line under each."""
    row = st.container(horizontal=True, gap="large")
    for metric in service.metrics(run, nt):
        row.metric(**metric, width=METRIC_WIDTH)


def gated_curve(run: service.Run, nt: Notation) -> None:
    """A gated cell's ||ds_T/ds_k|| beside its memory path (the keeping gates' product)."""
    config, summary = run.config, run.summary
    chart(figures.curve_figure(run.norms, None, nt=nt, ord=run.plan.norm, axis=config.v_axis, horizon=summary.horizon,
                               horizon_text=summary.horizon_text, factor_label=summary.label,
                               first_step=run.first_step, presentation=config.presentation,
                               gate=run.gate.norms, gate_label=service.gate_label(config.cell), state="s"),
          "v_curve", "dsT_dsk")
    st.caption(service.gate_caption(run, nt))
    notes(service.window_note(run.norms.shape[0], config.T, "the main curve"), icon=":material/speed:")
    if text := service.gate_verdict(run):
        st.info(text, icon=":material/lightbulb:")
    notes(*service.curve_notes(run, nt))


def main_curve(run: service.Run, nt: Notation) -> None:
    config, summary = run.config, run.summary
    metrics(run, nt)
    if not run.vanilla:
        gated_curve(run, nt)
        notes(service.scrub_note(run))
        return
    family = service.family_of(run)
    if family is None:
        chart(figures.curve_figure(run.norms, run.bound, nt=nt, ord=run.plan.norm, axis=config.v_axis,
                                   horizon=summary.horizon, horizon_text=summary.horizon_text,
                                   factor_label=summary.label, matrix_powers=run.powers, first_step=run.first_step,
                                   presentation=config.presentation), "v_curve", "dhT_dhk")
    else:
        chart(service.scrub_figure(run.model, family.radii, run.plan.norm, run.plan.main_window, config.notation,
                                   config.v_axis, config.presentation), "v_curve", "dhT_dhk")
    st.caption(service.curve_caption(run, nt))
    if family is not None:
        st.caption(service.scrub_caption(run, family))
    notes(service.window_note(run.norms.shape[0], config.T, "the main curve"), service.scrub_note(run),
          icon=":material/speed:")
    if st.button("Where eq. (8) comes from: the Derivation, stage 5 (the factor)", icon=":material/functions:",
                 key="v_to_derivation", type="tertiary"):
        state.open_derivation("factor", config.T - 1)
    if run.powers is not None:
        st.success(service.powers_check(run, nt), icon=":material/check_circle:")
    notes(*service.curve_notes(run, nt))


def sweep_chart(run: service.Run, curves: list, *, title: str, highlight: str, key: str) -> None:
    config = run.config
    chart(service.sweep_figure(curves, config.notation, run.plan.norm, config.v_axis, title, highlight,
                               config.T - run.plan.sweep_window + 1, config.presentation), key, key.removeprefix("v_"))


def sweeps_section(run: service.Run, nt: Notation, radius_curves: list, act_curves: list) -> None:
    config = run.config
    notes(service.dropped_note(run), icon=":material/speed:")
    left, right = st.columns(2)
    with left:
        radii_widget(config)
        if radius_curves:
            sweep_chart(run, radius_curves, title=f"f = {config.activation}, ρ varied",
                        highlight=f"ρ = {config.rho:g}", key="v_sweep_rho")
        st.caption(service.SWEEP_RHO_CAPTION)
    with right:
        state.view_widget("v_acts", format_func=FIELD_BY_NAME["v_acts"].choice_label)
        if act_curves:
            sweep_chart(run, act_curves, title=f"ρ = {config.rho:g}, f varied",
                        highlight=f"f = {config.activation}", key="v_sweep_act")
            st.caption(service.sweep_act_caption(nt))
        elif not config.v_acts:
            notes("Pick one or more activations to compare.")
    notes(service.window_note(run.plan.sweep_window, config.T, "every sweep curve"), icon=":material/speed:")
    st.dataframe(service.sweep_table(radius_curves + act_curves), hide_index=True, width="stretch",
                 column_config={"per-step factor": st.column_config.NumberColumn(format="%.3f")})
    st.caption(service.SWEEP_TABLE_CAPTION)
    notes(*service.sweep_notes(radius_curves + act_curves))


def cells_section(run: service.Run, curves: list) -> None:
    """The three cells' ||ds_T/ds_k|| on one log axis, their horizons and a sentence from their numbers."""
    config = run.config
    notes(service.cells_norm_note(run), service.cells_skipped_note(run), icon=":material/speed:")
    if not curves:
        return
    named = service.named_cells(curves)
    chart(service.sweep_figure(named, config.notation, run.plan.cells_norm, config.v_axis,
                               f"T = {config.T}, H = {config.H}, seed {config.seed}: one curve per cell",
                               service.cell_title(config.cell), config.T - run.plan.cells_window + 1,
                               config.presentation, state="s"), "v_cells", "cells")
    notes(service.cells_sentence(config.T, curves), icon=":material/lightbulb:")
    st.caption(service.CELLS_CAPTION)
    notes(service.cells_window_note(run), icon=":material/speed:")
    st.dataframe(service.sweep_table(named), hide_index=True, width="stretch",
                 column_config={"per-step factor": st.column_config.NumberColumn(format="%.3f")})
    notes(*service.sweep_notes(named))


def spectrum_section(run: service.Run, nt: Notation) -> None:
    if not run.vanilla:
        blocks = service.cached_block_spectra(run.model)
        chart(figures.blocks_spectrum_figure(blocks, presentation=run.config.presentation), "v_spectrum", "spectra")
        st.caption(service.block_spectrum_caption(run.config.cell, blocks))
        return
    chart(figures.spectrum_figure(run.eigenvalues, run.singular, gamma=run.gamma, rho=run.config.rho, nt=nt,
                                  presentation=run.config.presentation), "v_spectrum", "spectrum")
    st.caption(service.spectrum_caption(run, nt))
    notes(service.edits_note(run))


def pairs_map(run: service.Run, nt: Notation, pairs: np.ndarray) -> None:
    config, plan, T = run.config, run.plan, run.config.T
    chart(figures.pairwise_figure(pairs, nt=nt, ord=plan.pair_norm, first_step=T - plan.pair_window + 1,
                                  presentation=config.presentation, state=None if run.vanilla else "s"),
          "v_pairwise", "pairwise")
    st.caption(service.pairs_caption(nt, config.cell))
    chart(service.pairs_row_figure(run.model, plan.pair_norm, plan.pair_window, config.notation,
                                   config.presentation), "v_pairs_row", "pairs_row")
    st.caption(service.pairs_row_caption(nt, config.cell))
    notes(service.pair_norm_note(run), service.window_note(plan.pair_window, T, "the map of all pairs"),
          icon=":material/speed:")
    notes(*service.pair_notes(pairs, nt, config.cell))


def pairs_section(run: service.Run, nt: Notation, grads: np.ndarray | None) -> None:
    config, T = run.config, run.config.T
    with st.spinner("Computing all pairs…"):
        pairs = service.pairs_of(run)
    notes(service.pairs_skipped_note(run), icon=":material/speed:")
    if pairs is None and run.plan.pair_window:           # the guard stopped: the note below the page says so
        return
    left, right = st.columns(2)
    if pairs is not None:
        with left:
            pairs_map(run, nt, pairs)
    with right if pairs is not None else left:
        if grads is None:
            return
        norms = service.step_norms(grads)
        chart(figures.dl_dh_figure(norms, nt=nt, first_step=T - norms.shape[0] + 1, presentation=config.presentation),
              "v_dl_dh", "dL_dh")
        st.caption(service.gradient_caption(run, nt))
        notes(service.gradient_window_note(run, norms.shape[0]), icon=":material/speed:")
        notes(*service.gradient_notes(norms, nt))


def gates_section(run: service.Run) -> None:
    """A gated cell's keeping gate per unit and step: the factors of its memory path."""
    letter = service.GATE_WORDS[run.config.cell].letter
    chart(figures.derivative_heatmap(run.gate.values, gamma=1.0, nt=NOTATIONS[run.config.notation],
                                     presentation=run.config.presentation, label=f"{letter}<sub>t</sub>",
                                     first_step=run.first_step), "v_df", f"{letter}_gates")
    st.caption(service.gates_caption(run))
    notes(service.window_note(run.gate.values.shape[0], run.config.T, "the gates' map"), icon=":material/speed:")


def steps_section(run: service.Run, nt: Notation) -> None:
    config = run.config
    if not run.vanilla:
        gates_section(run)
        return
    with st.spinner("Splitting each step's factor…"):
        split = service.steps_of(run)
    if split is None:
        return
    stats, fprime = split
    st.info(service.fade_verdict_of(run, stats), icon=":material/lightbulb:")
    chart(figures.fade_figure(stats, activation=config.activation, rho=run.rho, nt=nt,
                              first_step=config.T - run.plan.stats_window + 1, presentation=config.presentation),
          "v_fade", "step_factors")
    st.caption(service.fade_caption(nt))
    notes(service.window_note(run.plan.stats_window, config.T, "the per-step split"), icon=":material/speed:")
    if text := service.overflow_note(run, stats, nt):
        st.warning(text, icon=":material/warning:")
    chart(figures.derivative_heatmap(fprime, gamma=run.gamma, nt=nt, presentation=config.presentation),
          "v_df", "fprime")
    st.caption(service.derivative_caption(run, nt))


def header(name: str, run: service.Run, nt: Notation) -> str:
    if run.vanilla or name not in GATED_HEADERS:
        return SECTION_HEADERS[name].format(W=nt.param("W_hh"))
    return GATED_HEADERS[name].format(gate=service.GATE_WORDS[run.config.cell].gate)


def sections(run: service.Run, nt: Notation, grads, radius_curves: list, act_curves: list,
             cell_curves: list) -> None:
    """The chosen section below the main curve, or all of them: a slider move redraws only
    what is on screen (every chart costs the browser ~30 ms to redraw). A gated cell has no
    sweeps (no rho, no f to vary): that section says so in one line."""
    chosen = state.view_widget("v_section", widget="segmented_control",
                               format_func=FIELD_BY_NAME["v_section"].choice_label,
                               label_visibility="collapsed")
    sweeps = (lambda: sweeps_section(run, nt, radius_curves, act_curves)) if run.vanilla else \
        (lambda: notes(service.gated_note("sweeps", run.config.cell)))
    draw = {"sweeps": sweeps, "cells": lambda: cells_section(run, cell_curves),
            "spectrum": lambda: spectrum_section(run, nt), "pairs": lambda: pairs_section(run, nt, grads),
            "steps": lambda: steps_section(run, nt)}
    for name in (draw if chosen == "all" else (chosen,)):
        st.header(header(name, run, nt))
        draw[name]()


SPINNER_DELAY_S = 0.5     # Streamlit's own: a spinner appears only after this


def busy(text: str, seconds: float):
    """st.spinner for work the cost model expects to outlast the spinner's half-second delay.
    Every spinner starts a timer thread and sends a placeholder: on a lecture hall's reruns,
    cache hits all, that was ~3 ms of each (bench/hall.py --profile) for nothing ever shown."""
    return st.spinner(text) if seconds >= SPINNER_DELAY_S else nullcontext()


def main() -> None:
    guard = service.new_guard()
    config = state.config()
    nt = NOTATIONS[config.notation]
    st.title("Vanishing & exploding gradients")
    st.markdown(
        "How much does an early state still move the last one? Backpropagation through time multiplies one "
        "factor per step: if those factors are below 1 the product fades geometrically (**vanishing**), "
        "above 1 it blows up (**exploding**).")
    if config.cell == "rnn":
        st.latex(service.equations_latex(nt))
    else:
        st.markdown(service.gated_intro(config.cell, nt))
        update, path, product = service.gated_equations_latex(nt, config.cell)
        # on a projector each equation gets its own line, so none is shrunk to fit the column
        for line in (update, path, product) if config.presentation else (rf"{update} \qquad\qquad {path}", product):
            st.latex(line)
    note_place = chart_options(config)
    plan = service.plan(config)
    seconds = plan.seconds
    with busy("Multiplying Jacobians…", seconds):
        run = service.main_run(config, plan, guard)
    if text := service.norm_note(run):
        note_place.info(text, icon=":material/speed:")
    main_curve(run, nt)
    grads = service.gradient_of(run)
    with busy("Sweeping the spectral radius and the activation…", seconds):
        radius_curves, act_curves = service.sweep_curves(run)
    with busy("Multiplying the three cells' Jacobians…", seconds):
        cell_curves = service.cell_curves(run)
    sections(run, nt, grads, radius_curves, act_curves, cell_curves)
    if text := guard_note(guard):
        st.warning(text, icon=":material/hourglass_disabled:")
    compared = [(f"cell = {title}", c) for title, c in service.named_cells(cell_curves)]
    curves = radius_curves + act_curves + compared
    # made on the click, not on every rerun (a lecture hall's reruns never download)
    st.download_button("Download the curves (CSV)", lambda: service.curves_csv(run, grads, curves),
                       file_name="vanishing_curves.csv", mime="text/csv", icon=":material/download:",
                       help="the curves of this page as drawn, one row per step (empty where a window does not "
                            "reach; the sweeps when their section is shown); each chart exports a PNG from its "
                            "toolbar (camera icon)")


main()
