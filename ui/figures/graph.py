"""The unrolled graph: x_t -> h_t -> o_t -> L_t -> L for every step, coloured by gradient.

One figure, so that one slider and one Play button drive everything client-side:
- top: the graph. Time runs left to right, layers bottom to top (x_t, h_t, o_t, L_t, then the
  sum into L). A long sequence shows a window of steps; h_0 and the total L stay at its ends,
  joined by dotted links when steps are hidden. Node colour = log10 ||dL/d node||; edge
  width = ||gradient the edge carries|| (log scale); inf/nan in the overflow colour;
- bottom: the five parameter gradients of eq. (10) on one sheet (one colour scale, so their
  sizes compare), and the profile ||dL/dh_t|| over all T steps with the window marked;
- frames: frame j is the backward pass having reached step T - j. A grey veil covers what it
  has not reached (so a frame restyles one small polygon, not every node), and the sheet shows
  the running sums over t >= T - j when T times its size fits graph_sheet.SHEET_BUDGET (otherwise the full
  sums, and the figure says so).

Numbers come from graph_flow (numpy); this module only draws them. Shapes: T steps, D inputs,
H hidden units, O outputs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

import rnn_core as rc
from ui.figures import style
from ui.figures.graph_flow import EdgeFlow, Flow, NodeNorms, edge_flow, node_norms
from ui.figures.graph_sheet import Sheet, sheet_annotations, sheet_trace
from ui.notation import Notation

Array = np.ndarray

ZERO_COLOUR = "#c8c8c8"            # gradient exactly zero: dead ReLU, truncated, other source
VEIL_COLOUR = "rgba(236,236,236,0.9)"
NEUTRAL_EDGE = "#6e6e6e"
LABEL_COLOUR = "#555555"
ROWS = {"x": 0, "h": 1, "o": 2, "loss": 3, "bus": 4}
DECADES_SHOWN = 12                 # colour and width scales cover at most this many decades
MIN_EDGE_PX, MAX_EDGE_PX = 1.5, 8.0
LOSS_EDGE_PX = 2.0                 # L -> L_t carries the scalar w_t: not on the norms' width scale
WIDTH_LEVELS = 8                   # edge widths are quantised: one trace per width
SHOWN_ENTRIES = 6                  # vector entries written in hover texts
GAP = 1.6                          # distance from h_0 / L to the window when steps are hidden

# paper coordinates of the parts
GRAPH_Y = (0.45, 0.97)
BOTTOM_Y = (0.0, 0.24)
CONTROLS_Y = 0.385                 # top of the play buttons and the frame slider
SHEET_X, PROFILE_X = (0.0, 0.46), (0.62, 0.93)


@dataclass(frozen=True)
class GraphView:
    """How to draw: the window of steps, edge colouring, projector mode."""

    start: int = 1            # first step in the window
    width: int = 16           # steps in the window
    split: bool = False       # colour the edges by the direct / indirect part they carry
    presentation: bool = False


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


@lru_cache(maxsize=4096)
def _html_at(notation: Notation, symbol: str, t) -> str:
    """notation.html_at, remembered: the graph asks for the same labels many times."""
    return notation.html_at(symbol, t)


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
    """h_0, the total L and, for each step in the window, x_t, h_t and (if L_t exists) o_t, L_t."""
    nodes = _Nodes.empty()
    L = notation.L
    h0 = _html_at(notation, notation.h, 0)
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
                  f"<br>{_html_at(notation, notation.a, t)} = {_vector(trace.a[i])}"
                  f"<br>{h_} = {_vector(trace.h[i])}", t)
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
            type="scatter", mode="markers+text", name=name, showlegend=name != "gradient", meta=f"nodes:{name}",
            x=[nodes.x[k] for k in idx], y=[nodes.y[k] for k in idx],
            text=[nodes.label[k] for k in idx], hovertext=[nodes.hover[k] for k in idx],
            customdata=[nodes.step[k] for k in idx], hoverinfo="text",
            textfont=dict(color=text_colour, size=font),
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


def _edges(flow: Flow, carried: EdgeFlow, window: Window, notation: Notation) -> list[_Edge]:
    """The window's edges with the norm of the gradient each carries backward."""
    out = []
    L, h = notation.L, notation.h
    for t in window.steps:
        i = t - 1
        h_t, h_prev = _html_at(notation, h, t), _html_at(notation, h, t - 1)
        x_t, o_t = _html_at(notation, notation.x, t), _html_at(notation, notation.o, t)
        out.append(_Edge(t, ROWS["x"], t, ROWS["h"], carried.x[i], "x", t,
                         f"{h_t} → {x_t}: ‖∂{L}/∂{x_t}‖ = {_norm_text(carried.x[i])}"))
        if t > window.start or t == 1:
            out.append(_Edge(window.x_h0 if t == 1 else t - 1, ROWS["h"], t, ROWS["h"],
                             carried.recurrent[i], "recurrent", t - 1,
                             f"{h_t} → {h_prev}: the indirect part of ∂{L}/∂{h_prev}, "
                             f"‖·‖ = {_norm_text(carried.recurrent[i])}"))
        if flow.has_loss[i]:
            L_t = _html_at(notation, L, t)
            out.append(_Edge(t, ROWS["h"], t, ROWS["o"], carried.direct[i], "direct", t,
                             f"{o_t} → {h_t}: the direct part of ∂{L}/∂{h_t}, "
                             f"‖·‖ = {_norm_text(carried.direct[i])}"))
            out.append(_Edge(t, ROWS["o"], t, ROWS["loss"], carried.output[i], "output", t,
                             f"{L_t} → {o_t}: ‖∂{L}/∂{o_t}‖ = {_norm_text(carried.output[i])}"))
            out.append(_Edge(t, ROWS["loss"], t, ROWS["bus"], carried.loss[i], "loss", t,
                             f"{L} → {L_t}: ∂{L}/∂{L_t} = {carried.loss[i]:.3g}"))
    return out + _hidden_links(carried, window, notation)


