"""rnn_core._checks.first_nonfinite_step: which step first (or last) holds inf or nan."""
import numpy as np
import pytest

from rnn_core._checks import first_nonfinite_step


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_finds_the_first_and_last_bad_step(bad):
    values = np.ones((6, 2, 3))
    values[2, 1, 0] = bad
    values[4, 0, 2] = bad
    assert first_nonfinite_step(values) == 3
    assert first_nonfinite_step(values, from_end=True) == 5


def test_finite_values_whose_sum_overflows_are_not_reported():
    values = np.full((4, 8), 1e308)           # every row sums to inf, yet every entry is finite
    values[1] = -1e308
    assert first_nonfinite_step(values) is None
    values[3, 5] = np.nan
    assert first_nonfinite_step(values) == 4
    assert first_nonfinite_step(values, from_end=True) == 4


def test_opposite_infinities_in_one_row_are_found():
    values = np.zeros((3, 2))
    values[1] = [np.inf, -np.inf]             # their sum is nan, not inf
    assert first_nonfinite_step(values) == 2


def test_all_finite_gives_none():
    assert first_nonfinite_step(np.random.default_rng(0).standard_normal((50, 4, 7))) is None
