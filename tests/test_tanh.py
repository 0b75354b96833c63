"""rnn_core's tanh (NumPy's, or the expm1 form on large arrays where that is faster) against np.tanh,
and every activation's in-place forms against its plain ones."""
import numpy as np
import pytest

from rnn_core.activations import ACTIVATIONS, _TANH_EXPM1_MIN_SIZE, _tanh_expm1, get_activation

EPS = np.finfo(np.float64).eps
SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324, -5e-324, 19.0, 20.0, 20.5])


def wide_range(n: int) -> np.ndarray:
    """n values: normals of several scales, tiny to huge magnitudes of both signs, specials."""
    rng = np.random.default_rng(0)
    mags = np.logspace(-310, 3, n // 2)
    values = np.concatenate([rng.standard_normal(n // 4) * 3, rng.standard_normal(n // 4) * 1e-3,
                             mags, -mags, SPECIALS])
    return rng.permutation(values)


@pytest.mark.parametrize("tanh", [get_activation("tanh").f, _tanh_expm1], ids=["engine", "expm1"])
@pytest.mark.parametrize("n", [8, _TANH_EXPM1_MIN_SIZE - 1, _TANH_EXPM1_MIN_SIZE, 50_000])
def test_tanh_is_within_two_ulp_of_numpy_on_small_and_large_arrays(tanh, n):
    a = wide_range(n)
    with np.errstate(all="raise"):      # no warning may come from any entry
        got = tanh(a)
    ref = np.tanh(a)
    assert got.dtype == np.float64 and got.shape == a.shape
    same_nan = np.isnan(got) == np.isnan(ref)
    assert same_nan.all()
    ok = ~np.isnan(ref)
    assert np.array_equal(np.signbit(got[ok]), np.signbit(ref[ok]))      # -0.0 stays -0.0
    err = np.abs(got[ok] - ref[ok]) <= 2 * EPS * np.abs(ref[ok])
    assert err.all(), f"worst: a={a[ok][~err][:3]}, got {got[ok][~err][:3]}, np.tanh {ref[ok][~err][:3]}"


def test_tanh_keeps_shape_of_a_batch_and_scalars():
    a = np.linspace(-4, 4, 3 * 1024).reshape(3, 32, 32)
    assert get_activation("tanh").f(a).shape == (3, 32, 32)
    assert get_activation("tanh").f(0.5) == np.tanh(0.5)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("n", [8, _TANH_EXPM1_MIN_SIZE, 50_000])
def test_in_place_forms_equal_the_activation_and_its_derivative_bit_for_bit(name, n):
    """f_into and df_into (the vanilla kernels' steps) write exactly what f and df return."""
    act = ACTIVATIONS[name]
    a = wide_range(n)
    with np.errstate(all="ignore"):
        h = act.f(a)
        into = np.full_like(a, 7.0)
        act.f_into(a, into)
        assert np.array_equal(into, h, equal_nan=True) and np.array_equal(np.signbit(into), np.signbit(h))
        slope = np.full_like(a, 7.0)
        act.df_into(a, h, slope)
        expected = act.df(a, h)
    assert np.array_equal(slope, expected, equal_nan=True) and np.array_equal(np.signbit(slope), np.signbit(expected))
