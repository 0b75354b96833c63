"""Lecture presets: named model settings, each with one sentence of what it shows and the page
(with that page's view) that shows it.

A preset sets every sidebar field (model, data, truncation) to the default or to its own value,
and every view field of its page to the default or to its own value, so that the page opens on
the preset's lesson whatever was looked at before. Presentation mode, the other pages' views and
the reader's notation (unless the preset is a textbook's) are left as they are; hand edits are
dropped. A preset is active while the config still holds every value it set (`is_active`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ui import notation as nt
from pathlib import PurePosixPath

from ui.config import DEFAULT, FIELDS, PAGE, PRESET_ROLES, Config, parse, to_query
from ui.figures.graph import follow_term_view

GRAPH, VANISHING, DERIVATION = "views/graph.py", "views/vanishing.py", "views/derivation.py"
TRAINING = "views/training.py"

LONG_T = 30        # 0.5 ** 29 ~ 2e-9 and 1.5 ** 29 ~ 1e5: the trend is unmistakable at this length
ADDING_T = 20
GATED_T = 100      # long enough that the tanh RNN has lost the gradient and the gated cells have not
GRU_ADDING_T = 50
SINE_T = 24


def page_of(file: str) -> str:
    """The page key of the schema (Field.page) of a view file: 'views/graph.py' -> 'graph'."""
    return PurePosixPath(file).stem


def _pairs(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(values.items())


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    sentence: str                           # markdown; <name> stands for a symbol (ui.notation.fill)
    settings: tuple[tuple[str, Any], ...]   # (field, value) pairs; every other sidebar field: default
    page: str                               # the page that shows what the sentence says
    view: tuple[tuple[str, Any], ...]       # that page's view fields; its others: default
    opens: str                              # markdown: what the page shows, for the Home button

    def notation(self, current: str) -> nt.Notation:
        """The notation the preset is read in: its own if it sets one, else the reader's."""
        return nt.NOTATIONS[dict(self.settings).get("notation", current)]

    def text(self, current: str) -> str:
        """The sentence with its symbols in the preset's notation (see `notation`)."""
        return nt.fill(self.sentence, self.notation(current))

    def opens_text(self, current: str) -> str:
        return nt.fill(self.opens, self.notation(current))

    def config(self) -> Config:
        """The preset's model on top of the defaults, validated (a task may fix sizes and the loss)."""
        return parse(to_query(DEFAULT.replace(**dict(self.settings))))[0]

    def view_values(self) -> dict[str, Any]:
        """Every field of the preset's page (role PAGE, that page): its own value or the default."""
        page = page_of(self.page)
        return {**{f.name: f.default for f in FIELDS if f.role == PAGE and f.page == page}, **dict(self.view)}

    def apply(self, current: Config = DEFAULT) -> Config:
        """`current` with its model, data and truncation (PRESET_ROLES), the display settings it
        names (a textbook's notation) and its page's view replaced by this preset's."""
        own = dict(self.settings)
        names = [f.name for f in FIELDS if f.role in PRESET_ROLES or f.name in own]
        config = self.config()
        return current.replace(**{name: getattr(config, name) for name in names}, **self.view_values())

    def is_active(self, config: Config) -> bool:
        """Whether `config` still holds every value this preset set (any later change ends it)."""
        return self.apply(config) == config


