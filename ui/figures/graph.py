"""The unrolled graph: x_t -> h_t -> o_t -> L_t -> L for every step, coloured by gradient.

One figure, so that one slider and one Play button drive everything client-side:
- top: the graph. Time runs left to right, layers bottom to top (x_t, h_t, o_t, L_t, then the
  sum into L; the LSTM has its memory row c_t between x_t and h_t, its gates drawn at c_t, the
  memory path c_{t-1} -> c_t in green with the mean forget gate under each edge; the GRU the
  mean update gate under each h_{t-1} -> h_t). A long sequence shows a window of steps; h_0 and the total L stay at its ends,
  joined by dotted links when steps are hidden. Node colour = log10 ||dL/d node||; edge
  width = ||gradient the edge carries|| (log scale); inf/nan in the overflow colour;
- bottom: the parameter gradients of eq. (10) (a gated cell's every block) on one sheet (one
  colour scale, so their sizes compare), and the profile ||dL/dh_t|| (and ||dL/dc_t||) over all
  T steps with the window marked;
- frames: one per step of the window the pass reaches (from the window's right end, or the
  followed loss term, down to its left end), then h_0: the animation changes what is in view
  from its first frame. A grey veil covers what the pass has not reached (so a frame restyles
  one small polygon, not every node), and the sheet shows the running sums over the steps
  reached when T times its size fits graph_sheet.SHEET_BUDGET (otherwise the full sums, and the
  figure says so).

Sizes are set for the width the chart gets (PLOT_PX per mode: normal, presentation, compact for
a phone): nodes as large as their column allows, labels only where they fit, text never rotated.

Numbers come from rnn_core.flow (the gradient on every node and edge); this module only draws
them. Shapes: T steps, D inputs, H hidden units, O outputs.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

import rnn_core as rc
from ui.figures import style
from rnn_core.flow import EdgeFlow, Flow, NodeNorms, edge_flow, node_norms, update_gate_part
from ui.figures.graph_sheet import Sheet, sheet_annotations, sheet_trace
from ui.notation import Notation

Array = np.ndarray

ZERO_COLOUR = "#c8c8c8"            # gradient exactly zero: dead ReLU, truncated, other source
VEIL_COLOUR = "rgba(236,236,236,0.9)"
NEUTRAL_EDGE = "#6e6e6e"
LABEL_COLOUR = "#555555"
ROWS = {"x": 0, "h": 1, "o": 2, "loss": 3, "bus": 4}
MEMORY_ROWS = {"x": 0, "c": 1, "h": 2, "o": 3, "loss": 4, "bus": 5}   # the LSTM: its memory c under h
ROW_NAMES = {"x": "input", "c": "memory", "h": "hidden", "o": "output", "loss": "loss", "bus": "sum"}
MEMORY_COLOUR = "#009E73"          # the LSTM's memory path c_{t-1} -> c_t (Okabe-Ito bluish green)
GATE_HTML = {"i": "i", "f": "f", "G": "G", "c~": "c̃", "r": "r", "z": "z", "h~": "h̃"}
# The gate written on a recurrent edge: the one that passes the gradient along it unweighted.
KEEPING_GATE = {"lstm": "f", "gru": "z"}
CELL_TITLES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
MAX_GATE_LABELS = 16               # steps in view up to which the gate's mean is written on each edge
DECADES_SHOWN = 12                 # colour and width scales cover at most this many decades
MIN_EDGE_PX, MAX_EDGE_PX = 1.5, 8.0
LOSS_EDGE_PX = 2.0                 # L -> L_t carries the scalar w_t: not on the norms' width scale
WIDTH_LEVELS = 8                   # edge widths are quantised: one trace per width
SHOWN_ENTRIES = 6                  # vector entries written in hover texts
GAP = 1.6                          # distance from h_0 / L to the window when steps are hidden

# paper x of the parts (the y bands are in pixels: BANDS)
SHEET_X, PROFILE_X = (0.0, 0.42), (0.68, 0.93)   # room between them for the sheet's colour bar
# Steps drawn at most (the last ones of the window): more would make nodes and labels too small
# to read on a projector at 1280 px or on a phone.
MAX_STEPS = {"normal": 30, "presentation": 8, "compact": 6}

# The chart's plot width in px that each mode is drawn for: the narrowest screen of the mode
# (normal: 1280-1440 px with the sidebar; presentation: 1280x720 with its wider sidebar; compact:
# a 390 px phone). A wider screen only adds space between the columns.
PLOT_PX = {"normal": 700, "presentation": 480, "compact": 300}
FONT = {"normal": style.FONT_SIZE, "presentation": style.PRESENTATION_FONT_SIZE, "compact": 14}
MAX_NODE_PX = {"normal": 44, "presentation": 56, "compact": 40}
PROFILE_TICKS = {"normal": 6, "presentation": 4, "compact": 6}   # step labels on the small profile panel
MIN_LABEL_FONT = {"normal": 9, "presentation": 12, "compact": 9}   # smaller: left to the hover
# From the top of the plot area, in px: graph, its step axis, (compact: colour bar), legend,
# play buttons, frame slider with its caption, sub-titles, and the sheet / profile panels.
BANDS = {
    "normal": (("graph", 400), ("axis", 52), ("legend", 30), ("buttons", 42), ("slider", 70), ("titles", 40),
               ("bottom", 200)),
    "presentation": (("graph", 430), ("axis", 66), ("legend", 38), ("buttons", 52), ("slider", 88),
                     ("titles", 50), ("bottom", 230)),
    "compact": (("graph", 330), ("axis", 44), ("colorbar", 56), ("legend", 30), ("buttons", 42),
                ("slider", 70), ("titles", 34), ("bottom", 170)),
}
MARGIN_PX = {"normal": (50, 52), "presentation": (64, 70), "compact": (44, 52)}   # (top, bottom)


@dataclass(frozen=True)
class GraphView:
    """How to draw: the window of steps, edge colouring, projector mode, phone layout."""

    start: int = 1            # first step in the window
    width: int = 16           # steps in the window
    split: bool = False       # colour the edges by the direct / indirect part they carry
    presentation: bool = False
    compact: bool = False     # a phone: no parameter sheet, colour bar below the graph

    @property
    def mode(self) -> str:
        return "compact" if self.compact else "presentation" if self.presentation else "normal"


@dataclass(frozen=True)
class Window:
    """Steps start..end of 1..T drawn; h_0 and the total L placed at the window's ends."""

    T: int
    start: int
    end: int

    @classmethod
    def of(cls, T: int, start: int, width: int) -> "Window":
        width = int(min(max(width, 1), T))
        start = int(np.clip(start, 1, T - width + 1))
        return cls(T, start, start + width - 1)

    @property
    def x_h0(self) -> float:
        return 0.0 if self.start == 1 else self.start - GAP

    @property
    def x_total(self) -> float:
        return self.T + 1.0 if self.end == self.T else self.end + GAP

    @property
    def steps(self) -> range:
        return range(self.start, self.end + 1)


