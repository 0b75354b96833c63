"""Spectral quantities, the bound of eq. (11), and reading norm curves (constructed cases)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rnn_core as rc
from rnn_core import spectral as sp
from cases import make_case


def geometric_curve(factor, T, c=2.0):
    """norms[k-1] = c * factor^(T-k) for k = 1..T."""
    return c * factor ** np.arange(T - 1, -1, -1, dtype=float)


def test_singular_values_are_sorted_and_match_numpy():
    W = np.random.default_rng(0).standard_normal((5, 3))
    s = rc.singular_values(W)
    assert s.shape == (3,) and np.all(np.diff(s) <= 0)
    np.testing.assert_allclose(s, np.linalg.svd(W, compute_uv=False), rtol=1e-14)
    np.testing.assert_allclose(rc.singular_values(np.diag([3.0, -4.0])), [4.0, 3.0])


def test_spectral_radius_is_the_one_from_params():
    assert sp.spectral_radius is rc.params.spectral_radius
    rotation = np.array([[0.0, -0.9], [0.9, 0.0]])       # eigenvalues +-0.9i
    assert np.isclose(sp.spectral_radius(rotation), 0.9)


def test_bound_is_the_power_of_gamma_times_sigma_max():
    p, _, _, _ = make_case(H=3, seed=1)
    p = p.replace(W_hh=np.diag([2.0, -0.5, 1.0]))
    np.testing.assert_allclose(rc.jacobian_bound(p, "tanh", 4), [8.0, 4.0, 2.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(rc.jacobian_bound(p, "sigmoid", 3), [0.25, 0.5, 1.0], rtol=1e-15)
    assert rc.jacobian_bound(p, "relu", 1).tolist() == [1.0]


def test_bound_overflows_to_inf_without_a_warning():
    p, _, _, _ = make_case(H=2, seed=1)
    p = p.replace(W_hh=np.diag([10.0, 1.0]))
    bound = rc.jacobian_bound(p, "identity", 400)
    assert np.isinf(bound[0]) and bound[-1] == 1.0 and bound[-2] == 10.0


@pytest.mark.parametrize("factor", [0.62, 1.0, 1.4])
def test_fit_recovers_the_factor_of_a_geometric_curve(factor):
    assert np.isclose(rc.fit_decay_factor(geometric_curve(factor, 30)), factor, rtol=1e-12)


def test_fit_is_least_squares_on_logs():
    norms = np.array([8.0, 1.0, 2.0, 1.0])      # log2: 3, 0, 1, 0 at distances 3, 2, 1, 0
    slope = np.polyfit([3, 2, 1, 0], np.log(norms), 1)[0]
    assert np.isclose(rc.fit_decay_factor(norms), np.exp(slope), rtol=1e-14)


def test_fit_leaves_out_zeros_infs_and_nans():
    clean = geometric_curve(0.5, 12)
    dirty = clean.copy()
    dirty[:3] = 0.0          # the gradient died exactly far back
    dirty[4] = np.inf
    dirty[6] = np.nan
    assert np.isclose(rc.fit_decay_factor(dirty), 0.5, rtol=1e-12)


@pytest.mark.parametrize("norms", [[1.0], [0.0, 0.0, 1.0], [np.nan, np.inf, 2.0]])
def test_fit_with_fewer_than_two_usable_points_is_nan(norms):
    assert np.isnan(rc.fit_decay_factor(norms))


@pytest.mark.parametrize("factor,kind,label", [
    (0.62, "vanishing", "vanishing: x0.62 per step"),
    (1.4, "exploding", "exploding: x1.40 per step"),
    (1.0, "stable", "stable: x1.00 per step"),
    (1.019, "stable", "stable: x1.02 per step"),
    (1 / 1.019, "stable", "stable: x0.98 per step"),
    (1.021, "exploding", "exploding: x1.02 per step"),
    (1 / 1.021, "vanishing", "vanishing: x0.98 per step"),
])
def test_classify_factor_with_its_tolerance_band(factor, kind, label):
    assert rc.classify_factor(factor) == (kind, label)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, "0.5", None])
def test_classify_factor_refuses_what_is_not_a_factor(bad):
    with pytest.raises(ValueError, match="factor must be a finite number > 0"):
        rc.classify_factor(bad)


def test_memory_horizon_on_constructed_curves():
    halving = geometric_curve(0.5, 20, c=1.0)           # 0.5^d at distance d
    assert rc.memory_horizon(halving, 0.01) == 6        # 0.5^6 = 0.0156 >= 0.01 > 0.5^7
    assert rc.memory_horizon(halving, 0.5) == 1
    assert rc.memory_horizon(halving, 1.0) == 0
    assert rc.memory_horizon(geometric_curve(1.1, 20), 0.01) == 19   # never fades
    assert rc.memory_horizon(geometric_curve(0.5, 1), 0.01) == 0     # T = 1


def test_memory_horizon_is_the_largest_distance_even_after_a_dip():
    norms = np.array([0.5, 1e-5, 1e-5, 1.0])   # a far state matters again, a nearer one does not
    assert rc.memory_horizon(norms, 0.01) == 3
    assert rc.memory_horizon([np.inf, np.nan, 0.0, 2.0], 0.01) == 3   # inf counts, nan does not


@pytest.mark.parametrize("norms,threshold,match", [
    ([1.0, 1.0], 0.0, r"threshold must lie in \(0, 1\], got 0.0"),
    ([1.0, 1.0], 1.5, r"threshold must lie in \(0, 1\], got 1.5"),
    ([1.0, 0.0], 0.1, r"norms\[-1\] .* must be finite and > 0, got 0.0"),
    ([[1.0]], 0.1, r"norms must be a non-empty 1-D array \(T,\), got shape \(1, 1\)"),
    ([], 0.1, r"norms must be a non-empty 1-D array"),
])
def test_memory_horizon_bad_arguments(norms, threshold, match):
    with pytest.raises(ValueError, match=match):
        rc.memory_horizon(norms, threshold)


def test_singular_values_bad_arguments():
    with pytest.raises(ValueError, match=r"W must be a matrix \(2-D\), got shape \(3,\)"):
        rc.singular_values(np.ones(3))
    with pytest.raises(ValueError, match="W holds non-finite"):
        rc.singular_values(np.array([[np.nan]]))


@settings(max_examples=30, deadline=None)
@given(factor=st.floats(0.05, 5.0), T=st.integers(2, 60), c=st.floats(1e-3, 1e3),
       noise_seed=st.integers(0, 1000))
def test_fit_of_a_noisy_geometric_curve_stays_near_its_factor(factor, T, c, noise_seed):
    """Noise of at most x/ 1.1 per point moves the fitted log-slope by at most
    sum_i |w_i| log(1.1), w the least-squares slope weights (d_i - mean d) / sum (d_i - mean d)^2;
    sum_i |w_i| is largest, 2, for T = 2 equally spaced distances."""
    noise = np.exp(np.random.default_rng(noise_seed).uniform(-np.log(1.1), np.log(1.1), T))
    fitted = rc.fit_decay_factor(geometric_curve(factor, T, c) * noise)
    assert abs(np.log(fitted / factor)) <= 2 * np.log(1.1) + 1e-12


# ---- extrapolated_horizon: how far a curve that has not yet crossed the threshold reaches ----

@pytest.mark.parametrize("factor", [0.3, 0.5, 0.8, 0.95])
def test_extrapolated_horizon_agrees_with_the_measured_one_on_a_geometric_curve(factor):
    norms = geometric_curve(factor, 200, c=1.0)          # long enough to cross 1 %
    measured = rc.memory_horizon(norms, 0.01)
    assert int(np.floor(sp.extrapolated_horizon(norms, 0.01) + 1e-9)) == measured
    assert sp.extrapolated_horizon(norms, 0.01) == pytest.approx(np.log(0.01) / np.log(factor), rel=1e-9)


def test_extrapolated_horizon_reaches_past_a_short_curve():
    short = geometric_curve(0.9, 12, c=1.0)                # still at 0.9^11 = 31 % at k = 1
    assert rc.memory_horizon(short, 0.01) == 11            # all a measurement can say
    assert sp.extrapolated_horizon(short, 0.01) == pytest.approx(np.log(0.01) / np.log(0.9), rel=1e-9)  # 43.7


@pytest.mark.parametrize("factor", [1.0, 1.3])
def test_extrapolated_horizon_of_a_curve_that_does_not_fall_is_inf(factor):
    assert sp.extrapolated_horizon(geometric_curve(factor, 20, c=1.0)) == np.inf


def test_extrapolated_horizon_ignores_zeros_and_needs_two_points():
    assert np.isnan(sp.extrapolated_horizon([0.0, 0.0, 1.0]))
    with_zero = geometric_curve(0.5, 10, c=1.0)
    with_zero[0] = 0.0
    assert sp.extrapolated_horizon(with_zero) == pytest.approx(np.log(0.01) / np.log(0.5), rel=1e-9)
    with pytest.raises(ValueError, match="threshold"):
        sp.extrapolated_horizon([0.5, 1.0], 0.0)
    with pytest.raises(ValueError, match="finite"):
        sp.extrapolated_horizon([0.5, 0.0])
