"""LSTM and GRU gradients against central finite differences (float64): every parameter, h0, c0,
the total derivatives dL/dh_t and dL/dc_t, and their direct/indirect splits."""
import itertools

import numpy as np
import pytest

import rnn_core as rc
from cases import make_cell_case
from fd import assert_close, numerical_gradient

CELLS = ["lstm", "gru"]
LOSSES = sorted(rc.LOSSES)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def by_hand(p, xs, h0, c0, *, shift_h=None, shift_c=None, at=None):
    """The cell's equations written out again (row vectors, any batch layout), independent of
    rnn_core: hs (T, ..., H). shift_h is added to h_at right after it is computed, shift_c to
    c_at before h_at is computed from it (DESIGN.md's 'total' derivatives)."""
    H = p.W_hy.shape[1]
    h = np.zeros(xs.shape[1:-1] + (H,)) if h0 is None else h0
    c = np.zeros_like(h) if c0 is None else c0
    hs = []
    for t, x in enumerate(xs):
        if isinstance(p, rc.LSTMParams):
            i = sigmoid(x @ p.W_xi.T + h @ p.W_hi.T + p.b_i)
            f = sigmoid(x @ p.W_xf.T + h @ p.W_hf.T + p.b_f)
            G = sigmoid(x @ p.W_xo.T + h @ p.W_ho.T + p.b_o)
            cc = np.tanh(x @ p.W_xc.T + h @ p.W_hc.T + p.b_c)
            c = f * c + i * cc
            if t == at and shift_c is not None:
                c = c + shift_c
            h = G * np.tanh(c)
        else:
            r = sigmoid(x @ p.W_xr.T + h @ p.W_hr.T + p.b_r)
            z = sigmoid(x @ p.W_xz.T + h @ p.W_hz.T + p.b_z)
            hc = np.tanh(x @ p.W_xh.T + (r * h) @ p.W_hh.T + p.b_h)
            h = z * h + (1 - z) * hc
        if t == at and shift_h is not None:
            h = h + shift_h
        hs.append(h)
    return np.stack(hs)


def loss_by_hand(p, xs, ys, loss, reduction, mask, hs):
    o = hs @ p.W_hy.T + p.b_y
    lt = rc.get_loss(loss).value(o, ys)
    lt = lt if lt.ndim == 1 else lt.mean(axis=1)
    m = np.ones(len(xs)) if mask is None else mask
    w = m if reduction == "sum" else m / m.sum()
    return float(np.sum(w * lt))


@pytest.mark.parametrize("cell,loss,reduction", list(itertools.product(CELLS, LOSSES, ["sum", "mean"])))
@pytest.mark.parametrize("batch,masked,with_h0,with_c0,T,H", [
    (None, False, False, False, 3, 2), (3, True, True, True, 3, 2), (2, False, False, True, 1, 1),
    (None, True, True, False, 2, 1)])
def test_every_gradient_matches_finite_differences(cell, loss, reduction, batch, masked, with_h0, with_c0, T, H):
    p, xs, ys, h0, c0 = make_cell_case(cell, T=T, B=batch, H=H, loss=loss, seed=T + H, h0=with_h0,
                                       c0=with_c0 and cell == "lstm")
    mask = np.array([1.0, 0.0, 2.5])[:T] if masked else None
    if masked and T == 1:
        mask = np.array([2.0])
    kw = dict(loss=loss, reduction=reduction, mask=mask, h0=h0)
    if cell == "lstm":
        kw["c0"] = c0
    res = rc.bptt(p, xs, ys, **kw)
    assert type(res.grads) is type(p) and res.cell == cell
    for name, value in p.items():
        numeric = numerical_gradient(lambda v: rc.bptt(p.replace(**{name: v}), xs, ys, **kw).loss, value)
        assert_close(getattr(res.grads, name), numeric, what=f"{cell} dL/d{name}")
    start = np.zeros((batch, H)) if batch else np.zeros(H)
    h_start = start if h0 is None else h0
    numeric = numerical_gradient(lambda v: rc.bptt(p, xs, ys, **{**kw, "h0": v}).loss, h_start)
    assert_close(res.dL_dh0, numeric, what="dL/dh0")
    if cell == "lstm":
        c_start = start if c0 is None else c0
        numeric = numerical_gradient(lambda v: rc.bptt(p, xs, ys, **{**kw, "c0": v}).loss, c_start)
        assert_close(res.dL_dc0, numeric, what="dL/dc0")
        assert res.dL_dc0.shape == res.dL_dh0.shape == h_start.shape
    else:
        assert res.dL_dc is None and res.dL_dc0 is None


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("batch,reduction,loss", [(None, "sum", "mse"), (2, "mean", "softmax_ce")])
def test_dL_dh_and_dL_dc_are_total_derivatives(cell, batch, reduction, loss):
    """Shift h_t (after it is computed) or c_t (before h_t is computed from it) and recompute."""
    T = 4
    p, xs, ys, h0, c0 = make_cell_case(cell, T=T, B=batch, loss=loss, seed=11, h0=True, c0=cell == "lstm")
    mask = np.array([0.5, 1.0, 0.0, 2.0])
    kw = dict(loss=loss, reduction=reduction, mask=mask, h0=h0, **({"c0": c0} if cell == "lstm" else {}))
    res = rc.bptt(p, xs, ys, **kw)
    # the hand-written forward pass agrees with the engine's
    np.testing.assert_allclose(by_hand(p, xs, h0, c0), res.trace.h, rtol=1e-13, atol=1e-14)
    for t in range(T):
        zero = np.zeros_like(res.dL_dh[t])
        numeric = numerical_gradient(lambda s: loss_by_hand(p, xs, ys, loss, reduction, mask,
                                                            by_hand(p, xs, h0, c0, shift_h=s, at=t)), zero)
        assert_close(res.dL_dh[t], numeric, what=f"dL/dh_{t + 1}")
        if cell == "lstm":
            numeric = numerical_gradient(lambda s: loss_by_hand(p, xs, ys, loss, reduction, mask,
                                                                by_hand(p, xs, h0, c0, shift_c=s, at=t)), zero)
            assert_close(res.dL_dc[t], numeric, what=f"dL/dc_{t + 1}")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("batch", [None, 3])
