"""Figures of the derivation page: the terms of the double sum (9) for one loss term.

Pure builders: numpy arrays in, plotly Figure out (no streamlit).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ui.figures.style import DIRECT_COLOUR, OVERFLOW_COLOUR, apply_style
from ui.notation import Notation


def double_sum_figure(norms, shares, *, t: int, notation: Notation, presentation: bool = False) -> go.Figure:
    """One bar per k = 1..t: the Frobenius norm of term k of d(w_t L_t)/dW_hh, eq. (9).

    norms (t,), shares (t,) (norm / sum of norms). The axis is logarithmic, so that terms that
    shrink or grow geometrically with the distance t - k lie on a straight line. Terms that are
    exactly 0 (dead ReLUs, masked steps) cannot sit on a log axis: they are marked "0" at the
    bottom; inf/nan terms (overflow) are marked at the top in the overflow colour.
    """
    norms = np.asarray(norms, dtype=np.float64)
    shares = np.asarray(shares, dtype=np.float64)
    if norms.shape != (t,) or shares.shape != (t,):
        raise ValueError(f"norms and shares must have shape (t,) = ({t},), got {norms.shape} and {shares.shape}")
    k = np.arange(1, t + 1)
    positive = np.isfinite(norms) & (norms > 0)
    W = notation.html_param("W_hh")
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=k[positive], y=norms[positive], name="‖term k‖", marker_color=DIRECT_COLOUR,
        text=[f"{s:.0%}" if np.isfinite(s) else "" for s in shares[positive]], textposition="outside",
        customdata=np.stack([t - k[positive], shares[positive]], axis=-1),
        hovertemplate="k = %{x} (distance %{customdata[0]})<br>‖term‖ = %{y:.4g}"
                      "<br>share %{customdata[1]:.1%}<extra></extra>"))
    finite_pos = norms[positive]
    low = finite_pos.min() if finite_pos.size else 1.0
    high = finite_pos.max() if finite_pos.size else 1.0
    for mask, label, y, colour in ((norms == 0, "0", low / 3, "#555555"),
                                   (~np.isfinite(norms), "inf/nan", high * 3, OVERFLOW_COLOUR)):
        if mask.any():
            fig.add_trace(go.Scatter(x=k[mask], y=np.full(mask.sum(), y), mode="text+markers",
                                     text=[label] * int(mask.sum()), textposition="top center",
                                     marker=dict(symbol="x", size=10, color=colour),
                                     name=f"term = {label}", hoverinfo="skip"))
    weighted = notation.html_at("w", str(t)) + notation.html_at(notation.L, str(t))
    apply_style(fig, title=f"Terms of ∂({weighted})/∂{W}, one per step k ≤ {t}",
                presentation=presentation, height=380)
    fig.update_xaxes(title_text=f"k: the step where {W} acts (distance t − k to the loss)",
                     tickmode="linear" if t <= 30 else "auto", dtick=1 if t <= 30 else None,
                     range=[0.4, t + 0.6])
    # whole decades only once the terms span two or more; else plotly's 2-5 ticks help reading
    decades = np.log10(high / low) if finite_pos.size else 0.0
    fig.update_yaxes(title_text="Frobenius norm (log)", type="log", exponentformat="power",
                     dtick=1 if decades >= 2 else None)
    # room above the tallest bar for its share label on a log axis
    fig.update_yaxes(range=[np.log10(low / 10), np.log10(high * 10)])
    fig.update_layout(showlegend=bool((norms == 0).any() or (~np.isfinite(norms)).any()), bargap=0.25)
    return fig
