"""The Unrolled graph page's service: its cost model, cached computations and words.

views/graph.py lays out widgets and calls this module; ui/figures/graph*.py draw what it
returns; the numbers come from rnn_core (rnn_core.flow: the gradient on every node and edge).
Every cache keys on the config projected onto what it depends on (`key`): the page's own
controls and the notation never recompute the gradients.

Cost model: everything a link can ask of this page, in estimated CPU seconds of one core
(`plan`): the engine's BPTT (T steps of G blocks of H x H and H x D products, G = 1 for the
vanilla cell, 4 for the LSTM, 3 for the GRU, and O x H; k-step truncation sends every loss
term back k steps, T k G H^2), following one loss term back (s steps; a gated cell's: its
forward and backward pass again over T steps), the
running parameter-gradient sums (T frames of the sheet) and the figures (frames and cells sent
to the browser). The animated sheet is kept only while its frames fit graph_sheet.SHEET_BUDGET;
the figure never draws more than 30 steps and 31 frames. A
ui.budget.Guard stops optional work (the phone layout, the step in detail) once GUARD_SECONDS
of wall clock have passed, e.g. on a loaded server, and the page says what it left out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

import rnn_core as rc
from rnn_core.flow import Flow, full_flow, full_param_grads, running_param_grads, single_source
from ui import export, state
from ui.budget import Guard
from ui.config import NUMBERS, Config
from ui.derivation import array, norm, number
from ui.figures import graph as graph_figures
from ui.figures import graph_details
from ui.figures.graph_sheet import Sheet, sheet_is_linked
from ui.keys import EXACT
from ui.notation import NOTATIONS, Notation, d, recursion
from ui.pages import SentFigure, sent

# ---- the cost model ------------------------------------------------------------------------
MATVEC_RATE = 8e9          # multiply-adds per second of the engine's per-step products (one BLAS thread)
STEP_SECONDS = 5e-6        # Python cost of one loop step
CELL_SECONDS = 2e-7        # one number of the sheet's frames, summed, validated and sent
FIGURE_SECONDS = 0.08      # one graph figure at its largest (30 steps, 31 frames), without the sheet
GUARD_SECONDS = 4.0        # wall clock: past this no optional part of the page starts
SHOWN_ENTRIES = 3          # entries of a vector written out in eq. (7)


@dataclass(frozen=True)
class Plan:
    """Estimated CPU seconds of each part of one visit with cold caches, and what is drawn.

    engine: rnn_core.bptt (with the sidebar's truncation); flow: one loss term followed back
    (0 for the whole loss); sums: the parameter gradients per frame (or once, if not linked);
    figures: the two graph figures and the step's details. linked: the sheet is animated.
    """

    engine: float
    flow: float
    sums: float
    figures: float
    linked: bool

    @property
    def total(self) -> float:
        return self.engine + self.flow + self.sums + self.figures


def plan(config: Config, source: int = 0) -> Plan:
    """What a link asks of this page (cell, T, H, D, O, truncation, followed term), in CPU seconds."""
    T, H, D, O = config.T, config.H, config.D, config.O
    letters = gate_letters(config)
    G = len(letters)
    per_step = G * (H * H + H * D) + O * H
    back = T if config.truncation not in ("k_step",) else T * min(config.trunc_k, T)   # recurrent products
    # a gated step is a few more NumPy calls than the vanilla one (its gates, c_t)
    engine = (3 * T * per_step + back * G * H * H) / MATVEC_RATE + (4 + 2 * (G > 1)) * T * STEP_SECONDS
    if not source:
        flow = 0.0
    elif G == 1:
        flow = (source * (H * H + H * D)) / MATVEC_RATE + source * STEP_SECONDS
    else:             # the cell's forward and untruncated backward pass of the one term, T steps
        flow = 3 * T * G * (H * H + H * D) / MATVEC_RATE + 6 * T * STEP_SECONDS
    rows, cols = Sheet.fitted(D, H, O, letters).shape
    linked = sheet_is_linked(T, D, H, O, letters)
    sums = (T if linked else 1) * rows * cols * CELL_SECONDS + T * per_step / MATVEC_RATE
    figures = 2 * FIGURE_SECONDS + (min(T, 31) * rows * cols * CELL_SECONDS if linked else 0.0)
    return Plan(engine=engine, flow=flow, sums=sums, figures=figures, linked=linked)


def gate_letters(config: Config) -> tuple[str, ...]:
    """The letters of the config's cell's blocks of parameters: ('h',), ('i', 'f', 'o', 'c'), ('r', 'z', 'h')."""
    return rc.get_cell(config.cell).gate_letters


def guard() -> Guard:
    """The wall-clock guard of one run of the page."""
    return Guard(GUARD_SECONDS)


# ---- cached computations ---------------------------------------------------------------------

def key(config: Config) -> Config:
    """What the gradients depend on (model, data, truncation): the page's cache key."""
    return config.project(*NUMBERS)


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=EXACT)
def flow_and_sums(key: Config, source: int) -> tuple[Flow, dict]:
    """The gradient on the graph (all loss terms if source == 0, else L_source alone) and the
    parameter gradients: running sums per frame when the plan links the sheet, else the full sums."""
    result, params = state.bptt_result(key), state.params(key)
    flow = full_flow(result, params) if source == 0 else single_source(result, params, source)
    sums = running_param_grads(flow, result.trace) if plan(key, source).linked else full_param_grads(flow, result.trace)
    return flow, sums


