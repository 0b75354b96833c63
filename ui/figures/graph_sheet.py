"""The sheet of the parameter gradients: one heatmap, one colour scale, so their sizes compare.

    [ dL/dW_xh ] [ dL/dW_hh ] [ dL/db_h ]        rows: hidden unit i (H)
                 [ dL/dW_hy ] [ dL/db_y ]        rows: output unit k (O)

A gated cell has one such row of blocks per gate (W_x*, W_h*, b_* for * = i, f, o, c for the
LSTM; r, z, h for the GRU), stacked above the output layer's.
Shapes: D inputs, H hidden units, O outputs; a leading frame axis F on everything animated
(F = T: the running sums of rnn_core.flow.running_param_grads; F = 1: the full sums).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ui.figures import style
from ui.notation import PARAMS, Notation

Array = np.ndarray
SHEET_BUDGET = 300_000             # numbers in all frames of the sheet before it stops animating
# Cells of one sheet sent to the browser at most (the vanilla cell's largest, H = 256, D = O = 64,
# has 103,683): a gated cell's larger sheet is drawn with each block pooled k x k.
SHEET_MAX_CELLS = 110_000


def param_html(notation: Notation, name: str) -> str:
    """A parameter's symbol for plotly text: the notation's for the vanilla cell's five, the
    engine's name with its subscript for a gated cell's (W_xi -> W<sub>xi</sub>)."""
    if name in PARAMS:
        return notation.html_param(name)
    symbol, _, sub = name.partition("_")
    return f"{symbol}<sub>{sub}</sub>"


def grad_html(notation: Notation, of: str) -> str:
    """'∂L/∂W<sub>hh</sub>' for a parameter's engine name, in the notation's symbols."""
    return f"∂{notation.L}/∂{param_html(notation, of)}"


@dataclass(frozen=True)
class Sheet:
    """Where each gradient sits on one heatmap: (row, col) offsets of the top-left corner.

        [ dL/dW_xh ] [ dL/dW_hh ] [ dL/db_h ]        rows: hidden unit i, one row of blocks
                     [ dL/dW_hy ] [ dL/db_y ]        per gate letter; rows: output unit k
    One empty row/column separates the blocks. letters: the gate blocks' letters ('h' for the
    vanilla cell; rnn_core's cell.gate_letters for a gated one). pool: each block drawn with its
    k x k tiles pooled into one cell (their entry of largest magnitude), so that a large gated
    sheet stays within SHEET_MAX_CELLS; shape, offsets and sizes are in drawn cells.
    """

    D: int
    H: int
    O: int
    letters: tuple[str, ...] = ("h",)
    pool: int = 1

    @classmethod
    def fitted(cls, D: int, H: int, O: int, letters: tuple[str, ...] = ("h",)) -> "Sheet":
        """The sheet with the smallest pooling that keeps it within SHEET_MAX_CELLS."""
        pool = 1
        while np.prod(cls(D, H, O, letters, pool).shape) > SHEET_MAX_CELLS:
            pool += 1
        return cls(D, H, O, letters, pool)

    def _n(self, n: int) -> int:
        return -(-n // self.pool)          # cells of n entries pooled

    @property
    def shape(self) -> tuple[int, int]:
        H, D, O = self._n(self.H), self._n(self.D), self._n(self.O)
        return len(self.letters) * (H + 1) + O, D + 1 + H + 1 + 1

    def offsets(self) -> dict[str, tuple[int, int]]:
        H, D = self._n(self.H), self._n(self.D)
        c_hh, c_b = D + 1, D + 1 + H + 1
        out = {}
        for k, g in enumerate(self.letters):
            row = k * (H + 1)
            out.update({f"W_x{g}": (row, 0), f"W_h{g}": (row, c_hh), f"b_{g}": (row, c_b)})
        last = len(self.letters) * (H + 1)
        return {**out, "W_hy": (last, c_hh), "b_y": (last, c_b)}

    def sizes(self) -> dict[str, tuple[int, int]]:
        """(rows, cols) of each block, in drawn cells."""
        H, D, O = self._n(self.H), self._n(self.D), self._n(self.O)
        out = {}
        for g in self.letters:
            out.update({f"W_x{g}": (H, D), f"W_h{g}": (H, H), f"b_{g}": (H, 1)})
        return {**out, "W_hy": (O, H), "b_y": (O, 1)}

    def fill(self, grads: dict[str, Array]) -> Array:
        """grads[name] with a leading frame axis (F, *shape) -> (F, rows, cols) with NaN in the gaps
        and where a value is inf/nan (overflow: those cells stay empty). float32 keeps the frames
        lean; float64 when a finite value lies beyond float32's range."""
        frames = next(iter(grads.values())).shape[0]
        with np.errstate(all="ignore"):
            biggest = max(float(np.max(np.abs(g), initial=0.0, where=np.isfinite(g))) for g in grads.values())
        out = np.full((frames, *self.shape), np.nan, dtype=np.float32 if biggest < 1e38 else np.float64)
        for name, (r, c) in self.offsets().items():
            block = grads[name] if grads[name].ndim == 3 else grads[name][:, :, None]
            block = _pooled(np.where(np.isfinite(block), block, np.nan), self.pool)
            out[:, r:r + block.shape[1], c:c + block.shape[2]] = block
        return out

    def labels(self, notation: Notation) -> list[list[str]]:
        """Hover label of every cell, e.g. '∂L/∂W<sub>hh</sub>[2, 5]'."""
        text = [[""] * self.shape[1] for _ in range(self.shape[0])]
        sizes = self.sizes()
        for name, (r, c) in self.offsets().items():
            rows, cols = sizes[name]
            symbol = grad_html(notation, name)
            for i in range(rows):
                for j in range(cols):
                    text[r + i][c + j] = self._entry(symbol, i, j, cols)
        return text

    def _entry(self, symbol: str, i: int, j: int, cols: int) -> str:
        k = self.pool
        if k == 1:
            return f"{symbol}[{i}]" if cols == 1 else f"{symbol}[{i}, {j}]"
        rows = f"{i * k}–{(i + 1) * k - 1}"
        return f"{symbol}[{rows}] (largest)" if cols == 1 else f"{symbol}[{rows}, {j * k}–{(j + 1) * k - 1}] (largest)"


