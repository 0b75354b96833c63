"""Recurrent cells behind one seam (see base.py): the vanilla RNN, the LSTM and the GRU.

`CELLS` is the registry by name; `cell_of(params)` finds a parameter set's cell from its type.
"""
from __future__ import annotations

from .base import Back, Cell, Run
from .gru import GRU, GRUParams
from .lstm import LSTM, LSTMParams
from .rnn import RNN

CELLS: dict[str, Cell] = {c.name: c for c in (RNN, LSTM, GRU)}
_BY_TYPE = {c.params_type: c for c in CELLS.values()}


def get_cell(name: str) -> Cell:
    """The registered cell called `name` ('rnn', 'lstm', 'gru'); ValueError naming the choices."""
    try:
        return CELLS[name]
    except (KeyError, TypeError):
        raise ValueError(f"cell must be one of {list(CELLS)}, got {name!r}") from None


def cell_of(params) -> Cell:
    """The cell whose parameter type `params` has; ValueError for anything else."""
    try:
        return _BY_TYPE[type(params)]
    except KeyError:
        names = ", ".join(f"rnn_core.{t.__name__}" for t in _BY_TYPE)
        raise ValueError(f"params must be one of {names}, got {type(params).__name__}") from None


__all__ = ["Back", "CELLS", "Cell", "GRU", "GRUParams", "LSTM", "LSTMParams", "RNN", "Run", "cell_of",
           "get_cell"]