def test_direct_and_indirect_parts_add_up_and_the_last_indirect_part_is_zero(cell, batch):
    p, xs, ys, h0, c0 = make_cell_case(cell, T=5, B=batch, seed=5, h0=True, c0=cell == "lstm")
    res = rc.bptt(p, xs, ys, loss="mse", h0=h0, **({"c0": c0} if cell == "lstm" else {}))
    np.testing.assert_allclose(res.dL_dh_direct + res.dL_dh_indirect, res.dL_dh, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(res.dL_dh_direct, res.dL_do @ p.W_hy, rtol=1e-14, atol=1e-15)
    assert not np.any(res.dL_dh_indirect[-1])
    if cell == "lstm":
        np.testing.assert_allclose(res.dL_dc_direct + res.dL_dc_indirect, res.dL_dc, rtol=1e-14, atol=1e-15)
        assert not np.any(res.dL_dc_indirect[-1])
        G, c = res.trace.gates["G"], res.trace.c
        # dL/dc_T = G_T * tanh'(c_T) * dL/dh_T (not 0: c_T still reaches L through h_T)
        np.testing.assert_allclose(res.dL_dc[-1], G[-1] * (1 - np.tanh(c[-1]) ** 2) * res.dL_dh[-1], rtol=1e-13)
        np.testing.assert_allclose(res.dL_dc_direct, G * (1 - np.tanh(c) ** 2) * res.dL_dh, rtol=1e-13, atol=1e-15)
        # what enters c_{t-1} is the forget gate times dL/dc_t
        np.testing.assert_allclose(res.dL_dc_indirect[:-1], res.trace.gates["f"][1:] * res.dL_dc[1:], rtol=1e-13,
                                   atol=1e-15)
        np.testing.assert_allclose(res.dL_dc0, res.trace.gates["f"][0] * res.dL_dc[0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck_passes_with_a_row_for_every_parameter_and_initial_state(cell):
    p, xs, ys, h0, c0 = make_cell_case(cell, T=3, B=2, loss="softmax_ce", seed=2, h0=True, c0=cell == "lstm")
    report = rc.gradcheck(p, xs, ys, loss="softmax_ce", reduction="mean", h0=h0,
                          **({"c0": c0} if cell == "lstm" else {}))
    assert report.passed, [(r.name, r.max_rel_error) for r in report.rows if not r.passed]
    names = list(p.names()) + ["h0"] + (["c0"] if cell == "lstm" else [])
    assert [r.name for r in report.rows] == names
    assert report.row("h0").shape == (2, 3)


def test_c0_for_a_cell_without_memory_and_activation_for_a_gated_cell_are_refused():
    for cell in ("gru", "rnn"):
        p, xs, ys, _, _ = make_cell_case(cell, T=3)
        kw = {"activation": "tanh"} if cell == "rnn" else {}
        with pytest.raises(ValueError, match="c0"):
            rc.bptt(p, xs, ys, loss="mse", c0=np.zeros(3), **kw)
        with pytest.raises(ValueError, match="c0"):
            rc.forward(p, xs, c0=np.zeros(3), **kw)
        with pytest.raises(ValueError, match="c0"):
            rc.jacobians_to_last(p, xs, c0=np.zeros(3), **kw)
    for cell in CELLS:
        p, xs, ys, _, _ = make_cell_case(cell, T=3)
        with pytest.raises(ValueError, match="activation"):
            rc.bptt(p, xs, ys, loss="mse", activation="relu")
        # 'tanh' is what the gated equations use anyway: accepted, same result as None
        assert rc.bptt(p, xs, ys, loss="mse", activation="tanh").loss == rc.bptt(p, xs, ys, loss="mse").loss
        np.testing.assert_array_equal(rc.jacobians_to_last(p, xs, activation="tanh"), rc.jacobians_to_last(p, xs))
    p, xs, ys, _, _ = make_cell_case("lstm", T=3, B=2)
    with pytest.raises(ValueError, match="c0"):
        rc.bptt(p, xs, ys, loss="mse", c0=np.zeros((3, 3)))
    p, xs, ys, _, _ = make_cell_case("rnn", T=3)
    with pytest.raises(ValueError, match="activation"):
        rc.bptt(p, xs, ys, loss="mse")


def test_h0_and_c0_are_independent_and_one_vector_is_broadcast_over_the_batch():
    p, xs, ys, _, _ = make_cell_case("lstm", T=3, B=2)
    c0 = np.array([0.3, -0.2, 0.5])
    a = rc.bptt(p, xs, ys, loss="mse", c0=c0)
    b = rc.bptt(p, xs, ys, loss="mse", h0=np.zeros((2, 3)), c0=np.stack([c0, c0]))
    assert a.loss == b.loss and a.dL_dc0.shape == (2, 3) and a.dL_dh0.shape == (2, 3)
    np.testing.assert_array_equal(a.dL_dc0, b.dL_dc0)
    assert a.loss != rc.bptt(p, xs, ys, loss="mse", h0=c0).loss
