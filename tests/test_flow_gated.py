"""rnn_core.flow for the gated cells (LSTM, GRU): the gradient on every node and edge of the
unrolled graph against rnn_core.bptt (masks keeping one term) and central finite differences
(tests/fd.py), under every truncation."""
import numpy as np
import pytest

import rnn_core as rc
from rnn_core import flow
from fd import assert_close, numerical_gradient

CELLS = ["lstm", "gru"]
TRUNCATIONS = [None, ("k_step", 3), ("chunked", 3), ("randomized", 0.5, 1)]


def problem(cell, *, T=7, H=4, D=3, O=2, loss="mse", truncation=None, mask=None, seed=0):
    """A small gated problem with nonzero h_0 (and c_0): (params, xs, ys, states, kwargs, result)."""
    params = rc.init_params(D, H, O, seed=seed, cell=cell)
    rng = np.random.default_rng(seed + 1)
    xs = rng.standard_normal((T, D))
    ys = rng.integers(0, O, T) if loss == "softmax_ce" else rng.standard_normal((T, O))
    states = dict(h0=0.3 * rng.standard_normal(H))
    if cell == "lstm":
        states["c0"] = 0.5 * rng.standard_normal(H)
    kwargs = dict(loss=loss, mask=mask)
    result = rc.bptt(params, xs, ys, truncation=truncation, **states, **kwargs)
    return params, xs, ys, states, kwargs, result


@pytest.mark.parametrize("cell", CELLS)
def test_full_flow_is_the_engines_gradient_and_dL_dx_its_finite_differences(cell):
    params, xs, ys, states, kwargs, result = problem(cell, mask=np.array([1, 0, 2, 1, 0.5, 1, 1.0]))
    f = flow.full_flow(result, params)
    assert f.cell == cell and f.memory == (cell == "lstm") and f.gate_letters == rc.get_cell(cell).gate_letters
    for name in ("dL_dh", "dL_da", "dL_do", "dL_dh0"):
        np.testing.assert_array_equal(getattr(f, name), getattr(result, name))
    if cell == "lstm":
        for mine, engine in (("dL_dc", "dL_dc"), ("c_direct", "dL_dc_direct"), ("c_indirect", "dL_dc_indirect"),
                             ("dL_dc0", "dL_dc0")):
            np.testing.assert_array_equal(getattr(f, mine), getattr(result, engine))
    numeric = numerical_gradient(lambda x: rc.bptt(params, x, ys, **states, **kwargs).loss, xs)
    assert_close(f.dL_dx, numeric, what="dL/dx")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("s", [1, 4, 7])
