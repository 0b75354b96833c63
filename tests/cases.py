"""Small random models and data for the engine tests (a module of its own, not conftest.py:
tests/e2e has a conftest.py too, and `from conftest import` would find whichever came first)."""
import numpy as np

import rnn_core as rc


def make_case(*, T=5, B=None, D=3, H=4, O=3, loss="mse", seed=0, bias=0.1, h0=False):
    """A small random model and data: (params, xs, ys, h0 or None)."""
    rng = np.random.default_rng(seed)
    p = rc.init_params(D, H, O, seed=seed, scale=0.8)
    p = p.replace(b_h=bias * rng.standard_normal(H), b_y=bias * rng.standard_normal(O))
    lead = (T,) if B is None else (T, B)
    xs = rng.standard_normal(lead + (D,))
    ys = draw_targets(rng, loss, lead, O)
    h = 0.5 * rng.standard_normal(lead[1:] + (H,)) if h0 else None
    return p, xs, ys, h


def draw_targets(rng, loss, lead, O):
    """Random targets for `loss` with leading shape `lead`: class indices, probabilities or reals."""
    if loss == "softmax_ce":
        return rng.integers(0, O, lead)
    if loss == "sigmoid_bce":
        return rng.random(lead + (O,))
    return rng.standard_normal(lead + (O,))


def make_cell_case(cell, *, T=4, B=None, D=2, H=3, O=2, loss="mse", seed=0, h0=False, c0=False, spread=0.5):
    """A small random LSTM, GRU or vanilla model and data: (params, xs, ys, h0 or None, c0 or None).

    Every parameter (biases included) gets a N(0, spread^2) nudge, so no gate sits at a
    symmetric point and every entry of every gradient is exercised.
    """
    rng = np.random.default_rng(seed)
    p = rc.init_params(D, H, O, seed=seed, cell=cell)
    p = p.map(lambda a: a + spread * rng.standard_normal(a.shape))
    lead = (T,) if B is None else (T, B)
    xs = rng.standard_normal(lead + (D,))
    ys = draw_targets(rng, loss, lead, O)
    h = 0.5 * rng.standard_normal(lead[1:] + (H,)) if h0 else None
    c = 0.5 * rng.standard_normal(lead[1:] + (H,)) if c0 else None
    return p, xs, ys, h, c
