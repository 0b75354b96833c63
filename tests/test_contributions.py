"""The double sum of eq. (9): pieces against their definition (finite differences of w_t L_t
with respect to a copy of the parameter used at step k only) and against bptt's gradients."""
import warnings

import numpy as np
import pytest

import rnn_core as rc
from rnn_core.contributions import MAX_PIECE_ENTRIES, contribution_pieces, contributions
from cases import make_case
from fd import assert_close, numerical_gradient

PARAMS = ("W_hh", "W_xh", "b_h")
ACTS = sorted(rc.ACTIVATIONS)


def term_loss_with_step_param(p, xs, ys, h0, *, activation, loss, weights, t, k, name, value):
    """w_t L_t (batch-averaged) where step k alone uses `value` for parameter `name`."""
    f, value_of = rc.get_activation(activation).f, rc.get_loss(loss).value
    h = np.zeros(xs.shape[1:-1] + (p.sizes[1],)) if h0 is None else h0
    for step in range(1, t + 1):
        q = p.replace(**{name: value}) if step == k else p
        h = f(xs[step - 1] @ q.W_xh.T + h @ q.W_hh.T + q.b_h)
    return weights[t - 1] * np.mean(value_of(h @ p.W_hy.T + p.b_y, ys[t - 1]))


def step_weights(mask, reduction, T):
    m = np.ones(T) if mask is None else np.asarray(mask, dtype=float)
    return m if reduction == "sum" else m / m.sum()


@pytest.mark.parametrize("name", PARAMS)
@pytest.mark.parametrize("activation,loss,reduction,batch,mask", [
    ("tanh", "mse", "sum", None, None),
    ("relu", "softmax_ce", "mean", 3, [1.0, 0.0, 2.0, 0.5]),
    ("sigmoid", "sigmoid_bce", "mean", None, [0.0, 1.0, 1.0, 3.0]),
])
def test_each_piece_is_the_gradient_of_w_t_L_t_through_step_k(name, activation, loss, reduction, batch, mask):
    T = 4
    p, xs, ys, h0 = make_case(T=T, B=batch, H=3, D=2, O=3, loss=loss, seed=31, h0=True)
    kw = dict(activation=activation, loss=loss, reduction=reduction, mask=mask, h0=h0)
    pieces = contribution_pieces(p, xs, ys, param=name, **kw)
    assert pieces.shape == (T, T) + getattr(p, name).shape
    w = step_weights(mask, reduction, T)
    for t in range(1, T + 1):
        for k in range(1, T + 1):
            if k > t:
                assert np.all(pieces[t - 1, k - 1] == 0.0)
                continue
            numeric = numerical_gradient(lambda v: term_loss_with_step_param(
                p, xs, ys, h0, activation=activation, loss=loss, weights=w, t=t, k=k, name=name, value=v),
                getattr(p, name))
            assert_close(pieces[t - 1, k - 1], numeric, rtol=1e-7, what=f"piece[{t},{k}] of {name}")


@pytest.mark.parametrize("name", PARAMS)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("reduction,batch,mask,with_h0", [
    ("sum", None, None, False),
    ("mean", None, [0.0, 1.0, 2.0, 0.0, 1.0, 0.5, 1.0], True),
    ("mean", 4, None, True),
    ("sum", 3, [1.0, 1.0, 0.0, 0.0, 1.0, 2.0, 1.0], False),
])
def test_pieces_sum_to_the_bptt_gradient(name, activation, reduction, batch, mask, with_h0):
    p, xs, ys, h0 = make_case(T=7, B=batch, loss="softmax_ce", seed=32, h0=with_h0)
    kw = dict(activation=activation, loss="softmax_ce", reduction=reduction, mask=mask, h0=h0)
    total = contribution_pieces(p, xs, ys, param=name, **kw).sum(axis=(0, 1))
    grad = getattr(rc.bptt(p, xs, ys, **kw).grads, name)
    assert np.max(np.abs(total - grad)) <= 1e-12 * np.max(np.abs(grad))


