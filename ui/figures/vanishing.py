"""Figures of the vanishing & exploding page: numpy arrays in, plotly Figures out.

Every quantity is indexed by step, array index i holding step i + 1 (k or t = 1..T), as in
rnn_core. Norm curves are drawn on log axes, where two kinds of value cannot be placed:
exact zeros (dead ReLUs) and overflow (inf/nan). Neither is dropped silently nor given a fake
value on the log axis: their markers sit on a hidden linear axis laid over it (0 at the bottom
edge is a true 0; overflow at the top edge), and the main curve shades its exact-zero steps with
the words "exactly 0" (ui.pages.vanishing.log_notes words the note the page shows beside them).

Text above a plot (titles, the fitted factor) sits below a strip of MODEBAR_PX left free for
plotly's toolbar, so the toolbar never covers it and nothing covers the curve.

Labels are plotly HTML (<sub>, <sup>) in the user's chosen notation (Notation.html_at/html_param).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ui.figures.style import (BOUND_COLOUR, DIRECT_COLOUR, GRADIENT_SCALE, INDIRECT_COLOUR,
                              OVERFLOW_COLOUR, SEQUENCE_COLOURS, apply_style)
from rnn_core.jacobians import SATURATION, StepFactorStats
from ui.notation import Notation, to_html

Array = np.ndarray
HORIZON_SYMBOL = "star"
ZERO_SYMBOL = "triangle-down"
OVERFLOW_SYMBOL = "triangle-up"
MIN_DECADES = 2.2        # a log axis spans at least this many powers of ten, so two are labelled
LOG10_HUGE = 308.25      # log10 of the largest float64 (1.8e308): an axis (and its edge markers) stops there
LOG10_TINY = -323.0      # log10 of the smallest positive float64 (a subnormal)
GREEN = SEQUENCE_COLOURS[2]          # singular values (Okabe-Ito bluish green)
EDGE_AXIS = "y9"                     # the hidden linear axis [0, 1] of zero and overflow markers
MODEBAR_PX = 40                      # plotly's toolbar: 2 px from the top, 32 px high, a gap
ZERO_FILL = "rgba(120,120,120,0.14)"


# ---- labels in the user's notation ---------------------------------------------------------

def jacobian_label(nt: Notation, t: str, k: str, ord: str, state: str | None = None) -> str:
    """'‖∂h_T/∂h_k‖₂' as HTML; the subscript names the norm (2: spectral, F: Frobenius).
    state: the state's letter (default the notation's h; 's' for a gated cell's [h; c])."""
    norm = "2" if ord == "2" else "F"
    s = state or nt.h
    return f"‖∂{nt.html_at(s, t)}/∂{nt.html_at(s, k)}‖<sub>{norm}</sub>"


# ---- values a log axis cannot show ----------------------------------------------------------

@dataclass(frozen=True)
class LogSplit:
    """A curve split for a log axis. y: the positive finite values (nan elsewhere);
    zero: exact zeros (or negatives, which norms never are); overflow: inf or nan."""

    y: Array
    zero: Array
    overflow: Array


def split_for_log(values) -> LogSplit:
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    positive = finite & (v > 0)
    return LogSplit(y=np.where(positive, v, np.nan), zero=finite & (v <= 0), overflow=~finite)


def log_range(*curves) -> tuple[float, float]:
    """(lo, hi) in log10 units covering every positive finite value, with a margin.

    The margins leave room for the edge markers of zeros (at lo) and overflow (at hi).
    """
    values = np.concatenate([np.ravel(np.asarray(c, dtype=np.float64)) for c in curves] or [np.ones(1)])
    good = values[np.isfinite(values) & (values > 0)]
    if good.size == 0:
        return -1.0, 1.0
    lo, hi = float(np.log10(good.min())), float(np.log10(good.max()))
    pad = max(0.3, 0.06 * (hi - lo), (MIN_DECADES - (hi - lo)) / 2)
    return max(lo - pad, LOG10_TINY), min(hi + pad, LOG10_HUGE)


def log_axis(lo: float, hi: float) -> dict:
    """Layout of a log axis over [lo, hi] (log10 units): labelled powers of ten only, at most
    about 8 of them (plotly's in-between labels '2', '5' are unreadable on a projector)."""
    return dict(type="log", range=[lo, hi], dtick=max(1, int(np.ceil((hi - lo) / 8))), exponentformat="power")


def _edge_markers(x: Array, split: LogSplit, *, colour: str, name: str) -> list[go.Scatter]:
    """Zeros as ▼ on the bottom edge, overflow as ▲ on the top edge of a log axis: on the hidden
    linear axis EDGE_AXIS (0 to 1) laid over it, so a zero's value is a true 0 and no marker
    claims a value on the log scale. One marker trace per kind present."""
    traces = []
    for mask, level, symbol, what in ((split.zero, 0.0, ZERO_SYMBOL, "exactly 0"),
                                      (split.overflow, 1.0, OVERFLOW_SYMBOL, "overflow (inf/nan)")):
        if mask.any():
            traces.append(go.Scatter(
                x=x[mask], y=np.full(int(mask.sum()), level), mode="markers", cliponaxis=False,
                marker=dict(symbol=symbol, size=11, color=OVERFLOW_COLOUR if symbol == OVERFLOW_SYMBOL else colour,
                            line=dict(width=1, color=colour)),
                name=f"{name}: {what}", meta="edge", yaxis=EDGE_AXIS,
                hovertemplate=f"%{{x}}: {what}<extra></extra>"))
    return traces


def _edge_axis() -> dict:
    """Layout of EDGE_AXIS: linear 0..1 over the main y axis, invisible."""
    return {f"yaxis{EDGE_AXIS[1:]}": dict(overlaying="y", range=[0.0, 1.0], visible=False, fixedrange=True)}


