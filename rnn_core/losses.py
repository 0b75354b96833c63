"""Output layers and their losses: value L_t = loss(o_t, y_t) and gradient dL_t/do_t.

Every loss is summed over output units (eq. (4)); reductions over time and batch happen in
`bptt`. Shapes: logits `o (..., O)`; targets `y (...)` integer classes for softmax_ce,
`y (..., O)` reals for mse and sigmoid_bce.

- softmax_ce:  L_t = logsumexp(o_t) - o_t[y_t],          dL_t/do_t = softmax(o_t) - onehot(y_t)
- mse:         L_t = 1/2 ||o_t - y_t||^2,                dL_t/do_t = o_t - y_t
- sigmoid_bce: L_t = sum_j softplus(o_tj) - y_tj o_tj,   dL_t/do_t = sigmoid(o_t) - y_t
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .activations import _sigmoid

Array = np.ndarray


@dataclass(frozen=True)
class Loss:
    name: str
    value: Callable[[Array, Array], Array]   # (..., O), y -> (...)
    grad: Callable[[Array, Array], Array]    # (..., O), y -> (..., O)
    # (o, y, out) -> value; writes grad into out (..., O): one pass, no large temporaries
    value_and_grad: Callable[[Array, Array, Array], Array]
    predict: Callable[[Array], Array]        # o -> y_hat (probabilities or values)
    integer_targets: bool
    latex: str                               # L_t as the app prints it


def _log_softmax(o: Array) -> Array:
    shifted = o - o.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _softmax(o: Array) -> Array:
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _take_class(values: Array, y: Array) -> Array:
    return np.take_along_axis(values, y[..., None], axis=-1)[..., 0]


def _softmax_ce_value(o: Array, y: Array) -> Array:
    return -_take_class(_log_softmax(o), y)


def _softmax_ce_grad(o: Array, y: Array) -> Array:
    g = _softmax(o)
    np.put_along_axis(g, y[..., None], _take_class(g, y)[..., None] - 1.0, axis=-1)
    return g


def _softmax_ce_value_and_grad(o: Array, y: Array, out: Array) -> Array:
    """logsumexp(o) - o[y] and softmax(o) - onehot(y), from one shift and one exp."""
    np.subtract(o, o.max(axis=-1, keepdims=True), out=out)
    picked = _take_class(out, y)
    np.exp(out, out=out)
    total = out.sum(axis=-1, keepdims=True)
    out /= total
    np.put_along_axis(out, y[..., None], _take_class(out, y)[..., None] - 1.0, axis=-1)
    return np.log(total[..., 0]) - picked


def _mse_value_and_grad(o: Array, y: Array, out: Array) -> Array:
    np.subtract(o, y, out=out)
    return 0.5 * (out * out).sum(axis=-1)


def _sigmoid_bce_value(o: Array, y: Array) -> Array:
    return (_softplus(o) - y * o).sum(axis=-1)


def _sigmoid_bce_value_and_grad(o: Array, y: Array, out: Array) -> Array:
    np.subtract(_sigmoid(o), y, out=out)
    return _sigmoid_bce_value(o, y)


def _softplus(o: Array) -> Array:
    return np.maximum(o, 0.0) + np.log1p(np.exp(-np.abs(o)))


LOSSES: dict[str, Loss] = {
    l.name: l
    for l in (
        Loss("softmax_ce", _softmax_ce_value, _softmax_ce_grad, _softmax_ce_value_and_grad, _softmax, True,
             r"L_t = -\log \hat y_{t,y_t},\ \hat y_t = \mathrm{softmax}(o_t)"),
        Loss("mse", lambda o, y: 0.5 * ((o - y) ** 2).sum(axis=-1), lambda o, y: o - y,
             _mse_value_and_grad, lambda o: o.copy(), False, r"L_t = \tfrac12 \lVert o_t - y_t \rVert^2"),
        Loss("sigmoid_bce", _sigmoid_bce_value, lambda o, y: _sigmoid(o) - y,
             _sigmoid_bce_value_and_grad, _sigmoid, False,
             r"L_t = -\sum_j y_{tj}\log \hat y_{tj} + (1-y_{tj})\log(1-\hat y_{tj}),\ \hat y_t = \sigma(o_t)"),
    )
}


def get_loss(name: str) -> Loss:
    """The registered loss called `name`; ValueError naming the choices otherwise."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}") from None