@pytest.mark.parametrize("name", PARAMS)
@pytest.mark.parametrize("batch", [None, 1, 2])
def test_contributions_are_the_frobenius_norms_of_the_pieces(name, batch):
    p, xs, ys, h0 = make_case(T=6, B=batch, loss="mse", seed=33, h0=True)
    kw = dict(activation="tanh", loss="mse", reduction="mean", h0=h0)
    pieces = contribution_pieces(p, xs, ys, param=name, **kw)
    norms = contributions(p, xs, ys, param=name, **kw)
    expected = np.sqrt((pieces.reshape(6, 6, -1) ** 2).sum(axis=-1))
    np.testing.assert_allclose(norms, expected, rtol=1e-13, atol=0)
    assert np.all(np.triu(norms, k=1) == 0.0) and np.all(norms[np.tril_indices(6)] > 0)


def test_a_mask_on_the_last_step_leaves_one_row_made_of_jacobians():
    """Only L_T counts: row T holds (f'(a_k) * (dh_T/dh_k)^T g_T) h_{k-1}^T, g_T = W_hy^T dL/do_T."""
    T = 6
    p, xs, ys, h0 = make_case(T=T, loss="mse", seed=34, h0=True)
    mask = np.eye(T)[-1]
    kw = dict(activation="tanh", loss="mse", mask=mask, h0=h0)
    norms = contributions(p, xs, ys, **kw)
    assert np.all(norms[:-1] == 0.0) and np.all(norms[-1] > 0)
    res = rc.bptt(p, xs, ys, **kw)
    J = rc.jacobians_to_last(p, xs, activation="tanh", h0=h0)
    g_T = res.dL_dh_direct[-1]
    h_prev = np.concatenate([h0[None], res.trace.h[:-1]])
    fp = 1.0 - res.trace.h ** 2
    for k in range(1, T + 1):
        expected = np.outer(fp[k - 1] * (J[k - 1].T @ g_T), h_prev[k - 1])
        np.testing.assert_allclose(norms[-1, k - 1], np.linalg.norm(expected), rtol=1e-12)
    pieces = contribution_pieces(p, xs, ys, **kw)
    np.testing.assert_allclose(pieces[-1].sum(axis=0), res.grads.W_hh, rtol=1e-12)


def test_many_to_one_row_fades_like_the_jacobian_norms_for_a_contracting_linear_rnn():
    """Identity activation with W_hh = 0.5 I: piece[T, k] shrinks exactly by 1/2 per step of
    distance relative to the factor ||h_{k-1}||, since (dh_T/dh_k)^T = 0.5^(T-k) I."""
    T, H = 8, 3
    p, xs, ys, h0 = make_case(T=T, H=H, loss="mse", seed=35, h0=True)
    p = p.replace(W_hh=0.5 * np.eye(H))
    kw = dict(activation="identity", loss="mse", mask=np.eye(T)[-1], h0=h0)
    row = contributions(p, xs, ys, **kw)[-1]
    h_prev = np.concatenate([h0[None], rc.forward(p, xs, activation="identity", h0=h0).h[:-1]])
    per_state = row / np.linalg.norm(h_prev, axis=1)
    np.testing.assert_allclose(per_state[:-1] / per_state[1:], 0.5, rtol=1e-12)


def test_size_guard_and_bad_param():
    p, xs, ys, _ = make_case(T=5, H=4, seed=36)
    kw = dict(activation="tanh", loss="mse")
    with pytest.raises(ValueError, match=r"would hold 400 entries, more than max_entries=399"):
        contribution_pieces(p, xs, ys, max_entries=399, **kw)
    assert contribution_pieces(p, xs, ys, max_entries=400, **kw).shape == (5, 5, 4, 4)
    assert MAX_PIECE_ENTRIES == 2 ** 24
    for fn in (contributions, contribution_pieces):
        with pytest.raises(ValueError, match=r"param must be one of \['W_hh', 'W_xh', 'b_h'\].*got 'W_hy'"):
            fn(p, xs, ys, param="W_hy", **kw)
    with pytest.raises(ValueError, match=r"reduction must be 'sum' or 'mean'"):
        contributions(p, xs, ys, reduction="max", **kw)
    with pytest.raises(ValueError, match=r"ys must have shape \(5, 3\)"):
        contributions(p, xs, ys[:-1], **kw)


def test_overflow_gives_non_finite_entries_without_a_warning():
    T = 300
    p = rc.init_params(3, 8, 2, seed=1, spectral_radius=20.0)
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((T, 3)), rng.standard_normal((T, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norms = contributions(p, xs, ys, activation="relu", loss="mse")
    assert rc.bptt(p, xs, ys, activation="relu", loss="mse").overflow
    assert not np.all(np.isfinite(np.tril(norms)))
