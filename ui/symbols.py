"""One registry of symbols and words per activation and per loss, and the words for notations.

The engine (rnn_core.ACTIVATIONS, rnn_core.LOSSES) holds the maths; this module holds what the
app writes about each entry: its display label, the LaTeX of f' (as the forward pass's cache
gives it, and as a note), the output function that turns o_t into y-hat_t, L_t and dL_t/do_t
of eq. (4) and (6), and a few words of prose. Adding an activation or a loss touches the engine
and this registry only (tests/test_symbols.py checks that every engine key has an entry).

Templates take a notation `n` (ui.notation.Notation: `n.at(symbol, t)`, `n.entry(symbol, t, j)`,
`n.o`, `n.y`, `n.y_hat`, `n.a`, `n.h`) and the step t as a string ("t", "3", "T").
Notations themselves live in ui.notation.NOTATIONS (their letters); `notation_label` says how
the sidebar lists one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import rnn_core as rc


def power(symbol: str, exponent: str) -> str:
    """symbol^exponent; a symbol that already has a superscript, h^{(t)}, is put in brackets
    (h^{(t)}^{2} is a double superscript, which KaTeX refuses)."""
    base = rf"\big({symbol}\big)" if "^" in symbol else symbol
    return f"{base}^{{{exponent}}}"


@dataclass(frozen=True)
class ActivationSymbols:
    """What the app writes about one activation f (its maths: rnn_core.get_activation)."""

    label: str                                  # how a widget or a table names it: "ReLU"
    fprime: Callable[[str, str], str]           # f'(a) from (a, h), as rnn_core computes it
    note: str                                   # f'(a) = ... in plain words and symbols

    @staticmethod
    def latex(name: str) -> str:
        """LaTeX of f itself, e.g. \\tanh (the engine's, beside its maths)."""
        return rc.get_activation(name).latex


@dataclass(frozen=True)
class LossSymbols:
    """What the app writes about one output layer and loss (its maths: rnn_core.get_loss).

    The numeric templates fill eq. (4) and (6) with one step's numbers: `vec` prints a vector
    (LaTeX), `number` a scalar; o (O,) the outputs, y the target (a class index for softmax_ce,
    else (O,)), y_hat (O,) the prediction.
    """

    label: str                                  # "softmax + cross-entropy"
    output_function: str                        # LaTeX of the function o_t -> y-hat_t ("" for the identity)
    step_loss: Callable[..., str]               # (n, t) -> the right side of L_t = ...  (4)
    output_gradient: Callable[..., str]         # (n, t) -> dL_t/do_t  (6)
    gradient_words: str                         # "...together give the famously simple"
    step_loss_numbers: Callable[..., str]       # (vec, number, o, y, y_hat) -> L_t's numeric line
    gradient_numbers: Callable[..., str]        # (vec, o, y, y_hat) -> dL_t/do_t's numbers
    step_loss_note: Callable[..., str] = lambda n, t, y: ""   # (n, t, y) -> words under L_t
    gradient_meaning: str = ""                  # said after the formula, e.g. ": predicted minus ..."

    def y_hat(self, o: str) -> str:
        """The right side of y-hat_t = ... for the output o_t (LaTeX)."""
        return rf"{self.output_function}({o})" if self.output_function else o


ACTIVATIONS: dict[str, ActivationSymbols] = {
    "tanh": ActivationSymbols(
        "tanh", lambda a, h: f"1 - {power(h, '2')}", r"f'(a) = 1 - \tanh^2(a) = 1 - h^2"),
    "relu": ActivationSymbols(
        "ReLU", lambda a, h: rf"\mathbb{{1}}[{a} > 0] \quad (\text{{ReLU}}'(0) = 0)",
        r"f'(a) = 1 \text{ if } a > 0 \text{ else } 0"),
    "sigmoid": ActivationSymbols(
        "sigmoid", lambda a, h: rf"{h}\,(1 - {h})", r"f'(a) = \sigma(a)\,(1 - \sigma(a)) = h\,(1 - h)"),
    "identity": ActivationSymbols("identity", lambda a, h: "1", r"f'(a) = 1"),
}


def _bce_step_loss(n, t: str) -> str:
    y, p = n.entry(n.y, t, "j"), n.entry(n.y_hat, t, "j")
    return rf"-\sum_j \big[{y} \log {p} + (1 - {y}) \log(1 - {p})\big]"


def _bce_numbers(vec, number, o, y, y_hat) -> str:
    y, yh = vec(y), vec(y_hat)
    return (rf"-\mathbf{{1}}^{{\top}}\Big[{y} \odot \log {yh} + \big(1 - {y}\big) \odot "
            rf"\log\big(1 - {yh}\big)\Big]")


def _one_hot(y, size: int) -> np.ndarray:
    target = np.zeros(size)
    target[int(y)] = 1.0
    return target


LOSSES: dict[str, LossSymbols] = {
    "softmax_ce": LossSymbols(
        "softmax + cross-entropy", r"\operatorname{softmax}",
        lambda n, t: rf"-\log {n.entry(n.y_hat, t, n.at(n.y, t))}",
        lambda n, t: rf"{n.at(n.y_hat, t)} - \operatorname{{onehot}}({n.at(n.y, t)})",
        "softmax and cross-entropy together give the famously simple",
        step_loss_numbers=lambda vec, number, o, y, y_hat: rf"-\log {number(y_hat[int(y)])}",
        gradient_numbers=lambda vec, o, y, y_hat: rf"{vec(y_hat)} - {vec(_one_hot(y, len(o)))}",
        step_loss_note=lambda n, t, y: (f"The target class is ${n.at(n.y, t)} = {int(y)}$ (counting from 0): "
                                        "the loss is minus the log of the probability given to it."),
        gradient_meaning=": predicted minus wanted probabilities"),
    "mse": LossSymbols(
        "identity + MSE", "",
        lambda n, t: rf"\tfrac12 \lVert {n.at(n.o, t)} - {n.at(n.y, t)} \rVert^2",
        lambda n, t: rf"{n.at(n.o, t)} - {n.at(n.y, t)}",
        "half the squared error gives the residual",
        step_loss_numbers=lambda vec, number, o, y, y_hat: rf"\tfrac12 \left\lVert {vec(o)} - {vec(y)} \right\rVert^2",
        gradient_numbers=lambda vec, o, y, y_hat: rf"{vec(o)} - {vec(y)}"),
    "sigmoid_bce": LossSymbols(
        "sigmoid + binary cross-entropy", r"\sigma", _bce_step_loss,
        lambda n, t: rf"\sigma({n.at(n.o, t)}) - {n.at(n.y, t)}",
        "a sigmoid with binary cross-entropy gives",
        step_loss_numbers=_bce_numbers,
        gradient_numbers=lambda vec, o, y, y_hat: rf"{vec(y_hat)} - {vec(y)}",
        step_loss_note=lambda n, t, y: ("Computed from the logits as $\\sum_j \\operatorname{softplus}(o_j) - y_j o_j$, "
                                        "which never takes the log of 0.")),
}


def activation(name: str) -> ActivationSymbols:
    """The words of activation `name` (the engine's canonical name); ValueError if unknown."""
    return _entry(ACTIVATIONS, "activation", rc.get_activation(name).name)


def loss(name: str) -> LossSymbols:
    """The words of loss `name` (the engine's canonical name); ValueError if unknown."""
    return _entry(LOSSES, "loss", rc.get_loss(name).name)


def _entry(registry: dict, kind: str, canonical: str):
    try:
        return registry[canonical]
    except KeyError:
        raise ValueError(f"ui/symbols.py has no entry for the {kind} {canonical!r}: add one") from None


def activation_labels() -> dict[str, str]:
    """{engine name: display label} of every activation, in the engine's order."""
    return {name: activation(name).label for name in rc.ACTIVATIONS}


def loss_labels() -> dict[str, str]:
    """{engine name: display label} of every loss, in the engine's order."""
    return {name: loss(name).label for name in rc.LOSSES}


def notation_label(n) -> str:
    """How a notation is listed: its title and the texts that use it."""
    return f"{n.title} ({n.source})"