def _hidden_links(carried: EdgeFlow, window: Window, notation: Notation) -> list[_Edge]:
    """Dotted stand-ins for the recurrent chain outside the window, split at the '⋯'."""
    links = []
    L, h = notation.L, notation.h
    if window.start > 1:
        s, mid = window.start, (window.x_h0 + window.start) / 2
        links.append(_Edge(window.x_h0, ROWS["h"], mid, ROWS["h"], carried.recurrent[0], "recurrent", 0,
                           f"{_html_at(notation, h, 1)} → {_html_at(notation, h, 0)}: ‖∂{L}/∂"
                           f"{_html_at(notation, h, 0)}‖ = {_norm_text(carried.recurrent[0])} "
                           f"(steps 1–{s - 1} hidden)", hidden=True))
        links.append(_Edge(mid, ROWS["h"], s, ROWS["h"], carried.recurrent[s - 1], "recurrent", s - 1,
                           f"{_html_at(notation, h, s)} → {_html_at(notation, h, s - 1)}: the indirect part of "
                           f"∂{L}/∂{_html_at(notation, h, s - 1)}, ‖·‖ = {_norm_text(carried.recurrent[s - 1])}",
                           hidden=True))
    if window.end < window.T:
        e = window.end
        links.append(_Edge(e, ROWS["h"], e + 0.6, ROWS["h"], carried.recurrent[e], "recurrent", e,
                           f"{_html_at(notation, h, e + 1)} → {_html_at(notation, h, e)}: the indirect part of "
                           f"∂{L}/∂{_html_at(notation, h, e)}, ‖·‖ = {_norm_text(carried.recurrent[e])} "
                           f"(steps {e + 1}–{window.T} hidden)", hidden=True))
    return links


def _edge_colour(kind: str, split: bool) -> str:
    if split and kind == "recurrent":
        return style.INDIRECT_COLOUR
    if split and kind == "direct":
        return style.DIRECT_COLOUR
    return NEUTRAL_EDGE


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


def _label_trace(flow: Flow, window: Window, notation: Notation, font: int) -> dict:
    """The shared weights named on their edges (the same W on every step), and '⋯' for gaps."""
    xs, ys, texts, where = [], [], [], []

    def put(x, y, text, position):
        xs.append(x)
        ys.append(y)
        texts.append(text)
        where.append(position)

    for t in window.steps:
        put(t + 0.06, 0.4, notation.html_param("W_xh"), "middle right")
        if t > window.start or t == 1:      # under the edge: above it sit the labels of W_hy
            put(t - 0.5, ROWS["h"] - 0.22, notation.html_param("W_hh"), "bottom center")
        if flow.has_loss[t - 1]:
            put(t + 0.06, 1.5, notation.html_param("W_hy"), "middle right")
    if window.start > 1:
        put((window.x_h0 + window.start) / 2, ROWS["h"] + 0.06, "⋯", "top center")
    if window.end < window.T:
        put(window.end + 0.6, ROWS["h"] + 0.06, "⋯", "top center")
    return dict(type="scatter", mode="text", x=xs, y=ys, text=texts, textposition=where,
                hoverinfo="skip", showlegend=False, name="weights", meta="labels",
                textfont=dict(size=font, color=LABEL_COLOUR))