def window_start_showing(T: int, width: int, start: int, source: int) -> int:
    """The window's first step, moved only if needed so that step `source` is in view; it then
    ends at `source`, so the steps its gradient travels back over fill the view."""
    window = Window.of(T, start, width)
    if source < 1 or window.start <= source <= window.end:
        return window.start
    return Window.of(T, source - width + 1, width).start


def follow_term_view(T: int, source: int | None = None, width: int = GraphView.width) -> dict[str, int]:
    """The Unrolled graph's view that teaches vanishing and exploding: the config fields
    g_source, g_start, g_window that follow the single loss term L_source (default L_T) with the
    window ending at it. A preset sets these to open the page on its lesson."""
    source = T if source is None else int(min(max(source, 1), T))
    return {"g_source": source, "g_start": window_start_showing(T, width, 1, source), "g_window": width}


def fitted_view(view: GraphView, T: int, source: int) -> GraphView:
    """`view` with at most MAX_STEPS[view.mode] steps: the last ones of its window, ending at the
    followed term L_source when that is in view (where the lesson is)."""
    window = Window.of(T, view.start, view.width)
    end = source if window.start <= source <= window.end else window.end
    width = min(MAX_STEPS[view.mode], window.end - window.start + 1)
    return replace(view, start=max(window.start, end - width + 1), width=width)


@lru_cache(maxsize=4096)
def _html_at(notation: Notation, symbol: str, t) -> str:
    """notation.html_at, remembered: the graph asks for the same labels many times."""
    return notation.html_at(symbol, t)


def rows_of(flow: Flow) -> dict[str, int]:
    """The y row of each layer: the LSTM has its memory row c between x and h."""
    return MEMORY_ROWS if flow.memory else ROWS


def gate_html(name: str, t) -> str:
    """A gate's value at step t for plotly text, e.g. f<sub>3</sub> (the engine's gate names)."""
    return f"{GATE_HTML[name]}<sub>{t}</sub>"


def _gates_text(trace: rc.Trace, i: int) -> str:
    """Hover lines with each gate's values at step index i (empty for the vanilla cell)."""
    if not trace.gates:
        return ""
    return "".join(f"<br>{gate_html(name, i + 1)} = {_vector(values[i])}" for name, values in trace.gates.items())


# ---- scales -------------------------------------------------------------------------------

def log_range(*norm_arrays) -> tuple[float, float]:
    """(lo, hi) of log10 over the finite positive norms, spanning 1 to DECADES_SHOWN decades."""
    values = np.concatenate([np.ravel(a) for a in norm_arrays])
    good = values[np.isfinite(values) & (values > 0)]
    if good.size == 0:
        return -1.0, 0.0
    hi = float(np.log10(good.max()))
    lo = max(float(np.log10(good.min())), hi - DECADES_SHOWN)
    return (lo, hi) if hi - lo >= 1 else (hi - 1.0, hi)


def edge_width(norm: float, lo: float, hi: float) -> float | None:
    """Line width in px for a carried gradient; None for exactly zero; MAX for inf/nan."""
    if not np.isfinite(norm):
        return MAX_EDGE_PX
    if norm == 0:
        return None
    frac = np.clip((np.log10(norm) - lo) / (hi - lo), 0.0, 1.0)
    level = round(float(frac) * (WIDTH_LEVELS - 1))
    return MIN_EDGE_PX + (MAX_EDGE_PX - MIN_EDGE_PX) * level / (WIDTH_LEVELS - 1)


def _text_colour(log_norm: float, lo: float, hi: float) -> str:
    """White on Viridis' dark end, black on its light end."""
    return "black" if (log_norm - lo) / (hi - lo) > 0.55 else "white"


def _vector(values: Array) -> str:
    shown = ", ".join(f"{v:.3g}" for v in values[:SHOWN_ENTRIES])
    return f"[{shown}{', …' if values.size > SHOWN_ENTRIES else ''}]"


def _norm_text(value: float) -> str:
    if np.isfinite(value):
        return f"{value:.3g}"
    return "inf (overflow)" if value == np.inf else "nan (overflow)"


def _row_norm(v: Array) -> float:
    with np.errstate(all="ignore"):
        return float(np.linalg.norm(v))


# ---- nodes ----------------------------------------------------------------------------------

@dataclass
class _Nodes:
    """Nodes to draw: positions, gradient norms, labels, hover texts, and the step (customdata)."""

    x: list
    y: list
    norm: list
    label: list
    hover: list
    step: list

    @classmethod
    def empty(cls) -> "_Nodes":
        return cls([], [], [], [], [], [])

    def add(self, x, y, norm, label, hover, step) -> None:
        for column, value in zip((self.x, self.y, self.norm, self.label, self.hover, self.step),
                                 (x, y, norm, label, hover, step)):
            column.append(value)