def _pooled(block: Array, k: int) -> Array:
    """(F, r, c) -> (F, ceil(r/k), ceil(c/k)): each k x k tile's entry of largest magnitude, with
    its sign (NaN, i.e. overflow, only where the whole tile is)."""
    if k == 1:
        return block
    F, r, c = block.shape
    padded = np.full((F, -(-r // k) * k, -(-c // k) * k), np.nan)
    padded[:, :r, :c] = block
    tiles = padded.reshape(F, padded.shape[1] // k, k, padded.shape[2] // k, k).transpose(0, 1, 3, 2, 4)
    tiles = tiles.reshape(*tiles.shape[:3], k * k)
    magnitude = np.where(np.isnan(tiles), -1.0, np.abs(tiles))
    pick = np.argmax(magnitude, axis=-1)[..., None]
    return np.take_along_axis(tiles, pick, axis=-1)[..., 0]


def sheet_is_linked(T: int, D: int, H: int, O: int, letters: tuple[str, ...] = ("h",)) -> bool:
    """Whether every frame can carry its running sums (else the sheet shows the full sums)."""
    rows, cols = Sheet.fitted(D, H, O, letters).shape
    return T * rows * cols <= SHEET_BUDGET


def sheet_trace(frames: Array, labels: list | None, *, font: int, colorbar_x: float,
                y_domain: tuple[float, float]) -> dict:
    """The sheet's last frame as a heatmap on axes x2/y2: one diverging scale, symmetric about 0.

    frames (F, rows, cols) from Sheet.fill; labels from Sheet.labels or None (hover then gives
    row and column). The scale covers every frame, so the colours compare across the animation.
    """
    with np.errstate(all="ignore"):
        biggest = float(np.max(np.abs(frames), initial=0.0, where=np.isfinite(frames)))
    limit = biggest if biggest > 0 else 1.0
    trace = dict(type="heatmap", z=frames[-1], xaxis="x2", yaxis="y2", colorscale=style.DIVERGING_SCALE,
                 zmin=-limit, zmax=limit, zmid=0.0, name="parameter gradients", meta="sheet", hoverongaps=False,
                 colorbar=dict(x=colorbar_x, y=sum(y_domain) / 2, len=y_domain[1] - y_domain[0],
                               thickness=12, nticks=5, tickfont=dict(size=font - 2)))
    if labels is not None:
        trace.update(customdata=labels, hovertemplate="%{customdata} = %{z:.3g}<extra></extra>")
    else:
        trace.update(hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>")
    return trace


def sheet_annotations(sheet: Sheet, notation: Notation, font: int) -> list[dict]:
    """Block names above (top row) or below (bottom row) each block, in data coordinates: the
    parameter alone (the panel's title says these are gradients), so that a name fits over a
    one-column bias block without running into its neighbour or the colour bar. A gated cell's
    inner rows of blocks are named by their gate letter at their left (the top row's names show
    the pattern: W_x*, W_h*, b_*)."""
    sizes = sheet.sizes()
    bottom_row = len(sheet.letters) * (sheet.H + 1)
    notes = []
    for name, (r, c) in sheet.offsets().items():
        if 0 < r < bottom_row:
            if c == 0:
                notes.append(_gate_letter(name[-1], r + (sheet.H - 1) / 2, font))
            continue
        top = r == 0
        notes.append(dict(text=param_html(notation, name), x=c + (sizes[name][1] - 1) / 2,
                          y=-0.6 if top else sheet.shape[0] - 0.4, xref="x2", yref="y2",
                          yanchor="bottom" if top else "top", showarrow=False, font=dict(size=font - 1)))
    if len(sheet.letters) > 1:       # the top row's gate letter too, so that every row has one
        notes.append(_gate_letter(sheet.letters[0], (sheet.H - 1) / 2, font))
    return notes


def _gate_letter(letter: str, y: float, font: int) -> dict:
    """A gate row's letter just left of the sheet (outside its x range, so placed on its domain:
    plotly hides an annotation whose data coordinates lie off the axis)."""
    return dict(text=f"<b>{letter}</b>", x=0.0, xshift=-4, y=y, xref="x2 domain", yref="y2", xanchor="right",
                showarrow=False, font=dict(size=font - 1))
