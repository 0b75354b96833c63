"""Jacobians dh_t/dh_k (eq. (8)) against finite differences and their algebraic identities."""
import functools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rnn_core as rc
from rnn_core import jacobians as jac
from cases import make_case
from fd import assert_close, numerical_gradient

ACTS = sorted(rc.ACTIVATIONS)


def final_state_with_shift(p, xs, activation, h0, k, shift):
    """h_T of a forward pass written out by hand, with `shift` added to h_k (k = 1..T)."""
    f = rc.get_activation(activation).f
    h = np.zeros(p.sizes[1]) if h0 is None else h0
    for t in range(1, len(xs) + 1):
        h = f(p.W_xh @ xs[t - 1] + p.W_hh @ h + p.b_h)
        if t == k:
            h = h + shift
    return h


def numerical_jacobian_to_last(p, xs, activation, h0, k):
    """d h_T / d h_k by central differences: row r is the gradient of h_T[r]."""
    H = p.sizes[1]
    return np.stack([numerical_gradient(
        lambda s: final_state_with_shift(p, xs, activation, h0, k, s)[r], np.zeros(H)) for r in range(H)])


@pytest.mark.parametrize("activation", ACTS)
def test_jacobians_to_last_match_finite_differences(activation):
    T = 5
    p, xs, _, h0 = make_case(T=T, H=4, seed=21, h0=True)
    J = jac.jacobians_to_last(p, xs, activation=activation, h0=h0)
    assert J.shape == (T, 4, 4)
    for k in range(1, T + 1):
        assert_close(J[k - 1], numerical_jacobian_to_last(p, xs, activation, h0, k), rtol=1e-7,
                     what=f"dh_T/dh_{k} ({activation})")


def test_last_jacobian_is_exactly_the_identity():
    p, xs, _, _ = make_case(T=6, H=5, seed=2)
    J = jac.jacobians_to_last(p, xs, activation="tanh")
    assert np.array_equal(J[-1], np.eye(5))


def test_identity_activation_gives_matrix_powers_of_W_hh():
    T = 7
    p, xs, _, _ = make_case(T=T, H=4, seed=3)
    J = jac.jacobians_to_last(p, xs, activation="identity")
    for k in range(1, T + 1):
        assert_close(J[k - 1], np.linalg.matrix_power(p.W_hh, T - k), rtol=1e-13, atol=0,
                     what=f"W_hh^{T - k}")


def test_asymmetric_W_hh_fixes_the_row_column_convention():
    """d h_T[r] / d h_k[c] with a strictly lower-triangular W_hh: h_1 feeds h_2 only downward."""
    p, xs, _, _ = make_case(T=2, H=3, seed=4)
    p = p.replace(W_hh=np.tril(np.full((3, 3), 0.5), k=-1))
    J = jac.jacobians_to_last(p, xs, activation="identity")
    assert np.array_equal(J[0], p.W_hh)      # entry [1, 0] = d h_2[1] / d h_1[0] = 0.5
    assert J[0][1, 0] == 0.5 and J[0][0, 1] == 0.0