def _nodes(flow: Flow, norms: NodeNorms, trace: rc.Trace, step_losses: Array, total_loss: float,
           window: Window, notation: Notation) -> _Nodes:
    """h_0, the total L and, for each step in the window, x_t, h_t and (if L_t exists) o_t, L_t;
    the LSTM also c_0 and c_t."""
    nodes = _Nodes.empty()
    ROWS = rows_of(flow)
    L = notation.L
    h0 = _html_at(notation, notation.h, 0)
    if flow.memory:
        c0 = _html_at(notation, "c", 0)
        nodes.add(window.x_h0, ROWS["c"], norms.c0, c0,
                  f"<b>{c0}</b> (initial memory)<br>‖∂{L}/∂{c0}‖ = {_norm_text(norms.c0)}"
                  f"<br>{c0} = {_vector(trace.c0)}", 0)
    nodes.add(window.x_h0, ROWS["h"], norms.h0, h0,
              f"<b>{h0}</b> (initial state)<br>‖∂{L}/∂{h0}‖ = {_norm_text(norms.h0)}"
              f"<br>{h0} = {_vector(trace.h0)}", 0)
    nodes.add(window.x_total, ROWS["bus"], norms.total, L,
              f"<b>{L}</b> = {total_loss:.4g} (total loss)<br>∂{L}/∂{L} = 1", window.T + 1)
    for t in window.steps:
        i = t - 1
        x_, h_, o_ = (_html_at(notation, s, t) for s in (notation.x, notation.h, notation.o))
        nodes.add(t, ROWS["x"], norms.x[i], x_,
                  f"<b>{x_}</b> (input)<br>‖∂{L}/∂{x_}‖ = {_norm_text(norms.x[i])}<br>"
                  f"{x_} = {_vector(trace.xs[i])}", t)
        nodes.add(t, ROWS["h"], norms.h[i], h_,
                  f"<b>{h_}</b> (hidden state)<br>‖∂{L}/∂{h_}‖ = {_norm_text(norms.h[i])}"
                  f"<br>  direct part (through {o_}): {_norm_text(_row_norm(flow.direct[i]))}"
                  f"<br>  indirect part (through {_html_at(notation, notation.h, t + 1)}): "
                  f"{_norm_text(_row_norm(flow.indirect[i]))}"
                  + (f"<br>{_html_at(notation, notation.a, t)} = {_vector(trace.a[i])}" if trace.a is not None
                     else _gates_text(trace, i)) +
                  f"<br>{h_} = {_vector(trace.h[i])}", t)
        if flow.memory:
            c_ = _html_at(notation, "c", t)
            nodes.add(t, ROWS["c"], norms.c[i], c_,
                      f"<b>{c_}</b> (memory cell)<br>‖∂{L}/∂{c_}‖ = {_norm_text(norms.c[i])}"
                      f"<br>  direct part (through {h_}): {_norm_text(_row_norm(flow.c_direct[i]))}"
                      f"<br>  indirect part (through {_html_at(notation, 'c', t + 1)}): "
                      f"{_norm_text(_row_norm(flow.c_indirect[i]))}"
                      f"<br>{c_} = {_vector(trace.c[i])}", t)
        if not flow.has_loss[i]:
            continue
        L_t = _html_at(notation, L, t)
        nodes.add(t, ROWS["o"], norms.o[i], o_,
                  f"<b>{o_}</b> (output)<br>‖∂{L}/∂{o_}‖ = {_norm_text(norms.o[i])}<br>"
                  f"{o_} = {_vector(trace.o[i])}", t)
        nodes.add(t, ROWS["loss"], norms.loss[i], L_t,
                  f"<b>{L_t}</b> = {step_losses[i]:.4g}<br>∂{L}/∂{L_t} = w<sub>{t}</sub> = "
                  f"{norms.loss[i]:.3g}", t)
    return nodes


def _node_traces(nodes: _Nodes, lo: float, hi: float, size: int, font: int) -> list[dict]:
    """Up to three traces: coloured by log10 norm, exactly zero (grey), overflow (vermillion)."""
    norm = np.asarray(nodes.norm, dtype=float)
    finite = np.isfinite(norm)
    groups = (("gradient", finite & (norm > 0)), ("zero gradient", finite & (norm == 0)),
              ("overflow (inf/nan)", ~finite))
    traces = []
    for name, mask in groups:
        if not mask.any():
            continue
        idx = np.flatnonzero(mask)
        if name == "gradient":
            colour = np.log10(norm[idx])
            text_colour = [_text_colour(v, lo, hi) for v in colour]
            marker = dict(color=colour, coloraxis="coloraxis")
        else:
            marker = dict(color=ZERO_COLOUR if name == "zero gradient" else style.OVERFLOW_COLOUR)
            text_colour = "black" if name == "zero gradient" else "white"
        traces.append(dict(
            type="scatter", mode="markers+text" if font else "markers", name=name, showlegend=name != "gradient", meta=f"nodes:{name}",
            x=[nodes.x[k] for k in idx], y=[nodes.y[k] for k in idx],
            text=[nodes.label[k] for k in idx], hovertext=[nodes.hover[k] for k in idx],
            customdata=[nodes.step[k] for k in idx], hoverinfo="text",
            textfont=dict(color=text_colour, size=font or None),
            marker=dict(size=size, line=dict(color="#333333", width=1), **marker),
        ))
    return traces


# ---- edges ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Edge:
    x0: float
    y0: float
    x1: float
    y1: float
    norm: float
    kind: str      # x, recurrent, direct, output, loss
    step: int      # the step whose node receives this gradient (0 for h_0)
    hover: str
    hidden: bool = False   # stands for steps outside the window (drawn dotted)


