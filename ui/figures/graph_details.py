"""Details of one step of the unrolled graph: its numbers as heat strips (eq. (7) filled in with
them is written by the page's service, ui/pages/graph.py).

Shapes: T steps, H hidden units, O outputs; step t is index t - 1 of every (T, ...) array.
The strips show, over the hidden (or output) units: the forward values a_t and h_t; o_t with
the prediction and the target; and dL/dh_t with its direct and indirect parts (eq. (7)), on
one colour scale so that direct + indirect = total can be read off.
"""
from __future__ import annotations

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


def step_details_figure(flow: Flow, trace: rc.Trace, t: int, notation: Notation, *, prediction,
                        target, presentation: bool = False) -> go.Figure:
    """Heat strips of step t: [a_t, h_t] (H), [o_t, prediction, target] (O), [dL/dh_t, direct,
    indirect] (H). prediction: y-hat_t (O,); target: y_t as an (O,) vector (one-hot for classes)."""
    _check_step(t, flow.T)
    i, n = t - 1, notation
    H, O = trace.h.shape[1], trace.o.shape[1]
    y_hat, y = np.asarray(prediction, dtype=float), np.asarray(target, dtype=float)
    num = "L" if flow.source is None else f"w<sub>{flow.source}</sub>L<sub>{flow.source}</sub>"
    h_t = n.html_at(n.h, t)
    blocks = [
        (np.stack([trace.a[i], trace.h[i]]), [n.html_at(n.a, t), h_t], "forward", H),
        (np.stack([trace.o[i], y_hat, y]), [n.html_at(n.o, t), n.html_at(n.y_hat, t) + " (prediction)",
                                            n.html_at(n.y, t) + " (target)"], "output", O),
        (np.stack([flow.dL_dh[i], flow.direct[i], flow.indirect[i]]),
         [f"∂{num}/∂{h_t}", "direct part", "indirect part"], "gradient", H),
    ]
    fig = make_subplots(rows=3, cols=1, vertical_spacing=0.16, row_heights=[2, 3, 3],
                        subplot_titles=(f"forward values at t = {t} (over the {H} hidden units)",
                                        f"output at t = {t} (over the {O} output units)",
                                        f"∂{num}/∂{h_t} = direct + indirect, eq. (7)"))
    for row, (values, names, name, units) in enumerate(blocks, start=1):
        fig.add_trace(go.Heatmap(_strip(values, names, name, units <= TEXT_LIMIT)), row=row, col=1)
        fig.update_yaxes(autorange="reversed", row=row, col=1)
        fig.update_xaxes(dtick=1 if units <= 20 else None, row=row, col=1)
    style.apply_style(fig, presentation=presentation, height=420)
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(showgrid=False)
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=20))
    return fig
