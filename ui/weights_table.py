"""The editable weight tables of the Model & weights page: arrays <-> labelled DataFrames.

A matrix is shown the way the chosen notation writes it: column-vector texts show W_xh (H, D)
with a row per hidden unit; the row-vector notation shows its W_x = W_xh^T (D, H). Biases are
one column. Rows and columns are named after the units they connect (h1, x2, o3, ...). The
gated cells' parameters follow the same pattern by name: W_x* (H, D) maps inputs to hidden
units, W_h* (H, H) hidden to hidden, b_* (H,) is a hidden bias; W_hy and b_y are the output layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import rnn_core as rc
from ui.config import WEIGHTS, Config
from ui.keys import exact_key
from ui.notation import Notation, to_html

# (row unit, column unit) of the output layer in the engine's (column-vector) orientation;
# every other parameter's units follow from its name (`units`).
OUTPUT_UNITS = {"W_hy": ("o", "h"), "b_y": ("o", None)}


def units(name: str) -> tuple[str, str | None]:
    """(row unit, column unit) of any cell's parameter: W_xf -> (h, x), W_hf -> (h, h), b_f -> (h, None)."""
    if name in OUTPUT_UNITS:
        return OUTPUT_UNITS[name]
    if name.startswith("W_x"):
        return "h", "x"
    if name.startswith("W_h"):
        return "h", "h"
    if name.startswith("b_"):
        return "h", None
    raise ValueError(f"{name!r} is not a parameter name of any cell")


# What each block of a cell computes, by its gate letter (rnn_core's cells' `gate_letters`).
GATE_TITLES = {"rnn": {"h": "Hidden layer"},
               "lstm": {"i": "Input gate i", "f": "Forget gate f", "o": "Output gate", "c": "Candidate c̃"},
               "gru": {"r": "Reset gate r", "z": "Update gate z", "h": "Candidate h̃"}}
OUTPUT_TITLE = "Output layer"
GATED_LETTERS = {"c", "h", "i", "f", "o", "r", "z", "G"}    # the gated cells' states and gates


@dataclass(frozen=True)
class Group:
    """Parameters shown together: one gate's (W_x*, W_h*, b_*), or the output layer's (W_hy, b_y)."""

    title: str
    names: tuple[str, ...]


def cell_named(names: tuple[str, ...]) -> str:
    """The cell whose parameters have exactly these names, in order (a params' `names()`)."""
    return next(name for name, cell in rc.CELLS.items() if cell.param_names == tuple(names))


def param_groups(cell: str) -> tuple[Group, ...]:
    """The cell's parameters grouped by gate in the cell's gate order, then the output layer;
    together they are the cell's param_names, each once."""
    gates = tuple(Group(title, (f"W_x{g}", f"W_h{g}", f"b_{g}")) for g, title in GATE_TITLES[cell].items())
    return gates + (Group(OUTPUT_TITLE, tuple(OUTPUT_UNITS)),)


def param_latex(notation: Notation, cell: str, name: str) -> str:
    """LaTeX symbol of a parameter: the notation's letters for the vanilla cell and for every
    cell's output layer (unless a gated cell's state or gate has that letter: the Deep Learning
    Book's output bias c is not the LSTM's memory c); the engine's names for the gates'
    (W_xf -> W_{xf}: the names of Dive into Deep Learning 10.1-10.2)."""
    if cell == "rnn" or (name in OUTPUT_UNITS and notation.param(name) not in GATED_LETTERS):
        return notation.param(name)
    letter, sub = name.split("_", 1)
    return f"{letter}_{{{sub}}}" if len(sub) > 1 else f"{letter}_{sub}"


def param_html(notation: Notation, cell: str, name: str) -> str:
    """The parameter's symbol for plotly text, e.g. W<sub>xf</sub>."""
    return to_html(param_latex(notation, cell, name))


def parameter_count(cell: str, D: int, H: int, O: int) -> int:
    """How many numbers the cell's parameters hold at sizes D, H, O."""
    return sum(int(np.prod(shape)) for shape in rc.get_cell(cell).param_shapes(D, H, O).values())


def _labels(unit: str, n: int) -> list[str]:
    return [f"{unit}{i}" for i in range(1, n + 1)]


def table_of(array: np.ndarray, name: str, notation: Notation) -> pd.DataFrame:
    """The parameter `name` as the notation writes it, rows and columns labelled by unit."""
    row_unit, col_unit = units(name)
    if col_unit is None:
        return pd.DataFrame({name: array}, index=_labels(row_unit, array.shape[0]))
    shown = array.T if notation.row_vectors else array
    rows, cols = (col_unit, row_unit) if notation.row_vectors else (row_unit, col_unit)
    return pd.DataFrame(shown, index=_labels(rows, shown.shape[0]), columns=_labels(cols, shown.shape[1]))


def array_from_table(table: pd.DataFrame, name: str, notation: Notation) -> np.ndarray:
    """The engine-oriented float64 array of an (edited) table; empty cells become NaN."""
    values = table.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if units(name)[1] is None:
        return values[:, 0].copy()
    return values.T.copy() if notation.row_vectors else values


def editor_key(config: Config, name: str) -> str:
    """The data_editor's key: new whenever the table's content changes, so stale edits never
    replay onto other numbers."""
    return f"weights_{name}_{exact_key(config.project(WEIGHTS, also=('notation',)))[:24]}"