def _edges(flow: Flow, carried: EdgeFlow, window: Window, notation: Notation, trace: rc.Trace) -> list[_Edge]:
    """The window's edges with the norm of the gradient each carries backward. The LSTM's x_t
    and h_{t-1} feed its gates, drawn at c_t; c_t -> h_t and the memory path c_{t-1} -> c_t."""
    out = []
    ROWS = rows_of(flow)
    gates_at = ROWS["c"] if flow.memory else ROWS["h"]        # where x_t and h_{t-1} arrive
    passed = update_gate_part(flow, trace) if flow.cell == "gru" else None
    L, h = notation.L, notation.h
    for t in window.steps:
        i = t - 1
        h_t, h_prev = _html_at(notation, h, t), _html_at(notation, h, t - 1)
        x_t, o_t = _html_at(notation, notation.x, t), _html_at(notation, notation.o, t)
        into = "the gates of step " + str(t) if trace.gates else h_t
        out.append(_Edge(t, ROWS["x"], t, gates_at, carried.x[i], "x", t,
                         f"{into} → {x_t}: ‖∂{L}/∂{x_t}‖ = {_norm_text(carried.x[i])}"))
        if t > window.start or t == 1:
            x_prev = window.x_h0 if t == 1 else t - 1
            out.append(_Edge(x_prev, ROWS["h"], t, gates_at, carried.recurrent[i], "recurrent", t - 1,
                             f"{into} → {h_prev}: the indirect part of ∂{L}/∂{h_prev}, "
                             f"‖·‖ = {_norm_text(carried.recurrent[i])}"
                             + _keeping_gate_hover(flow, trace, t, "recurrent", notation, passed)))
            if flow.memory:
                c_t, c_prev = _html_at(notation, "c", t), _html_at(notation, "c", t - 1)
                out.append(_Edge(x_prev, ROWS["c"], t, ROWS["c"], carried.memory[i], "memory", t - 1,
                                 f"{c_t} → {c_prev}: {gate_html('f', t)} ⊙ ∂{L}/∂{c_t}, the indirect part of "
                                 f"∂{L}/∂{c_prev}, ‖·‖ = {_norm_text(carried.memory[i])}"
                                 + _keeping_gate_hover(flow, trace, t, "memory", notation, None)))
        if flow.memory:
            c_t = _html_at(notation, "c", t)
            out.append(_Edge(t, ROWS["c"], t, ROWS["h"], carried.cell[i], "cell", t,
                             f"{h_t} → {c_t}: the direct part of ∂{L}/∂{c_t} (through tanh and "
                             f"{gate_html('G', t)}), ‖·‖ = {_norm_text(carried.cell[i])}"))
        if flow.has_loss[i]:
            L_t = _html_at(notation, L, t)
            out.append(_Edge(t, ROWS["h"], t, ROWS["o"], carried.direct[i], "direct", t,
                             f"{o_t} → {h_t}: the direct part of ∂{L}/∂{h_t}, "
                             f"‖·‖ = {_norm_text(carried.direct[i])}"))
            out.append(_Edge(t, ROWS["o"], t, ROWS["loss"], carried.output[i], "output", t,
                             f"{L_t} → {o_t}: ‖∂{L}/∂{o_t}‖ = {_norm_text(carried.output[i])}"))
            out.append(_Edge(t, ROWS["loss"], t, ROWS["bus"], carried.loss[i], "loss", t,
                             f"{L} → {L_t}: ∂{L}/∂{L_t} = {carried.loss[i]:.3g}"))
    out += _hidden_links(carried.recurrent, window, notation, h, ROWS["h"], "recurrent")
    if flow.memory:
        out += _hidden_links(carried.memory, window, notation, "c", ROWS["c"], "memory")
    return out


def _keeping_gate_hover(flow: Flow, trace: rc.Trace, t: int, kind: str, notation: Notation,
                        passed: Array | None) -> str:
    """Hover lines naming the gate that passes the gradient along this edge without a weight
    matrix (LSTM: f_t on c_{t-1} -> c_t; GRU: z_t on h_{t-1} -> h_t), with its mean over the
    units; for the GRU also ||z_t * dL/dh_t|| (passed: rnn_core.flow.update_gate_part)."""
    if (flow.cell, kind) not in (("lstm", "memory"), ("gru", "recurrent")):
        return ""
    gate = KEEPING_GATE[flow.cell]
    values = trace.gates[gate][t - 1]
    line = (f"<br>{gate_html(gate, t)}: mean {float(np.mean(values)):.2f}, "
            f"from {float(np.min(values)):.2f} to {float(np.max(values)):.2f}")
    if passed is not None:
        h_t = _html_at(notation, notation.h, t)
        line += (f"<br>of it, {gate_html('z', t)} ⊙ ∂{notation.L}/∂{h_t} passes straight along (G4): "
                 f"‖·‖ = {_norm_text(passed[t - 1])}")
    return line


def _hidden_links(carried: Array, window: Window, notation: Notation, symbol: str, row: int,
                  kind: str) -> list[_Edge]:
    """Dotted stand-ins for a recurrent chain (h, or the LSTM's c) outside the window, split at
    the '⋯'. carried: EdgeFlow.recurrent or .memory."""
    links = []
    L = notation.L
    if window.start > 1:
        s, mid = window.start, (window.x_h0 + window.start) / 2
        links.append(_Edge(window.x_h0, row, mid, row, carried[0], kind, 0,
                           f"{_html_at(notation, symbol, 1)} → {_html_at(notation, symbol, 0)}: ‖∂{L}/∂"
                           f"{_html_at(notation, symbol, 0)}‖ = {_norm_text(carried[0])} "
                           f"(steps 1–{s - 1} hidden)", hidden=True))
        links.append(_Edge(mid, row, s, row, carried[s - 1], kind, s - 1,
                           f"{_html_at(notation, symbol, s)} → {_html_at(notation, symbol, s - 1)}: the indirect "
                           f"part of ∂{L}/∂{_html_at(notation, symbol, s - 1)}, ‖·‖ = {_norm_text(carried[s - 1])}",
                           hidden=True))
    if window.end < window.T:
        e = window.end
        links.append(_Edge(e, row, e + 0.6, row, carried[e], kind, e,
                           f"{_html_at(notation, symbol, e + 1)} → {_html_at(notation, symbol, e)}: the indirect "
                           f"part of ∂{L}/∂{_html_at(notation, symbol, e)}, ‖·‖ = {_norm_text(carried[e])} "
                           f"(steps {e + 1}–{window.T} hidden)", hidden=True))
    return links


def _edge_colour(kind: str, split: bool) -> str:
    """Split: the indirect parts (through step t+1: h or c) orange, the direct ones (through
    o_t, or for c_t through h_t) blue. Otherwise the LSTM's memory path stands out in green."""
    if split and kind in ("recurrent", "memory"):
        return style.INDIRECT_COLOUR
    if split and kind in ("direct", "cell"):
        return style.DIRECT_COLOUR
    return MEMORY_COLOUR if kind == "memory" else NEUTRAL_EDGE


def _edge_traces(edges: list[_Edge], lo: float, hi: float, split: bool) -> list[dict]:
    """One line trace per (colour, width, dash): plotly line widths are per trace, not per segment."""
    groups: dict[tuple, list[_Edge]] = {}
    for e in edges:
        width = LOSS_EDGE_PX if e.kind == "loss" and e.norm > 0 else edge_width(e.norm, lo, hi)
        if width is None:
            key = (ZERO_COLOUR, 1.0, "dot")
        else:
            colour = style.OVERFLOW_COLOUR if not np.isfinite(e.norm) else _edge_colour(e.kind, split)
            key = (colour, width, "dot" if e.hidden else "solid")
        groups.setdefault(key, []).append(e)
    traces = []
    for (colour, width, dash), group in groups.items():
        xs, ys = [], []
        for e in group:
            xs += [e.x0, e.x1, None]
            ys += [e.y0, e.y1, None]
        traces.append(dict(type="scatter", mode="lines", x=xs, y=ys, hoverinfo="skip", showlegend=False,
                           name=f"edges {width:g}px", meta="edges", line=dict(color=colour, width=width, dash=dash)))
    return traces