def _runs(mask: Array) -> list[tuple[int, int]]:
    """(first, last) indices of each run of True in a 1-D mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def _zero_bands(x: Array, zero: Array) -> tuple[list[dict], list[dict]]:
    """(shapes, annotations): a shaded band over each run of exact zeros, labelled 'exactly 0'."""
    step = float(abs(x[1] - x[0])) if x.size > 1 else 1.0
    shapes, notes = [], []
    for first, last in _runs(zero):
        lo, hi = sorted((float(x[first]), float(x[last])))
        shapes.append(dict(type="rect", xref="x", x0=lo - step / 2, x1=hi + step / 2, yref="y domain", y0=0, y1=1,
                           fillcolor=ZERO_FILL, line=dict(width=0), layer="below"))
        notes.append(dict(text="exactly 0", xref="x", x=(lo + hi) / 2, yref="y domain", y=0.04, yanchor="bottom",
                          showarrow=False, font=dict(color="#333333")))
    return shapes, notes


def _top_margin(presentation: bool, text_lines: int) -> int:
    """Pixels above the plot: the toolbar's strip, then `text_lines` lines of title-size text."""
    size = 22 if presentation else 15
    return MODEBAR_PX + int(text_lines * 1.6 * size) + 6


def _figure(traces: list, layout: dict, *, presentation: bool, height: int, title: str | None = None,
            top_lines: int = 0, frames: list | None = None) -> go.Figure:
    """One Figure built in a single call, then the shared style (each later update would cost
    plotly a full validation pass). The plot area, the title and `top_lines` lines of text
    above the plot all start below the toolbar's strip."""
    fig = apply_style(go.Figure(data=traces, layout=layout, frames=frames), title=title, presentation=presentation,
                      height=height)
    if title:
        fig.layout.title.update(yref="container", y=1.0, yanchor="top", pad=dict(t=MODEBAR_PX))
    fig.layout.margin.t = _top_margin(presentation, top_lines + bool(title))
    return fig


BELOW_LEGEND = dict(orientation="h", yanchor="top", y=-0.2, x=0.0)


def _steps_axis(W: int, axis: str, first_step: int = 1) -> tuple[Array, str]:
    """x values for the W steps k = first_step..first_step+W-1 (the last is T): k itself, or
    the distance T - k."""
    k = np.arange(first_step, first_step + W)
    return (k, "k (the earlier step)") if axis == "k" else (k[-1] - k, "distance T − k (steps back from T)")


# ---- the main curve -------------------------------------------------------------------------

def curve_figure(norms, bound, *, nt: Notation, ord: str = "2", axis: str = "k",
                 horizon: int | None = None, horizon_text: str = "", factor_label: str = "",
                 matrix_powers=None, first_step: int = 1, presentation: bool = False,
                 gate=None, gate_label: str = "", state: str | None = None) -> go.Figure:
    """||dh_T/dh_k|| against k (or T - k) on a log axis, with the bound of eq. (11).

    A gated cell has no bound (None): its state is s (state='s') and `gate` (W,), the norm of
    its memory path (the keeping gates' product) at the same k, is drawn dashed as `gate_label`.

    norms (W,): entry j is ||dh_T/dh_k|| for k = first_step + j (the last W steps; all T with
    first_step 1). bound (W,): the bound at the same k. horizon: the memory horizon as a
    distance T - k, a ★ on the curve when it was measured there (None: not on the curve);
    horizon_text: how the page states it (in the legend, by the ★ or by the curve when there
    is no ★). factor_label: the fitted trend,
    written above the plot (never over the curve). matrix_powers (W,): ||W_hh^(T-k)||, overlaid
    for the identity activation where it equals the curve.
    """
    norms = np.asarray(norms, dtype=np.float64)
    T = norms.shape[0]
    x, xlabel = _steps_axis(T, axis, first_step)
    jac = jacobian_label(nt, "T", "k", ord, state)
    split = split_for_log(norms)
    reference = bound if gate is None else gate
    bound_split = split_for_log(reference)
    lo, hi = log_range(norms, reference)
    scale = "" if ord == "2" else "√H · "
    traces = [go.Scatter(
        x=x, y=bound_split.y, mode="lines", name=f"bound {scale}(γ σ<sub>max</sub>)<sup>T−k</sup>, eq. (11)",
        line=dict(color=BOUND_COLOUR, dash="dash", width=2), meta="bound",
        hovertemplate="bound: %{y:.3g}<extra></extra>") if gate is None else go.Scatter(
        x=x, y=bound_split.y, mode="lines", name=gate_label, meta="gate",
        line=dict(color=INDIRECT_COLOUR, dash="dash", width=3),
        hovertemplate="memory path: %{y:.3g}<extra></extra>")]
    if matrix_powers is not None:
        traces.append(go.Scatter(
            x=x, y=split_for_log(matrix_powers).y, mode="markers", meta="powers",
            name=f"‖{to_html(nt.jacobian_power('T−k'))}‖ (matrix powers)",
            marker=dict(symbol="circle-open", size=9, color=INDIRECT_COLOUR),
            hovertemplate="matrix power: %{y:.3g}<extra></extra>"))
    starred = horizon is not None and 0 <= horizon < T and np.isfinite(split.y[T - 1 - horizon])
    traces.append(go.Scatter(
        x=x, y=split.y, mode="lines+markers", meta="curve",
        name=f"{jac} · memory horizon: {horizon_text}" if horizon_text and not starred else jac,
        line=dict(color=DIRECT_COLOUR, width=3), marker=dict(size=5),
        hovertemplate=f"{xlabel.split(' (')[0]} = %{{x}}<br>norm = %{{y:.3g}}<extra></extra>"))
    traces += _edge_markers(x, split, colour=DIRECT_COLOUR, name="curve")
    traces += _edge_markers(x, bound_split if gate is not None else
                            LogSplit(bound_split.y, np.zeros(T, dtype=bool), bound_split.overflow),
                            colour=BOUND_COLOUR if gate is None else INDIRECT_COLOUR,
                            name="bound" if gate is None else "memory path")
    if starred:
        traces.append(go.Scatter(
            x=[x[T - 1 - horizon]], y=[split.y[T - 1 - horizon]], mode="markers", meta="horizon",
            name=f"memory horizon: {horizon_text}", marker=dict(symbol=HORIZON_SYMBOL, size=18, color="#000000"),
            hovertemplate="memory horizon<br>%{y:.3g}<extra></extra>"))
    shapes, annotations = _zero_bands(x, split.zero)
    if factor_label:       # above the plot's top left corner: in the margin, not over the curve
        annotations.append(dict(text=f"<b>{factor_label}</b>", xref="paper", yref="paper", x=0.0, y=1.0,
                                xanchor="left", yanchor="bottom", yshift=4, showarrow=False, name="factor",
                                font=dict(color="#000000")))
    layout = dict(legend=BELOW_LEGEND, annotations=annotations, shapes=shapes,
                  xaxis=dict(title=dict(text=xlabel), autorange="reversed" if axis == "distance" else True),
                  yaxis=dict(title=dict(text=f"{jac} (log)"), **log_axis(lo, hi)), **_edge_axis())
    return _figure(traces, layout, presentation=presentation, height=430, top_lines=1 if factor_label else 0)


