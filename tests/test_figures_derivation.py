"""ui.figures.derivation: the double-sum chart draws the given norms and shares, zeros and inf marked."""
import numpy as np
import pytest

from ui.figures.derivation import double_sum_figure
from ui.figures.style import OVERFLOW_COLOUR
from ui.notation import NOTATIONS


def test_bars_are_the_norms_with_their_shares():
    norms = np.array([0.001, 0.01, 0.1, 1.0])
    shares = norms / norms.sum()
    fig = double_sum_figure(norms, shares, t=4, notation=NOTATIONS["dlbook"])
    [bars] = fig.data
    assert list(bars.x) == [1, 2, 3, 4]
    np.testing.assert_array_equal(bars.y, norms)
    assert list(bars.text) == [f"{s:.0%}" for s in shares]
    assert fig.layout.yaxis.type == "log"
    assert "∂W" in fig.layout.title.text            # the Deep Learning Book's W, not W_hh
    assert "W<sub>hh</sub>" in double_sum_figure(norms, shares, t=4, notation=NOTATIONS["wxh"]).layout.title.text
    lo, hi = fig.layout.yaxis.range
    assert lo < np.log10(norms.min()) and hi > np.log10(norms.max())


def test_zero_and_overflowing_terms_are_marked_not_dropped():
    norms = np.array([0.0, np.inf, 0.5, 2.0])
    shares = np.array([0.0, np.nan, 0.2, 0.8])
    fig = double_sum_figure(norms, shares, t=4, notation=NOTATIONS["wxh"])
    bars, zeros, overflow = fig.data
    assert list(bars.x) == [3, 4] and list(zeros.x) == [1] and list(overflow.x) == [2]
    assert list(zeros.text) == ["0"] and overflow.marker.color == OVERFLOW_COLOUR
    assert zeros.y[0] < 0.5 < 2.0 < overflow.y[0]
    assert fig.layout.showlegend


def test_all_zero_terms_still_draw_an_axis():
    fig = double_sum_figure(np.zeros(3), np.full(3, np.nan), t=3, notation=NOTATIONS["wxh"])
    assert len(fig.data[0].x) == 0 and list(fig.data[1].x) == [1, 2, 3]


def test_presentation_mode_has_larger_fonts():
    args = (np.ones(2), np.full(2, 0.5))
    small = double_sum_figure(*args, t=2, notation=NOTATIONS["wxh"])
    big = double_sum_figure(*args, t=2, notation=NOTATIONS["wxh"], presentation=True)
    assert big.layout.font.size > small.layout.font.size


def test_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="shape"):
        double_sum_figure(np.ones(3), np.ones(3), t=4, notation=NOTATIONS["wxh"])