def _edge_hover_trace(edges: list[_Edge]) -> dict:
    """Invisible markers at edge midpoints: the hover says what the edge carries.

    customdata per edge: [kind, step of the receiving node, carried norm (None if not finite)].
    """
    return dict(type="scatter", mode="markers", name="edges", meta="edge-hover", showlegend=False,
                x=[(e.x0 + e.x1) / 2 for e in edges], y=[(e.y0 + e.y1) / 2 for e in edges],
                hovertext=[e.hover for e in edges], hoverinfo="text",
                customdata=[[e.kind, e.step, e.norm if np.isfinite(e.norm) else None] for e in edges],
                marker=dict(size=12, color="rgba(0,0,0,0)"))


def _label_trace(flow: Flow, window: Window, notation: Notation, font: int, trace: rc.Trace) -> dict:
    """The shared weights named once, on the edges of the window's last step (the same W acts at
    every step: one name each reads better than a row of repeats), '⋯' for gaps, and a gated
    cell's keeping gate (mean over the units) on each recurrent edge while they fit."""
    xs, ys, texts, where = [], [], [], []
    ROWS = rows_of(flow)
    gates_at = ROWS["c"] if flow.memory else ROWS["h"]

    def put(x, y, text, position):
        xs.append(x)
        ys.append(y)
        texts.append(text)
        where.append(position)

    t = window.end
    W_x, W_h = (("W_xh", "W_hh") if flow.cell == "rnn" else ("W_x·", "W_h·"))
    name = notation.html_param if flow.cell == "rnn" else (lambda n: f"W<sub>{n[2:]}</sub>")
    put(t + 0.08, (ROWS["x"] + gates_at) / 2 - 0.05, name(W_x), "middle right")
    if t > window.start or t == 1:          # above the recurrent edge, clear of the node labels
        put(t - 0.5, ROWS["h"] + 0.2, name(W_h), "top center")
    if flow.has_loss[t - 1]:
        put(t + 0.08, ROWS["h"] + 0.5, notation.html_param("W_hy"), "middle right")
    for row in (ROWS["h"], *((ROWS["c"],) if flow.memory else ())):
        if window.start > 1:
            put((window.x_h0 + window.start) / 2, row + 0.06, "⋯", "top center")
        if window.end < window.T:
            put(window.end + 0.6, row + 0.06, "⋯", "top center")
    return dict(type="scatter", mode="text", x=xs, y=ys, text=texts, textposition=where,
                hoverinfo="skip", showlegend=False, name="weights", meta="labels",
                textfont=dict(size=font, color=LABEL_COLOUR))


def _gate_trace(flow: Flow, window: Window, trace: rc.Trace, font: int) -> list[dict]:
    """The keeping gate's mean over the units (LSTM: f_t; GRU: z_t) under each recurrent edge,
    between the vertical edges of two steps (the nodes leave no room on the edge itself), while
    at most MAX_GATE_LABELS steps are in view; none for the vanilla cell."""
    gate = KEEPING_GATE.get(flow.cell)
    if gate is None or window.end - window.start >= MAX_GATE_LABELS:
        return []
    row = rows_of(flow)["c" if flow.memory else "h"]
    steps = [t for t in window.steps if t > window.start or t == 1]
    return [dict(type="scatter", mode="text", x=[t - 0.5 for t in steps], y=[row - 0.42] * len(steps),
                 text=[f"{float(np.mean(trace.gates[gate][t - 1])):.2f}" for t in steps], textposition="middle center",
                 hoverinfo="skip", showlegend=False, name=f"mean {gate}", meta="gates",
                 textfont=dict(size=font, color=MEMORY_COLOUR if flow.memory else LABEL_COLOUR))]


def _bus_trace(flow: Flow, window: Window) -> dict:
    """The sum L = sum_t w_t L_t: a rail from the first loss node in view to L."""
    in_view = [t for t in window.steps if flow.has_loss[t - 1]]
    earlier = bool(flow.has_loss[: window.start - 1].any())
    x0 = window.start - 0.5 if earlier else (in_view[0] if in_view else window.end + 0.5)
    return dict(type="scatter", mode="lines", x=[x0, window.x_total], y=[rows_of(flow)["bus"]] * 2,
                hoverinfo="skip", showlegend=False, name="sum", meta="bus", line=dict(color=NEUTRAL_EDGE, width=2))


def _legend_traces(split: bool, flow: Flow) -> list[dict]:
    """Legend entries for what the edge colours and the numbers on the edges mean (no data points)."""
    entries = [("direct part", style.DIRECT_COLOUR), ("indirect part", style.INDIRECT_COLOUR)] if split else []
    if flow.memory and not split:
        entries.append(("memory path c; numbers: mean f", MEMORY_COLOUR))
    if flow.cell == "gru":
        entries.append(("numbers: mean update gate z", NEUTRAL_EDGE))
    return [dict(type="scatter", mode="lines", x=[None], y=[None], name=name, meta="legend",
                 line=dict(color=colour, width=5), showlegend=True) for name, colour in entries]


# ---- the veil: what the backward pass has not reached ----------------------------------------

def frame_fronts(window: Window, source: int | None) -> list[int]:
    """The step the pass has reached in each frame: from the window's right end (or the followed
    term L_source, where the pass starts) down to the window's left end, then 1 (h_0 reached).
    Fronts outside the window would change nothing in view, so they get no frame."""
    top = window.end if source is None else min(window.end, source)
    return [*range(top, window.start - 1, -1), *([1] if window.start > 1 else [])]


def veil_x_end(window: Window, front: int) -> float:
    """The veil's right edge when the pass has reached step `front`: it covers every drawn node
    that the pass has not reached, h_0 included until front 1."""
    if front == 1:
        return window.x_h0 - 0.6                   # everything reached, h_0 too
    if front > window.end:
        return window.end + 0.5                    # the front is right of the window
    if front >= window.start:
        return front - 0.5
    return window.x_h0 + 0.45                      # the whole window reached; h_0 not yet


def _veil(window: Window, front: int) -> dict:
    """What a frame changes in the veil: its x corners (right == left: an empty veil)."""
    left, right = window.x_h0 - 0.6, veil_x_end(window, front)
    return dict(type="scatter", x=[left, right, right, left, left])