# ---- scrubbers: plotly frames and a slider that moves through them in the browser -------------
# Each frame holds only the traces' changing data; a slider step animates to its frame with no
# transition and no redraw of the layout (a full redraw costs 2-3x as much in Chromium), so
# whatever changes with the frame, the line above the plot and the bands of exact zeros
# included, is a trace, and the legend's names stay the same in every frame.
SCRUB_STEP_ARGS = dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))
SLIDER_PX = 70                 # the slider's rail and its current value, under the x axis title
AXIS_TITLE_PX = 50             # the x axis' ticks and title under the plot
LEGEND_PX = 70                 # two rows of legend
MARKED_STEPS = 60              # a scrubbed curve over more steps is drawn as a line only
SCRUB_DECADES = 15             # how far a scrubbed range reaches beyond the sidebar curve's own


def _slider(labels: Sequence[str], names: Sequence[str], *, active: int, prefix: str, font: int) -> dict:
    """A plotly slider with one step per frame; its current value (not crowded tick labels) says
    where it is."""
    return dict(active=active, x=0.0, len=1.0, xanchor="left", yanchor="top", pad=dict(t=0, b=0), name="scrub",
                currentvalue=dict(prefix=prefix, xanchor="left", font=dict(size=font, color="#000000")),
                font=dict(color="rgba(0,0,0,0)"), ticklen=4, minorticklen=2,
                steps=[dict(label=label, value=name, method="animate", args=[[name], SCRUB_STEP_ARGS])
                       for label, name in zip(labels, names)])


def _place_below(fig: go.Figure, *, legend: bool) -> go.Figure:
    """Room under the plot for the x axis title, the slider and (if shown) the legend, in that
    order: the plot area keeps its height, the figure grows."""
    layout = fig.layout
    bottom = AXIS_TITLE_PX + SLIDER_PX + (LEGEND_PX if legend else 0)
    plot_px = layout.height - layout.margin.t - layout.margin.b
    height = layout.height + bottom - layout.margin.b

    def paper_y(px: float) -> float:            # px below the plot area, in the plot's paper units
        return -px / plot_px

    fig.update_layout(height=height, margin=dict(b=bottom))
    fig.layout.sliders[0].y = paper_y(AXIS_TITLE_PX)
    if legend:
        fig.layout.legend.update(y=paper_y(AXIS_TITLE_PX + SLIDER_PX), yanchor="top")
    return fig


def _zero_band_parts(x: Array, zero: Array) -> tuple[dict, dict]:
    """The shaded bands over runs of exact zeros (one filled polygon per run, on EDGE_AXIS) and
    their 'exactly 0' labels, as trace data: the frame-by-frame twin of `_zero_bands`."""
    step = float(abs(x[1] - x[0])) if x.size > 1 else 1.0
    xs, ys, centres = [], [], []
    for first, last in _runs(zero):
        lo, hi = sorted((float(x[first]), float(x[last])))
        xs += [lo - step / 2, hi + step / 2, hi + step / 2, lo - step / 2, lo - step / 2, None]
        ys += [0.0, 0.0, 1.0, 1.0, 0.0, None]
        centres.append((lo + hi) / 2)
    return dict(x=xs, y=ys), dict(x=centres, y=[0.04] * len(centres), text=["exactly 0"] * len(centres))


def _curve_parts(x: Array, norms: Array, bound: Array, horizon: int | None, factor_text: str) -> dict[str, dict]:
    """The changing data of the scrubbed curve chart's traces, by slot (see `_curve_slots`);
    absent markers are empty traces, so that every frame has the same traces."""
    split, bound_split = split_for_log(norms), split_for_log(bound)
    W = norms.shape[0]
    starred = bool(horizon is not None and 0 <= horizon < W and np.isfinite(split.y[W - 1 - horizon]))

    def edge(mask: Array, level: float) -> dict:
        return dict(x=x[mask], y=np.full(int(mask.sum()), level))

    star = [W - 1 - horizon] if starred else []
    band, band_label = _zero_band_parts(x, split.zero)
    return {"zero_band": band, "zero_label": band_label, "bound": dict(y=bound_split.y), "curve": dict(y=split.y),
            "curve_zero": edge(split.zero, 0.0), "curve_overflow": edge(split.overflow, 1.0),
            "bound_overflow": edge(bound_split.overflow, 1.0), "horizon": dict(x=x[star], y=split.y[star]),
            "factor": dict(text=[f"<b>{factor_text}</b>"])}


