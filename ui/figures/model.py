"""Figures of the Model & weights page: the five parameters as heatmaps, arrays in, Figure out.

Laid out like the equations: the top row is a_t = W_xh x_t + W_hh h_{t-1} + b_h (H rows each),
the bottom row o_t = W_hy h_t + b_y (O rows). One diverging colour scale centred on 0 and
shared by all five, so colours compare across matrices. Hand-edited entries are outlined.
Matrices appear as the notation writes them (the row-vector notation shows the transposes).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import rnn_core as rc
from ui.figures.style import DIVERGING_SCALE, FONT_SIZE, OVERFLOW_COLOUR, PRESENTATION_FONT_SIZE, apply_style
from ui.notation import Notation
from ui.weights_table import table_of

Array = np.ndarray
POSITIONS = {"W_xh": (1, 1), "W_hh": (1, 2), "b_h": (1, 3), "W_hy": (2, 2), "b_y": (2, 3)}
ROWS = (("W_xh", "W_hh", "b_h"), ("W_hy", "b_y"))
COLUMNS = (("W_xh",), ("W_hh", "W_hy"), ("b_h", "b_y"))
MIN_COLUMN_CELLS = 2                # a bias column is drawn two cells wide, for its title
MAX_CELLS_WITH_TEXT = 12            # write the values in the cells when a matrix side is this small
CELL_PX = 34
MAX_HEIGHT = 900
EDIT_MARK = "square-open"
MAX_EDIT_MARKS = 400                # more edits (an uploaded file) would hide the colours: no outlines


def weight_heatmaps(params: rc.Params, notation: Notation, *, edited: set[tuple[str, int]] = frozenset(),
                    presentation: bool = False) -> go.Figure:
    """Heatmaps of W_xh (H, D), W_hh (H, H), b_h (H,) on top and W_hy (O, H), b_y (O,) below.

    W_hy sits under W_hh and b_y under b_h: both columns run over the hidden units.
    edited: {(parameter name, flat index in the engine's array)} of the hand-edited entries,
    outlined when there are at most MAX_EDIT_MARKS of them.
    """
    tables = {name: table_of(array, name, notation) for name, array in params.items()}
    widths = [max(tables[n].shape[1] for n in column) for column in COLUMNS]
    heights = [max(tables[n].shape[0] for n in row) for row in ROWS]
    fig = make_subplots(
        rows=2, cols=3, column_widths=[max(w, MIN_COLUMN_CELLS) for w in widths], row_heights=heights,
        specs=[[{}, {}, {}], [None, {}, {}]],
        subplot_titles=[_title(notation, n, tables[n]) for n in ROWS[0] + ROWS[1]],
        horizontal_spacing=0.05, vertical_spacing=0.14)
    scale = _colour_range(params)
    font_size = PRESENTATION_FONT_SIZE if presentation else FONT_SIZE
    for name, (row, col) in POSITIONS.items():
        table = tables[name]
        show_text = max(table.shape) <= MAX_CELLS_WITH_TEXT
        fig.add_trace(go.Heatmap(
            z=table.to_numpy(), x=list(table.columns), y=list(table.index), coloraxis="coloraxis",
            name=notation.html_param(name), xgap=1, ygap=1,
            text=np.vectorize(lambda v: f"{v:.2f}")(table.to_numpy()) if show_text else None,
            texttemplate="%{text}" if show_text else None, textfont=dict(size=font_size - 1),
            hovertemplate=f"{notation.html_param(name)}[%{{y}}, %{{x}}] = %{{z:.4f}}<extra></extra>"),
            row=row, col=col)
        marks = _edit_marks(name, table, edited, notation) if len(edited) <= MAX_EDIT_MARKS else []
        if marks:
            fig.add_trace(go.Scatter(x=[c for _, c in marks], y=[r for r, _ in marks], mode="markers",
                                     marker=dict(symbol=EDIT_MARK, size=_mark_size(max(table.shape)),
                                                 color=OVERFLOW_COLOUR, line=dict(width=3)),
                                     name="hand-edited", hoverinfo="skip", showlegend=False),
                          row=row, col=col)
        fig.update_yaxes(autorange="reversed", type="category", row=row, col=col)
        fig.update_xaxes(type="category", showticklabels=name.startswith("W"), row=row, col=col)
    fig.update_layout(coloraxis=dict(colorscale=DIVERGING_SCALE, cmin=-scale, cmax=scale, cmid=0,
                                     colorbar=dict(title="value", len=0.8)))
    apply_style(fig, height=min(MAX_HEIGHT, 200 + CELL_PX * sum(heights)), presentation=presentation)
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(showgrid=False)
    fig.update_annotations(font=dict(size=font_size + 2, color="#111111"))   # the subplot titles
    return fig


def _title(notation: Notation, name: str, table) -> str:
    rows, cols = table.shape
    return f"{notation.html_param(name)}  ({rows}×{cols})" if name.startswith("W") else \
        f"{notation.html_param(name)}  ({rows})"


def _colour_range(params: rc.Params) -> float:
    """The largest |value| over all five (1 if all are zero), so 0 is white in every heatmap."""
    largest = max(float(np.max(np.abs(a))) if a.size else 0.0 for _, a in params.items())
    return largest if largest > 0 and np.isfinite(largest) else 1.0


def _edit_marks(name: str, table, edited: set[tuple[str, int]], notation: Notation) -> list[tuple[str, str]]:
    """(row label, column label) in the shown table of every edited entry of `name`."""
    marks = []
    n_cols_engine = table.shape[0] if (notation.row_vectors and name.startswith("W")) else table.shape[1]
    for param, index in edited:
        if param != name:
            continue
        r, c = divmod(index, n_cols_engine) if name.startswith("W") else (index, 0)
        if notation.row_vectors and name.startswith("W"):
            r, c = c, r
        marks.append((table.index[r], table.columns[c]))
    return marks


def _mark_size(side: int) -> int:
    return 34 if side <= 12 else 14 if side <= 40 else 5