@st.cache_resource(max_entries=16, show_spinner=False, hash_funcs=EXACT)
def graph_figure(key: Config, source: int, view: graph_figures.GraphView, notation: str) -> SentFigure:
    """The animated figure (plotly validates every frame: worth keeping across reruns), turned
    into the dict st.plotly_chart sends once, not on every rerun (callers must not change it)."""
    flow, sums = flow_and_sums(key, source)
    result = state.bptt_result(key)
    return sent(graph_figures.graph_figure(flow, result.trace, result.step_losses, result.loss, sums,
                                           NOTATIONS[notation], view))


@st.cache_resource(max_entries=16, show_spinner=False, hash_funcs=EXACT)
def details_figure(key: Config, source: int, t: int, notation: str, presentation: bool) -> SentFigure:
    """The heat strips of step t (graph_details.step_details_figure), kept across reruns: the
    graph's own controls (window, colours, followed term's slider) leave them as they are."""
    flow, _ = flow_and_sums(key, source)
    prediction, target = step_outputs(key, t)
    return sent(graph_details.step_details_figure(flow, state.bptt_result(key).trace, t, NOTATIONS[notation],
                                                  prediction=prediction, target=target, presentation=presentation))


@st.cache_data(max_entries=8, show_spinner=False, hash_funcs=EXACT)
def gif_bytes(key: Config, source: int, view: graph_figures.GraphView, notation: str) -> bytes:
    figure = graph_figure(key, source, view, notation)
    return export.animation_gif(figure, graph_figures.frame_duration_ms(len(figure.frames)))


@st.cache_data(max_entries=8, show_spinner=False, hash_funcs=EXACT)
def png_bytes(key: Config, source: int, view: graph_figures.GraphView, notation: str, front: int) -> bytes:
    return export.frame_png(graph_figure(key, source, view, notation), str(front))


def loss_steps(key: Config) -> list[int]:
    """The steps whose loss term exists (weight w_t > 0)."""
    return [t for t, w in enumerate(state.bptt_result(key).weights, start=1) if w > 0]