def _curve_slots(x: Array, jac: str, xlabel: str, scale: str, font: int) -> dict[str, dict]:
    """The constant style of each trace of the scrubbed curve chart, in drawing order: the bands
    of exact zeros and their labels, the bound, the curve, the edge markers of zeros and
    overflow, the ★ of the memory horizon, and the line above the plot (a text trace in the
    margin above the plot's top left corner, where curve_figure writes its annotation)."""
    edge = dict(mode="markers", cliponaxis=False, meta="edge", yaxis=EDGE_AXIS, showlegend=False)
    quiet = dict(yaxis=EDGE_AXIS, showlegend=False, hoverinfo="skip")

    def marker(symbol: str, colour: str) -> dict:
        return dict(symbol=symbol, size=11, line=dict(width=1, color=colour),
                    color=OVERFLOW_COLOUR if symbol == OVERFLOW_SYMBOL else colour)

    return {
        "zero_band": dict(mode="lines", fill="toself", fillcolor=ZERO_FILL, line=dict(width=0), meta="zero_band",
                          **quiet),
        "zero_label": dict(mode="text", textposition="top center", meta="zero_label",
                           textfont=dict(color="#333333"), **quiet),
        "bound": dict(mode="lines", name=f"bound {scale}(γ σ<sub>max</sub>)<sup>T−k</sup>, eq. (11)", meta="bound",
                      line=dict(color=BOUND_COLOUR, dash="dash", width=2),
                      hovertemplate="bound: %{y:.3g}<extra></extra>"),
        # markers only where they can be told apart: hundreds of them are a thick line that costs each step
        "curve": dict(mode="lines+markers" if x.size <= MARKED_STEPS else "lines", meta="curve", name=jac,
                      line=dict(color=DIRECT_COLOUR, width=3), marker=dict(size=5),
                      hovertemplate=f"{xlabel.split(' (')[0]} = %{{x}}<br>norm = %{{y:.3g}}<extra></extra>"),
        "curve_zero": dict(**edge, name="curve: exactly 0", marker=marker(ZERO_SYMBOL, DIRECT_COLOUR),
                           hovertemplate="%{x}: exactly 0<extra></extra>"),
        "curve_overflow": dict(**edge, name="curve: overflow (inf/nan)", marker=marker(OVERFLOW_SYMBOL, DIRECT_COLOUR),
                               hovertemplate="%{x}: overflow (inf/nan)<extra></extra>"),
        "bound_overflow": dict(**edge, name="bound: overflow (inf/nan)", marker=marker(OVERFLOW_SYMBOL, BOUND_COLOUR),
                               hovertemplate="%{x}: overflow (inf/nan)<extra></extra>"),
        "horizon": dict(mode="markers", meta="horizon", name="memory horizon (1 %)",
                        marker=dict(symbol=HORIZON_SYMBOL, size=18, color="#000000"),
                        hovertemplate="memory horizon<br>%{y:.3g}<extra></extra>"),
        "factor": dict(mode="text", x=x[:1], y=[1.0], textposition="top right", cliponaxis=False, meta="factor",
                       name="factor", textfont=dict(color="#000000", size=font), **quiet),
    }


def scrub_range(norms: Array, selected: int) -> tuple[float, float]:
    """One log range for every frame: the curves' (the bounds leave it where they are above), at
    most SCRUB_DECADES beyond the selected curve's own, so that it still shows its slope; curves
    that go further leave the plot at its edge."""
    lo, hi = log_range(norms)
    own_lo, own_hi = log_range(norms[selected])
    return max(lo, own_lo - SCRUB_DECADES), min(hi, own_hi + SCRUB_DECADES)


def scrub_curve_figure(norms, bounds, radii: Sequence[float], *, selected: int, horizons: Sequence[int | None],
                       factor_texts: Sequence[str], nt: Notation, ord: str = "2", axis: str = "k",
                       first_step: int = 1, presentation: bool = False, matrix_powers=None) -> go.Figure:
    """curve_figure with a slider over the spectral radius, moved in the browser.

    norms, bounds (n, W): row i is ||dh_T/dh_k|| and the bound of eq. (11) at radii[i] for the W
    steps k = first_step..first_step+W-1; selected: the row shown first (the sidebar's ρ, its
    slider step labelled so). horizons (n,): each row's memory horizon as a distance T - k where
    it is on the curve (a ★), else None; factor_texts (n,): the line above the plot for each
    row (its trend and horizon). One y range for all rows, so the curve's slope visibly pivots
    about k = T. matrix_powers (W,): ||W_hh^(T-k)|| at the selected radius (identity
    activation), shown in its frame only.
    """
    norms, bounds = np.asarray(norms, dtype=np.float64), np.asarray(bounds, dtype=np.float64)
    n, W = norms.shape
    x, xlabel = _steps_axis(W, axis, first_step)
    jac = jacobian_label(nt, "T", "k", ord)
    slots = _curve_slots(x, jac, xlabel, "" if ord == "2" else "√H · ", font=18 if presentation else 14)
    if matrix_powers is not None:
        slots["powers"] = dict(mode="markers", meta="powers", name=f"‖{to_html(nt.jacobian_power('T−k'))}‖ "
                               "(matrix powers, at the sidebar's ρ)",
                               marker=dict(symbol="circle-open", size=9, color=INDIRECT_COLOUR),
                               hovertemplate="matrix power: %{y:.3g}<extra></extra>")
    frames = []
    for i in range(n):
        parts = _curve_parts(x, norms[i], bounds[i], horizons[i], factor_texts[i])
        if matrix_powers is not None:
            parts["powers"] = dict(y=split_for_log(matrix_powers).y if i == selected else np.full(W, np.nan))
        frames.append(dict(name=f"{radii[i]:g}", data=[parts[s] for s in slots], traces=list(range(len(slots)))))
    traces = [{"type": "scatter", "x": x, **slots[s], **part} for s, part in zip(slots, frames[selected]["data"])]
    layout = dict(legend=BELOW_LEGEND,
                  xaxis=dict(title=dict(text=xlabel), autorange="reversed" if axis == "distance" else True),
                  yaxis=dict(title=dict(text=f"{jac} (log)"), **log_axis(*scrub_range(norms, selected))),
                  **_edge_axis(),
                  sliders=[_slider([f"{r:g}" + (" (the sidebar's)" if i == selected else "")
                                    for i, r in enumerate(radii)], [f["name"] for f in frames], active=selected,
                                   prefix="scrub ρ = ", font=22 if presentation else 15)])
    fig = _figure(traces, layout, presentation=presentation, height=430, top_lines=1, frames=frames)
    return _place_below(fig, legend=True)