# Why each preset opens where it does (the default view must show what the sentence says):
# - vanishing: the Unrolled graph following L_T alone, the window ending at it. With the whole
#   loss every h_t gets its own direct part and stays bright; one term shows the fade step by step.
# - exploding: Vanishing & exploding against the distance T - k. ||dh_T/dh_k|| climbs to ~1e3
#   with the bound (11) over it, and the sweep puts rho = 1.5 beside 0.5 and 1. The clipping
#   comparison on the Training page picks its own radius for its task's model, so it would not
#   show this preset's model.
# - irnn: the vanishing preset's graph view, unchanged, so that switching between the two
#   presets compares the same picture: the colour that faded now holds.
# - d2l_linear: the Derivation at the factor (8), t = 1: D2L's closed form (W_hh^T)^(T-1), the
#   longest power, with its norm and the bound.
# - dlbook: the Derivation at the output gradient, where the book's derivation starts (softmax
#   and cross-entropy); t = T - 1 so that 'Next' reaches a recursion with both of its parts.
# - mse_sine: the Derivation at the output gradient, the residual o_t - y_t of the sentence's
#   loss with live numbers; t = T - 1 as above.
# - lstm_carries: Vanishing & exploding comparing the three cells on one axis at T = 100: the
#   chosen LSTM's curve with its forget-gate product, the RNN's fading beside it.
# - gru_adding: the Training page's cell comparison on the adding task, where the difference is
#   whether the model learns at all.
# - many_to_one: the Unrolled graph following the only loss term with the whole sequence in view,
#   so the way back to the marked inputs (anywhere in it) is drawn.
PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset("vanishing", "Vanishing (tanh, ρ = 0.5)",
               "With tanh and a spectral radius of 0.5 the gradient reaching early steps shrinks "
               "geometrically: the first steps barely learn.",
               (("activation", "tanh"), ("rho", 0.5), ("T", LONG_T)),
               GRAPH, _pairs(follow_term_view(LONG_T)),
               "Opens the *Unrolled graph* following the last loss term alone: watch it fade going back."),
        Preset("exploding", "Exploding (ReLU, ρ = 1.5)",
               "With ReLU and a spectral radius of 1.5 the gradient grows step after step going back "
               "in time, which is why training needs clipping.",
               (("activation", "relu"), ("rho", 1.5), ("T", LONG_T)),
               VANISHING, (("v_axis", "distance"), ("v_section", "sweeps")),
               r"Opens *Vanishing & exploding*: $\lVert\partial <h_T>/\partial <h_k>\rVert$ against the "
               "distance, growing by orders of magnitude."),
        Preset("irnn", "IRNN (identity init)",
               "Le, Jaitly and Hinton's identity initialisation: ReLU units with $<W_hh> = I$ carry "
               "the gradient back over many steps with its size kept.",
               (("activation", "relu"), ("init", "identity"), ("rho", 1.0), ("T", LONG_T)),
               GRAPH, _pairs(follow_term_view(LONG_T)),
               "Opens the *Unrolled graph* in the vanishing preset's view: compare the two."),
        Preset("d2l_linear", "Linear RNN (D2L)",
               "Dive into Deep Learning's linear model of sec. 9.7: no biases and $f$ the identity, so "
               r"$<dhT_dhk>$ is exactly $<power>$, and the loss is the mean $\frac{1}{T}\sum_t$ of "
               "squared errors.",
               (("activation", "identity"), ("loss", "mse"), ("reduction", "mean"), ("notation", "d2l"),
                ("rho", 0.9)),
               DERIVATION, (("d_stage", "factor"), ("d_step", 1)),
               "Opens the *Derivation* at the factor (8) for $t = 1$: the power written out."),
        Preset("dlbook", "Deep Learning Book",
               "Goodfellow, Bengio and Courville's chapter 10 model: tanh units, softmax outputs and "
               "a cross-entropy loss summed over time, in their U, V, W notation.",
               (("activation", "tanh"), ("loss", "softmax_ce"), ("reduction", "sum"),
                ("notation", "dlbook"), ("init", "orthogonal"), ("rho", 1.0)),
               DERIVATION, (("d_stage", "output"), ("d_step", DEFAULT.T - 1)),
               "Opens the *Derivation* at the output gradient, where the book's derivation starts."),
        Preset("mse_sine", "MSE on a sine wave",
               "A regression example: predict the next value of a noisy sine wave with an identity "
               r"output and the loss $\tfrac12\lVert <o_t> - <y_t>\rVert^2$.",
               (("task", "sine"), ("activation", "tanh"), ("H", 16), ("T", SINE_T), ("rho", 0.9)),
               DERIVATION, (("d_stage", "output"), ("d_step", SINE_T - 1)),
               "Opens the *Derivation* at the output gradient: the residual $<o_t> - <y_t>$, live."),
        Preset("many_to_one", "Many-to-one (adding)",
               "Only the last step has a loss: every gradient has to travel back through the whole "
               "sequence to reach the two marked inputs.",
               (("task", "adding"), ("activation", "tanh"), ("T", ADDING_T), ("H", 16), ("rho", 1.0)),
               GRAPH, _pairs(follow_term_view(ADDING_T, width=ADDING_T)),
               "Opens the *Unrolled graph* with the whole sequence in view, from the only loss term back."),
        Preset("lstm_carries", "LSTM carries the gradient (forget bias 1)",
               "An LSTM whose forget gates start near σ(1) = 0.73: along the memory path the gradient is "
               "multiplied by the forget gates only, so it survives a hundred steps that a tanh RNN's does not.",
               (("cell", "lstm"), ("forget_bias", 1.0), ("init", "orthogonal"), ("T", GATED_T)),
               VANISHING, (("v_section", "cells"),),
               r"Opens *Vanishing & exploding* comparing the three cells: $\lVert\partial s_T/\partial s_k\rVert$ "
               "on one log axis."),
        Preset("gru_adding", "GRU on the adding task",
               "The adding task hides two marked numbers in a long sequence and asks for their sum at the end: "
               "a GRU learns it at T = 50, a vanilla RNN trained on the same batches does not.",
               (("cell", "gru"), ("init", "orthogonal"), ("task", "adding"), ("T", GRU_ADDING_T), ("H", 16)),
               TRAINING, (("tr_view", "cells"), ("tr_task", "adding")),
               "Opens *Training* comparing the three cells on the adding task, same batches, same seed."),
    )
}


def active(config: Config) -> Preset | None:
    """The preset whose values `config` still holds, if any."""
    return next((p for p in PRESETS.values() if p.is_active(config)), None)
