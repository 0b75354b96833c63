"""Invariants of the engine swept by hypothesis over random small models and data."""
import numpy as np
from hypothesis import assume, given, settings, strategies as st

import rnn_core as rc
from rnn_core.contributions import contribution_pieces
from cases import make_case

SETTINGS = settings(max_examples=30, deadline=None)
ACTS = sorted(rc.ACTIVATIONS)


@st.composite
def cases(draw, batch=True):
    """(params, xs, ys, options) with T, H, B, activation, loss, reduction, mask and h0 drawn."""
    T, H = draw(st.integers(1, 7)), draw(st.integers(1, 5))
    B = draw(st.sampled_from([None, 1, 3])) if batch else None
    loss = draw(st.sampled_from(sorted(rc.LOSSES)))
    p, xs, ys, h0 = make_case(T=T, B=B, H=H, loss=loss, seed=draw(st.integers(0, 10_000)),
                              h0=draw(st.booleans()))
    reduction = draw(st.sampled_from(["sum", "mean"]))
    mask = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=T, max_size=T))
    if reduction == "mean" and sum(mask) == 0:
        mask[-1] = 1.0
    opts = dict(activation=draw(st.sampled_from(ACTS)), loss=loss, reduction=reduction, mask=mask, h0=h0)
    return p, xs, ys, opts


@SETTINGS
@given(case=cases(), name=st.sampled_from(["W_hh", "W_xh", "b_h"]))
def test_the_double_sum_gives_back_the_gradient(case, name):
    p, xs, ys, opts = case
    total = contribution_pieces(p, xs, ys, param=name, **opts).sum(axis=(0, 1))
    grad = getattr(rc.bptt(p, xs, ys, **opts).grads, name)
    assert np.max(np.abs(total - grad), initial=0.0) <= 1e-12 * max(np.max(np.abs(grad)), 1e-300)


@SETTINGS
@given(case=cases(batch=False))
def test_dL_dh_is_the_sum_of_direct_parts_carried_back_by_jacobians(case):
    """dL/dh_k = sum_{t >= k} (dh_t/dh_k)^T g_t, g_t the direct part of step t (eqs. (7)-(9))."""
    p, xs, ys, opts = case
    res = rc.bptt(p, xs, ys, **opts)
    T = len(xs)
    expected = np.zeros_like(res.dL_dh)
    for t in range(1, T + 1):
        J = rc.jacobians_to_last(p, xs[:t], activation=opts["activation"], h0=opts["h0"])  # dh_t/dh_k
        expected[:t] += np.einsum("kij,i->kj", J, res.dL_dh_direct[t - 1])
    scale = max(np.max(np.abs(expected)), 1.0)
    assert np.max(np.abs(res.dL_dh - expected)) <= 1e-12 * scale


@SETTINGS
@given(case=cases(), extra=st.integers(0, 5), kind=st.sampled_from(["k_step", "chunked"]))
def test_a_window_at_least_T_long_changes_nothing(case, extra, kind):
    p, xs, ys, opts = case
    full = rc.bptt(p, xs, ys, **opts)
    trunc = rc.bptt(p, xs, ys, truncation=(kind, len(xs) + extra), **opts)
    for name, g in full.grads.items():
        np.testing.assert_allclose(getattr(trunc.grads, name), g, rtol=1e-14, atol=0)
    np.testing.assert_allclose(trunc.dL_dh0, full.dL_dh0, rtol=1e-14, atol=0)


@SETTINGS
@given(case=cases(), k=st.integers(1, 7))
def test_truncation_only_removes_paths_from_the_indirect_part(case, k):
    """The direct part of dL/dh_t and the gradients of W_hy, b_y never depend on truncation."""
    p, xs, ys, opts = case
    full = rc.bptt(p, xs, ys, **opts)
    for truncation in (("k_step", k), ("chunked", k)):
        trunc = rc.bptt(p, xs, ys, truncation=truncation, **opts)
        np.testing.assert_array_equal(trunc.dL_dh_direct, full.dL_dh_direct)
        np.testing.assert_array_equal(trunc.grads.W_hy, full.grads.W_hy)
        np.testing.assert_array_equal(trunc.grads.b_y, full.grads.b_y)


@SETTINGS
@given(case=cases(batch=False), ord=st.sampled_from(["fro", 2]))
def test_pairwise_norms_are_submultiplicative_along_the_chain(case, ord):
    """||dh_t/dh_k|| <= ||dh_t/dh_m|| ||dh_m/dh_k|| for k <= m <= t."""
    p, xs, _, opts = case
    P = rc.pairwise_jacobian_norms(p, xs, activation=opts["activation"], h0=opts["h0"], ord=ord)
    T = len(xs)
    for t in range(T):
        for m in range(t + 1):
            assert np.all(P[t, : m + 1] <= P[t, m] * P[m, : m + 1] * (1 + 1e-10) + 1e-300)


@SETTINGS
@given(radius=st.floats(0.3, 1.7), T=st.integers(2, 40), H=st.integers(1, 6), seed=st.integers(0, 1000))
def test_a_linear_rnn_with_scaled_orthogonal_weights_decays_by_its_radius(radius, T, H, seed):
    """W_hh = r Q (Q orthogonal), identity activation: ||dh_T/dh_k||_F = sqrt(H) r^(T-k) exactly,
    so the fitted factor is r, the bound is tight and the horizon is read off the power law."""
    crossing = np.log(0.01) / np.log(radius) if radius < 1 else np.inf   # where r^d = 0.01
    assume(abs(crossing - round(crossing)) > 1e-6 if radius < 1 else True)  # rounding would decide
    assume(abs(abs(np.log(radius)) - np.log(1.02)) > 1e-9)                   # so would it here
    p = rc.init_params(2, H, 2, seed=seed, init="orthogonal", spectral_radius=radius)
    xs = np.random.default_rng(seed).standard_normal((T, 2))
    norms = rc.jacobian_norms_to_last(p, xs, activation="identity")
    distance = np.arange(T - 1, -1, -1)
    np.testing.assert_allclose(norms, np.sqrt(H) * radius ** distance, rtol=1e-10)
    np.testing.assert_allclose(rc.jacobian_norms_to_last(p, xs, activation="identity", ord=2),
                               rc.jacobian_bound(p, "identity", T), rtol=1e-10)
    assert np.isclose(rc.fit_decay_factor(norms), radius, rtol=1e-10)
    expected_horizon = T - 1 if radius >= 1 else min(T - 1, int(np.floor(crossing)))
    assert rc.classify_factor(rc.fit_decay_factor(norms))[0] == (
        "stable" if abs(np.log(radius)) <= np.log(1.02) else "vanishing" if radius < 1 else "exploding")
    assert rc.memory_horizon(norms, 0.01) == expected_horizon


@SETTINGS
@given(norms=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=30),
       low=st.floats(1e-6, 1.0), high=st.floats(1e-6, 1.0))
def test_memory_horizon_shrinks_as_the_threshold_grows(norms, low, high):
    norms = np.array(norms + [1.0])
    low, high = min(low, high), max(low, high)
    assert rc.memory_horizon(norms, high) <= rc.memory_horizon(norms, low)


@settings(max_examples=10, deadline=None)
@given(case=cases())
def test_gradcheck_passes_on_random_small_models(case):
    p, xs, ys, opts = case
    report = rc.gradcheck(p, xs, ys, max_entries=6, **opts)
    assert report.passed, [(r.name, r.max_abs_error, r.max_rel_error) for r in report.rows]