def pairs_row_figure(pairwise, *, nt: Notation, ord: str = "2", first_step: int = 1, presentation: bool = False,
                     state: str | None = None) -> go.Figure:
    """One row of the map of all pairs, ||ds_t/ds_k|| against k <= t, with a slider over t
    moved in the browser: the main curve of a sequence that ended at t. Shown first: t = T.

    pairwise (W, W): entry [i, j] for t = first_step + i, k = first_step + j (k <= t), as
    pairwise_figure. One y range for all rows.
    """
    P = np.asarray(pairwise, dtype=np.float64)
    W = P.shape[0]
    steps = np.arange(first_step, first_step + W)
    jac = jacobian_label(nt, "t", "k", ord, state)
    lo, hi = log_range(P[np.tril_indices(W)])
    frames = []
    for i in range(W):
        split = split_for_log(P[i, :i + 1])
        x = steps[:i + 1]
        frames.append(dict(name=str(steps[i]), traces=[0, 1, 2], data=[
            dict(x=x, y=split.y), dict(x=x[split.zero], y=np.zeros(int(split.zero.sum()))),
            dict(x=x[split.overflow], y=np.ones(int(split.overflow.sum())))]))
    edge = dict(type="scatter", mode="markers", cliponaxis=False, meta="edge", yaxis=EDGE_AXIS, showlegend=False)
    last = frames[-1]["data"]
    traces = [dict(type="scatter", mode="lines+markers" if W <= MARKED_STEPS else "lines", meta="curve", name=jac,
                   **last[0],
                   line=dict(color=DIRECT_COLOUR, width=3), marker=dict(size=5),
                   hovertemplate="k = %{x}<br>norm = %{y:.3g}<extra></extra>"),
              dict(edge, **last[1], marker=dict(symbol=ZERO_SYMBOL, size=11, color=DIRECT_COLOUR),
                   hovertemplate="%{x}: exactly 0<extra></extra>"),
              dict(edge, **last[2], marker=dict(symbol=OVERFLOW_SYMBOL, size=11, color=OVERFLOW_COLOUR),
                   hovertemplate="%{x}: overflow (inf/nan)<extra></extra>")]
    layout = dict(showlegend=False, xaxis=dict(title=dict(text="k (from)"), range=[steps[0] - 0.5, steps[-1] + 0.5]),
                  yaxis=dict(title=dict(text=f"{jac} (log)"), **log_axis(lo, hi)), **_edge_axis(),
                  sliders=[_slider([str(t) for t in steps], [f["name"] for f in frames], active=W - 1,
                                   prefix="one row of the map: t = ", font=22 if presentation else 15)])
    fig = _figure(traces, layout, presentation=presentation, height=380, frames=frames)
    return _place_below(fig, legend=False)


# ---- sweeps ---------------------------------------------------------------------------------

def sweep_figure(curves: Sequence[tuple[str, Array]], *, nt: Notation, ord: str = "2",
                 axis: str = "k", horizons: Sequence[int | None] = (), horizon_texts: Sequence[str] = (),
                 title: str = "", highlight: str | None = None, first_step: int = 1,
                 presentation: bool = False, state: str | None = None) -> go.Figure:
    """Several ||dh_T/dh_k|| curves overlaid on one log axis: one line trace per curve.

    curves: (name, norms (W,)) pairs, all the same W, entry j for k = first_step + j (the
    last W steps of T; W = T with first_step 1). horizons: the memory horizon (distance T - k)
    of each curve where it was measured on the curve, marked with a ★ (None: not on the curve).
    horizon_texts: how the page states each horizon, in the legend. highlight: the name of the
    curve matching the sidebar, drawn thicker.
    """
    T = np.asarray(curves[0][1]).shape[0] if curves else 1
    x, xlabel = _steps_axis(T, axis, first_step)
    lo, hi = log_range(*(c for _, c in curves))
    traces = []
    star_x, star_y, star_c, star_text = [], [], [], []
    horizons = list(horizons) + [None] * (len(curves) - len(horizons))
    texts = list(horizon_texts) + [""] * (len(curves) - len(horizon_texts))
    for i, ((name, norms), horizon, text) in enumerate(zip(curves, horizons, texts)):
        colour = SEQUENCE_COLOURS[i % len(SEQUENCE_COLOURS)]
        split = split_for_log(norms)
        shown = f"{name} · horizon {text}" if text else name
        traces.append(go.Scatter(
            x=x, y=split.y, mode="lines", name=shown, meta="curve",
            line=dict(color=colour, width=4.5 if name == highlight else 2.5),
            hovertemplate=f"{name}<br>%{{x}}: %{{y:.3g}}<extra></extra>"))
        traces += _edge_markers(x, split, colour=colour, name=name)
        if horizon is not None and 0 <= horizon < T and np.isfinite(split.y[T - 1 - horizon]):
            star_x.append(x[T - 1 - horizon])
            star_y.append(split.y[T - 1 - horizon])
            star_c.append(colour)
            star_text.append(f"{name}: horizon {text or horizon}")
    if star_x:
        traces.append(go.Scatter(
            x=star_x, y=star_y, mode="markers", name="memory horizons (1 %)", meta="horizon",
            marker=dict(symbol=HORIZON_SYMBOL, size=16, color=star_c, line=dict(width=1, color="#000")),
            text=star_text, hovertemplate="%{text}<extra></extra>"))
    layout = dict(legend=BELOW_LEGEND,
                  xaxis=dict(title=dict(text=xlabel), autorange="reversed" if axis == "distance" else True),
                  yaxis=dict(title=dict(text=f"{jacobian_label(nt, 'T', 'k', ord, state)} (log)"), **log_axis(lo, hi)),
                  **_edge_axis())
    return _figure(traces, layout, title=title or None, presentation=presentation, height=430)