def _veil_trace(window: Window, front: int, rows: dict[str, int]) -> dict:
    top = rows["loss"] + 0.55
    return dict(_veil(window, front), y=[-0.55, -0.55, top, top, -0.55], mode="none", fill="toself",
                fillcolor=VEIL_COLOUR,
                hoverinfo="skip", showlegend=False, name="not reached yet", meta="veil")


def frame_duration_ms(frames: int) -> int:
    """About 6 s for a whole pass at normal speed, within 60-500 ms a frame."""
    return int(np.clip(6000 / frames, 60, 500))


# ---- the profile of ||dL/dh_t|| over all steps ---------------------------------------------

def _profile_traces(norms: NodeNorms, window: Window, notation: Notation, memory: Array | None = None) -> list[dict]:
    """||dL/dh_t|| for t = 1..T on a log axis, zeros and overflow marked on the floor/ceiling;
    the LSTM's ||dL/dc_t|| (`memory`) beside it in the memory path's colour."""
    T = window.T
    steps = np.arange(1, T + 1)
    good = np.isfinite(norms.h) & (norms.h > 0)
    h_t = _html_at(notation, notation.h, "t")
    traces = [dict(type="scatter", mode="lines+markers" if T <= 60 else "lines", xaxis="x3", yaxis="y3",
                   x=steps[good], y=norms.h[good], name=f"‖∂{notation.L}/∂{h_t}‖", showlegend=False, meta="profile",
                   line=dict(color=style.SEQUENCE_COLOURS[0], width=2), marker=dict(size=5),
                   hovertemplate=f"t = %{{x}}: ‖∂{notation.L}/∂{h_t}‖ = %{{y:.3g}}<extra></extra>")]
    if memory is not None:
        kept = np.isfinite(memory) & (memory > 0)
        c_t = _html_at(notation, "c", "t")
        traces.append(dict(type="scatter", mode="lines", xaxis="x3", yaxis="y3", x=steps[kept], y=memory[kept],
                           name=f"‖∂{notation.L}/∂{c_t}‖", showlegend=False, meta="profile:c",
                           line=dict(color=MEMORY_COLOUR, width=2, dash="dash"),
                           hovertemplate=f"t = %{{x}}: ‖∂{notation.L}/∂{c_t}‖ = %{{y:.3g}}<extra></extra>"))
    positive = norms.h[good]
    floor = float(positive.min()) if positive.size else 1e-3
    ceiling = float(positive.max()) if positive.size else 1.0
    for mask, y, colour, name in ((np.isfinite(norms.h) & (norms.h == 0), floor, ZERO_COLOUR, "zero"),
                                  (~np.isfinite(norms.h), ceiling, style.OVERFLOW_COLOUR, "overflow")):
        if mask.any():
            traces.append(dict(type="scatter", mode="markers", xaxis="x3", yaxis="y3", x=steps[mask],
                               y=[y] * int(mask.sum()), name=name, showlegend=False, meta=f"profile:{name}",
                               marker=dict(symbol="x", size=7, color=colour),
                               hovertemplate=f"t = %{{x}}: {name}<extra></extra>"))
    return traces


# ---- the figure ----------------------------------------------------------------------------

def graph_figure(flow: Flow, trace: rc.Trace, step_losses: Array, total_loss: float,
                 sums: dict[str, Array], notation: Notation, view: GraphView = GraphView()) -> go.Figure:
    """The unrolled graph with its backward animation and the parameter gradients.

    flow: rnn_core.flow.full_flow or single_source (any cell). trace: the forward pass (xs (T, D),
    a or gates, h (T, H), o (T, O); the LSTM's c). step_losses (T,): L_t; total_loss: L. sums: the
    parameter gradients (the cell's every block) with a leading frame axis: rnn_core.flow.running_param_grads (length T: the sheet is linked to the frames) or
    the full sums (length 1: static). Frames: one per front of frame_fronts, named by the step
    the pass has reached. A compact view leaves the sheet out.
    """
    T = flow.T
    D, H, O = trace.xs.shape[1], trace.h.shape[1], trace.o.shape[1]
    window = Window.of(T, view.start, view.width)
    norms, carried = node_norms(flow), edge_flow(flow)
    memory = (norms.c, [norms.c0], carried.memory, carried.cell) if flow.memory else ()
    lo, hi = log_range(norms.x, norms.h, norms.o, norms.loss, [norms.h0, norms.total],
                       carried.x, carried.recurrent, carried.direct, carried.output, *memory)
    nodes = _nodes(flow, norms, trace, step_losses, total_loss, window, notation)
    sizes = _sizes(window, view, nodes.label)
    geometry = _geometry(view.mode)

    edges = _edges(flow, carried, window, notation, trace)
    sheet = Sheet.fitted(D, H, O, flow.gate_letters)
    sheet_values = sheet.fill(sums) if not view.compact else None
    linked = sheet_values is not None and sheet_values.shape[0] == T
    data = [
        *_edge_traces(edges, lo, hi, view.split), _bus_trace(flow, window), _edge_hover_trace(edges),
        _label_trace(flow, window, notation, sizes.label or MIN_LABEL_FONT[view.mode], trace),
        *_gate_trace(flow, window, trace, max(MIN_LABEL_FONT[view.mode], round(0.75 * sizes.label))),
        *_legend_traces(view.split, flow),
        *_node_traces(nodes, lo, hi, sizes.node, sizes.label),
        _veil_trace(window, 1, rows_of(flow)),
    ]
    if sheet_values is not None:
        labels = sheet.labels(notation) if sheet_values[0].size <= 20_000 else None   # else lean hovers
        data.append(sheet_trace(sheet_values, labels, font=sizes.font, colorbar_x=SHEET_X[1] + 0.005,
                                y_domain=geometry.bands["bottom"]))
    data += _profile_traces(norms, window, notation, norms.c)
    veil_index = next(k for k, d in enumerate(data) if d.get("meta") == "veil")
    fronts = frame_fronts(window, flow.source)
    frames = []
    for front in fronts:
        frame_data, traces = [_veil(window, front)], [veil_index]
        if linked:
            frame_data.append(dict(type="heatmap", z=sheet_values[T - front]))
            traces.append(veil_index + 1)
        frames.append(dict(name=str(front), data=frame_data, traces=traces))
    L = notation.L if flow.source is None else _html_at(notation, notation.L, flow.source)
    title = (f"Backward pass of {L}" if view.compact else
             f"Backward pass of {L} through the unrolled {CELL_TITLES[flow.cell]}" if flow.source is None else
             f"Backward pass of the single loss term {L} alone")
    layout = _merge(_shared_style(title, view.presentation),
                    _layout(window, lo, hi, notation, linked, sheet, sizes, geometry, view, norms, rows_of(flow)))
    layout["annotations"] += _overflow_annotations(
        sheet_values is None or bool(np.isfinite(sheet_values).any()), bool(np.isfinite(norms.h).any()),
        sizes.font, geometry.bands["bottom"])
    layout.update(_controls(fronts, sizes.font, geometry))
    # One constructor call: plotly validates every frame, and updating the layout piecewise
    # would validate it again each time (the speed budget is 150 ms at T = 100).
    return go.Figure(data=data, layout=layout, frames=frames)


