"""Figures of the training page: numpy arrays in, plotly Figure (or HTML text) out.

Shape legend: n training steps recorded, T time steps, B sequences, K window lengths.
Nothing here imports streamlit; labels use the notation's symbols (plotly HTML).
Non-finite values (an exploding run) are never dropped silently: they become gaps, and the
step where a run diverged is marked in the overflow colour.
"""
from __future__ import annotations

import html
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures.style import (BOUND_COLOUR, DIRECT_COLOUR, FONT_SIZE, GRADIENT_SCALE, INDIRECT_COLOUR,
                              OVERFLOW_COLOUR, PRESENTATION_FONT_SIZE, SEQUENCE_COLOURS, apply_style)
from ui.notation import NOTATIONS

VANILLA_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")     # the parameters the notations name

Array = np.ndarray
CORRECT_COLOUR = "#0072B2"        # a tag the model got right (Okabe-Ito blue)
WRONG_COLOUR = OVERFLOW_COLOUR    # and one it got wrong (vermillion)


def param_label(name: str, notation: str, gated: bool = False) -> str:
    """'W_hh' in the chosen notation as plotly HTML (e.g. 'W' for the Deep Learning Book); a gated
    cell's parameters by their engine names (W_xi -> W<sub>xi</sub>): the notations name the
    vanilla cell's five only, and the GRU's W_hh is not the vanilla W_hh."""
    if gated:
        symbol, _, index = name.partition("_")
        return f"{symbol}<sub>{index}</sub>"
    return NOTATIONS[notation].html_param(name)


GATED_DASHES = {"W_x": "solid", "W_h": "dash", "b_": "dot"}


def _param_line(name: str, j: int, gated: bool, blocks: list[str]) -> dict:
    """A parameter's line: the vanilla cell's five in five colours; a gated cell's by block (one
    colour per gate or candidate, the output layer's own), W_x* solid, W_h* dashed, b_* dotted."""
    if not gated:
        return dict(color=SEQUENCE_COLOURS[j % len(SEQUENCE_COLOURS)], width=1.5)
    block = name[-1] if name not in ("W_hy", "b_y") else "y"
    dash = "solid" if name == "W_hy" else GATED_DASHES.get(name[:3] if name[0] == "W" else "b_", "solid")
    return dict(color=SEQUENCE_COLOURS[blocks.index(block) % len(SEQUENCE_COLOURS)], width=1.5, dash=dash)


def state_label(notation: str, t: str = "t") -> str:
    """h_t in the chosen notation as plotly HTML (h<sub>t</sub> or h<sup>(t)</sup>)."""
    n = NOTATIONS[notation]
    return n.html_at(n.h, t)


def _finite_or_gap(values: Array, *, positive: bool = False) -> Array:
    """float copy with non-finite (and, for log axes, non-positive) values as nan = a gap."""
    v = np.array(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) | ((v <= 0) if positive else False)
    v[bad] = np.nan
    return v


def _steps(n: int, steps: Array | None) -> Array:
    return np.arange(1, n + 1) if steps is None else np.asarray(steps)


# ------------------------------------------------------------------------------- training curves

def loss_figure(curves: Mapping[str, Array], *, diverged: Mapping[str, int | None] | None = None,
                title: str = "Training loss", ytitle: str = "loss L (mean per step)", log_y: bool = False,
                y_max: float | None = None, presentation: bool = False, height: int = 360) -> go.Figure:
    """One line per run: curves[label] (n,) the loss at steps 1..n.

    diverged[label]: the step where that run stopped on a non-finite value, drawn as a cross.
    y_max (log_y only): the top of the axis, so that one exploding run does not flatten the
    others; values above it leave the chart (the hover still shows them).
    """
    fig = go.Figure()
    for i, (label, values) in enumerate(curves.items()):
        colour = SEQUENCE_COLOURS[i % len(SEQUENCE_COLOURS)]
        y = _finite_or_gap(values, positive=log_y)
        fig.add_trace(go.Scatter(x=_steps(len(y), None), y=y, mode="lines", name=label,
                                 line=dict(color=colour, width=2),
                                 hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>"))
        step = (diverged or {}).get(label)
        if step is not None:
            before = y[:step - 1]
            finite = before[np.isfinite(before)]                   # the last value drawn before it
            at = finite[-1] if finite.size else 0.0
            if y_max is not None and log_y:
                at = min(at, y_max)
            fig.add_trace(go.Scatter(x=[step], y=[at], mode="markers+text",
                                     marker=dict(symbol="x", size=14, color=OVERFLOW_COLOUR),
                                     text=[f"{label}: diverged at step {step}"], textposition="bottom right",
                                     textfont=dict(color=OVERFLOW_COLOUR), showlegend=False,
                                     hoverinfo="skip"))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title=ytitle, type="log" if log_y else "linear", exponentformat="power")
    if log_y and y_max is not None:
        lows = [np.nanmin(t.y) for t in fig.data if np.isfinite(np.asarray(t.y, dtype=float)).any()]
        low = min(min(lows, default=y_max / 10), y_max / 10)
        fig.update_yaxes(range=[np.log10(low) - 0.1, np.log10(y_max)])   # a log axis's range is in log10
    fig.update_layout(showlegend=len(curves) > 1,
                      legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))
    fig = apply_style(fig, title=title, presentation=presentation, height=height)
    if len(curves) > 1:
        fig.update_layout(margin=dict(b=110))
    return fig


