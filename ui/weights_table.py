"""The editable weight tables of the Model & weights page: arrays <-> labelled DataFrames.

A matrix is shown the way the chosen notation writes it: column-vector texts show W_xh (H, D)
with a row per hidden unit; the row-vector notation shows its W_x = W_xh^T (D, H). Biases are
one column. Rows and columns are named after the units they connect (h1, x2, o3, ...).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ui.config import WEIGHTS, Config
from ui.keys import exact_key
from ui.notation import MATRICES, Notation

# (row unit, column unit) of each parameter in the engine's (column-vector) orientation.
UNITS = {"W_xh": ("h", "x"), "W_hh": ("h", "h"), "b_h": ("h", None), "W_hy": ("o", "h"), "b_y": ("o", None)}


def _labels(unit: str, n: int) -> list[str]:
    return [f"{unit}{i}" for i in range(1, n + 1)]


def table_of(array: np.ndarray, name: str, notation: Notation) -> pd.DataFrame:
    """The parameter `name` as the notation writes it, rows and columns labelled by unit."""
    row_unit, col_unit = UNITS[name]
    if col_unit is None:
        return pd.DataFrame({name: array}, index=_labels(row_unit, array.shape[0]))
    shown = array.T if notation.row_vectors else array
    rows, cols = (col_unit, row_unit) if notation.row_vectors else (row_unit, col_unit)
    return pd.DataFrame(shown, index=_labels(rows, shown.shape[0]), columns=_labels(cols, shown.shape[1]))


def array_from_table(table: pd.DataFrame, name: str, notation: Notation) -> np.ndarray:
    """The engine-oriented float64 array of an (edited) table; empty cells become NaN."""
    values = table.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if UNITS[name][1] is None:
        return values[:, 0].copy()
    return values.T.copy() if notation.row_vectors and name in MATRICES else values


def editor_key(config: Config, name: str) -> str:
    """The data_editor's key: new whenever the table's content changes, so stale edits never
    replay onto other numbers."""
    return f"weights_{name}_{exact_key(config.project(WEIGHTS, also=('notation',)))[:24]}"

