"""Shared look of every figure: readable on a projector, colour-blind-safe pairs."""
from __future__ import annotations

import plotly.graph_objects as go

FONT_SIZE = 15
PRESENTATION_FONT_SIZE = 22
GRADIENT_SCALE = "Viridis"        # sequential: gradient magnitudes (log scale)
DIVERGING_SCALE = "RdBu_r"        # signed values: weights and gradients, centred on 0
DIRECT_COLOUR = "#0072B2"         # gradient arriving through o_t (Okabe-Ito blue)
INDIRECT_COLOUR = "#E69F00"       # gradient arriving through h_{t+1} (Okabe-Ito orange)
BOUND_COLOUR = "#888888"
OVERFLOW_COLOUR = "#D55E00"       # inf / nan: drawn, never hidden (Okabe-Ito vermillion)
SEQUENCE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
                    "#000000")


def apply_style(fig: go.Figure, *, title: str | None = None, presentation: bool = False,
                height: int | None = None) -> go.Figure:
    """Common layout: font size, margins, white background, optional title and height."""
    size = PRESENTATION_FONT_SIZE if presentation else FONT_SIZE
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left") if title else None,
        font=dict(size=size),
        margin=dict(l=60, r=30, t=60 if title else 30, b=50),
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend=dict(bgcolor="rgba(255,255,255,0.8)"),
    )
    if height is not None:
        fig.update_layout(height=int(height * (1.25 if presentation else 1.0)))
    fig.update_xaxes(showgrid=True, gridcolor="#e5e5e5", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#e5e5e5", zeroline=False)
    return fig