def accuracy_figure(accuracy: Array, *, presentation: bool = False, height: int = 300) -> go.Figure:
    """accuracy (n,) in [0, 1] at steps 1..n, on the training batches."""
    y = _finite_or_gap(accuracy)
    fig = go.Figure(go.Scatter(x=_steps(len(y), None), y=y, mode="lines", line=dict(color=DIRECT_COLOUR),
                               hovertemplate="step %{x}<br>accuracy %{y:.1%}<extra></extra>", showlegend=False))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%")
    return apply_style(fig, title="Accuracy on the training batch", presentation=presentation, height=height)


def grad_norms_figure(param_norms: Array, names: Sequence[str], *, total: Array | None = None,
                      applied: Array | None = None, threshold: float | None = None, notation: str = "wxh",
                      presentation: bool = False, height: int = 380) -> go.Figure:
    """Per-parameter gradient norms on a log axis.

    param_norms (n, P): ||dL/dtheta|| per step, columns in the order of `names` (engine names:
    the vanilla cell's five, the LSTM's 14 or the GRU's 11).
    total (n,): ||g|| of all P before clipping; applied (n,): ||g|| after clipping;
    threshold: the global-norm clipping threshold c, drawn as a horizontal line.
    Zeros and non-finite values are gaps (a log axis cannot show them).
    """
    n = param_norms.shape[0]
    x = _steps(n, None)
    fig = go.Figure()
    gated = not set(names) <= set(VANILLA_NAMES)
    blocks = list(dict.fromkeys("y" if name in ("W_hy", "b_y") else name[-1] for name in names))
    for j, name in enumerate(names):
        label = f"‖∂L/∂{param_label(name, notation, gated)}‖"
        fig.add_trace(go.Scatter(x=x, y=_finite_or_gap(param_norms[:, j], positive=True), mode="lines",
                                 name=label, line=_param_line(name, j, gated, blocks),
                                 hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.3g}}<extra></extra>"))
    if total is not None:
        fig.add_trace(go.Scatter(x=x, y=_finite_or_gap(total, positive=True), mode="lines", name="‖g‖ (all, raw)",
                                 line=dict(color="black", width=2.5),
                                 hovertemplate="‖g‖ raw<br>step %{x}<br>%{y:.3g}<extra></extra>"))
    if applied is not None:
        fig.add_trace(go.Scatter(x=x, y=_finite_or_gap(applied, positive=True), mode="lines",
                                 name="‖g‖ applied (clipped)", line=dict(color="black", width=2, dash="dot"),
                                 hovertemplate="‖g‖ applied<br>step %{x}<br>%{y:.3g}<extra></extra>"))
    if threshold is not None:
        # a line trace, not add_hline: an hline's annotation would be placed at 10^c on a log axis
        fig.add_trace(go.Scatter(x=[1, max(n, 1)], y=[threshold, threshold], mode="lines",
                                 name=f"clipping threshold c = {threshold:g}",
                                 line=dict(color=BOUND_COLOUR, dash="dash"), hoverinfo="skip"))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="gradient norm (log)", type="log", exponentformat="power", dtick=1)
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1, x=1.02, xanchor="left"))
    return apply_style(fig, title="Gradient norms per parameter", presentation=presentation, height=height)