def _bus_trace(flow: Flow, window: Window) -> dict:
    """The sum L = sum_t w_t L_t: a rail from the first loss node in view to L."""
    in_view = [t for t in window.steps if flow.has_loss[t - 1]]
    earlier = bool(flow.has_loss[: window.start - 1].any())
    x0 = window.start - 0.5 if earlier else (in_view[0] if in_view else window.end + 0.5)
    return dict(type="scatter", mode="lines", x=[x0, window.x_total], y=[ROWS["bus"]] * 2,
                hoverinfo="skip", showlegend=False, name="sum", meta="bus", line=dict(color=NEUTRAL_EDGE, width=2))


def _legend_traces(split: bool) -> list[dict]:
    """Legend entries for what the edge colours mean (no data points)."""
    if not split:
        return []
    return [dict(type="scatter", mode="lines", x=[None], y=[None], name=name, meta="legend",
                 line=dict(color=colour, width=5), showlegend=True)
            for name, colour in (("direct part (through o)", style.DIRECT_COLOUR),
                                 ("indirect part (through next h)", style.INDIRECT_COLOUR))]


# ---- the veil: what the backward pass has not reached ----------------------------------------

def veil_x_end(window: Window, frame: int) -> float:
    """The veil's right edge in frame j (front at step T - j): it covers every drawn node
    that the pass has not reached, h_0 included until the last frame."""
    front = window.T - frame
    if front == 1:
        return window.x_h0 - 0.6                   # everything reached, h_0 too
    if front > window.end:
        return window.end + 0.5                    # the front is right of the window
    if front >= window.start:
        return front - 0.5
    return window.x_h0 + 0.45                      # the whole window reached; h_0 not yet


def _veil(window: Window, frame: int) -> dict:
    """What a frame changes in the veil: its x corners (right == left: an empty veil)."""
    left, right = window.x_h0 - 0.6, veil_x_end(window, frame)
    return dict(type="scatter", x=[left, right, right, left, left])


def _veil_trace(window: Window, frame: int) -> dict:
    return dict(_veil(window, frame), y=[-0.55, -0.55, 3.55, 3.55, -0.55], mode="none", fill="toself",
                fillcolor=VEIL_COLOUR,
                hoverinfo="skip", showlegend=False, name="not reached yet", meta="veil")


def frame_duration_ms(T: int) -> int:
    """About 6 s for a whole pass at normal speed, within 60-500 ms a frame."""
    return int(np.clip(6000 / T, 60, 500))


# ---- the profile of ||dL/dh_t|| over all steps ---------------------------------------------