def step_outputs(key: Config, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(prediction y-hat_t, target y_t) at step t, both (O,) (a class target one-hot)."""
    out, trace, ys = rc.get_loss(key.loss), state.bptt_result(key).trace, state.data(key).ys
    with np.errstate(all="ignore"):
        prediction = out.predict(trace.o[t - 1])
    target = np.eye(key.O)[int(ys[t - 1])] if out.integer_targets else np.asarray(ys[t - 1], dtype=float)
    return prediction, target


# ---- what the page's controls do to the config -------------------------------------------------

def follow(config: Config, source: int) -> None:
    """Follow L_source (0: the whole loss), moving the window only if the term is outside it.
    For callbacks: the config is set before the widgets are read, whose keys are re-seeded."""
    start = graph_figures.window_start_showing(config.T, config.g_window, config.g_start, source)
    state.set_config(config.replace(g_source=source, g_start=start), reset_widgets=False)
    for name in ("g_source", "g_start"):
        st.session_state.pop(state.widget_key(name), None)


def followable(config: Config, steps: list[int]) -> Config:
    """The config following a term that exists: the whole loss again if T or the mask removed
    the followed term (the URL follows)."""
    if config.g_source in (0, *steps):
        return config
    state.set_config(config.replace(g_source=0), reset_widgets=False)
    st.session_state.pop(state.widget_key("g_source"), None)
    state.sync_url()
    return state.config()


def show_step(config: Config, step: int | None) -> None:
    """Show `step` (clicked in the graph) under 'One step in detail'; None changes nothing."""
    if step is not None and step != config.g_step:
        state.set_config(config.replace(g_step=step), reset_widgets=False)
        state.sync_url()


DERIVATION_STAGES = {"lstm": "memory", "gru": "hidden"}     # the gated walks' stage of this page's equation


def derive_at(config: Config, t: int) -> None:
    """Switch to the Derivation page at step t, at the stage of eq. (7) (at t = T: where the
    recursion starts); a gated cell's at its own recursion (the LSTM's: the memory's gradient)."""
    stage = DERIVATION_STAGES.get(config.cell) or ("last" if t == config.T else "recursion")
    state.open_derivation(stage, t)


def front_nearest(config: Config, view: graph_figures.GraphView, source: int) -> int:
    """The animation frame (the step the pass has reached) nearest the step in detail."""
    fronts = graph_figures.frame_fronts(graph_figures.Window.of(config.T, view.start, view.width), source or None)
    return min(fronts, key=lambda front: abs(front - config.g_step))


def step_of_point(point: dict, T: int) -> int | None:
    """The step of a clicked node or edge: nodes carry it as customdata (0 for h_0, T + 1 for L),
    edges as [kind, step, norm]; clamped to 1..T."""
    data = point.get("customdata")
    step = data[1] if isinstance(data, (list, tuple)) and len(data) > 1 else data
    if not isinstance(step, (int, float)):
        return None
    return int(min(max(step, 1), T))


# ---- words ------------------------------------------------------------------------------------

INTRODUCTIONS = {
    "rnn": "The RNN unrolled over time: inputs at the bottom, then hidden states, outputs and losses; "
           "time runs left to right. The gradient of the loss flows backward through it.",
    "lstm": "The LSTM unrolled over time: inputs at the bottom, then the memory cells c (green path), the "
            "hidden states h, outputs and losses; time runs left to right. The gradient of the loss flows "
            "backward through h *and* along c, where each step only multiplies it by the forget gate f.",
    "gru": "The GRU unrolled over time: inputs at the bottom, then hidden states, outputs and losses; time "
           "runs left to right. The gradient of the loss flows backward through h, where the update gate z "
           "passes part of it straight to the step before, without any weight matrix.",
}


def introduction(cell: str) -> str:
    """The page's opening sentence for the chosen cell."""
    return INTRODUCTIONS[cell]


def cell_caption(cell: str, numbers_on_edges: bool) -> str:
    """What a gated cell's graph adds to the vanilla one ('' for the vanilla cell)."""
    where = " The number on each such edge is that step's gate, averaged over the units." if numbers_on_edges else \
        " Hover an edge for its step's gate (the numbers are written on the edges when at most " \
        f"{graph_figures.MAX_GATE_LABELS} steps are in view)."
    if cell == "lstm":
        return ("The LSTM's graph: xₜ and hₜ₋₁ feed the four gates, drawn at cₜ; the green row is the memory "
                "path cₜ₋₁ → cₜ, whose edge carries fₜ ⊙ ∂L/∂cₜ back (the forget gate alone, no weight "
                "matrix: with f near 1 the gradient travels far along c); cₜ → hₜ carries the direct part of "
                "∂L/∂cₜ (through tanh and the output gate G)." + where.replace("gate,", "forget gate f,"))
    if cell == "gru":
        return ("The GRU's graph: the edge hₜ₋₁ → hₜ carries the indirect part of ∂L/∂hₜ₋₁, of which "
                "zₜ ⊙ ∂L/∂hₜ comes straight through the update gate (no weight matrix: with z near 1 the "
                "gradient travels far)." + where.replace("gate,", "update gate z,"))
    return ""


def details_caption(cell: str) -> str:
    """The words under the step's heat strips."""
    words = ("Red is positive, blue negative; each block has its own scale. The direct and indirect parts add up "
             "to the total, unit by unit.")
    if cell == "lstm":
        words += " Gates lie between 0 and 1: a forget gate near 1 keeps c, and the gradient along c."
    if cell == "gru":
        words += " Gates lie between 0 and 1: an update gate near 1 keeps h, and the gradient along h."
    return words


def equation_caption(cell: str, t: int) -> str:
    """The words under the step's equation."""
    if cell == "lstm":
        return (f"The LSTM's backward recursion at t = {t}: ∂L/∂h_{t} has a direct part through o_{t} and an "
                f"indirect part from the four gates of step {t + 1} (δᵍ: their pre-activations' gradients); "
                f"∂L/∂c_{t} gets ∂L/∂h_{t} through h_{t} = G_{t} ⊙ tanh(c_{t}) and, along the memory path, "
                f"f_{t + 1} ⊙ ∂L/∂c_{t + 1} (L5): only a gate, no weight matrix.")
    if cell == "gru":
        return (f"The GRU's backward recursion at t = {t}: ∂L/∂h_{t} has a direct part through o_{t} and an "
                f"indirect part from step {t + 1}: z_{t + 1} ⊙ ∂L/∂h_{t + 1} straight through the update gate "
                f"(G4), the candidate's W_hh (through the reset gate r) and both gates' W_hr, W_hz (δᵍ: their "
                f"pre-activations' gradients).")
    return (f"Eq. (7) at t = {t}: the direct part comes through o_{t}, the indirect part through "
            f"h_{t + 1} from every later step.")


def overflow_notes(result: rc.BPTTResult, flow: Flow) -> list[str]:
    """Plain-language notes naming where values stopped being finite (empty if none)."""
    notes = []
    if result.overflow_step is not None:
        values = "a_t, h_t or o_t" if result.cell == "rnn" else "h_t, c_t or o_t" if result.cell == "lstm" else "h_t or o_t"
        notes.append(f"The forward pass overflowed at step t = {result.overflow_step}: from there on "
                     f"{values} is inf or nan.")
    if result.grad_overflow_step is not None:
        notes.append(f"The gradient overflowed: dL/dh_t is inf or nan from step t = "
                     f"{result.grad_overflow_step} back to t = 1 (drawn in the overflow colour).")
    with np.errstate(all="ignore"):
        bad = np.flatnonzero(~np.isfinite(flow.dL_dh).all(axis=1))
    if flow.source is not None and bad.size and result.grad_overflow_step is None:
        notes.append(f"Following the loss term alone, dL/dh_t overflowed from step t = {bad[-1] + 1}.")
    return notes


def numerator(notation: Notation, flow: Flow) -> str:
    """What is differentiated: L, or the single weighted term w_s L_s."""
    if flow.source is None:
        return notation.L
    s = str(flow.source)
    return rf"({notation.at('w', s)} {notation.at(notation.L, s)})"


def vector(notation: Notation, values: np.ndarray) -> str:
    """A state vector on one line: a row in row notation, else a transposed row (a column).
    More than SHOWN_ENTRIES entries: the first ones, an ellipsis and the norm, so that the
    equation fits a phone's or a projector's column."""
    values = np.asarray(values, dtype=float)
    if values.size <= SHOWN_ENTRIES:
        row = array(values, row=True)
    else:
        shown = " & ".join([number(v) for v in values[:SHOWN_ENTRIES]] + [r"\cdots"])
        row = rf"\begin{{bmatrix}} {shown} \end{{bmatrix}}_{{\lVert\cdot\rVert = {number(norm(values))}}}"
    return row + ("" if notation.row_vectors else r"^{\top}")


def step_equation(flow: Flow, t: int, notation: Notation) -> str:
    """Eq. (7) at step t in the notation's symbols, then its two parts and the total in numbers.

    The parts are the engine's (flow.direct, flow.indirect); with full BPTT the indirect part is
    W_hh^T (f'(a_{t+1}) * dL/dh_{t+1}); truncation changes which paths it follows.
    """
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= t <= flow.T:
        raise ValueError(f"t must be a step in [1, {flow.T}], got {t!r}")
    if flow.cell != "rnn":
        return gated_step_equation(flow, t, notation)
    i, num = t - 1, numerator(notation, flow)
    direct_sym, indirect_sym = recursion(notation, str(t), str(t + 1))
    if flow.source is not None:
        direct_sym = direct_sym.replace(rf"\partial {notation.L}", rf"\partial {num}")
        indirect_sym = indirect_sym.replace(rf"\partial {notation.L}", rf"\partial {num}")
    lhs = d(num, notation.at(notation.h, str(t)))
    direct, total = vector(notation, flow.direct[i]), vector(notation, flow.dL_dh[i])
    if t == flow.T:
        # nothing after h_T: the indirect part is 0 by eq. (7)
        lines = [rf"{lhs} &= {direct_sym}", rf"&= {direct} + 0"]
    else:
        lines = [rf"{lhs} &= {direct_sym}", rf"&\quad + {indirect_sym}",
                 rf"&= \underbrace{{{direct}}}_{{\text{{direct}}}}",
                 rf"&\quad + \underbrace{{{vector(notation, flow.indirect[i])}}}_{{\text{{indirect}}}}"]
    # one part a line: short lines leave room for the tag in a narrow column
    return r"\begin{aligned} " + r" \\ ".join(lines + [rf"&= {total}"]) + r" \end{aligned} \tag{7}"


# A gated cell's indirect part of dL/dh_t: what step t+1's gates send back (DESIGN.md "Gated cells").
INDIRECT_SYMBOLS = {
    "lstm": r"\sum_{{g \in \{{i, f, o, c\}}}} {W}",
    "gru": r"{z} \odot {dh} + {r} \odot {Whh} + \sum_{{g \in \{{r, z\}}}} {W}",
}


def gated_step_equation(flow: Flow, t: int, notation: Notation) -> str:
    """A gated cell's backward recursion at step t, in symbols and then in numbers: dL/dh_t (direct
    through o_t, indirect from step t+1's gates), and for the LSTM dL/dc_t (through h_t, and along
    the memory path f_{t+1} * dL/dc_{t+1}). Column-vector convention (the cells' equations are
    written so in every notation); the parts are the engine's."""
    i, n, num = t - 1, notation, numerator(notation, flow)
    nxt = str(t + 1)
    lhs = d(num, n.at(n.h, str(t)))
    direct_sym = rf"W_{{hy}}^{{\top}} {d(num, n.at(n.o, str(t)))}"
    lines = [rf"{lhs} &= {direct_sym}"]
    if t < flow.T:
        delta = rf"W_{{hg}}^{{\top}} \delta^{{g}}_{{{nxt}}}"
        indirect = INDIRECT_SYMBOLS[flow.cell].format(
            W=delta, z=rf"z_{{{nxt}}}", r=rf"r_{{{nxt}}}", dh=d(num, n.at(n.h, nxt)),
            Whh=rf"W_{{hh}}^{{\top}} \delta^{{h}}_{{{nxt}}}")
        lines += [rf"&\quad + {indirect}", rf"&= \underbrace{{{vector(n, flow.direct[i])}}}_{{\text{{direct}}}}",
                  rf"&\quad + \underbrace{{{vector(n, flow.indirect[i])}}}_{{\text{{indirect}}}}"]
    else:
        lines.append(rf"&= {vector(n, flow.direct[i])} + 0")
    lines.append(rf"&= {vector(n, flow.dL_dh[i])}")
    if flow.memory:
        c_t = n.at("c", str(t))
        through_h = rf"G_{{{t}}} \odot \tanh'({c_t}) \odot {lhs}"
        lines.append(rf"{d(num, c_t)} &= {through_h}" + (
            rf" + f_{{{nxt}}} \odot {d(num, n.at('c', nxt))}" if t < flow.T else ""))
        lines += [rf"&= \underbrace{{{vector(n, flow.c_direct[i])}}}_{{\text{{through }} {n.at(n.h, str(t))}}}",
                  rf"&\quad + \underbrace{{{vector(n, flow.c_indirect[i])}}}_{{\text{{along }} c}}",
                  rf"&= {vector(n, flow.dL_dc[i])}"]
    # no \tag: it would sit on the middle line of these long equations; the caption cites them
    return r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}"
