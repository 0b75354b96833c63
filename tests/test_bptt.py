"""bptt against central finite differences for every activation, loss, reduction, shape."""
import itertools

import numpy as np
import pytest

import rnn_core as rc
from fd import assert_close, numerical_gradient
from cases import make_case

ACTS = sorted(rc.ACTIVATIONS)
LOSSES = sorted(rc.LOSSES)


def loss_of(p, xs, ys, **kw):
    return rc.bptt(p, xs, ys, **kw).loss


@pytest.mark.parametrize("activation,loss,reduction", list(itertools.product(ACTS, LOSSES, ["sum", "mean"])))
@pytest.mark.parametrize("batch,masked,with_h0", [(None, False, False), (3, True, True)])
def test_parameter_gradients_match_finite_differences(activation, loss, reduction, batch, masked, with_h0):
    p, xs, ys, h0 = make_case(T=4, B=batch, loss=loss, seed=3, h0=with_h0)
    mask = np.array([1.0, 0.0, 2.5, 0.5]) if masked else None
    kw = dict(activation=activation, loss=loss, reduction=reduction, mask=mask, h0=h0)
    res = rc.bptt(p, xs, ys, **kw)
    for name, value in p.items():
        numeric = numerical_gradient(lambda v: loss_of(p.replace(**{name: v}), xs, ys, **kw), value)
        assert_close(getattr(res.grads, name), numeric, what=f"dL/d{name}")


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("batch", [None, 2])
def test_dL_dh_is_the_total_derivative_through_every_later_step(activation, batch):
    """Perturb h_t inside the recurrence (via a shift added to a_{t+1}'s input) and compare."""
    T = 5
    p, xs, ys, h0 = make_case(T=T, B=batch, loss="softmax_ce", seed=7, h0=True)
    kw = dict(activation=activation, loss="softmax_ce", reduction="mean")
    res = rc.bptt(p, xs, ys, h0=h0, **kw)
    act = rc.get_activation(activation)

    def loss_with_state_shift(t, shift):
        # recompute the forward pass by hand, adding `shift` to h_t, then the loss from o.
        h = np.zeros_like(shift) if h0 is None else h0.copy()
        total = 0.0
        outs = []
        for i in range(T):
            h = act.f(xs[i] @ p.W_xh.T + h @ p.W_hh.T + p.b_h)
            if i == t:
                h = h + shift
            outs.append(h @ p.W_hy.T + p.b_y)
        o = np.stack(outs)
        lt = rc.get_loss("softmax_ce").value(o, ys)
        lt = lt if batch is None else lt.mean(axis=1)
        total = lt.mean()
        return total

    for t in range(T):
        zero = np.zeros_like(res.dL_dh[t])
        numeric = numerical_gradient(lambda s: loss_with_state_shift(t, s), zero)
        assert_close(res.dL_dh[t], numeric, what=f"dL/dh_{t + 1}")
    assert_close(res.dL_dh, res.dL_dh_direct + res.dL_dh_indirect, what="direct + indirect")
    assert np.all(res.dL_dh_indirect[-1] == 0.0)


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("loss", LOSSES)
def test_dL_dh0_matches_finite_differences(activation, loss):
    p, xs, ys, h0 = make_case(T=3, B=2, loss=loss, seed=11, h0=True)
    kw = dict(activation=activation, loss=loss)
    res = rc.bptt(p, xs, ys, h0=h0, **kw)
    numeric = numerical_gradient(lambda h: loss_of(p, xs, ys, h0=h, **kw), h0)
    assert res.dL_dh0.shape == (2, p.sizes[1])
    assert_close(res.dL_dh0, numeric, what="dL/dh0")


def test_single_h0_vector_with_a_batch_gives_per_sequence_dL_dh0():
    p, xs, ys, _ = make_case(T=3, B=4, seed=1)
    h0 = np.full(p.sizes[1], 0.3)
    res = rc.bptt(p, xs, ys, activation="tanh", loss="mse", h0=h0)
    assert res.dL_dh0.shape == (4, p.sizes[1])
    summed = numerical_gradient(lambda h: loss_of(p, xs, ys, activation="tanh", loss="mse", h0=h), h0)
    assert_close(res.dL_dh0.sum(axis=0), summed, what="sum over batch of dL/dh0")


@pytest.mark.parametrize("T,H", [(1, 1), (1, 4), (6, 1)])
def test_edge_sizes(T, H):
    p, xs, ys, _ = make_case(T=T, H=H, loss="softmax_ce", seed=2)
    kw = dict(activation="tanh", loss="softmax_ce", reduction="mean")
    res = rc.bptt(p, xs, ys, **kw)
    assert res.dL_dh.shape == (T, H)
    numeric = numerical_gradient(lambda w: loss_of(p.replace(W_hh=w), xs, ys, **kw), p.W_hh)
    assert_close(res.grads.W_hh, numeric, what="dL/dW_hh")


def test_batch_gradient_is_the_mean_of_single_sequence_gradients():
    p, xs, ys, _ = make_case(T=5, B=3, loss="softmax_ce", seed=5)
    kw = dict(activation="tanh", loss="softmax_ce", reduction="mean")
    batch = rc.bptt(p, xs, ys, **kw)
    singles = [rc.bptt(p, xs[:, b], ys[:, b], **kw) for b in range(3)]
    assert np.isclose(batch.loss, np.mean([s.loss for s in singles]))
    for name, g in batch.grads.items():
        assert_close(g, np.mean([getattr(s.grads, name) for s in singles], axis=0), what=name)
    assert_close(batch.dL_dh[:, 1], singles[1].dL_dh / 3, what="dL_dh carries 1/B")


def test_mean_divides_by_the_mask_sum_not_by_T():
    p, xs, ys, _ = make_case(T=4, seed=9)
    mask = np.array([0.0, 0.0, 1.0, 3.0])
    kw = dict(activation="tanh", loss="mse", mask=mask)
    r_sum = rc.bptt(p, xs, ys, reduction="sum", **kw)
    r_mean = rc.bptt(p, xs, ys, reduction="mean", **kw)
    assert np.isclose(r_mean.loss, r_sum.loss / 4.0)
    assert np.isclose(r_sum.loss, r_sum.step_losses[2] + 3 * r_sum.step_losses[3])
    assert_close(r_mean.grads.W_hh, r_sum.grads.W_hh / 4.0, what="mean = sum / sum(mask)")


def test_relu_derivative_at_zero_is_zero():
    act = rc.get_activation("relu")
    a = np.array([-1.0, 0.0, 2.0])
    assert list(act.df(a, act.f(a))) == [0.0, 0.0, 1.0]


def test_dead_relu_units_pass_no_gradient():
    p, xs, ys, _ = make_case(T=4, H=3, seed=4)
    p = p.replace(b_h=np.array([-100.0, 0.0, 0.0]))  # unit 0 never fires
    res = rc.bptt(p, xs, ys, activation="relu", loss="mse")
    assert np.all(res.dL_da[:, 0] == 0.0)
    assert np.all(res.grads.W_hh[0] == 0.0) and np.all(res.grads.W_xh[0] == 0.0)