# ---- the spectrum ---------------------------------------------------------------------------

def _circle(radius: float, n: int = 241) -> tuple[Array, Array]:
    angle = np.linspace(0.0, 2.0 * np.pi, n)
    return radius * np.cos(angle), radius * np.sin(angle)


def spectrum_figure(eigenvalues, singular_values, *, gamma: float, rho: float, nt: Notation,
                    presentation: bool = False) -> go.Figure:
    """Left: the eigenvalues of W_hh on the complex plane with the unit circle, the 1/gamma
    circle of the activation and the circle of the sidebar's spectral radius rho.
    Right: the singular values of W_hh, largest first, against 1 and 1/gamma.

    eigenvalues (H,) complex; singular_values (H,) (any order; drawn sorted).
    """
    ev = np.asarray(eigenvalues, dtype=np.complex128)
    sv = np.sort(np.asarray(singular_values, dtype=np.float64))[::-1]
    W = nt.html_param("W_hh")
    same = bool(np.isclose(gamma, 1.0))
    circle = dict(mode="lines", hoverinfo="skip")
    cx, cy = _circle(1.0)
    traces = [go.Scatter(x=cx, y=cy, line=dict(color="#444444", width=1.5), meta="unit",
                         name="unit circle" + (" = 1/γ circle (γ = 1)" if same else ""), **circle)]
    if not same:
        gx, gy = _circle(1.0 / gamma)
        traces.append(go.Scatter(x=gx, y=gy, line=dict(color=INDIRECT_COLOUR, dash="dash"), meta="inv_gamma",
                                 name=f"1/γ circle (γ = {gamma:g})", **circle))
    rx, ry = _circle(rho)
    traces.append(go.Scatter(x=rx, y=ry, line=dict(color=DIRECT_COLOUR, dash="dot"), meta="rho",
                             name=f"ρ = {rho:g} (sidebar)", **circle))
    traces.append(go.Scatter(
        x=ev.real, y=ev.imag, mode="markers", name="eigenvalues", meta="eigenvalues",
        marker=dict(size=8, color=DIRECT_COLOUR, line=dict(width=1, color="#000000")),
        customdata=np.abs(ev), hovertemplate="%{x:.3f} %{y:+.3f}i<br>|λ| = %{customdata:.3f}<extra></extra>"))
    traces.append(go.Scatter(
        x=np.arange(1, sv.size + 1), y=sv, mode="markers+lines", name="singular values", meta="singular",
        xaxis="x2", yaxis="y2", marker=dict(size=7, color=GREEN), line=dict(color=GREEN, width=1),
        hovertemplate="σ<sub>%{x}</sub> = %{y:.3f}<extra></extra>"))
    extent = 1.12 * max(1.0, rho, 1.0 / gamma, float(np.max(np.abs(ev), initial=0.0)))
    top = 1.1 * max(float(sv.max(initial=0.0)), 1.0, 1.0 if same else 1.0 / gamma)
    levels = [(1.0, "1", "#444444")] + ([] if same else [(1.0 / gamma, "1/γ", INDIRECT_COLOUR)])
    layout = _spectrum_layout(extent, top, levels, f"eigenvalues of {W}", f"singular values of {W}")
    return _figure(traces, layout, presentation=presentation, height=440, top_lines=1)


def _spectrum_layout(extent: float, top: float, levels: list[tuple[float, str, str]], left: str, right: str) -> dict:
    """Eigenvalues in the complex plane on the left (|Re|, |Im| <= extent), singular values on the
    right (up to top); levels: (value, label, colour) dashed lines across the singular values."""
    title = dict(xref="paper", yref="paper", y=1.0, yanchor="bottom", showarrow=False, font=dict(size=16))
    return dict(
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0.0),
        xaxis=dict(domain=[0.0, 0.44], range=[-extent, extent], title=dict(text="Re λ"), constrain="domain"),
        yaxis=dict(range=[-extent, extent], title=dict(text="Im λ"), scaleanchor="x", scaleratio=1,
                   constrain="domain"),
        xaxis2=dict(domain=[0.56, 1.0], anchor="y2", title=dict(text="index i (largest first)")),
        yaxis2=dict(anchor="x2", range=[0.0, top], title=dict(text="σ<sub>i</sub>")),
        shapes=[dict(type="line", xref="x2 domain", x0=0, x1=1, yref="y2", y0=level, y1=level,
                     line=dict(color=colour, dash="dash", width=1.5)) for level, _, colour in levels],
        annotations=[dict(text=left, x=0.22, xanchor="center", **title),
                     dict(text=right, x=0.78, xanchor="center", **title)]
                    + [dict(text=text, xref="x2 domain", x=1.0, xanchor="right", yref="y2", y=level,
                            yanchor="bottom", showarrow=False) for level, text, _ in levels if text])


