"""Figures of the Model & weights page: a cell's parameters as heatmaps, arrays in, Figure out.

Laid out like the equations, one row per gate group: the vanilla cell's top row is
a_t = W_xh x_t + W_hh h_{t-1} + b_h (H rows each); a gated cell has a row per gate (the LSTM's
input, forget, output gate and candidate; the GRU's reset, update gate and candidate), each
(W_x*, W_hx*, b_*); the bottom row is the output layer o_t = W_hy h_t + b_y (O rows), W_hy under
the recurrent matrices and b_y under the biases. One diverging colour scale centred on 0 and
shared by all, so colours compare across matrices (an LSTM's forget bias stands out). Hand-edited
entries are outlined. Matrices appear as the notation writes them (the row-vector notation shows
the transposes).
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import rnn_core as rc
from ui.figures.style import DIVERGING_SCALE, FONT_SIZE, OVERFLOW_COLOUR, PRESENTATION_FONT_SIZE, apply_style
from ui.notation import Notation
from ui.weights_table import cell_named, param_groups, param_html, table_of

Array = np.ndarray
MIN_COLUMN_CELLS = 2                # a bias column is drawn two cells wide, for its title
MAX_GAPPED_SIDE = 64               # larger matrices are drawn without gaps: sub-pixel cells would be all gap
MAX_CELLS_WITH_TEXT = 12            # write the values in the cells when a matrix side is this small
CELL_PX = 34
MAX_HEIGHT = 900                    # the vanilla cell's two rows
MAX_ROW_HEIGHT = 300                # a gated cell's rows (five for the LSTM) share at most this each
GAP_PX = 95                         # between rows: the x tick labels (rotated when many) and the next titles
EDIT_MARK = "square-open"
MAX_EDIT_MARKS = 400                # more edits (an uploaded file) would hide the colours: no outlines


def positions(cell: str) -> dict[str, tuple[int, int]]:
    """(row, column) of each parameter: a row per gate (W_x*, W_h*, b_*), then (W_hy, b_y) in
    columns 2 and 3."""
    groups = param_groups(cell)
    places = {name: (row, col) for row, group in enumerate(groups[:-1], 1)
              for col, name in enumerate(group.names, 1)}
    places.update({name: (len(groups), col) for col, name in enumerate(groups[-1].names, 2)})
    return places


def weight_heatmaps(params: rc.CellParams, notation: Notation, *, edited: set[tuple[str, int]] = frozenset(),
                    presentation: bool = False) -> go.Figure:
    """Heatmaps of every parameter of the params' cell: per gate W_x* (H, D), W_h* (H, H),
    b_* (H,) in a row, and W_hy (O, H), b_y (O,) below.

    edited: {(parameter name, flat index in the engine's array)} of the hand-edited entries,
    outlined when there are at most MAX_EDIT_MARKS of them.
    """
    cell = cell_named(params.names())
    places = positions(cell)
    tables = {name: table_of(array, name, notation) for name, array in params.items()}
    grid = _grid(cell, tuple((name, tables[name].shape, _title(notation, cell, name, tables[name])) for name in places),
                 presentation)
    data = []
    for name in places:
        table = tables[name]
        label = param_html(notation, cell, name)
        show_text = max(table.shape) <= MAX_CELLS_WITH_TEXT
        gap = 1 if max(table.shape) <= MAX_GAPPED_SIDE else 0
        data.append(dict(
            type="heatmap", z=table.to_numpy(), x=list(table.columns), y=list(table.index), coloraxis="coloraxis",
            name=label, xgap=gap, ygap=gap,
            text=np.vectorize(lambda v: f"{v:.2f}")(table.to_numpy()) if show_text else None,
            texttemplate="%{text}" if show_text else None,
            textfont=dict(size=FONT_SIZE - 1),   # the cells' width does not grow with presentation mode
            hovertemplate=f"{label}[%{{y}}, %{{x}}] = %{{z:.4f}}<extra></extra>", **grid.axes[name]))
        marks = _edit_marks(name, table, edited, notation) if len(edited) <= MAX_EDIT_MARKS else []
        if marks:
            data.append(dict(type="scatter", x=[c for _, c in marks], y=[r for r, _ in marks], mode="markers",
                             marker=dict(symbol=EDIT_MARK, size=_mark_size(max(table.shape)),
                                         color=OVERFLOW_COLOUR, line=dict(width=3)),
                             name="hand-edited", hoverinfo="skip", showlegend=False, **grid.axes[name]))
    layout = copy.deepcopy(grid.layout)
    scale = _colour_range(params)
    layout["coloraxis"].update(cmin=-scale, cmax=scale)
    return go.Figure(data=data, layout=layout)


@dataclass(frozen=True)
class _Grid:
    """The heatmaps' layout without their values, and each parameter's axes ({"xaxis": "x2", ...})."""

    layout: dict
    axes: dict[str, dict[str, str]]


@functools.lru_cache(maxsize=32)
def _grid(cell: str, shown: tuple[tuple[str, tuple[int, int], str], ...], presentation: bool) -> _Grid:
    """The layout for parameters `shown` as (name, (rows, columns) as drawn, subplot title), made
    once per shape and notation: make_subplots and the per-axis updates cost ~40 ms (vanilla) to
    ~100 ms (LSTM) a figure, and a sidebar change (e.g. ρ) changes only the values."""
    groups, places = param_groups(cell), positions(cell)
    shapes = {name: shape for name, shape, _ in shown}
    titles = {name: title for name, _, title in shown}
    n_rows = len(groups)
    widths = [max(shapes[n][1] for n, (_, c) in places.items() if c == col) for col in (1, 2, 3)]
    heights = [max(shapes[n][0] for n, (r, _) in places.items() if r == row) for row in range(1, n_rows + 1)]
    height = _height(heights)
    fig = make_subplots(
        rows=n_rows, cols=3, column_widths=[max(w, MIN_COLUMN_CELLS) for w in widths], row_heights=heights,
        specs=[[{}, {}, {}]] * (n_rows - 1) + [[None, {}, {}]],
        subplot_titles=[titles[n] for group in groups for n in group.names],
        horizontal_spacing=0.08 if presentation else 0.05, vertical_spacing=0.14 if n_rows <= 2 else GAP_PX / height)
    font_size = PRESENTATION_FONT_SIZE if presentation else FONT_SIZE
    axes = {}
    for name, (row, col) in places.items():
        subplot = fig.get_subplot(row, col)
        axes[name] = {"xaxis": subplot.xaxis.plotly_name.replace("axis", ""),
                      "yaxis": subplot.yaxis.plotly_name.replace("axis", "")}
        fig.update_yaxes(autorange="reversed", type="category", row=row, col=col)
        fig.update_xaxes(type="category", showticklabels=name.startswith("W"), row=row, col=col)
    if n_rows > 2:      # a gated cell: each row says which gate it is
        for row, group in enumerate(groups, 1):
            fig.update_yaxes(title_text=f"<b>{group.title}</b>", row=row, col=1 if row < n_rows else 2)
    fig.update_layout(coloraxis=dict(colorscale=DIVERGING_SCALE, cmid=0, colorbar=dict(title="value", len=0.8)))
    apply_style(fig, height=height, presentation=presentation)
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(showgrid=False)
    fig.update_annotations(font=dict(size=font_size + 2, color="#111111"))   # the subplot titles
    return _Grid(fig.to_dict()["layout"], axes)


def _height(heights: list[int]) -> int:
    """Pixels for rows of these many cells: CELL_PX a cell, capped (the vanilla cell's two rows
    at MAX_HEIGHT, more rows at MAX_ROW_HEIGHT each)."""
    cap = MAX_HEIGHT if len(heights) <= 2 else MAX_ROW_HEIGHT * len(heights)
    return min(cap, 200 + CELL_PX * sum(heights) + (GAP_PX if len(heights) > 2 else 0) * (len(heights) - 1))


def _title(notation: Notation, cell: str, name: str, table) -> str:
    """'W<sub>xf</sub>  (8×3)' or 'b<sub>f</sub>  (8)'."""
    rows, cols = table.shape
    size = f"({rows}×{cols})" if name.startswith("W") else f"({rows})"
    return f"{param_html(notation, cell, name)}  {size}"


def _colour_range(params: rc.CellParams) -> float:
    """The largest |value| over every parameter (1 if all are zero), so 0 is white in every heatmap."""
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
