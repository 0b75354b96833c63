"""rnn_core.memory_path: the keeping gates' product alone equals gate_path_to_last's, and is the
Jacobian of the memory path (checked by central differences on an LSTM whose other paths are cut)."""
import numpy as np
import pytest

import rnn_core as rc
from rnn_core.memory_path import gate_product_to_last


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("ord", ["fro", 2])
@pytest.mark.parametrize("T", [1, 2, 9])
def test_equals_gate_path_to_last(cell, ord, T):
    p = rc.init_params(D=2, H=4, O=1, seed=3, cell=cell)
    xs = np.random.default_rng(1).standard_normal((T, 2))
    h0 = np.random.default_rng(2).standard_normal(4)
    c0 = np.random.default_rng(4).standard_normal(4) if cell == "lstm" else None
    ref = rc.gate_path_to_last(p, xs, h0=h0, c0=c0, ord=ord)
    got = gate_product_to_last(p, xs, h0=h0, c0=c0, ord=ord)
    assert got.gate == ref.gate and got.ord == ref.ord
    np.testing.assert_allclose(got.product, ref.product, rtol=1e-15, atol=0)
    np.testing.assert_allclose(got.norms, ref.product_norm, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(got.product[-1], np.ones(4))
    gates = rc.forward(p, xs, h0=h0, c0=c0).gates[got.gate]
    np.testing.assert_array_equal(got.values, gates.reshape(T, 4))


def test_is_the_memory_paths_jacobian_by_finite_differences():
    """With the recurrent weights zero, h_{t-1} reaches nothing: c_T depends on c_k only through
    the forget gates, so dc_T/dc_k = diag(f_{k+1} ... f_T) exactly (central differences, float64)."""
    p = rc.init_params(D=2, H=3, O=1, seed=0, cell="lstm")
    recurrent = {"W_hi", "W_hf", "W_ho", "W_hc"}
    p = type(p)(**{n: np.zeros_like(getattr(p, n)) if n in recurrent else getattr(p, n)
                   for n in rc.cell_of(p).param_names})
    xs = np.random.default_rng(0).standard_normal((6, 2))
    k, eps = 2, 1e-6                                   # perturb c_k (index k-1), run steps k+1..T
    c_start = rc.forward(p, xs[:k]).c[-1]
    h_start = rc.forward(p, xs[:k]).h[-1]
    numeric = np.empty((3, 3))
    for j in range(3):
        bump = np.zeros(3)
        bump[j] = eps
        plus = rc.forward(p, xs[k:], h0=h_start, c0=c_start + bump).c[-1]
        minus = rc.forward(p, xs[k:], h0=h_start, c0=c_start - bump).c[-1]
        numeric[:, j] = (plus - minus) / (2 * eps)
    path = gate_product_to_last(p, xs).product[k - 1]
    np.testing.assert_allclose(numeric, np.diag(path), atol=1e-9)


def test_the_vanilla_cell_has_no_gate():
    p = rc.init_params(D=2, H=3, O=1, seed=0)
    with pytest.raises(ValueError, match="no gate"):
        gate_product_to_last(p, np.zeros((4, 2)))
