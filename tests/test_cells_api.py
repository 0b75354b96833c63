"""The gated cells' public API: parameter types, initialisers, forward traces, training, and the
readable reference loops held equal to the fast path."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rnn_core as rc
from cases import make_cell_case
from rnn_core.cells import gru, lstm, rnn

LSTM_NAMES = ("W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f", "W_xo", "W_ho", "b_o", "W_xc", "W_hc", "b_c",
              "W_hy", "b_y")
GRU_NAMES = ("W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xh", "W_hh", "b_h", "W_hy", "b_y")


def test_parameter_types_have_the_design_names_in_order_and_are_frozen():
    assert tuple(f.name for f in dataclasses.fields(rc.LSTMParams)) == LSTM_NAMES
    assert tuple(f.name for f in dataclasses.fields(rc.GRUParams)) == GRU_NAMES
    assert tuple(f.name for f in dataclasses.fields(rc.Params)) == rc.PARAM_NAMES
    p = rc.init_params(2, 3, 4, cell="lstm")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.W_xi = p.W_xi
    assert p.sizes == (2, 3, 4) and p == p.copy() and p != p.map(lambda a: a + 1)
    assert p != rc.init_params(2, 3, 4, cell="gru")
    assert rc.get_cell("gru").param_shapes(2, 3, 4)["W_hh"] == (3, 3)


@pytest.mark.parametrize("cell,names", [("lstm", LSTM_NAMES), ("gru", GRU_NAMES)])
def test_init_params_shapes_orthogonal_blocks_and_forget_bias(cell, names):
    D, H, O = 3, 5, 2
    p = rc.init_params(D, H, O, cell=cell, seed=7)
    assert type(p) is (rc.LSTMParams if cell == "lstm" else rc.GRUParams)
    for name in names:
        value = getattr(p, name)
        expected = {"W_hy": (O, H), "b_y": (O,)}.get(name) or (
            (H, D) if name.startswith("W_x") else (H, H) if name.startswith("W_h") else (H,))
        assert value.shape == expected and value.dtype == np.float64, name
        if name.startswith("W_h") and name != "W_hy":
            np.testing.assert_allclose(value @ value.T, np.eye(H), atol=1e-12)
    if cell == "lstm":
        np.testing.assert_array_equal(p.b_f, np.ones(H))
        np.testing.assert_array_equal(rc.init_params(D, H, O, cell="lstm", forget_bias=0.0).b_f, np.zeros(H))
        np.testing.assert_array_equal(rc.init_params(D, H, O, cell="lstm", forget_bias=2.5).b_f, np.full(H, 2.5))
    assert rc.init_params(D, H, O, cell=cell, seed=7) == p
    assert rc.init_params(D, H, O, cell=cell, seed=8) != p
    normal = rc.init_params(D, H, O, cell=cell, init="normal")
    W = getattr(normal, names[1])
    assert not np.allclose(W @ W.T, np.eye(H), atol=1e-3)


def test_init_params_refuses_options_that_do_not_apply():
    with pytest.raises(ValueError, match="forget_bias"):
        rc.init_params(2, 3, 2, cell="gru", forget_bias=1.0)
    with pytest.raises(ValueError, match="forget_bias"):
        rc.init_params(2, 3, 2, forget_bias=1.0)
    with pytest.raises(ValueError, match="init"):
        rc.init_params(2, 3, 2, cell="lstm", init="identity")
    with pytest.raises(ValueError, match="spectral_radius"):
        rc.init_params(2, 3, 2, cell="gru", spectral_radius=0.9)
    with pytest.raises(ValueError, match="cell"):
        rc.init_params(2, 3, 2, cell="transformer")
    assert rc.init_params(2, 3, 2) == rc.init_params(2, 3, 2, init="normal", cell="rnn")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_forward_trace_holds_gates_and_memory_in_the_callers_layout(cell):
    p, xs, _, h0, c0 = make_cell_case(cell, T=4, B=2, h0=True, c0=cell == "lstm")
    tr = rc.forward(p, xs, h0=h0, **({"c0": c0} if cell == "lstm" else {}))
    assert tr.cell == cell and tr.a is None and tr.activation is None and tr.h.shape == (4, 2, 3)
    assert list(tr.gates) == (["i", "f", "G", "c~"] if cell == "lstm" else ["r", "z", "h~"])
    assert all(g.shape == (4, 2, 3) for g in tr.gates.values())
    if cell == "lstm":
        g = tr.gates
        np.testing.assert_allclose(tr.c[1], g["f"][1] * tr.c[0] + g["i"][1] * g["c~"][1], rtol=1e-14)
        np.testing.assert_allclose(tr.h, g["G"] * np.tanh(tr.c), rtol=1e-14)
    one = rc.forward(p, xs[:, 0], h0=h0[0], **({"c0": c0[0]} if cell == "lstm" else {}))
    np.testing.assert_allclose(one.h, tr.h[:, 0], rtol=1e-14)
    assert one.overflow_step is None


def test_lstm_and_gru_forward_saturate_without_warnings_or_nan():
    for cell in ("lstm", "gru"):
        p, xs, ys, _, _ = make_cell_case(cell, T=5)
        huge = p.map(lambda a: a * 1e3)
        res = rc.bptt(huge, xs * 1e3, ys, loss="mse")
        assert np.isfinite(res.loss) and res.overflow_step is None


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_clipping_and_sgd_work_on_every_parameter(cell):
    p = rc.init_params(1, 4, 1, cell=cell, seed=1)
    result = rc.train(p, "sine", steps=30, T=12, batch=8, lr=0.2, momentum=0.5, clip=("norm", 1.0),
                      truncation=("k_step", 4))
    assert result.diverged_step is None and type(result.params) is type(p)
    assert result.param_names == p.names() and result.param_grad_norms.shape == (30, len(p.names()))
    assert result.loss[-5:].mean() < result.loss[:5].mean()
    assert np.all(result.applied_norm <= 1.0 + 1e-12)
    data = rc.make_task_data("sine", T=12, batch=4)
    grads = rc.bptt(p, data.xs, data.ys, loss="mse").grads
    clipped, norm = rc.clip_by_global_norm(grads, 0.5 * grads.global_norm())
    assert type(clipped) is type(p) and np.isclose(clipped.global_norm(), 0.5 * norm)
    new, velocity = rc.sgd_step(p, grads, lr=0.1)
    np.testing.assert_allclose(new.W_hy, p.W_hy - 0.1 * grads.W_hy)
    with pytest.raises(ValueError, match="activation"):
        rc.train(p, "sine", steps=1, T=5, lr=0.1, activation="relu")


def test_generate_reads_and_writes_text_with_a_gated_cell():
    data = rc.make_task_data("char_lm", T=10)
    V = data.D
    for cell in ("lstm", "gru"):
        p = rc.init_params(V, 8, V, cell=cell)
        text = rc.generate(p, data.info, "A re", 12, greedy=False, seed=3)
        assert len(text) == 12 and set(text) <= set(data.info["vocab"])


# ------------------------------------------------------------------ reference loops
@st.composite
def problems(draw, cell):
    T, D, H, O = (draw(st.integers(1, n)) for n in (5, 3, 4, 3))
    loss = draw(st.sampled_from(sorted(rc.LOSSES)))
    seed = draw(st.integers(0, 10_000))
    p, xs, ys, h0, c0 = make_cell_case(cell, T=T, D=D, H=H, O=O, loss=loss, seed=seed, h0=True, c0=True,
                                       spread=draw(st.sampled_from([0.1, 1.0, 3.0])))
    return p, xs, ys, h0, c0, loss


@settings(max_examples=25, deadline=None)
@given(problems("lstm"))
def test_lstm_reference_loop_equals_the_fast_path(problem):
    p, xs, ys, h0, c0, loss = problem
    L, grads, dh0, dc0 = lstm.reference_bptt(p, xs, ys, loss=rc.get_loss(loss), h0=h0, c0=c0)
    res = rc.bptt(p, xs, ys, loss=loss, h0=h0, c0=c0)
    assert np.isclose(L, res.loss, rtol=1e-12, atol=1e-12)
    for name, g in res.grads.items():
        np.testing.assert_allclose(g, getattr(grads, name), rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(res.dL_dh0, dh0, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.dL_dc0, dc0, rtol=1e-9, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(problems("gru"))
def test_gru_reference_loop_equals_the_fast_path(problem):
    p, xs, ys, h0, _, loss = problem
    L, grads, dh0 = gru.reference_bptt(p, xs, ys, loss=rc.get_loss(loss), h0=h0)
    res = rc.bptt(p, xs, ys, loss=loss, h0=h0)
    assert np.isclose(L, res.loss, rtol=1e-12, atol=1e-12)
    for name, g in res.grads.items():
        np.testing.assert_allclose(g, getattr(grads, name), rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(res.dL_dh0, dh0, rtol=1e-9, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(problems("rnn"), st.sampled_from(sorted(rc.ACTIVATIONS)))
def test_vanilla_reference_loop_equals_the_fast_path(problem, activation):
    p, xs, ys, h0, _, loss = problem
    L, grads, dh0 = rnn.reference_bptt(p, xs, ys, activation=rc.get_activation(activation),
                                       loss=rc.get_loss(loss), h0=h0)
    res = rc.bptt(p, xs, ys, loss=loss, h0=h0, activation=activation)
    assert np.isclose(L, res.loss, rtol=1e-12, atol=1e-12)
    for name, g in res.grads.items():
        np.testing.assert_allclose(g, getattr(grads, name), rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(res.dL_dh0, dh0, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("batch", [None, 2])
def test_contribution_pieces_of_every_recurrent_parameter_sum_to_its_gradient(cell, batch):
    p, xs, ys, h0, c0 = make_cell_case(cell, T=4, B=batch, loss="softmax_ce", seed=6, h0=True, c0=cell == "lstm")
    kw = dict(loss="softmax_ce", reduction="mean", mask=np.array([1.0, 0.0, 2.0, 1.0]), h0=h0,
              **({"c0": c0} if cell == "lstm" else {}))
    grads = rc.bptt(p, xs, ys, **kw).grads
    for name in rc.get_cell(cell).recurrent_names:
        pieces = rc.contribution_pieces(p, xs, ys, param=name, **kw)
        np.testing.assert_allclose(pieces.sum(axis=(0, 1)), getattr(grads, name), rtol=1e-11, atol=1e-14,
                                   err_msg=name)
        assert not np.any(pieces[np.triu_indices(4, 1)])
        norms = rc.contributions(p, xs, ys, param=name, **kw)
        np.testing.assert_allclose(norms, np.linalg.norm(pieces.reshape(4, 4, -1), axis=2), rtol=1e-11, atol=1e-15)
    with pytest.raises(ValueError, match="param"):
        rc.contributions(p, xs, ys, param="W_hy", **kw)
    default = "W_hc" if cell == "lstm" else "W_hh"        # the recurrent matrix, by default
    np.testing.assert_array_equal(rc.contributions(p, xs, ys, **kw), rc.contributions(p, xs, ys, param=default, **kw))


@pytest.mark.parametrize("truncation", [None, ("k_step", 2), ("chunked", 2), ("randomized", 0.5, 1)])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_vanilla_cell_through_the_generic_seam_equals_its_own_kernels(truncation, activation):
    """backward_by_steps drives any cell from its state_vjp alone: on the vanilla cell it must give
    the numbers of the vanilla kernels (the seam is the same algorithm, not a second one)."""
    from rnn_core.cells import RNN
    from rnn_core.cells.base import backward_by_steps
    p, xs, _, _, _ = make_cell_case("rnn", T=5, B=2, seed=9)
    act = rc.get_activation(activation)
    run = RNN.run(p, xs, np.full((2, 3), 0.2), None, act)
    direct = np.random.default_rng(0).standard_normal((5, 2, 3))
    trunc = rc.parse_truncation(truncation, 5)
    generic, own = backward_by_steps(RNN, p, run, direct, trunc), RNN.backward(p, run, direct, trunc)
    for field in ("dL_dh", "dL_dh_indirect", "dL_da", "dS0"):
        np.testing.assert_allclose(getattr(generic, field), getattr(own, field), rtol=1e-13, atol=1e-15,
                                   err_msg=field)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("truncation", [None, ("chunked", 7), ("randomized", 0.7, 2)])
def test_fast_backward_equals_the_generic_one_across_its_chunks_of_steps(cell, truncation):
    """The cells' in-place backward loops (local derivatives formed 32 steps at a time) against
    backward_by_steps, which only calls state_vjp, over T = 70 steps (three chunks, the last short)."""
    from rnn_core.cells.base import backward_by_steps
    p, xs, _, h0, c0 = make_cell_case(cell, T=70, B=3, seed=12, h0=True, c0=cell == "lstm", spread=0.3)
    c = rc.get_cell(cell)
    run = c.run(p, xs, h0, c0 if cell == "lstm" else None, None)
    direct = np.random.default_rng(1).standard_normal((70, 3, 3))
    trunc = rc.parse_truncation(truncation, 70)
    fast, generic = c.backward(p, run, direct, trunc), backward_by_steps(c, p, run, direct, trunc)
    for field in ("dL_dh", "dL_dh_indirect", "dL_da", "dS0", "dL_dc", "dL_dc_indirect"):
        a, b = getattr(fast, field), getattr(generic, field)
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=field)


# ------------------------------------------------------------------ reused working memory
def snapshot(res):
    arrays = [res.dL_dh, res.dL_dh_indirect, res.dL_da, res.dL_dh0, res.trace.h, res.trace.o]
    arrays += [g for _, g in res.grads.items()]
    arrays += [res.dL_dc, res.dL_dc0, res.trace.c] if res.dL_dc is not None else []
    return [np.array(a) for a in arrays]


def test_reused_blocks_are_never_read_before_written_and_never_shared_by_live_results(monkeypatch):
    """Poisoned reuse (every reused block filled with nan first) gives exactly the numbers of
    fresh memory, for every cell and truncation; a result still held keeps its own block."""
    from rnn_core import _arrays
    cases = []
    for cell in ("rnn", "lstm", "gru"):
        for truncation in (None, ("k_step", 2), ("chunked", 3), ("randomized", 0.6, 1)):
            p, xs, ys, h0, c0 = make_cell_case(cell, T=7, B=2, seed=3, h0=True, c0=cell == "lstm")
            kw = dict(loss="mse", h0=h0, truncation=truncation, **({"c0": c0} if cell == "lstm" else {}),
                      **({"activation": "tanh"} if cell == "rnn" else {}))
            cases.append((p, xs, ys, kw))
    fresh = [snapshot(rc.bptt(p, xs, ys, **kw)) for p, xs, ys, kw in cases]   # below the pool's size
    monkeypatch.setattr(_arrays, "POISON_REUSED", True)
    monkeypatch.setattr(_arrays, "POOL_MIN_ENTRIES", 1)
    reuses = 0
    block = _arrays._block

    def counting(n):
        nonlocal reuses
        pooled = [id(b) for b in _arrays._pool]
        out = block(n)
        reuses += id(out if out.base is None else out.base) in pooled
        return out
    monkeypatch.setattr(_arrays, "_block", counting)
    for _ in range(2):                                   # results dropped at once: blocks reused
        for (p, xs, ys, kw), expected in zip(cases, fresh):
            for a, b in zip(snapshot(rc.bptt(p, xs, ys, **kw)), expected):
                np.testing.assert_array_equal(a, b)
    assert reuses >= len(cases)
    held = [(rc.bptt(p, xs, ys, **kw), expected) for (p, xs, ys, kw), expected in zip(cases, fresh)]
    for res, expected in held:                           # results still alive were not overwritten
        for a, b in zip(snapshot(res), expected):
            np.testing.assert_array_equal(a, b)


def test_threads_never_share_a_block():
    import threading
    p, xs, ys, h0, c0 = make_cell_case("lstm", T=40, B=8, H=16, seed=4)
    expected = snapshot(rc.bptt(p, xs, ys, loss="mse"))
    errors = []

    def work():
        try:
            for _ in range(30):
                for a, b in zip(snapshot(rc.bptt(p, xs, ys, loss="mse")), expected):
                    np.testing.assert_array_equal(a, b)
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_clear_pool_lets_go_of_every_block(monkeypatch):
    from rnn_core import _arrays
    monkeypatch.setattr(_arrays, "POOL_MIN_ENTRIES", 1)
    p, xs, ys, _, _ = make_cell_case("gru", T=5)
    rc.bptt(p, xs, ys, loss="mse")
    assert _arrays._pool
    _arrays.clear_pool()
    assert not _arrays._pool