def dL_dh_heatmap(norms: Array, *, steps: Array | None = None, notation: str = "wxh",
                  presentation: bool = False, height: int = 420) -> go.Figure:
    """||dL/dh_t|| over time step t (x) and training step (y), colour on a log10 scale.

    norms (n, T); steps (n,): the training step of each row (default 1..n; pass it when rows
    were thinned). Zeros and non-finite entries are left blank (a log scale cannot show them).
    """
    n, T = norms.shape
    v = _finite_or_gap(norms, positive=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(v)
    h_t = state_label(notation)
    fig = go.Figure(go.Heatmap(
        z=z, x=np.arange(1, T + 1), y=_steps(n, steps), customdata=v, colorscale=GRADIENT_SCALE,
        colorbar=dict(title=dict(text="log10", side="right")),
        hovertemplate=f"t = %{{x}}<br>training step %{{y}}<br>‖∂L/∂{h_t}‖ = %{{customdata:.3g}}<extra></extra>"))
    fig.update_xaxes(title="time step t", showgrid=False)
    fig.update_yaxes(title="training step", showgrid=False)
    return apply_style(fig, title=f"‖∂L/∂{h_t}‖ over time step × training step", presentation=presentation,
                       height=height)


# ------------------------------------------------------------------------------- cells side by side

def cells_loss_figure(curves: Mapping[str, tuple[Array, Array]], *, baseline: float | None = None,
                      baseline_label: str = "best constant answer", title: str = "Loss, same seed and batches",
                      ytitle: str = "loss (moving mean, log)", presentation: bool = False,
                      height: int = 380) -> go.Figure:
    """One line per cell on a log axis: curves[title] = (steps (m,), loss (m,)), e.g. a moving
    mean; baseline: a loss drawn dashed across the chart (what ignoring the input scores).
    Non-finite and non-positive values are gaps."""
    fig = go.Figure()
    for i, (label, (x, y)) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=np.asarray(x), y=_finite_or_gap(y, positive=True), mode="lines", name=label,
                                 line=dict(color=SEQUENCE_COLOURS[i % len(SEQUENCE_COLOURS)], width=2.5),
                                 hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>"))
    ends = [int(np.max(x)) for x, _ in curves.values() if len(x)]
    if baseline is not None and np.isfinite(baseline) and baseline > 0 and ends:
        # a line trace, not add_hline: an hline's annotation would sit at 10^baseline on a log axis
        fig.add_trace(go.Scatter(x=[1, max(ends)], y=[baseline, baseline], mode="lines",
                                 name=f"{baseline_label} ({baseline:.3g})",
                                 line=dict(color=BOUND_COLOUR, dash="dash", width=2), hoverinfo="skip"))
    fig.update_xaxes(title="training step")
    # D2: ticks at 1, 2 and 5 of each decade (plotly's default labels every digit when the range is short)
    fig.update_yaxes(title=ytitle, type="log", exponentformat="power", dtick="D2")
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))
    fig = apply_style(fig, title=title, presentation=presentation, height=height)
    fig.update_layout(margin=dict(b=110))
    return fig


def cells_heatmaps(norms: Mapping[str, Array], steps: Mapping[str, Array], *, notation: str = "wxh",
                   presentation: bool = False, height: int = 420) -> go.Figure:
    """||dL/dh_t|| over time step t (x) and training step (y), one panel per cell, side by side
    on ONE colour scale (log10, shared), so that a colour means the same gradient in each.

    norms[title] (n, T); steps[title] (n,): the training step of each row.
    """
    titles = list(norms)
    fig = make_subplots(rows=1, cols=len(titles), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=titles)
    h_t = state_label(notation)
    logs = {}
    for title, v in norms.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            logs[title] = np.log10(_finite_or_gap(v, positive=True))
    finite = np.concatenate([z[np.isfinite(z)] for z in logs.values()] + [np.zeros(0)])
    zmin, zmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    for i, title in enumerate(titles):
        n, T = norms[title].shape
        fig.add_trace(go.Heatmap(
            z=logs[title], x=np.arange(1, T + 1), y=_steps(n, steps.get(title)),
            customdata=_finite_or_gap(norms[title], positive=True), colorscale=GRADIENT_SCALE, zmin=zmin,
            zmax=zmax, showscale=i == 0, colorbar=dict(title=dict(text="log10", side="right")),
            hovertemplate=f"{title}<br>t = %{{x}}<br>training step %{{y}}<br>‖∂L/∂{h_t}‖ = "
                          "%{customdata:.3g}<extra></extra>"), row=1, col=i + 1)
        fig.update_xaxes(title="time step t", showgrid=False, row=1, col=i + 1)
    fig.update_yaxes(title="training step", showgrid=False, row=1, col=1)
    fig = apply_style(fig, title=f"‖∂L/∂{h_t}‖ over time step × training step, one colour scale",
                      presentation=presentation, height=height)
    fig.update_annotations(font_size=PRESENTATION_FONT_SIZE if presentation else FONT_SIZE)   # the cells' names
    fig.update_layout(margin=dict(t=110 if presentation else 90))      # room for the title above the names
    return fig


