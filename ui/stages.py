"""The stages of the derivation walk (the Derivation page): key, title and equation numbers.

A small table on its own, so that the config schema (whose `d_stage` offers the keys) does not
import the derivation's text and numbers (ui/derivation.py, ui/derivation_gated.py). Each cell
has its own walk (`stages_of`); `d_stage` offers every cell's keys (`STAGE_KEYS`), and a key
another cell's walk has no stage for is shown as its nearest stage (`stage_for`). The gated
cells' backward equations are numbered after the forward ones: (L7)-(L10) and (G5)-(G7), the
module docstrings' backward equations of rnn_core/cells/lstm.py and gru.py.
"""
from __future__ import annotations

from typing import NamedTuple

from ui.notation import Notation, plain


class StageInfo(NamedTuple):
    key: str        # d_stage in ui/config.py uses the keys
    title: str      # its words; "{}" stands for the stage's symbol (see `stage_symbol`)
    tags: str       # the equation numbers of rnn_core/__init__.py

    def heading(self, n: Notation) -> str:
        """The title as markdown, its symbol in notation n."""
        symbol = stage_symbol(self.key, n)
        return self.title.format(f"${symbol}$") if symbol else self.title

    def label(self, n: Notation) -> str:
        """The title as plain text for a select box (which cannot typeset LaTeX)."""
        symbol = stage_symbol(self.key, n)
        return self.title.format(plain(symbol)) if symbol else self.title


STAGES = (
    StageInfo("forward", "Forward pass", "(1)-(5)"),
    StageInfo("output", "Output gradient", "(6)"),
    StageInfo("last", "Where the recursion starts: {}", "(7)"),
    StageInfo("recursion", "The recursion: direct + indirect", "(7)"),
    StageInfo("factor", "The factor {}", "(8), (11)"),
    StageInfo("double_sum", "The double sum, term by term", "(9)"),
    StageInfo("params", "Every parameter gradient as a sum over t", "(10)"),
    StageInfo("update", "The update", "(12)"),
)
LSTM_STAGES = (
    StageInfo("forward", "Forward pass: the gates and the memory", "(L1)-(L6)"),
    StageInfo("output", "Output gradient", "(6)"),
    StageInfo("hidden", "The hidden state's gradient: direct + through the four gates", "(L7)"),
    StageInfo("memory", "The memory's gradient: through h and along the carousel", "(L8)"),
    StageInfo("gates", "Into the gates", "(L9)"),
    StageInfo("params", "Every parameter gradient as a sum over t", "(L10)"),
    StageInfo("update", "The update", "(12)"),
)
GRU_STAGES = (
    StageInfo("forward", "Forward pass: the gates and the candidate", "(G1)-(G4)"),
    StageInfo("output", "Output gradient", "(6)"),
    StageInfo("hidden", "The hidden state's gradient: direct + four ways back", "(G5)"),
    StageInfo("gates", "Into the gates and the candidate", "(G6)"),
    StageInfo("params", "Every parameter gradient as a sum over t", "(G7)"),
    StageInfo("update", "The update", "(12)"),
)
CELL_STAGES = {"rnn": STAGES, "lstm": LSTM_STAGES, "gru": GRU_STAGES}
# every cell's keys (the vanilla walk's first, in its order): the options of d_stage
STAGE_KEYS = tuple(dict.fromkeys(info.key for stages in CELL_STAGES.values() for info in stages))
# a key a cell's walk lacks -> the stage that shows the same idea (links from other pages name
# the vanilla "recursion", "last" and "factor")
NEAREST = {"last": ("hidden",), "recursion": ("hidden",), "factor": ("memory", "hidden"),
           "double_sum": ("params",), "hidden": ("recursion",), "memory": ("recursion", "hidden"), "gates": ("params",)}


def stages_of(cell: str) -> tuple[StageInfo, ...]:
    """The walk of a cell ('rnn', 'lstm', 'gru')."""
    return CELL_STAGES[cell]


def keys_of(cell: str) -> tuple[str, ...]:
    return tuple(info.key for info in stages_of(cell))


def stage_for(cell: str, key: str) -> str:
    """The key of `cell`'s walk that shows stage `key` (itself, its nearest, or the first)."""
    keys = keys_of(cell)
    for candidate in (key, *NEAREST.get(key, ())):
        if candidate in keys:
            return candidate
    return keys[0]


def info_of(cell: str, key: str) -> StageInfo:
    return stages_of(cell)[keys_of(cell).index(key)]


def stage_symbol(key: str, n: Notation) -> str:
    """The LaTeX symbol a stage's title names, in notation n ("" for none)."""
    if key == "last":
        return rf"\partial {n.L}/\partial {n.at(n.h, 'T')}"
    if key == "factor":
        return rf"\partial {n.at(n.h, 't+1')}/\partial {n.at(n.h, 't')}"
    return ""
