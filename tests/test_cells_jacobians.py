"""State Jacobians of the LSTM ([h; c], S = 2H) and the GRU (h) against finite differences,
and the gate products that explain their decay."""
import numpy as np
import pytest

import rnn_core as rc
from cases import make_cell_case
from fd import assert_close, numerical_gradient

CELLS = ["lstm", "gru"]


def states_and_runner(p, xs, h0, c0):
    """Every state s_0..s_T from the cell's readable step, and s_k -> s_t by re-running it."""
    cell = rc.cell_of(p)
    H = p.W_hy.shape[1]
    s = np.zeros(H) if h0 is None else h0
    if cell.memory:
        s = np.concatenate([s, np.zeros(H) if c0 is None else c0])
    states = [s]
    for x in xs:
        states.append(cell.step(p, x, states[-1]))

    def run(k, t, s):
        for j in range(k, t):
            s = cell.step(p, xs[j], s)
        return s
    return states, run


def fd_jacobian(run, k, t, s_k):
    return np.stack([numerical_gradient(lambda v: run(k, t, v)[r], s_k) for r in range(len(s_k))])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("T,H,with_h0", [(1, 1, False), (4, 2, True), (3, 1, True)])
def test_jacobians_to_last_and_between_match_finite_differences(cell, T, H, with_h0):
    p, xs, _, h0, c0 = make_cell_case(cell, T=T, H=H, seed=T * 7 + H, h0=with_h0, c0=with_h0 and cell == "lstm")
    kw = dict(h0=h0, **({"c0": c0} if cell == "lstm" else {}))
    J = rc.jacobians_to_last(p, xs, **kw)
    S = 2 * H if cell == "lstm" else H
    assert J.shape == (T, S, S)
    np.testing.assert_array_equal(J[-1], np.eye(S))
    states, run = states_and_runner(p, xs, h0, c0)
    for k in range(0, T + 1):
        numeric = fd_jacobian(run, k, T, states[k])
        between = rc.jacobian_between(p, xs, k, T, **kw)
        assert_close(between, numeric, what=f"ds_T/ds_{k}")
        if k >= 1:
            assert_close(J[k - 1], numeric, what=f"J[{k - 1}]")
    for k, t in [(0, 1), (1, T)] if T > 1 else [(0, 1)]:
        assert_close(rc.jacobian_between(p, xs, k, t, **kw), fd_jacobian(run, k, t, states[k]), what=f"{k}->{t}")


@pytest.mark.parametrize("cell", CELLS)
def test_step_jacobians_chain_into_the_jacobians_to_the_last_state(cell):
    p, xs, _, h0, _ = make_cell_case(cell, T=5, seed=1, h0=True)
    steps = rc.step_jacobians(p, xs, h0=h0)
    J = rc.jacobians_to_last(p, xs, h0=h0)
    product = np.eye(steps.shape[1])
    for k in range(4, 0, -1):
        product = product @ steps[k]
        np.testing.assert_allclose(J[k - 1], product, rtol=1e-12, atol=1e-14)
    states, run = states_and_runner(p, xs, h0, None)
    assert_close(steps[0], fd_jacobian(run, 0, 1, states[0]), what="ds_1/ds_0")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("ord", ["fro", 2])
def test_norms_streamed_and_pairwise_agree_with_the_matrices(cell, ord):
    p, xs, _, h0, c0 = make_cell_case(cell, T=40, seed=3, h0=True, c0=cell == "lstm", spread=0.3)
    kw = dict(h0=h0, **({"c0": c0} if cell == "lstm" else {}))
    J = rc.jacobians_to_last(p, xs, **kw)
    expected = np.array([np.linalg.norm(j, ord) for j in J])
    np.testing.assert_allclose(rc.jacobian_norms_to_last(p, xs, ord=ord, **kw), expected, rtol=1e-10)
    pair = rc.pairwise_jacobian_norms(p, xs[:9], ord=ord, **kw)
    np.testing.assert_allclose(pair[-1], rc.jacobian_norms_to_last(p, xs[:9], ord=ord, **kw), rtol=1e-10)
    np.testing.assert_allclose(pair[4, 1], np.linalg.norm(rc.jacobian_between(p, xs[:9], 2, 5, **kw), ord),
                               rtol=1e-10)
    assert not np.any(np.triu(pair, 1))


def test_lstm_memory_path_is_the_forget_gate_product_when_h_feeds_nothing_back():
    """With every W_h* = 0 the only way from s_k to c_T is the memory path: diag(f_{k+1} ... f_T)."""
    p, xs, _, _, _ = make_cell_case("lstm", T=6, seed=4)
    p = p.replace(**{n: np.zeros_like(getattr(p, n)) for n in ("W_hi", "W_hf", "W_ho", "W_hc")})
    H = 3
    path = rc.gate_path_to_last(p, xs)
    J = rc.jacobians_to_last(p, xs)
    f = rc.forward(p, xs).gates["f"]
    assert path.gate == "f"
    for k in range(1, 7):
        np.testing.assert_allclose(path.product[k - 1], np.prod(f[k:], axis=0), rtol=1e-13)
        np.testing.assert_allclose(J[k - 1][H:, H:], np.diag(path.product[k - 1]), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(path.product_norm, np.linalg.norm(path.product, axis=1), rtol=1e-13)
    np.testing.assert_allclose(path.jacobian_norm, np.linalg.norm(J, axis=(1, 2)), rtol=1e-12)


def test_gru_update_gate_product_is_the_whole_jacobian_when_h_feeds_no_gate():
    p, xs, _, _, _ = make_cell_case("gru", T=6, seed=4)
    p = p.replace(**{n: np.zeros_like(getattr(p, n)) for n in ("W_hr", "W_hz", "W_hh")})
    path = rc.gate_path_to_last(p, xs, ord=2)
    J = rc.jacobians_to_last(p, xs)
    z = rc.forward(p, xs).gates["z"]
    assert path.gate == "z"
    for k in range(1, 7):
        np.testing.assert_allclose(J[k - 1], np.diag(np.prod(z[k:], axis=0)), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(path.product_norm, np.max(path.product, axis=1), rtol=1e-13)
    np.testing.assert_allclose(path.jacobian_norm, path.product_norm, rtol=1e-12)


def test_gate_path_refuses_the_vanilla_cell_and_jacobians_refuse_a_batch():
    p, xs, _, _, _ = make_cell_case("rnn", T=3)
    with pytest.raises(ValueError, match="gate"):
        rc.gate_path_to_last(p, xs)
    p, xs, _, _, _ = make_cell_case("lstm", T=3, B=2)
    with pytest.raises(ValueError, match="one sequence"):
        rc.jacobians_to_last(p, xs)