def test_one_loss_term_alone_is_the_gradient_of_that_term(cell, s):
    """single_source(s) is d(w_s L_s)/d(everything): the engine with a mask keeping term s, and
    central differences of w_s L_s with respect to h_0 (and c_0)."""
    mask = np.array([1, 0.5, 2, 1, 1, 1, 3.0])
    params, xs, ys, states, kwargs, result = problem(cell, mask=mask)
    alone = np.zeros_like(mask)
    alone[s - 1] = mask[s - 1]
    kwargs_alone = dict(kwargs, mask=alone)
    reference = rc.bptt(params, xs, ys, **states, **kwargs_alone)
    f = flow.single_source(result, params, s)
    for name in ("dL_dh", "dL_da", "dL_dh0", "dL_do"):
        np.testing.assert_allclose(getattr(f, name), getattr(reference, name), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f.direct + f.indirect, f.dL_dh, rtol=1e-12, atol=1e-15)
    for state in states:
        def term(value, state=state):
            return rc.bptt(params, xs, ys, **dict(states, **{state: value}), **kwargs_alone).loss
        mine = f.dL_dh0 if state == "h0" else f.dL_dc0
        assert_close(mine, numerical_gradient(term, states[state]), what=f"d(w_s L_s)/d{state}")
    if cell == "lstm":
        np.testing.assert_allclose(f.dL_dc, reference.dL_dc, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(f.c_direct + f.c_indirect, f.dL_dc, rtol=1e-12, atol=1e-15)
    assert f.source == s and f.loss_weight[s - 1] == mask[s - 1] and np.count_nonzero(f.loss_weight) == 1
    assert not f.dL_dh[s:].any()                   # nothing after step s


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_the_terms_alone_add_up_to_the_engines_gradient_under_every_truncation(cell, truncation):
    params, _, _, _, _, result = problem(cell, truncation=truncation)
    T = result.dL_dh.shape[0]
    terms = [flow.single_source(result, params, s) for s in range(1, T + 1)]
    pairs = [("dL_dh", "dL_dh"), ("dL_dh0", "dL_dh0"), ("dL_da", "dL_da")]
    if cell == "lstm":
        pairs += [("dL_dc", "dL_dc"), ("dL_dc0", "dL_dc0"), ("c_indirect", "dL_dc_indirect")]
    for mine, engine in pairs:
        np.testing.assert_allclose(sum(getattr(t, mine) for t in terms), getattr(result, engine),
                                   rtol=1e-10, atol=1e-14, err_msg=mine)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_running_sums_end_at_the_engines_parameter_gradients(cell, truncation):
    params, _, _, _, _, result = problem(cell, truncation=truncation, loss="softmax_ce", O=3)
    f = flow.full_flow(result, params)
    running, full = flow.running_param_grads(f, result.trace), flow.full_param_grads(f, result.trace)
    T = result.dL_dh.shape[0]
    assert set(running) == set(full) == set(rc.get_cell(cell).param_names)
    for name in running:
        engine = getattr(result.grads, name)
        assert running[name].shape == (T, *engine.shape) and full[name].shape == (1, *engine.shape)
        np.testing.assert_allclose(running[name][-1], engine, rtol=1e-12, atol=1e-15, err_msg=name)
        np.testing.assert_allclose(full[name][0], engine, rtol=1e-12, atol=1e-15, err_msg=name)
    H = result.dL_dh.shape[1]
    first = rc.get_cell(cell).gate_letters[0]
    np.testing.assert_allclose(running[f"b_{first}"][0], result.dL_da[-1, :H])    # the last step's term alone


def test_lstm_edges_carry_the_memory_path():
    """The c row's edges: c_t -> c_{t-1} carries f_t * dL/dc_t (L5), h_t -> c_t the direct part."""
    params, _, _, _, _, result = problem("lstm")
    f = flow.full_flow(result, params)
    nodes, edges = flow.node_norms(f), flow.edge_flow(f)
    f_gate = result.trace.gates["f"]
    np.testing.assert_allclose(f.c_indirect[:-1], f_gate[1:] * f.dL_dc[1:], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f.dL_dc0, f_gate[0] * f.dL_dc[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(nodes.c, np.linalg.norm(result.dL_dc, axis=1), rtol=1e-13)
    assert nodes.c0 == pytest.approx(np.linalg.norm(result.dL_dc0), rel=1e-13)
    assert edges.memory[0] == pytest.approx(nodes.c0)
    np.testing.assert_allclose(edges.memory[1:], np.linalg.norm(result.dL_dc_indirect[:-1], axis=1), rtol=1e-13)
    np.testing.assert_allclose(edges.cell, np.linalg.norm(result.dL_dc_direct, axis=1), rtol=1e-13)
    assert edges.recurrent[0] == pytest.approx(nodes.h0)


def test_gru_update_gate_part():
    params, _, _, _, _, result = problem("gru")
    f = flow.full_flow(result, params)
    part = flow.update_gate_part(f, result.trace)
    np.testing.assert_allclose(part, np.linalg.norm(result.trace.gates["z"] * result.dL_dh, axis=1), rtol=1e-13)
    assert flow.node_norms(f).c is None and flow.edge_flow(f).memory is None
