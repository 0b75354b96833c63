"""Truncated BPTT on gated cells acts on the whole state s_t ([h; c] for the LSTM)."""
import itertools

import numpy as np
import pytest

import rnn_core as rc
from cases import make_cell_case

CELLS = ["lstm", "gru"]


def flat(res):
    parts = [g.ravel() for _, g in res.grads.items()] + [res.dL_dh.ravel(), res.dL_dh0.ravel()]
    if res.dL_dc is not None:
        parts += [res.dL_dc.ravel(), res.dL_dc0.ravel()]
    return np.concatenate(parts)


def case(cell, T=5, B=2, seed=0):
    p, xs, ys, h0, c0 = make_cell_case(cell, T=T, B=B, seed=seed, h0=True, c0=cell == "lstm")
    kw = dict(loss="mse", reduction="mean", h0=h0, **({"c0": c0} if cell == "lstm" else {}))
    return p, xs, ys, kw


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("T", [1, 4])
def test_k_at_least_T_and_xi_all_ones_are_exact_bptt(cell, T):
    p, xs, ys, kw = case(cell, T=T)
    full = flat(rc.bptt(p, xs, ys, **kw))
    for trunc in [("k_step", T), ("k_step", T + 2), ("chunked", T), ("chunked", T + 5),
                  ("randomized", np.ones(T)), ("full",)]:
        np.testing.assert_allclose(flat(rc.bptt(p, xs, ys, truncation=trunc, **kw)), full, rtol=1e-12, atol=1e-15,
                                   err_msg=str(trunc))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_step_is_each_loss_term_with_the_state_k_steps_back_detached(cell, k):
    """L_t's gradient through k steps only (t, ..., t-k+1) = its full gradient with the flow
    from s_{t-k+1} into s_{t-k} cut, through the whole state: summed over t, the k-step
    parameter gradient. s_0 receives L_t's gradient, uncut, exactly when t <= k."""
    T = 5
    p, xs, ys, kw = case(cell, T=T, seed=k)
    kw["reduction"] = "sum"
    got = rc.bptt(p, xs, ys, truncation=("k_step", k), **kw)
    grads = {n: np.zeros_like(g) for n, g in got.grads.items()}
    dS0 = [np.zeros_like(got.dL_dh0), np.zeros_like(got.dL_dc0) if cell == "lstm" else 0.0]
    for t in range(1, T + 1):
        mask = np.eye(T)[t - 1]
        xi = np.ones(T)
        if t - k >= 0:
            xi[t - k] = 0.0                          # step t-k+1 passes nothing back into s_{t-k}
        res = rc.bptt(p, xs, ys, **{**kw, "mask": mask}, truncation=("randomized", xi))
        for n, g in res.grads.items():
            grads[n] += g
        if t <= k:
            whole = rc.bptt(p, xs, ys, **{**kw, "mask": mask})
            dS0[0] += whole.dL_dh0
            if cell == "lstm":
                dS0[1] += whole.dL_dc0
    for n, g in got.grads.items():
        np.testing.assert_allclose(g, grads[n], rtol=1e-12, atol=1e-15, err_msg=n)
    np.testing.assert_allclose(got.dL_dh0, dS0[0], rtol=1e-12, atol=1e-15)
    if cell == "lstm":
        np.testing.assert_allclose(got.dL_dc0, dS0[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", CELLS)
def test_chunked_detaches_both_halves_of_the_state_at_each_boundary(cell):
    T, k = 6, 2
    p, xs, ys, kw = case(cell, T=T)
    xi = np.ones(T)
    xi[k::k] = 0.0
    a = rc.bptt(p, xs, ys, truncation=("chunked", k), **kw)
    b = rc.bptt(p, xs, ys, truncation=("randomized", xi), **kw)
    np.testing.assert_array_equal(flat(a), flat(b))
    assert not np.any(a.dL_dh_indirect[k - 1]) and np.any(a.dL_dh_indirect[k - 2])
    if cell == "lstm":
        assert not np.any(a.dL_dc_indirect[k - 1]) and np.any(a.dL_dc_indirect[k - 2])


@pytest.mark.parametrize("cell", CELLS)
def test_randomized_truncation_is_unbiased(cell):
    """Exactly (every xi pattern weighted by its probability) and by a fixed-seed average."""
    T, prob = 4, 0.6
    p, xs, ys, kw = case(cell, T=T, B=1)
    full = flat(rc.bptt(p, xs, ys, **kw))
    expected = np.zeros_like(full)
    for keep in itertools.product([0, 1], repeat=T):
        keep = np.array(keep)
        weight = np.prod(np.where(keep == 1, prob, 1 - prob))
        expected += weight * flat(rc.bptt(p, xs, ys, truncation=("randomized", keep / prob), **kw))
    np.testing.assert_allclose(expected, full, rtol=1e-10, atol=1e-13)
    draws = np.mean([flat(rc.bptt(p, xs, ys, truncation=("randomized", prob, seed), **kw)) for seed in range(600)],
                    axis=0)
    assert np.linalg.norm(draws - full) <= 0.1 * np.linalg.norm(full)
