"""rnn_core.flow: the gradient on the unrolled graph, against rnn_core.bptt and central
finite differences (tests/fd.py), for every activation and truncation."""
import numpy as np
import pytest

import rnn_core as rc
from rnn_core import flow
from fd import assert_close, numerical_gradient

TRUNCATIONS = [None, ("k_step", 3), ("chunked", 3), ("randomized", 0.5, 1)]


def problem(*, T=7, H=4, D=3, O=2, activation="tanh", loss="mse", truncation=None, mask=None, seed=0):
    params = rc.init_params(D, H, O, seed=seed, spectral_radius=0.9)
    rng = np.random.default_rng(seed + 1)
    params = params.replace(b_h=0.1 * rng.standard_normal(H))
    xs = rng.standard_normal((T, D))
    ys = rng.integers(0, O, T) if loss == "softmax_ce" else rng.standard_normal((T, O))
    h0 = 0.3 * rng.standard_normal(H)
    kwargs = dict(activation=activation, loss=loss, mask=mask)
    result = rc.bptt(params, xs, ys, h0=h0, truncation=truncation, **kwargs)
    return params, xs, ys, h0, kwargs, result


@pytest.mark.parametrize("activation", list(rc.ACTIVATIONS))
def test_full_flow_is_the_engines_gradient_and_dL_dx_its_finite_differences(activation):
    params, xs, ys, h0, kwargs, result = problem(activation=activation, mask=np.array([1, 0, 2, 1, 0.5, 1, 1.0]))
    f = flow.full_flow(result, params)
    for name in ("dL_dh", "dL_da", "dL_do", "dL_dh0"):
        np.testing.assert_array_equal(getattr(f, name), getattr(result, name))
    np.testing.assert_array_equal(f.direct + f.indirect, result.dL_dh_direct + result.dL_dh_indirect)
    np.testing.assert_array_equal(f.has_loss, result.weights > 0)
    if activation != "relu":                        # a kink within eps of an input would mislead FD
        numeric = numerical_gradient(lambda x: rc.bptt(params, x, ys, h0=h0, **kwargs).loss, xs)
        assert_close(f.dL_dx, numeric, what="dL/dx")


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "identity"])
@pytest.mark.parametrize("s", [1, 4, 7])
def test_one_loss_term_alone_is_the_gradient_of_that_term(activation, s):
    """single_source(s) is d(w_s L_s)/d(everything): the engine with a mask keeping term s, and
    central differences of w_s L_s with respect to h_0."""
    mask = np.array([1, 0.5, 2, 1, 1, 1, 3.0])
    params, xs, ys, h0, kwargs, result = problem(activation=activation, mask=mask)
    alone = np.zeros_like(mask)
    alone[s - 1] = mask[s - 1]
    kwargs_alone = dict(kwargs, mask=alone)
    reference = rc.bptt(params, xs, ys, h0=h0, **kwargs_alone)
    f = flow.single_source(result, params, s)
    np.testing.assert_allclose(f.dL_dh, reference.dL_dh, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f.dL_da, reference.dL_da, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f.dL_dh0, reference.dL_dh0, rtol=1e-12, atol=1e-15)
    numeric = numerical_gradient(lambda h: rc.bptt(params, xs, ys, h0=h, **kwargs_alone).loss, h0)
    assert_close(f.dL_dh0, numeric, what="d(w_s L_s)/dh_0")
    assert f.source == s and f.loss_weight[s - 1] == mask[s - 1] and np.count_nonzero(f.loss_weight) == 1


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_the_terms_alone_add_up_to_the_engines_gradient_under_every_truncation(truncation):
    params, _, _, _, _, result = problem(truncation=truncation, activation="tanh")
    T = result.dL_dh.shape[0]
    terms = [flow.single_source(result, params, s) for s in range(1, T + 1)]
    np.testing.assert_allclose(sum(t.dL_dh for t in terms), result.dL_dh, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(sum(t.dL_dh0 for t in terms), result.dL_dh0, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_running_sums_end_at_the_engines_parameter_gradients(truncation):
    params, _, _, _, _, result = problem(truncation=truncation, loss="softmax_ce", O=3)
    f = flow.full_flow(result, params)
    running, full = flow.running_param_grads(f, result.trace), flow.full_param_grads(f, result.trace)
    T = result.dL_dh.shape[0]
    for name in rc.PARAM_NAMES:
        engine = getattr(result.grads, name)
        assert running[name].shape == (T, *engine.shape) and full[name].shape == (1, *engine.shape)
        np.testing.assert_allclose(running[name][-1], engine, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(full[name][0], engine, rtol=1e-12, atol=1e-15)
    # frame j sums the steps t >= T - j: frame 0 is the last step's term alone
    np.testing.assert_allclose(running["b_h"][0], result.dL_da[-1])
    np.testing.assert_allclose(running["b_y"][2], result.dL_do[-3:].sum(axis=0))


def test_norms_of_nodes_and_edges_are_the_euclidean_norms():
    params, _, _, _, _, result = problem()
    f = flow.full_flow(result, params)
    nodes, edges = flow.node_norms(f), flow.edge_flow(f)
    np.testing.assert_allclose(nodes.h, np.linalg.norm(result.dL_dh, axis=1), rtol=1e-13)
    np.testing.assert_allclose(nodes.x, np.linalg.norm(f.dL_dx, axis=1), rtol=1e-13)
    assert nodes.h0 == pytest.approx(np.linalg.norm(result.dL_dh0), rel=1e-13)
    assert edges.recurrent[0] == pytest.approx(nodes.h0)
    np.testing.assert_allclose(edges.recurrent[1:], np.linalg.norm(result.dL_dh_indirect[:-1], axis=1), rtol=1e-13)


def test_row_norms_do_not_overflow_and_keep_inf_and_nan():
    rows = np.array([[1e200, 1e200], [0.0, 0.0], [np.inf, 1.0], [np.nan, 1.0], [3.0, -4.0]])
    with np.errstate(all="raise"):                 # no warning may escape
        norms = flow.row_norms(rows)
    assert norms[0] == pytest.approx(np.sqrt(2) * 1e200) and norms[1] == 0.0
    assert norms[2] == np.inf and np.isnan(norms[3]) and norms[4] == pytest.approx(5.0)


def test_one_sequence_and_the_params_of_the_results_cell():
    params, xs, ys, _, kwargs, result = problem()
    batch = rc.bptt(params, np.stack([xs, xs], axis=1), np.stack([ys, ys], axis=1), **kwargs)
    with pytest.raises(ValueError, match="one sequence"):
        flow.full_flow(batch, params)
    lstm = rc.init_params(3, 4, 2, seed=0, cell="lstm")
    gated = rc.bptt(lstm, xs, ys, loss="mse")
    with pytest.raises(ValueError, match="params are"):
        flow.full_flow(gated, params)
    with pytest.raises(ValueError, match="vanilla"):
        flow.outputs_carried_back(gated, lstm, 2)
    with pytest.raises(ValueError, match="s must be a step"):
        flow.single_source(result, params, 0)
    with pytest.raises(ValueError, match="GRU"):
        flow.update_gate_part(flow.full_flow(gated, lstm), gated.trace)


@pytest.mark.parametrize("activation", list(rc.ACTIVATIONS))
@pytest.mark.parametrize("t", [1, 4, 7])
def test_outputs_carried_back_are_the_terms_alone_and_add_up_to_the_exact_gradient(activation, t):
    params, _, _, _, _, result = problem(activation=activation)
    terms = flow.outputs_carried_back(result, params, t)
    assert terms.shape == (7 - t + 1, 4)
    np.testing.assert_allclose(terms.sum(axis=0), result.dL_dh[t - 1], rtol=1e-10, atol=1e-14)
    for k in range(t, 8):                       # output k's share: the term L_k followed alone, at h_t
        np.testing.assert_allclose(terms[k - t], flow.single_source(result, params, k).dL_dh[t - 1],
                                   rtol=1e-10, atol=1e-14)