# ---- all pairs and the gradient each step receives -----------------------------------------

def pairwise_figure(pairwise, *, nt: Notation, ord: str = "2", first_step: int = 1,
                    presentation: bool = False, state: str | None = None) -> go.Figure:
    """Heatmap of log10 ||dh_t/dh_k|| over t (rows, top to bottom) and k (columns), k <= t.

    pairwise (W, W): entry [i, j] = ||dh_t/dh_k|| for t = first_step + i, k = first_step + j,
    k <= t (all T steps: first_step 1; a window of the last W steps otherwise). The upper
    triangle is not drawn. Zeros take the bottom colour and overflow the top (see `log_notes`).
    """
    P = np.asarray(pairwise, dtype=np.float64)
    T = P.shape[0]
    lower = np.tril(np.ones((T, T), dtype=bool))
    split = split_for_log(np.where(lower, P, 1.0))
    lo, hi = log_range(np.where(lower, P, np.nan))
    with np.errstate(divide="ignore"):
        z = np.log10(split.y)
    z = np.where(split.zero, lo, np.where(split.overflow, hi, z))
    z = np.where(lower, z, np.nan)
    shown = np.where(lower, P, np.nan)
    ticks = np.arange(np.ceil(lo), np.floor(hi) + 1)
    if ticks.size > 8:                              # at most ~8 labels on the colour bar
        ticks = ticks[:: int(np.ceil(ticks.size / 8))]
    steps = np.arange(first_step, first_step + T)
    heatmap = go.Heatmap(
        x=steps, y=steps, z=z, zmin=lo, zmax=hi, colorscale=GRADIENT_SCALE, customdata=shown,
        colorbar=dict(title=dict(text=jacobian_label(nt, "t", "k", ord, state)), tickvals=ticks,
                      ticktext=[f"10<sup>{int(v)}</sup>" for v in ticks]),
        hovertemplate="t = %{y}, k = %{x}<br>norm = %{customdata:.3g}<extra></extra>", meta="pairwise")
    layout = dict(xaxis=dict(title=dict(text="k (from)")),
                  yaxis=dict(title=dict(text="t (to)"), autorange="reversed"))
    return _figure([heatmap], layout, presentation=presentation, height=460)


def dl_dh_figure(norms, *, nt: Notation, first_step: int = 1, presentation: bool = False) -> go.Figure:
    """||dL/dh_t|| against t on a log axis: the total gradient each state receives (eq. (7)).

    norms (W,): entry j is ||dL/dh_t|| for t = first_step + j (inf where it overflowed).
    """
    norms = np.asarray(norms, dtype=np.float64)
    T = norms.shape[0]
    t = np.arange(first_step, first_step + T)
    split = split_for_log(norms)
    lo, hi = log_range(norms)
    label = f"‖∂{nt.L}/∂{nt.html_at(nt.h, 't')}‖"
    traces = [go.Scatter(x=t, y=split.y, mode="lines+markers", name=label, meta="curve",
                         line=dict(color=INDIRECT_COLOUR, width=3), marker=dict(size=5),
                         hovertemplate="t = %{x}<br>%{y:.3g}<extra></extra>")]
    traces += _edge_markers(t, split, colour=INDIRECT_COLOUR, name="gradient")
    layout = dict(showlegend=False, xaxis=dict(title=dict(text="t")),
                  yaxis=dict(title=dict(text=f"{label} (log)"), **log_axis(lo, hi)), **_edge_axis())
    return _figure(traces, layout, presentation=presentation, height=460)


# ---- why it fades, step by step -------------------------------------------------------------

def saturation_label(activation: str, threshold: float) -> str:
    """What a unit passing almost no gradient is called for this activation."""
    if activation == "relu":
        return "dead units (f′ = 0)"
    return f"saturated units (f′ < {100 * threshold:g} % of γ)"