@pytest.mark.parametrize("activation", ACTS)
def test_jacobians_are_products_of_step_jacobians(activation):
    T = 6
    p, xs, _, h0 = make_case(T=T, H=4, seed=5, h0=True)
    steps = jac.step_jacobians(p, xs, activation=activation, h0=h0)   # steps[t-1] = dh_t/dh_{t-1}
    J = jac.jacobians_to_last(p, xs, activation=activation, h0=h0)
    trace = rc.forward(p, xs, activation=activation, h0=h0)
    df = rc.get_activation(activation).df(trace.a, trace.h)
    for t in range(1, T + 1):
        assert_close(steps[t - 1], np.diag(df[t - 1]) @ p.W_hh, rtol=1e-14, atol=0, what=f"step {t}")
    for k in range(1, T):
        product = functools.reduce(np.matmul, [steps[i - 1] for i in range(T, k, -1)])
        assert_close(J[k - 1], product, rtol=1e-13, atol=0, what=f"product for k={k}")


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("ord", ["fro", 2])
def test_streamed_norms_equal_norms_of_the_full_jacobians(activation, ord):
    """T = 70 crosses two block boundaries of the spectral-norm batching (blocks of 32)."""
    p, xs, _, _ = make_case(T=70, H=6, seed=6)
    # a positive bias keeps enough ReLU units alive that no product is exactly 0
    p = p.replace(W_hh=rc.scale_to_spectral_radius(p.W_hh, 1.2), b_h=np.full(6, 0.5))
    J = jac.jacobians_to_last(p, xs, activation=activation)
    norms = jac.jacobian_norms_to_last(p, xs, activation=activation, ord=ord)
    expected = np.linalg.norm(J, ord=ord, axis=(1, 2))
    assert np.all(expected > 0)
    np.testing.assert_allclose(norms, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("ord", ["fro", 2])
def test_pairwise_norms_rows_equal_norms_of_shorter_sequences(ord):
    """Row t is ||dh_t/dh_k|| for k <= t, i.e. the curve of the prefix xs[:t]."""
    T, H = 9, 4
    p, xs, _, h0 = make_case(T=T, H=H, seed=8, h0=True)
    P = jac.pairwise_jacobian_norms(p, xs, activation="tanh", h0=h0, ord=ord)
    assert P.shape == (T, T)
    assert np.all(np.triu(P, k=1) == 0.0)
    np.testing.assert_allclose(np.diag(P), np.sqrt(H) if ord == "fro" else 1.0, rtol=1e-15)
    for t in range(1, T + 1):
        row = jac.jacobian_norms_to_last(p, xs[:t], activation="tanh", h0=h0, ord=ord)
        np.testing.assert_allclose(P[t - 1, :t], row, rtol=1e-12, atol=0)
    last = np.linalg.norm(jac.jacobians_to_last(p, xs, activation="tanh", h0=h0), ord=ord, axis=(1, 2))
    np.testing.assert_allclose(P[-1], last, rtol=1e-12, atol=0)


@pytest.mark.parametrize("T,H", [(1, 1), (1, 3), (5, 1)])
def test_edge_sizes(T, H):
    p, xs, _, _ = make_case(T=T, H=H, seed=9)
    J = jac.jacobians_to_last(p, xs, activation="sigmoid")
    assert J.shape == (T, H, H)
    assert np.array_equal(J[-1], np.eye(H))
    for ord in ("fro", 2):
        np.testing.assert_allclose(jac.jacobian_norms_to_last(p, xs, activation="sigmoid", ord=ord),
                                   np.linalg.norm(J, ord=ord, axis=(1, 2)), rtol=1e-12)
        assert jac.pairwise_jacobian_norms(p, xs, activation="sigmoid", ord=ord).shape == (T, T)


def test_dead_relu_step_makes_every_jacobian_through_it_exactly_zero():
    T = 5
    p, xs, _, _ = make_case(T=T, H=3, seed=10)
    p = p.replace(W_hh=0.3 * np.eye(3), b_h=np.full(3, -10.0))   # a_t < 0: every unit dead
    J = jac.jacobians_to_last(p, xs, activation="relu")
    assert np.all(J[:-1] == 0.0)
    stats = jac.step_factor_stats(p, xs, activation="relu")
    assert np.all(stats.saturated_fraction == 1.0) and np.all(stats.factor_norm == 0.0)


def test_step_factor_stats_match_their_definitions():
    T, H = 8, 5
    p, xs, _, _ = make_case(T=T, H=H, seed=11)
    p = p.replace(b_h=np.array([3.0, -3.0, 0.0, 0.1, 5.0]))   # some sigmoid units saturate
    stats = jac.step_factor_stats(p, xs, activation="sigmoid")
    trace = rc.forward(p, xs, activation="sigmoid")
    df = trace.h * (1 - trace.h)
    assert stats.gamma == 0.25 and stats.overflow_step is None
    np.testing.assert_allclose(stats.W_hh_norm, np.linalg.norm(p.W_hh, 2), rtol=1e-13)
    np.testing.assert_allclose(stats.fprime_max, df.max(axis=1), rtol=1e-15)
    np.testing.assert_allclose(stats.fprime_mean, df.mean(axis=1), rtol=1e-14)
    np.testing.assert_array_equal(stats.saturated_fraction, (df < 0.05 * 0.25).mean(axis=1))
    assert 0 < stats.saturated_fraction.max() < 1
    expected = [np.linalg.norm(np.diag(df[t]) @ p.W_hh, 2) for t in range(T)]
    np.testing.assert_allclose(stats.factor_norm, expected, rtol=1e-12)
    assert np.all(stats.factor_norm <= stats.gamma * stats.W_hh_norm * (1 + 1e-12))


# ------------------------------------------------------------------------- the bound, eq. (11)
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), T=st.integers(1, 25), H=st.integers(1, 6),
       activation=st.sampled_from(ACTS), radius=st.floats(0.1, 3.0))
