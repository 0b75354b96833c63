"""The stages of the derivation walk (the Derivation page): key, title and equation numbers.

A small table on its own, so that the config schema (whose `d_stage` offers the keys) does not
import the derivation's text and numbers (ui/derivation.py).
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
STAGE_KEYS = tuple(info.key for info in STAGES)


def stage_symbol(key: str, n: Notation) -> str:
    """The LaTeX symbol a stage's title names, in notation n ("" for none)."""
    if key == "last":
        return rf"\partial {n.L}/\partial {n.at(n.h, 'T')}"
    if key == "factor":
        return rf"\partial {n.at(n.h, 't+1')}/\partial {n.at(n.h, 't')}"
    return ""