def _profile_traces(norms: NodeNorms, window: Window, notation: Notation) -> list[dict]:
    """||dL/dh_t|| for t = 1..T on a log axis, zeros and overflow marked on the floor/ceiling."""
    T = window.T
    steps = np.arange(1, T + 1)
    good = np.isfinite(norms.h) & (norms.h > 0)
    h_t = _html_at(notation, notation.h, "t")
    traces = [dict(type="scatter", mode="lines+markers" if T <= 60 else "lines", xaxis="x3", yaxis="y3",
                   x=steps[good], y=norms.h[good], name=f"‖∂{notation.L}/∂{h_t}‖", showlegend=False, meta="profile",
                   line=dict(color=style.SEQUENCE_COLOURS[0], width=2), marker=dict(size=5),
                   hovertemplate=f"t = %{{x}}: ‖∂{notation.L}/∂{h_t}‖ = %{{y:.3g}}<extra></extra>")]
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

    flow: graph_flow.full_flow or single_source. trace: the forward pass (xs (T, D), a, h (T, H),
    o (T, O)). step_losses (T,): L_t; total_loss: L. sums: the five gradients with a leading
    frame axis: graph_flow.running_param_grads (length T: the sheet is linked to the frames) or
    the full sums (length 1: static). Frames: T; frame j = the pass has reached step T - j.
    """
    T = flow.T
    D, H, O = trace.xs.shape[1], trace.h.shape[1], trace.o.shape[1]
    window = Window.of(T, view.start, view.width)
    norms, carried = node_norms(flow), edge_flow(flow)
    lo, hi = log_range(norms.x, norms.h, norms.o, norms.loss, [norms.h0, norms.total],
                       carried.x, carried.recurrent, carried.direct, carried.output)
    columns = window.end - window.start + 1 + (2 if window.start == 1 else 3) + (0 if window.end == T else 1)
    size = int(np.clip(900 / columns * 0.7, 18, 40)) + (6 if view.presentation else 0)
    font = int(np.clip(size * 0.38, 9, 15)) + (3 if view.presentation else 0)
    base_font = style.PRESENTATION_FONT_SIZE if view.presentation else style.FONT_SIZE

    edges = _edges(flow, carried, window, notation)
    sheet = Sheet(D, H, O)
    sheet_values = sheet.fill(sums)
    linked = sheet_values.shape[0] == T
    labels = sheet.labels(notation) if sheet_values[0].size <= 20_000 else None   # else lean hovers

    data = [
        *_edge_traces(edges, lo, hi, view.split), _bus_trace(flow, window), _edge_hover_trace(edges),
        _label_trace(flow, window, notation, max(font - 1, 9)), *_legend_traces(view.split),
        *_node_traces(_nodes(flow, norms, trace, step_losses, total_loss, window, notation),
                      lo, hi, size, font),
        _veil_trace(window, T - 1),
        sheet_trace(sheet_values, labels, font=base_font, colorbar_x=SHEET_X[1] + 0.005, y_domain=BOTTOM_Y),
        *_profile_traces(norms, window, notation),
    ]
    veil_index = next(k for k, d in enumerate(data) if d.get("meta") == "veil")
    frames = []
    for j in range(T):
        frame_data, traces = [_veil(window, j)], [veil_index]
        if linked:
            frame_data.append(dict(type="heatmap", z=sheet_values[j]))
            traces.append(veil_index + 1)
        frames.append(dict(name=str(T - j), data=frame_data, traces=traces))
    title = (f"Backward pass of {notation.L} through the unrolled RNN" if flow.source is None else
             f"Backward pass of the single loss term {_html_at(notation, notation.L, flow.source)} alone")
    layout = _merge(_shared_style(title, view.presentation),
                    _layout(window, lo, hi, notation, linked, sheet, base_font))
    layout["annotations"] += _overflow_annotations(bool(np.isfinite(sheet_values).any()),
                                                   bool(np.isfinite(norms.h).any()), base_font)
    # One constructor call: plotly validates every frame, and updating the layout piecewise
    # would validate it again each time (the speed budget is 150 ms at T = 100).
    return go.Figure(data=data, layout=layout, frames=frames)


@lru_cache(maxsize=64)
def _shared_style_cached(title: str, presentation: bool) -> str:
    styled = style.apply_style(go.Figure(), title=title, presentation=presentation, height=880)
    # without the template: the default one is applied cheaply, a copied one is validated again
    return json.dumps({k: v for k, v in styled.layout.to_plotly_json().items() if k != "template"})


def _shared_style(title: str, presentation: bool) -> dict:
    """The layout style.apply_style gives every figure, as a fresh dict (built once per title)."""
    return json.loads(_shared_style_cached(title, presentation))


def _overflow_annotations(sheet_finite: bool, profile_finite: bool, font: int) -> list[dict]:
    """Say so where a panel has nothing finite to draw, rather than leave it blank."""
    notes = []
    for ok, x in ((sheet_finite, sum(SHEET_X) / 2), (profile_finite, sum(PROFILE_X) / 2)):
        if not ok:
            notes.append(dict(text="inf/nan everywhere: the gradient overflowed", x=x, y=sum(BOTTOM_Y) / 2,
                              xref="paper", yref="paper", showarrow=False, bgcolor="white",
                              font=dict(color=style.OVERFLOW_COLOUR, size=font)))
    return notes


def _merge(base: dict, override: dict) -> dict:
    """base with override's keys, nested dicts merged key by key."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _layout(window: Window, lo: float, hi: float, notation: Notation, linked: bool, sheet: Sheet,
            font: int) -> dict:
    T = window.T
    ticks = [window.x_h0, *window.steps]
    left = window.x_h0 - 0.7
    rows, cols = sheet.shape
    h_t = _html_at(notation, notation.h, "t")
    return dict(
        xaxis=dict(domain=[0.0, 0.93], range=[left, window.x_total + 0.6], tickvals=ticks,
                   ticktext=["0", *map(str, window.steps)],
                   showgrid=False, zeroline=False, title=dict(text="step t", standoff=2), fixedrange=True,
                   tickfont=dict(size=font)),
        yaxis=dict(domain=GRAPH_Y, range=[-0.6, 4.6], tickvals=[0, 1, 2, 3, 4], showgrid=False,
                   zeroline=False, fixedrange=True, tickfont=dict(size=font),
                   ticktext=["input", "hidden", "output", "loss", "sum"]),
        xaxis2=dict(domain=SHEET_X, anchor="y2", range=[-0.5, cols - 0.5], showgrid=False, zeroline=False,
                    showticklabels=False, fixedrange=True),
        yaxis2=dict(domain=BOTTOM_Y, anchor="x2", range=[rows - 0.5 + 1.2, -0.5 - 1.2], showgrid=False,
                    zeroline=False, showticklabels=False, fixedrange=True),
        xaxis3=dict(domain=PROFILE_X, anchor="y3", range=[0.5, T + 0.5], showgrid=True, zeroline=False,
                    title=dict(text="step t", standoff=2), fixedrange=True, tickfont=dict(size=font - 2)),
        yaxis3=dict(domain=BOTTOM_Y, anchor="x3", type="log", showgrid=True, exponentformat="power",
                    fixedrange=True, tickfont=dict(size=font - 2)),
        coloraxis=dict(colorscale=style.GRADIENT_SCALE, cmin=lo, cmax=hi,
                       colorbar=dict(title=dict(text=f"log<sub>10</sub> ‖∂{notation.L}/∂·‖", side="right"),
                                     x=0.95, y=sum(GRAPH_Y) / 2, len=GRAPH_Y[1] - GRAPH_Y[0],
                                     yanchor="middle", thickness=14, tickfont=dict(size=font - 2))),
        legend=dict(orientation="h", x=1.0, xanchor="right", y=1.0, yanchor="bottom"),
        hovermode="closest", dragmode=False, margin=dict(l=80, r=40, b=40),
        shapes=[dict(type="rect", xref="x3", yref="paper", x0=window.start - 0.5, x1=window.end + 0.5,
                     y0=BOTTOM_Y[0], y1=BOTTOM_Y[1], fillcolor="rgba(0,114,178,0.08)", line=dict(width=0),
                     layer="below")],
        annotations=[
            *sheet_annotations(sheet, notation, font),
            dict(text=("Parameter gradients (10): sums so far" if linked else
                       "Parameter gradients (10): full sums (too large to animate)"),
                 x=SHEET_X[0], y=BOTTOM_Y[1] + 0.03, xref="paper", yref="paper", xanchor="left",
                 yanchor="bottom", showarrow=False, font=dict(color=LABEL_COLOUR, size=font - 2)),
            dict(text=f"‖∂{notation.L}/∂{h_t}‖ at all {T} steps",
                 x=PROFILE_X[0], y=BOTTOM_Y[1] + 0.03, xref="paper", yref="paper", xanchor="left",
                 yanchor="bottom", showarrow=False, font=dict(color=LABEL_COLOUR, size=font - 2)),
        ],
        **_controls(T, font),
    )