def test_norms_never_exceed_the_bound(seed, T, H, activation, radius):
    p, xs, _, h0 = make_case(T=T, H=H, seed=seed, h0=True)
    p = p.replace(W_hh=rc.scale_to_spectral_radius(p.W_hh, radius))
    bound = rc.jacobian_bound(p, activation, T)
    two = jac.jacobian_norms_to_last(p, xs, activation=activation, h0=h0, ord=2)
    fro = jac.jacobian_norms_to_last(p, xs, activation=activation, h0=h0, ord="fro")
    assert np.all(two <= bound * (1 + 1e-10)), (two, bound)
    assert np.all(fro <= np.sqrt(H) * bound * (1 + 1e-10))
    assert np.all(two <= fro * (1 + 1e-12))


# ------------------------------------------------------------------------------- bad input
def test_a_batch_is_refused_with_the_argument_named():
    p, xs, _, _ = make_case(T=4, B=2, seed=12)
    for fn in (jac.jacobians_to_last, jac.jacobian_norms_to_last, jac.pairwise_jacobian_norms,
               jac.step_jacobians, jac.step_factor_stats):
        with pytest.raises(ValueError, match=r"xs must be one sequence .*got a batch of shape \(4, 2, 3\)"):
            fn(p, xs, activation="tanh")


