"""Lecture presets: named model settings, each with one sentence of what it shows.

A preset sets every sidebar field (model, data, truncation) to the default or to its own value;
page settings and presentation mode are left as they are, and hand edits are dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ui import notation as nt
from ui.config import DEFAULT, FIELDS, Config, parse, to_query

SIDEBAR_GROUPS = ("model", "data", "truncation")


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    sentence: str                           # markdown; <name> stands for a symbol (ui.notation.fill)
    settings: tuple[tuple[str, Any], ...]   # (field, value) pairs; every other sidebar field: default

    def notation(self, current: str) -> nt.Notation:
        """The notation the preset is read in: its own if it sets one, else the reader's."""
        return nt.NOTATIONS[dict(self.settings).get("notation", current)]

    def text(self, current: str) -> str:
        """The sentence with its symbols in the preset's notation (see `notation`)."""
        return nt.fill(self.sentence, self.notation(current))

    def config(self) -> Config:
        """The preset on top of the defaults, validated (a task may fix sizes and the loss)."""
        return parse(to_query(DEFAULT.replace(**dict(self.settings))))[0]

    def apply(self, current: Config = DEFAULT) -> Config:
        """`current` with its sidebar fields replaced by this preset's."""
        reset = {f.name: f.default for f in FIELDS if f.group in SIDEBAR_GROUPS}
        config = self.config()
        return current.replace(**{**reset, **{name: getattr(config, name) for name in reset}})


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset("vanishing", "Vanishing (tanh, ρ = 0.5)",
               "With tanh and a spectral radius of 0.5 the gradient reaching early steps shrinks "
               "geometrically: the first steps barely learn.",
               (("activation", "tanh"), ("rho", 0.5), ("T", 30))),
        Preset("exploding", "Exploding (ReLU, ρ = 1.5)",
               "With ReLU and a spectral radius of 1.5 the gradient grows step after step going back "
               "in time, which is why training needs clipping.",
               (("activation", "relu"), ("rho", 1.5), ("T", 30))),
        Preset("irnn", "IRNN (identity init)",
               "Le, Jaitly and Hinton's identity initialisation: ReLU units with $<W_hh> = I$ carry "
               "the gradient back over many steps with its size kept.",
               (("activation", "relu"), ("init", "identity"), ("rho", 1.0), ("T", 30))),
        Preset("d2l_linear", "Linear RNN (D2L)",
               "Dive into Deep Learning's linear model of sec. 9.7: no biases and $f$ the identity, so "
               r"$<dhT_dhk>$ is exactly $<power>$, and the loss is the mean $\frac{1}{T}\sum_t$ of "
               "squared errors.",
               (("activation", "identity"), ("loss", "mse"), ("reduction", "mean"), ("notation", "d2l"),
                ("rho", 0.9))),
        Preset("dlbook", "Deep Learning Book",
               "Goodfellow, Bengio and Courville's chapter 10 model: tanh units, softmax outputs and "
               "a cross-entropy loss summed over time, in their U, V, W notation.",
               (("activation", "tanh"), ("loss", "softmax_ce"), ("reduction", "sum"),
                ("notation", "dlbook"), ("init", "orthogonal"), ("rho", 1.0))),
        Preset("mse_sine", "MSE on a sine wave",
               "A regression example: predict the next value of a noisy sine wave with an identity "
               r"output and the loss $\tfrac12\lVert <o_t> - <y_t>\rVert^2$.",
               (("task", "sine"), ("activation", "tanh"), ("H", 16), ("T", 24), ("rho", 0.9))),
        Preset("many_to_one", "Many-to-one (adding)",
               "Only the last step has a loss: every gradient has to travel back through the whole "
               "sequence to reach the two marked inputs.",
               (("task", "adding"), ("activation", "tanh"), ("T", 20), ("H", 16), ("rho", 1.0))),
    )
}
