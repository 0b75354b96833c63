"""Output layers and losses on their own: gradients by central differences, the fused
value-and-gradient that bptt uses against the separate functions, stability at huge logits."""
import numpy as np
import pytest

import rnn_core as rc
from fd import assert_close, numerical_gradient

LOSSES = sorted(rc.LOSSES)


def logits_and_targets(loss: str, scale: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    o = scale * rng.standard_normal((4, 3, 5))                # (T, B, O)
    if loss == "softmax_ce":
        y = rng.integers(0, 5, (4, 3))
    elif loss == "sigmoid_bce":
        y = rng.random((4, 3, 5))
    else:
        y = rng.standard_normal((4, 3, 5))
    return o, y


@pytest.mark.parametrize("loss", LOSSES)
def test_grad_is_the_derivative_of_the_summed_value(loss):
    out = rc.get_loss(loss)
    o, y = logits_and_targets(loss)
    numeric = numerical_gradient(lambda v: out.value(v, y).sum(), o)
    assert_close(out.grad(o, y), numeric, what=f"{loss} dL/do")


@pytest.mark.parametrize("scale", [1.0, 800.0])
@pytest.mark.parametrize("loss", LOSSES)
def test_value_and_grad_equals_value_and_grad_apart(loss, scale):
    out = rc.get_loss(loss)
    o, y = logits_and_targets(loss, scale)
    grad = np.full_like(o, np.nan)
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow is fine
        value = out.value_and_grad(o, y, grad)
    np.testing.assert_allclose(value, out.value(o, y), rtol=1e-13)
    np.testing.assert_allclose(grad, out.grad(o, y), rtol=1e-13, atol=1e-15)
    assert np.isfinite(value).all() and np.isfinite(grad).all()


def test_softmax_ce_is_stable_where_exp_would_overflow():
    out = rc.get_loss("softmax_ce")
    o = np.array([[1000.0, 0.0, -1000.0]])
    grad = np.empty_like(o)
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow is fine
        value = out.value_and_grad(o, np.array([1]), grad)
    np.testing.assert_allclose(value, [1000.0])               # logsumexp = 1000, o[y] = 0
    np.testing.assert_allclose(grad, [[1.0, -1.0, 0.0]], atol=1e-300)