# ------------------------------------------------------------------------------- truncation and clipping

def truncation_figure(ks: Array, cosine: Mapping[str, Array], ratio: Mapping[str, Array], *, T: int,
                      k_marker: int | None = None, presentation: bool = False, height: int = 420) -> go.Figure:
    """Cosine similarity (left) and norm ratio (right, log) to the full gradient against k.

    ks (K,); cosine[method], ratio[method]: (K,), nan where a method is undefined at that k.
    k_marker: the k chosen in the sidebar, drawn as a dotted vertical line.
    """
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("cosine to the full gradient", "‖g_trunc‖ / ‖g_full‖"))
    dashes = ("solid", "dash", "dot", "solid")
    for i, method in enumerate(cosine):
        colour = SEQUENCE_COLOURS[i % len(SEQUENCE_COLOURS)]
        common = dict(x=ks, mode="lines+markers", line=dict(color=colour, dash=dashes[i % 4], width=2),
                      marker=dict(size=7), legendgroup=method)
        fig.add_trace(go.Scatter(y=_finite_or_gap(cosine[method]), name=method, **common,
                                 hovertemplate=f"{method}<br>k = %{{x}}<br>cosine %{{y:.4f}}<extra></extra>"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(y=_finite_or_gap(ratio[method], positive=True), name=method, showlegend=False,
                                 **common, hovertemplate=f"{method}<br>k = %{{x}}<br>ratio %{{y:.4g}}<extra></extra>"),
                      row=1, col=2)
    for col in (1, 2):
        fig.add_vline(x=T, line=dict(color=BOUND_COLOUR, dash="dash"), row=1, col=col)
        if k_marker is not None:
            fig.add_vline(x=k_marker, line=dict(color=INDIRECT_COLOUR, dash="dot", width=2), row=1, col=col)
        fig.update_xaxes(title="window length k (log)", type="log", tickvals=list(ks), row=1, col=col)
    fig.add_hline(y=1.0, line=dict(color=BOUND_COLOUR, width=1), row=1, col=2)
    finite = np.concatenate([_finite_or_gap(c) for c in cosine.values()]) if cosine else np.array([1.0])
    lowest = np.nanmin(finite) if np.isfinite(finite).any() else 0.0
    fig.update_yaxes(range=[max(-1.05, min(lowest, 0.9) - 0.05), 1.02], row=1, col=1)   # zoom on what is drawn
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=2)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    fig = apply_style(fig, presentation=presentation, height=height)
    fig.update_layout(margin=dict(t=50, b=110))
    return fig