def _controls(T: int, font: int) -> dict:
    """Play buttons at three speeds, pause, and a slider with one step per frame."""
    base = frame_duration_ms(T)

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
    slider_x = 0.36 if font <= style.FONT_SIZE else 0.44      # room for the buttons' larger text
    return dict(
        updatemenus=[dict(type="buttons", direction="right", showactive=False, buttons=buttons,
                          x=0.0, xanchor="left", y=CONTROLS_Y - 0.02, yanchor="top", pad=dict(r=4, t=0),
                          font=dict(size=font - 1))],
        sliders=[dict(
            active=T - 1, x=slider_x, len=0.93 - slider_x, y=CONTROLS_Y, yanchor="top", pad=dict(t=0, b=0),
            currentvalue=dict(prefix="backward pass has reached t = ", xanchor="left",
                              font=dict(size=font, color=LABEL_COLOUR)),
            font=dict(color="rgba(0,0,0,0)"),      # one tick per frame: the current value says it
            steps=[dict(label=str(T - j), method="animate", args=[[str(T - j)], step_args]) for j in range(T)],
        )],
    )


def overflow_notes(result: rc.BPTTResult, flow: Flow) -> list[str]:
    """Plain-language notes naming where values stopped being finite (empty if none)."""
    notes = []
    if result.overflow_step is not None:
        notes.append(f"The forward pass overflowed at step t = {result.overflow_step}: from there on "
                     f"a_t, h_t or o_t is inf or nan.")
    if result.grad_overflow_step is not None:
        notes.append(f"The gradient overflowed: dL/dh_t is inf or nan from step t = "
                     f"{result.grad_overflow_step} back to t = 1 (drawn in the overflow colour).")
    with np.errstate(all="ignore"):
        bad = np.flatnonzero(~np.isfinite(flow.dL_dh).all(axis=1))
    if flow.source is not None and bad.size and result.grad_overflow_step is None:
        notes.append(f"Following the loss term alone, dL/dh_t overflowed from step t = {bad[-1] + 1}.")
    return notes