@dataclass(frozen=True)
class _Sizes:
    """Text and marker sizes in px for the width the mode is drawn for (PLOT_PX)."""

    font: int          # the figure's text (titles, ticks, controls)
    small: int         # secondary text: weight names, tick labels of the panels
    node: int          # node diameter
    label: int         # node label; 0: the labels do not fit and are left to the hover
    tick_every: int    # the step axis labels every k-th step, so that its labels never touch


def _text_em(html: str) -> float:
    """Rough width of a label in em: sub- and superscripts are set smaller."""
    small = sum(len(part) for part in re.findall(r"<su[bp]>(.*?)</su[bp]>", html))
    plain = len(re.sub(r"<[^>]+>", "", html)) - small
    return 0.62 * plain + 0.45 * small


def _sizes(window: Window, view: GraphView, labels: list[str]) -> _Sizes:
    mode = view.mode
    font = FONT[mode]
    px_per_step = PLOT_PX[mode] / ((window.x_total + 0.6) - (window.x_h0 - 0.7))
    node = int(np.clip(0.8 * px_per_step, 12, MAX_NODE_PX[mode]))
    label = int(min(font, 0.9 * node / max(map(_text_em, labels))))
    label = label if label >= MIN_LABEL_FONT[mode] else 0
    digits = len(str(window.end))
    tick_every = int(np.ceil((font - 2) * (0.6 * digits + 0.9) / px_per_step))
    return _Sizes(font=font, small=font - 2, node=node, label=label, tick_every=max(tick_every, 1))


@dataclass(frozen=True)
class _Geometry:
    height: int                                   # px of the whole figure
    margin: tuple[int, int]                       # top and bottom margins, px
    bands: dict[str, tuple[float, float]]         # paper y (bottom, top) of each part


@lru_cache(maxsize=8)
def _geometry(mode: str) -> _Geometry:
    """BANDS[mode] (px from the top) as paper coordinates: every part keeps its pixel height
    whatever the figure holds, so controls and captions never slide onto each other."""
    total = sum(px for _, px in BANDS[mode])
    top, bottom = MARGIN_PX[mode]
    bands, above = {}, 0
    for name, px in BANDS[mode]:
        bands[name] = (max(0.0, 1 - (above + px) / total), 1 - above / total)
        above += px
    return _Geometry(total + top + bottom, (top, bottom), bands)


@lru_cache(maxsize=64)
def _shared_style_cached(title: str, presentation: bool) -> str:
    styled = style.apply_style(go.Figure(), title=title, presentation=presentation, height=880)
    # without the template: the default one is applied cheaply, a copied one is validated again
    return json.dumps({k: v for k, v in styled.layout.to_plotly_json().items() if k != "template"})


def _shared_style(title: str, presentation: bool) -> dict:
    """The layout style.apply_style gives every figure, as a fresh dict (built once per title)."""
    return json.loads(_shared_style_cached(title, presentation))


def _overflow_annotations(sheet_finite: bool, profile_finite: bool, font: int,
                          bottom: tuple[float, float]) -> list[dict]:
    """Say so where a panel has nothing finite to draw, rather than leave it blank."""
    notes = []
    for ok, x in ((sheet_finite, sum(SHEET_X) / 2), (profile_finite, sum(PROFILE_X) / 2)):
        if not ok:
            notes.append(dict(text="inf/nan everywhere: the gradient overflowed", x=x, y=sum(bottom) / 2,
                              xref="paper", yref="paper", showarrow=False, bgcolor="white",
                              font=dict(color=style.OVERFLOW_COLOUR, size=font)))
    return notes


def _merge(base: dict, override: dict) -> dict:
    """base with override's keys, nested dicts merged key by key."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _log_ticks(values: Array, most: int = 4) -> dict:
    """At most `most` ticks of a log axis over the finite positive values: whole decades when
    they span several, else evenly spaced (in log) round values. Plotly's own choice on a short
    log range writes every minor step (0.8, 1, 1.2, ...), labels that touch on a small panel."""
    good = values[np.isfinite(values) & (values > 0)]
    if good.size == 0:
        return {}
    lo, hi = np.log10(good.min()), np.log10(good.max())
    if hi - lo >= 2:
        every = int(np.ceil((np.floor(hi) - np.ceil(lo) + 1) / most))
        powers = range(int(np.ceil(lo)), int(np.floor(hi)) + 1, every)
        return dict(tickvals=[10.0 ** k for k in powers], ticktext=[f"10<sup>{k}</sup>" for k in powers])
    ticks = sorted({float(f"{v:.2g}") for v in 10 ** np.linspace(lo, hi, min(most, 3) if hi > lo else 1)})
    return dict(tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])


def _step_ticks(window: Window, every: int) -> tuple[list, list[str]]:
    """h_0's column and every `every`-th step of the window, counted back from its last step."""
    steps = [t for t in window.steps if (window.end - t) % every == 0]
    return [window.x_h0, *steps], ["0", *map(str, steps)]


