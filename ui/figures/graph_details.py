"""Details of one step of the unrolled graph: its numbers as heat strips (eq. (7) filled in with
them is written by the page's service, ui/pages/graph.py).

Shapes: T steps, H hidden units, O outputs; step t is index t - 1 of every (T, ...) array.
The strips show, over the hidden (or output) units: the forward values a_t and h_t (a gated
cell: its gates' values, e.g. i_t, f_t, G_t, c~_t, c_t for the LSTM, r_t, z_t, h~_t for the
GRU, then h_t); o_t with the prediction and the target; and dL/dh_t with its direct and indirect
parts (eq. (7)), for the LSTM also dL/dc_t with its parts through h_t and along c, on one
colour scale so that direct + indirect = total can be read off.
"""
from __future__ import annotations

import copy
import functools

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import rnn_core as rc
from rnn_core.flow import Flow
from ui.figures import style
from ui.notation import Notation

Array = np.ndarray
TEXT_LIMIT = 16     # write the numbers into the cells up to this many units


def _check_step(t: int, T: int) -> None:
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= t <= T:
        raise ValueError(f"t must be a step in [1, {T}], got {t!r}")


def _strip(values: Array, row_names: list[str], name: str, text: bool) -> dict:
    """One heatmap block: rows of values over units, its own symmetric colour scale."""
    z = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        finite = np.abs(z[np.isfinite(z)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    trace = dict(type="heatmap", z=z, y=row_names, x=list(range(z.shape[1])), zmid=0.0,
                 zmin=-limit, zmax=limit, colorscale=style.DIVERGING_SCALE, name=name, xgap=1, ygap=2,
                 showscale=False,
                 hovertemplate="%{y}, unit %{x}: %{z:.4g}<extra></extra>")
    if text:
        trace.update(text=[[f"{v:.2g}" for v in row] for row in z], texttemplate="%{text}")
    return trace


GATE_HTML = {"i": "i", "f": "f", "G": "G", "c~": "c̃", "r": "r", "z": "z", "h~": "h̃"}
GATE_WORDS = {"i": "input gate", "f": "forget gate", "G": "output gate", "c~": "candidate",
              "r": "reset gate", "z": "update gate", "h~": "candidate"}
GRADIENT_TITLES = {"rnn": "= direct + indirect, eq. (7)", "lstm": "and ∂/∂c: through h and along c, (L5)-(L6)",
                   "gru": "= direct + indirect (through step t+1's gates), (G1)-(G4)"}


def _forward_rows(trace: rc.Trace, i: int, notation: Notation) -> tuple[list[Array], list[str]]:
    """Step index i's forward values and their row names: a_t, h_t; or each gate, (c_t,) h_t."""
    n, t = notation, i + 1
    h_t = n.html_at(n.h, t)
    if trace.gates is None:
        return [trace.a[i], trace.h[i]], [n.html_at(n.a, t), h_t]
    values = [gate[i] for gate in trace.gates.values()]
    names = [f"{GATE_HTML[g]}<sub>{t}</sub> ({GATE_WORDS[g]})" for g in trace.gates]
    if trace.c is not None:
        values.append(trace.c[i])
        names.append(f"c<sub>{t}</sub> (memory)")
    return values + [trace.h[i]], names + [h_t]


def _gradient_rows(flow: Flow, i: int, num: str, h_t: str) -> tuple[list[Array], list[str]]:
    """dL/dh_t, its direct and indirect parts; for the LSTM also dL/dc_t and its two parts."""
    values = [flow.dL_dh[i], flow.direct[i], flow.indirect[i]]
    names = [f"∂{num}/∂{h_t}", "direct part", "indirect part"]
    if flow.memory:
        c_t = f"c<sub>{i + 1}</sub>"
        values += [flow.dL_dc[i], flow.c_direct[i], flow.c_indirect[i]]
        names += [f"∂{num}/∂{c_t}", f"through {h_t}", "along c (f ⊙ ∂/∂c next)"]
    return values, names


def step_details_figure(flow: Flow, trace: rc.Trace, t: int, notation: Notation, *, prediction,
                        target, presentation: bool = False) -> go.Figure:
    """Heat strips of step t: the forward values (H) ([a_t, h_t], or a gated cell's gates, c_t and
    h_t), [o_t, prediction, target] (O), [dL/dh_t, direct, indirect] (H) (the LSTM: and dL/dc_t
    with its two parts). prediction: y-hat_t (O,); target: y_t as an (O,) vector (one-hot for classes)."""
    _check_step(t, flow.T)
    i, n = t - 1, notation
    H, O = trace.h.shape[1], trace.o.shape[1]
    y_hat, y = np.asarray(prediction, dtype=float), np.asarray(target, dtype=float)
    num = "L" if flow.source is None else f"w<sub>{flow.source}</sub>L<sub>{flow.source}</sub>"
    h_t = n.html_at(n.h, t)
    forward, forward_names = _forward_rows(trace, i, n)
    gradient, gradient_names = _gradient_rows(flow, i, num, h_t)
    blocks = [
        (np.stack(forward), forward_names, "forward", H),
        (np.stack([trace.o[i], y_hat, y]), [n.html_at(n.o, t), n.html_at(n.y_hat, t) + " (prediction)",
                                            n.html_at(n.y, t) + " (target)"], "output", O),
        (np.stack(gradient), gradient_names, "gradient", H),
    ]
    heights = (len(forward), 3, len(gradient))
    titles = (f"forward values at t = {t} (over the {H} hidden units)",
              f"output at t = {t} (over the {O} output units)",
              f"∂{num}/∂{h_t} {GRADIENT_TITLES[flow.cell]}")
    layout = _layout(heights, titles, tuple(units <= 20 for *_, units in blocks), presentation)
    axes = [("x", "y")] + [(f"x{row}", f"y{row}") for row in range(2, len(blocks) + 1)]
    data = [dict(_strip(values, names, name, units <= TEXT_LIMIT), xaxis=x, yaxis=y)
            for (values, names, name, units), (x, y) in zip(blocks, axes)]
    return go.Figure(data=data, layout=copy.deepcopy(layout))


@functools.lru_cache(maxsize=64)
def _layout(heights: tuple[int, ...], titles: tuple[str, ...], unit_ticks: tuple[bool, ...],
            presentation: bool) -> dict:
    """The strips' layout (subplots, titles, style) as a dict: make_subplots and the axis updates
    cost ~20 ms a figure, and only the step's numbers change with the model (ui/pages/graph.py
    redraws the figure on every sidebar change). unit_ticks: a tick per unit in that row."""
    fig = make_subplots(rows=len(heights), cols=1, vertical_spacing=0.16 * 8 / sum(heights),
                        row_heights=list(heights), subplot_titles=titles)
    for row, ticks in enumerate(unit_ticks, start=1):
        fig.update_yaxes(autorange="reversed", row=row, col=1)
        fig.update_xaxes(dtick=1 if ticks else None, row=row, col=1)
    style.apply_style(fig, presentation=presentation, height=420 + 34 * (sum(heights) - 8))
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(showgrid=False)
    # the rows' names need their room on the left (plotly's automargin widens it to fit them)
    fig.update_yaxes(automargin=True)
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=40))
    return fig.to_dict()["layout"]