def fade_figure(stats: StepFactorStats, *, activation: str, rho: float, nt: Notation, first_step: int = 1,
                presentation: bool = False) -> go.Figure:
    """Each step's factor dh_t/dh_{t-1} = diag(f'(a_t)) W_hh (eq. (8); W_h^T in row-vector
    notation) split into its parts.

    Top (linear): the weight part, ||W_hh||_2 (the most one step can do) and rho (W_hh's
    spectral radius, what it does per step in the long run), the activation part
    max_i |f'(a_t)_i|, and ||diag(f'(a_t)) W_hh||_2 (the whole step's most), with 1 marked.
    Bottom: the share of units that pass almost no gradient at each step (saturated for
    tanh/sigmoid, dead for ReLU).
    stats: rnn_core.step_factor_stats of one sequence; its arrays are (W,), for the steps
    t = first_step..first_step+W-1 (all T steps with first_step 1).
    """
    T = stats.factor_norm.shape[0]
    t = np.arange(first_step, first_step + T)
    W, a_t = nt.html_param("W_hh"), nt.html_at(nt.a, "t")
    parts = ((np.full(T, stats.W_hh_norm), f"‖{W}‖<sub>2</sub> (weights, one step)", DIRECT_COLOUR, "dash",
              "weight"),
             (np.full(T, rho), f"ρ({W}) (weights, long run)", DIRECT_COLOUR, "dot", "rho"),
             (stats.fprime_max, f"max |f′({a_t})| (activation)", INDIRECT_COLOUR, "dashdot", "activation"),
             (stats.factor_norm, f"‖diag(f′({a_t})) {to_html(nt.recurrent_matrix())}‖<sub>2</sub> (step factor)", "#000000",
              "solid", "step"))
    # a linear axis: these factors stay within [0, gamma ||W_hh||_2], and 0 (all units dead) is a value
    finite = np.concatenate([v[np.isfinite(v)] for v, *_ in parts] + [np.ones(1)])
    hi = 1.1 * float(finite.max())
    traces = []
    for values, name, colour, dash, meta in parts:
        values = np.asarray(values, dtype=np.float64)
        unknown = ~np.isfinite(values)              # the forward pass overflowed: f' unknown
        traces.append(go.Scatter(x=t, y=np.where(unknown, np.nan, values), mode="lines", name=name, meta=meta,
                                 line=dict(color=colour, dash=dash, width=3 if meta == "step" else 2.5),
                                 hovertemplate="t = %{x}: %{y:.3g}<extra></extra>"))
        traces += _edge_markers(t, LogSplit(values, np.zeros_like(unknown), unknown), colour=colour, name=meta)
    traces.append(go.Bar(x=t, y=100.0 * np.asarray(stats.saturated_fraction, dtype=np.float64), yaxis="y2",
                         name=saturation_label(activation, SATURATION), meta="saturated",
                         marker_color=OVERFLOW_COLOUR if activation == "relu" else INDIRECT_COLOUR,
                         hovertemplate="t = %{x}: %{y:.0f} %<extra></extra>"))
    layout = dict(
        bargap=0.05, legend=dict(orientation="h", yanchor="top", y=-0.14, x=0.0),
        xaxis=dict(anchor="y2", title=dict(text="step t")),        # one t axis, under the bottom panel
        yaxis=dict(domain=[0.42, 1.0], range=[0.0, hi], title=dict(text="per-step factor")),
        yaxis2=dict(domain=[0.0, 0.32], range=[0, 100], title=dict(text="% of units")), **_edge_axis())
    # the level 1 is named in the legend: a label on the plot would sit on the curves near 1
    traces.insert(0, go.Scatter(x=[t[0], t[-1]], y=[1.0, 1.0], mode="lines", name="1: neither grows nor shrinks",
                                meta="one", line=dict(color=BOUND_COLOUR, width=1.5), hoverinfo="skip"))
    return _figure(traces, layout, presentation=presentation, height=520)


def derivative_heatmap(df, *, gamma: float, nt: Notation, presentation: bool = False, label: str = "f′",
                       first_step: int = 1) -> go.Figure:
    """f'(a_t) for every hidden unit (rows) and step t (columns), on a scale from 0 to gamma.

    df (W, H), row j for step t = first_step + j. Dark columns are steps where most units pass
    little gradient back. A gated cell's keeping gate (values in (0, 1), gamma 1) is drawn the
    same way with its own label (e.g. 'f<sub>t</sub>').
    """
    D = np.asarray(df, dtype=np.float64)
    T, H = D.shape
    heatmap = go.Heatmap(
        x=np.arange(first_step, first_step + T), y=np.arange(1, H + 1), z=D.T, zmin=0.0, zmax=gamma,
        colorscale=GRADIENT_SCALE, colorbar=dict(title=dict(text=label)), meta="df",
        hovertemplate=f"t = %{{x}}, unit %{{y}}<br>{label} = %{{z:.3g}}<extra></extra>")
    layout = dict(xaxis=dict(title=dict(text="step t")),
                  yaxis=dict(title=dict(text="hidden unit"), autorange="reversed"))
    return _figure([heatmap], layout, presentation=presentation, height=max(300, min(520, 120 + 6 * H)))


def blocks_spectrum_figure(blocks: Sequence[tuple[str, Array, Array]], *, presentation: bool = False) -> go.Figure:
    """A gated cell's recurrent blocks: left, the eigenvalues of each on the complex plane with
    the unit circle; right, the singular values of each, largest first, against 1.

    blocks: (name, eigenvalues (H,) complex, singular values (H,)) per block, e.g. W_hf; one
    colour per block in both panels.
    """
    cx, cy = _circle(1.0)
    traces = [go.Scatter(x=cx, y=cy, mode="lines", hoverinfo="skip", line=dict(color="#444444", width=1.5),
                         meta="unit", name="unit circle")]
    extent, top = 1.12, 1.1
    for i, (name, ev, sv) in enumerate(blocks):
        colour = SEQUENCE_COLOURS[i % len(SEQUENCE_COLOURS)]
        ev = np.asarray(ev, dtype=np.complex128)
        sv = np.sort(np.asarray(sv, dtype=np.float64))[::-1]
        label = to_html(name.replace("W_", "W_{") + "}")
        traces.append(go.Scatter(
            x=ev.real, y=ev.imag, mode="markers", name=label, legendgroup=name, meta="eigenvalues",
            marker=dict(size=8, color=colour, line=dict(width=1, color="#000000")), customdata=np.abs(ev),
            hovertemplate=f"{label}: %{{x:.3f}} %{{y:+.3f}}i<br>|λ| = %{{customdata:.3f}}<extra></extra>"))
        traces.append(go.Scatter(
            x=np.arange(1, sv.size + 1), y=sv, mode="markers+lines", name=label, legendgroup=name, showlegend=False,
            meta="singular", xaxis="x2", yaxis="y2", marker=dict(size=6, color=colour),
            line=dict(color=colour, width=1),
            hovertemplate=f"{label}: σ<sub>%{{x}}</sub> = %{{y:.3f}}<extra></extra>"))
        extent = max(extent, 1.12 * float(np.max(np.abs(ev), initial=0.0)))
        top = max(top, 1.1 * float(sv.max(initial=0.0)))
    layout = _spectrum_layout(extent, top, [(1.0, "", "#444444")], "eigenvalues of each block",
                              "singular values of each block")
    return _figure(traces, layout, presentation=presentation, height=440, top_lines=1)