def _layout(window: Window, lo: float, hi: float, notation: Notation, linked: bool, sheet: Sheet,
            sizes: _Sizes, geometry: _Geometry, view: GraphView, norms: NodeNorms, rows: dict[str, int]) -> dict:
    T, font, small, bands = window.T, sizes.font, sizes.small, geometry.bands
    compact = view.compact
    graph_x = [0.0, 1.0] if compact else [0.0, 0.93]
    profile_x = [0.16, 1.0] if compact else list(PROFILE_X)
    tickvals, ticktext = _step_ticks(window, sizes.tick_every)
    colorbar = dict(title=dict(text=f"log<sub>10</sub> ‖∂{notation.L}/∂·‖", side="top" if compact else "right",
                               font=dict(size=small)),
                    thickness=12, tickfont=dict(size=small), nticks=6)
    if compact:      # a phone has no width to spare: the colour bar lies under the graph
        colorbar.update(orientation="h", x=0.5, xanchor="center", len=0.9,
                        y=bands["colorbar"][0], yanchor="bottom")
    else:
        colorbar.update(x=0.95, y=sum(bands["graph"]) / 2, len=bands["graph"][1] - bands["graph"][0],
                        yanchor="middle")
    layout = dict(
        meta=view.mode, height=geometry.height, font=dict(size=font),
        xaxis=dict(domain=graph_x, range=[window.x_h0 - 0.7, window.x_total + 0.6], tickvals=tickvals,
                   ticktext=ticktext, tickangle=0, showgrid=False, zeroline=False,
                   title=dict(text="step t", standoff=2, font=dict(size=small)), fixedrange=True,
                   tickfont=dict(size=small)),
        yaxis=dict(domain=list(bands["graph"]), range=[-0.6, rows["bus"] + 0.6], tickvals=list(rows.values()),
                   showgrid=False, zeroline=False, fixedrange=True, tickfont=dict(size=small),
                   showticklabels=not compact, ticktext=[ROW_NAMES[name] for name in rows]),
        xaxis3=dict(domain=profile_x, anchor="y3", range=[0.5, T + 0.5], showgrid=True, zeroline=False,
                    title=dict(text="step t", standoff=2, font=dict(size=small)), fixedrange=True,
                    tickangle=0, nticks=PROFILE_TICKS[view.mode], tickfont=dict(size=small)),
        yaxis3=dict(domain=list(bands["bottom"]), anchor="x3", type="log", showgrid=True, fixedrange=True,
                    tickfont=dict(size=small),
                    **_log_ticks(norms.h if norms.c is None else np.concatenate([norms.h, norms.c]))),
        coloraxis=dict(colorscale=style.GRADIENT_SCALE, cmin=lo, cmax=hi, colorbar=colorbar),
        legend=dict(orientation="h", x=0.0, xanchor="left", y=bands["legend"][1], yanchor="top",
                    font=dict(size=small)),
        hovermode="closest", dragmode=False,
        margin=dict(l=12 if compact else 90 if view.presentation else 80, r=12 if compact else 40,
                    t=geometry.margin[0], b=geometry.margin[1]),
        shapes=[dict(type="rect", xref="x3", yref="paper", x0=window.start - 0.5, x1=window.end + 0.5,
                     y0=bands["bottom"][0], y1=bands["bottom"][1], fillcolor="rgba(0,114,178,0.08)",
                     line=dict(width=0), layer="below")],
        annotations=[_subtitle(_profile_title(notation, T, norms.c is not None, view.presentation), 0.0 if compact else PROFILE_X[0],
                               bands["titles"][1], small)],
    )
    if not compact:
        rows, cols = sheet.shape
        layout.update(
            xaxis2=dict(domain=list(SHEET_X), anchor="y2", range=[-0.5, cols - 0.5], showgrid=False,
                        zeroline=False, showticklabels=False, fixedrange=True),
            yaxis2=dict(domain=list(bands["bottom"]), anchor="x2", range=[rows - 0.5 + 1.2, -0.5 - 1.2],
                        showgrid=False, zeroline=False, showticklabels=False, fixedrange=True))
        layout["annotations"] += [
            *sheet_annotations(sheet, notation, small),
            _subtitle(f"∂{notation.L}/∂θ (10), " + ("sums so far" if linked else "full sums")
                      + (f", {sheet.pool}×{sheet.pool} pooled" if sheet.pool > 1 else ""),
                      SHEET_X[0], bands["titles"][1], small)]
    return layout


def _profile_title(notation: Notation, T: int, memory: bool, presentation: bool) -> str:
    """The profile's title; the LSTM's names both curves in their colours (a projector's narrow
    panel leaves out the words)."""
    h_t = _html_at(notation, notation.h, "t")
    if not memory:
        return f"‖∂{notation.L}/∂{h_t}‖, all {T} steps"
    c_t = _html_at(notation, "c", "t")
    return (f"<span style='color:{style.SEQUENCE_COLOURS[0]}'>‖∂{notation.L}/∂{h_t}‖</span>, "
            f"<span style='color:{MEMORY_COLOUR}'>‖∂{notation.L}/∂{c_t}‖{'' if presentation else ' (dashed)'}</span>"
            + ("" if presentation else f", {T} steps"))


def _subtitle(text: str, x: float, y: float, font: int) -> dict:
    """A panel's title, hung from the top of its band: the sheet's block names sit at its foot."""
    return dict(text=text, x=x, y=y, xref="paper", yref="paper", xanchor="left", yanchor="top",
                showarrow=False, font=dict(color=LABEL_COLOUR, size=font))


def _controls(fronts: list[int], font: int, geometry: _Geometry) -> dict:
    """Play buttons at three speeds and pause on one row; under them a slider with one stop per
    frame and its caption (on their own rows, so the caption never covers a button)."""
    base = frame_duration_ms(len(fronts))

    def play(duration: int) -> list:
        return [None, dict(frame=dict(duration=duration, redraw=True), transition=dict(duration=0),
                           fromcurrent=False, mode="immediate")]

    buttons = [dict(label="▶ Play", method="animate", args=play(base)),
               dict(label="slow", method="animate", args=play(base * 3)),
               dict(label="fast", method="animate", args=play(max(30, base // 3))),
               dict(label="❚❚ Pause", method="animate",
                    args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate",
                                       transition=dict(duration=0))])]
    step_args = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    bands = geometry.bands
    return dict(
        updatemenus=[dict(type="buttons", direction="right", showactive=False, buttons=buttons,
                          x=0.0, xanchor="left", y=bands["buttons"][1], yanchor="top", pad=dict(r=4, t=6),
                          font=dict(size=font - 1))],
        sliders=[dict(
            active=len(fronts) - 1, x=0.0, len=1.0, y=bands["slider"][1], yanchor="top", pad=dict(t=0, b=0),
            currentvalue=dict(prefix="backward pass has reached t = ", xanchor="left",
                              font=dict(size=font - 1, color=LABEL_COLOUR)),
            font=dict(color="rgba(0,0,0,0)"),      # one tick per frame: the current value says it
            steps=[dict(label=str(front), method="animate", args=[[str(front)], step_args]) for front in fronts],
        )],
    )