@pytest.mark.parametrize("kwargs,match", [
    (dict(activation="softplus"), r"activation must be one of .*'softplus'"),
    (dict(activation="tanh", h0=np.zeros(5)), r"h0 must have shape \(4,\), got \(5,\)"),
    (dict(activation="tanh", ord=1), r"ord must be 'fro' or 2, got 1"),
    (dict(activation="tanh", ord="nuc"), r"ord must be 'fro' or 2, got 'nuc'"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    p, xs, _, _ = make_case(T=4, H=4, seed=13)
    with pytest.raises(ValueError, match=match):
        jac.jacobian_norms_to_last(p, xs, **kwargs)


def test_wrong_xs_width_and_nan_weights_raise_value_error():
    p, xs, _, _ = make_case(T=4, D=3, seed=14)
    with pytest.raises(ValueError, match=r"xs must have shape \(T, D=3\)"):
        jac.jacobians_to_last(p, xs[:, :2], activation="tanh")
    bad = p.W_hh.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"params.W_hh holds non-finite"):
        jac.pairwise_jacobian_norms(p.replace(W_hh=bad), xs, activation="tanh")
    with pytest.raises(ValueError, match=r"T must be an integer >= 1, got 0"):
        rc.jacobian_bound(p, "tanh", 0)


# -------------------------------------------------------------------------------- overflow
def relu_case(radius, T=300, H=8):
    p = rc.init_params(3, H, 2, seed=1, spectral_radius=radius)
    xs = np.random.default_rng(0).standard_normal((T, 3))
    return p, xs


def test_huge_but_finite_norms_are_computed_without_overflow_of_the_squares():
    """ReLU, spectral radius 5, T = 300: norms near 1e192, whose squares would overflow."""
    p, xs = relu_case(5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norms = jac.jacobian_norms_to_last(p, xs, activation="relu")
        J = jac.jacobians_to_last(p, xs, activation="relu")
    assert np.all(np.isfinite(norms)) and norms.max() > 1e160
    scale = np.abs(J).max(axis=(1, 2))
    np.testing.assert_allclose(norms, scale * np.linalg.norm(J / scale[:, None, None], axis=(1, 2)),
                               rtol=1e-12)


@pytest.mark.parametrize("ord", ["fro", 2])
def test_tiny_norms_keep_their_digits_where_the_squares_would_underflow(ord):
    """Sigmoid (gamma = 1/4), T = 300: norms far below 1e-145, whose squares underflow."""
    p, xs = relu_case(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norms = jac.jacobian_norms_to_last(p, xs, activation="sigmoid", ord=ord)
        J = jac.jacobians_to_last(p, xs, activation="sigmoid")
    assert 0 < norms[0] < 1e-160
    scale = np.abs(J).max(axis=(1, 2))
    np.testing.assert_allclose(norms, scale * np.linalg.norm(J / scale[:, None, None], ord=ord, axis=(1, 2)),
                               rtol=1e-12)


def test_overflow_gives_nan_and_a_flag_not_a_warning():
    """ReLU, spectral radius 20, T = 300: the forward pass itself overflows (step ~250)."""
    p, xs = relu_case(20.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = jac.step_factor_stats(p, xs, activation="relu")
        J = jac.jacobians_to_last(p, xs, activation="relu")
        norms = {o: jac.jacobian_norms_to_last(p, xs, activation="relu", ord=o) for o in ("fro", 2)}
        pair = jac.pairwise_jacobian_norms(p, xs[:stats.overflow_step + 3], activation="relu")
    t0 = stats.overflow_step
    assert t0 == rc.forward(p, xs, activation="relu").overflow_step and 1 < t0 < 300
    assert not np.all(np.isfinite(J[:-1])) and np.array_equal(J[-1], np.eye(8))
    for o, n in norms.items():
        assert not np.isfinite(n[0]), o             # every path from h_1 crosses the overflow
        assert n[-1] == (np.sqrt(8) if o == "fro" else 1.0)
    assert np.isnan(stats.fprime_mean[-1])
    t, k = np.indices(pair.shape)
    near = (t < t0 - 1) & (k <= t) & (t - k <= 50)
    assert np.all(np.isfinite(pair[near]))                # short products before the overflow
    assert not np.all(np.isfinite(pair[-1, :-1]))


# ---- iter_jacobian_norms_to_last: the same curve in blocks a caller may stop between ----------

@pytest.mark.parametrize("T", [1, jac.NORM_BLOCK, jac.NORM_BLOCK + 1, 3 * jac.NORM_BLOCK + 5])
@pytest.mark.parametrize("ord", ["fro", 2])
def test_norm_blocks_walk_back_from_T_and_make_up_the_whole_curve(T, ord):
    p, xs = make_case(T=T, H=4, seed=3)[:2]
    whole = jac.jacobian_norms_to_last(p, xs, activation="tanh", ord=ord)
    blocks = list(jac.iter_jacobian_norms_to_last(p, xs, activation="tanh", ord=ord))
    assert [first for first, _ in blocks] == sorted((first for first, _ in blocks), reverse=True)
    assert blocks[-1][0] == 0 and all(len(n) <= jac.NORM_BLOCK for _, n in blocks)
    for first, norms in blocks:                          # each block is exactly its entries
        np.testing.assert_array_equal(norms, whole[first:first + len(norms)])
    exact = np.linalg.norm(jac.jacobians_to_last(p, xs, activation="tanh"), ord, axis=(1, 2))
    np.testing.assert_allclose(whole, exact, rtol=1e-12)


def test_stopping_after_one_block_leaves_the_exact_tail():
    p, xs = make_case(T=100, H=5, seed=1)[:2]
    first, tail = next(jac.iter_jacobian_norms_to_last(p, xs, activation="relu", ord=2))
    assert first == 100 - jac.NORM_BLOCK and tail[-1] == 1.0
    np.testing.assert_array_equal(tail, jac.jacobian_norms_to_last(p, xs, activation="relu", ord=2)[first:])


def test_norm_blocks_report_overflow_without_a_warning():
    p, xs = make_case(T=400, H=4, seed=0)[:2]
    p = p.replace(W_hh=50.0 * p.W_hh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        norms = np.concatenate([n for _, n in jac.iter_jacobian_norms_to_last(p, xs, activation="identity")])
    assert not np.all(np.isfinite(norms))
