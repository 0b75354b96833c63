"""Hidden-state nonlinearities f, each beside its derivative f' and its bound gamma.

Eq. (2): h_t = f(a_t). The Jacobian factor of one step is dh_t/dh_{t-1} = diag(f'(a_t)) W_hh
(eq. (8)), and gamma = sup |f'| gives the bound ||dh_T/dh_k|| <= (gamma sigma_max(W_hh))^(T-k).

`df(a, h)` receives both the pre-activation and the state, so that tanh' and sigmoid' are
computed from the cached output (1 - h^2, h (1 - h)) as in min-char-rnn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    name: str
    f: Callable[[Array], Array]
    df: Callable[[Array, Array], Array]
    gamma: float
    latex: str  # the function as the app prints it, e.g. r"\tanh"


def _sigmoid(a: Array) -> Array:
    # exp of a non-positive number never overflows: pick the stable branch per sign.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", np.tanh, lambda a, h: 1.0 - h * h, 1.0, r"\tanh"),
        # ReLU'(0) = 0 by convention (DESIGN.md).
        Activation("relu", lambda a: np.maximum(a, 0.0), lambda a, h: (a > 0).astype(a.dtype), 1.0,
                   r"\mathrm{ReLU}"),
        Activation("sigmoid", _sigmoid, lambda a, h: h * (1.0 - h), 0.25, r"\sigma"),
        Activation("identity", lambda a: a.copy(), lambda a, h: np.ones_like(a), 1.0, r"\mathrm{id}"),
    )
}


def get_activation(name: str) -> Activation:
    """The registered activation called `name`; ValueError naming the choices otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None
