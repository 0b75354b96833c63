"""The sheet of the five parameter gradients: one heatmap, one colour scale, so their sizes compare.

    [ dL/dW_xh ] [ dL/dW_hh ] [ dL/db_h ]        rows: hidden unit i (H)
                 [ dL/dW_hy ] [ dL/db_y ]        rows: output unit k (O)

Shapes: D inputs, H hidden units, O outputs; a leading frame axis F on everything animated
(F = T: the running sums of rnn_core.flow.running_param_grads; F = 1: the full sums).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ui.figures import style
from ui.notation import Notation

Array = np.ndarray
SHEET_BUDGET = 300_000             # numbers in all frames of the sheet before it stops animating


def grad_html(notation: Notation, of: str) -> str:
    """'∂L/∂W<sub>hh</sub>' for a parameter's engine name, in the notation's symbols."""
    return f"∂{notation.L}/∂{notation.html_param(of)}"


@dataclass(frozen=True)
class Sheet:
    """Where each gradient sits on one heatmap: (row, col) offsets of the top-left corner.

        [ dL/dW_xh ] [ dL/dW_hh ] [ dL/db_h ]        rows: hidden unit i
                     [ dL/dW_hy ] [ dL/db_y ]        rows: output unit k
    One empty row/column separates the blocks.
    """

    D: int
    H: int
    O: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.H + 1 + self.O, self.D + 1 + self.H + 1 + 1

    def offsets(self) -> dict[str, tuple[int, int]]:
        c_hh, c_b = self.D + 1, self.D + 1 + self.H + 1
        return {"W_xh": (0, 0), "W_hh": (0, c_hh), "b_h": (0, c_b),
                "W_hy": (self.H + 1, c_hh), "b_y": (self.H + 1, c_b)}

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
            out[:, r:r + block.shape[1], c:c + block.shape[2]] = np.where(np.isfinite(block), block, np.nan)
        return out

    def labels(self, notation: Notation) -> list[list[str]]:
        """Hover label of every cell, e.g. '∂L/∂W<sub>hh</sub>[2, 5]'."""
        text = [[""] * self.shape[1] for _ in range(self.shape[0])]
        sizes = {"W_xh": (self.H, self.D), "W_hh": (self.H, self.H), "b_h": (self.H, 1),
                 "W_hy": (self.O, self.H), "b_y": (self.O, 1)}
        for name, (r, c) in self.offsets().items():
            rows, cols = sizes[name]
            symbol = grad_html(notation, name)
            for i in range(rows):
                for j in range(cols):
                    text[r + i][c + j] = f"{symbol}[{i}]" if cols == 1 else f"{symbol}[{i}, {j}]"
        return text


def sheet_is_linked(T: int, D: int, H: int, O: int) -> bool:
    """Whether every frame can carry its running sums (else the sheet shows the full sums)."""
    rows, cols = Sheet(D, H, O).shape
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
    one-column bias block without running into its neighbour or the colour bar."""
    sizes = {"W_xh": sheet.D, "W_hh": sheet.H, "b_h": 1, "W_hy": sheet.H, "b_y": 1}
    notes = []
    for name, (r, c) in sheet.offsets().items():
        top = r == 0
        notes.append(dict(text=notation.html_param(name), x=c + (sizes[name] - 1) / 2,
                          y=-0.6 if top else sheet.shape[0] - 0.4, xref="x2", yref="y2",
                          yanchor="bottom" if top else "top", showarrow=False, font=dict(size=font - 1)))
    return notes