def clipping_figure(labels: Sequence[str], cosine: Sequence[float], norms: Sequence[float], *,
                    threshold: float, presentation: bool = False, height: int = 340) -> go.Figure:
    """Bars per clipping rule: cosine to the raw gradient (left) and ||g applied|| (right, log,
    with the threshold c dashed). The rule 'none' applies the raw gradient itself."""
    colours = [SEQUENCE_COLOURS[i % len(SEQUENCE_COLOURS)] for i in range(len(labels))]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                        subplot_titles=("cosine to the raw gradient", "‖g applied‖ (log; dashed: c)"))
    cos = _finite_or_gap(cosine)
    nrm = _finite_or_gap(norms, positive=True)
    fig.add_trace(go.Bar(x=list(labels), y=cos, marker_color=colours, text=[f"{c:.3f}" for c in cos],
                         textposition="auto", showlegend=False, hovertemplate="%{x}: %{y:.4f}<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=list(labels), y=nrm, marker_color=colours, text=[f"{v:.3g}" for v in nrm],
                         textposition="auto", showlegend=False, hovertemplate="%{x}: %{y:.4g}<extra></extra>"),
                  row=1, col=2)
    fig.update_yaxes(range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(type="log", exponentformat="power", dtick=1, row=1, col=2)
    # lines without annotations: an annotation's y on a log axis is an exponent, not a value
    fig.add_hline(y=threshold, line=dict(color=BOUND_COLOUR, dash="dash", width=2), row=1, col=2)
    return apply_style(fig, presentation=presentation, height=height)


# ------------------------------------------------------------------------------- task previews and results

def sine_figure(x: Array, *, target: Array | None = None, prediction: Array | None = None,
                title: str = "Noisy sine waves: the input x_t", presentation: bool = False,
                height: int = 300) -> go.Figure:
    """x (T, S): S input series against t. With target/prediction (T,) one series' next values."""
    T = x.shape[0]
    t = np.arange(1, T + 1)
    fig = go.Figure()
    for s in range(x.shape[1]):
        fig.add_trace(go.Scatter(x=t, y=x[:, s], mode="lines+markers", marker=dict(size=4),
                                 line=dict(color=SEQUENCE_COLOURS[s % len(SEQUENCE_COLOURS)]),
                                 name=f"input, sequence {s + 1}" if target is not None or x.shape[1] > 1 else "input"))
    if target is not None:
        fig.add_trace(go.Scatter(x=t, y=target, mode="markers", marker=dict(size=8, symbol="circle-open",
                                 color="black"), name="target y_t = x_{t+1}"))
    if prediction is not None:
        fig.add_trace(go.Scatter(x=t, y=_finite_or_gap(prediction), mode="lines",
                                 line=dict(color=OVERFLOW_COLOUR, width=3, dash="dash"), name="prediction o_t"))
    fig.update_xaxes(title="time step t")
    fig.update_yaxes(title="value")
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return apply_style(fig, title=title, presentation=presentation, height=height)


def adding_figure(values: Array, markers: Array, targets: Array, *, predictions: Array | None = None,
                  presentation: bool = False, height: int = 320) -> go.Figure:
    """values, markers (T, S): S adding-problem sequences, one row each; marked values coloured.

    targets (S,): the sum of the two marked values; predictions (S,): the model's o_T.
    """
    T, S = values.shape
    titles = []
    for s in range(S):
        text = f"target {targets[s]:.2f}"
        if predictions is not None:
            text += f", prediction {predictions[s]:.2f}"
        titles.append(text)
    fig = make_subplots(rows=S, cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=titles)
    t = np.arange(1, T + 1)
    for s in range(S):
        marked = markers[:, s] > 0
        colours = np.where(marked, INDIRECT_COLOUR, "#c8c8c8")
        fig.add_trace(go.Bar(x=t, y=values[:, s], marker_color=colours.tolist(), showlegend=False,
                             hovertemplate="t = %{x}<br>value %{y:.2f}<extra></extra>"), row=s + 1, col=1)
        fig.update_yaxes(range=[0, 1], title="", row=s + 1, col=1)
    fig.update_xaxes(title="time step t", row=S, col=1)
    fig = apply_style(fig, presentation=presentation, height=height)
    fig.update_layout(bargap=0.15)
    return fig


def adding_scatter(targets: Array, predictions: Array, *, presentation: bool = False,
                   height: int = 340) -> go.Figure:
    """Prediction o_T against the true sum on held-out sequences; the diagonal is perfect."""
    p = _finite_or_gap(predictions)
    fig = go.Figure([
        go.Scatter(x=[0, 2], y=[0, 2], mode="lines", line=dict(color=BOUND_COLOUR, dash="dash"),
                   name="perfect", hoverinfo="skip"),
        go.Scatter(x=targets, y=p, mode="markers", marker=dict(color=DIRECT_COLOUR, size=7), name="sequences",
                   hovertemplate="true %{x:.2f}<br>predicted %{y:.2f}<extra></extra>"),
    ])
    fig.update_xaxes(title="true sum", range=[0, 2])
    fig.update_yaxes(title="prediction o_T")
    return apply_style(fig, title="Adding problem: prediction against the true sum",
                       presentation=presentation, height=height)


def tagged_sentence_html(words: Sequence[str], tags: Sequence[str], predicted: Sequence[str] | None = None,
                         *, font_size: int = 17) -> str:
    """One sentence as word/tag chips; with predictions, each chip is coloured by correctness.

    All text is escaped (words and tags come from the built-in grammar, never from users).
    """
    chips = []
    for i, (word, tag) in enumerate(zip(words, tags)):
        if predicted is None:
            colour, label = "#555555", tag
        elif predicted[i] == tag:
            colour, label = CORRECT_COLOUR, f"{predicted[i]} ✓"
        else:
            colour, label = WRONG_COLOUR, f"{predicted[i]} ✗ ({tag})"
        chips.append(
            f'<span style="display:inline-block;margin:3px 4px;padding:3px 8px;border:2px solid {colour};'
            f'border-radius:6px;text-align:center;font-size:{font_size}px;line-height:1.3">'
            f'{html.escape(word)}<br><span style="color:{colour};font-size:{int(font_size * 0.75)}px;'
            f'font-weight:600">{html.escape(label)}</span></span>')
    return '<div style="line-height:2.4">' + "".join(chips) + "</div>"
