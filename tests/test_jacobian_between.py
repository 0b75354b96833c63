"""jacobian_between: ds_t/ds_k for one pair of steps, for every cell."""
import numpy as np
import pytest

import rnn_core as rc
from cases import make_case


@pytest.mark.parametrize("activation", sorted(rc.ACTIVATIONS))
def test_vanilla_pairs_match_the_jacobians_to_the_last_state(activation):
    T = 5
    p, xs, _, h0 = make_case(T=T, seed=2, h0=True)
    J = rc.jacobians_to_last(p, xs, activation=activation, h0=h0)
    for k in range(1, T + 1):
        np.testing.assert_allclose(rc.jacobian_between(p, xs, k, T, activation=activation, h0=h0), J[k - 1],
                                   rtol=1e-12, atol=1e-14)


def test_vanilla_pair_is_the_product_of_step_factors_and_identity_on_the_diagonal():
    p, xs, _, _ = make_case(T=6, seed=4)
    steps = rc.step_jacobians(p, xs, activation="tanh")
    np.testing.assert_allclose(rc.jacobian_between(p, xs, 1, 4, activation="tanh"), steps[3] @ steps[2] @ steps[1])
    np.testing.assert_array_equal(rc.jacobian_between(p, xs, 3, 3, activation="tanh"), np.eye(4))
    np.testing.assert_allclose(rc.jacobian_between(p, xs, 0, 1, activation="tanh"), steps[0])


@pytest.mark.parametrize("k,t", [(-1, 2), (3, 2), (0, 7), (1.0, 2)])
def test_pairs_out_of_order_or_range_are_refused(k, t):
    p, xs, _, _ = make_case(T=6, seed=4)
    with pytest.raises(ValueError):
        rc.jacobian_between(p, xs, k, t, activation="tanh")


def test_matrix_norm_is_numpys_norm_and_safe_beyond_the_float_range():
    rng = np.random.default_rng(3)
    for shape in [(4, 4), (3, 5), (1, 1)]:
        M = rng.standard_normal(shape)
        assert np.isclose(rc.matrix_norm(M), np.linalg.norm(M, 2), rtol=1e-12)
        assert np.isclose(rc.matrix_norm(M, "fro"), np.linalg.norm(M), rtol=1e-13)
    big = np.full((3, 3), 1e200)                    # its squares overflow; its norm does not
    assert np.isclose(rc.matrix_norm(big), 3e200, rtol=1e-12)
    assert np.isclose(rc.matrix_norm(np.full((2, 2), 1e-200), "fro"), 2e-200, rtol=1e-12)
    assert rc.matrix_norm(np.array([[np.inf, 0.0], [0.0, 1.0]])) == np.inf
    assert np.isnan(rc.matrix_norm(np.array([[np.nan, 0.0], [0.0, 1.0]])))
    with pytest.raises(ValueError):
        rc.matrix_norm(np.ones(3))
