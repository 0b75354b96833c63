"""The backward pass: backpropagation through time, eqs. (4)-(7) and (10).

    (4)  L_t = loss(o_t, y_t)
    (5)  L   = sum_t w_t L_t,   w_t = m_t ('sum') or m_t / sum(m) ('mean'); batch-averaged
    (6)  dL/do_t = w_t dL_t/do_t
    (7)  dL/dh_t = W_hy^T dL/do_t  +  W_hh^T (f'(a_{t+1}) * dL/dh_{t+1})
                   `-- direct --'     `-------- indirect (0 at t = T) --'
    (10) delta_t = f'(a_t) * dL/dh_t
         dL/dW_hh = sum_t delta_t h_{t-1}^T    dL/dW_xh = sum_t delta_t x_t^T    dL/db_h = sum_t delta_t
         dL/dW_hy = sum_t dL/do_t h_t^T        dL/db_y  = sum_t dL/do_t

Truncated variants change only which paths of eq. (7) are followed (see truncation.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._arrays import empty_arrays
from ._checks import check_h0, check_mask, check_xs, check_ys, first_nonfinite_step, step_weights
from .activations import Activation, get_activation
from .forward import Trace, first_overflow_step, run_forward
from .losses import Loss, get_loss
from .params import Params, validate_params
from .truncation import Truncation, parse_truncation

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class BPTTResult:
    """The loss, its gradients and the flow of gradient through the states.

    loss: L (float). step_losses (T,): L_t averaged over the batch, unweighted.
    weights (T,): w_t of eq. (5), including the batch's 1/B is *not* folded in here.
    grads: Params of dL/dW_xh, dL/dW_hh, dL/db_h, dL/dW_hy, dL/db_y.
    dL_do (T, [B,] O): eq. (6). dL_dh (T, [B,] H): the total derivative of eq. (7) (index i is
    step t = i + 1); dL_dh_direct + dL_dh_indirect == dL_dh. dL_da (T, [B,] H): delta_t of eq. (10).
    dL_dh0 (H,) for one sequence, (B, H) for a batch. With a batch every gradient carries 1/B.
    overflow_step: first forward step with a non-finite value (None if none);
    grad_overflow_step: the step where dL/dh_t first became non-finite, going back from T.
    """

    loss: float
    step_losses: Array
    weights: Array
    grads: Params
    dL_do: Array
    dL_dh: Array
    dL_dh_direct: Array
    dL_dh_indirect: Array
    dL_da: Array
    dL_dh0: Array
    trace: Trace
    truncation: Truncation
    overflow_step: int | None
    grad_overflow_step: int | None

    @property
    def overflow(self) -> bool:
        return self.overflow_step is not None or self.grad_overflow_step is not None


def backward_through_time(W_hh: Array, direct: Array, A: Array, Hs: Array, act: Activation,
                          trunc: Truncation, out: tuple[Array, Array, Array]) -> Array:
    """Eqs. (7) and (10) backward from T to 1 on a batch.

    direct (T, B, H): W_hy^T dL/do_t. Writes into out = (dL_dh, indirect, dL_da), each (T, B, H):
    dL/dh_t, its indirect part (dL_dh = direct + indirect) and delta_t; returns dL_dh0 (B, H).
    Each step works on (B, H) slices only, so its temporaries stay small and in cache.
    """
    T, B, H = direct.shape
    dL_dh, indirect, dL_da = out
    window = trunc.window(T)
    if window is not None:
        return _backward_k_step(W_hh, direct, A, Hs, act, window, out)
    r = trunc.step_factors(T)
    # Fortran order: with it BLAS multiplies (B, H) by (H, H) ~20% faster at B = 32, H = 128.
    W_hh = np.asfortranarray(W_hh)
    dL_dh0 = np.empty((B, H))
    indirect[T - 1] = 0.0                                  # the indirect part is 0 at t = T
    for t in range(T - 1, -1, -1):
        into_prev = indirect[t - 1] if t > 0 else dL_dh0   # the indirect part of dL/dh_{t-1}
        np.add(direct[t], indirect[t], out=dL_dh[t])       # eq. (7): dL/dh_t = direct + indirect
        fprime = act.df(A[t], Hs[t])                       # back through eq. (2): f'(a_t)
        np.multiply(dL_dh[t], fprime, out=dL_da[t])        # eq. (10): delta_t = f'(a_t) * dL/dh_t
        np.dot(dL_da[t], W_hh, out=into_prev)              # back through eq. (1): W_hh^T delta_t
        if r is not None:
            into_prev *= r[t]                              # detached or randomly truncated step
    return dL_dh0


def _backward_k_step(W_hh: Array, direct: Array, A: Array, Hs: Array, act: Activation,
                     k: int, out: tuple[Array, Array, Array]) -> Array:
    """Eq. (7) where each loss term reaches back through k states only.

    `inflight[j]` holds the gradient that loss term t + j sends into h_t (j = 0 .. k-1); at each
    step the oldest is dropped, so all k sources move back together in one matmul.
    """
    T, B, H = direct.shape
    dL_dh, indirect, dL_da = out
    inflight = np.zeros((k, B, H))
    arriving = np.zeros((k, B, H))
    for t in range(T - 1, -1, -1):
        inflight[1:] = arriving[:-1]                       # sources t+1 .. t+k-1, one step older
        inflight[0] = direct[t]                            # source t enters at its own state
        inflight[1:].sum(axis=0, out=indirect[t])
        per_source_da = inflight * act.df(A[t], Hs[t])
        per_source_da.sum(axis=0, out=dL_da[t])
        arriving = per_source_da @ W_hh                    # each source's gradient at h_{t-1}
    np.add(direct, indirect, out=dL_dh)
    # into h0 arrive the sources t = 1 .. k: exactly those whose window reaches h_1.
    return arriving.sum(axis=0)


def parameter_gradients(X: Array, H0: Array, Hs: Array, dL_da: Array, dL_do: Array) -> Params:
    """Eq. (10): every sum over t and over the batch as one BLAS matmul.

    For W_hh the states h_{t-1} are h_0 then Hs[:-1]: two products instead of one on a joined
    copy, which would be as large as Hs.
    """
    T, B, D = X.shape
    H, O = Hs.shape[2], dL_do.shape[2]
    delta = dL_da.reshape(T * B, H)
    states = Hs.reshape(T * B, H)
    g_o = dL_do.reshape(T * B, O)
    W_hh = delta[B:].T @ states[:-B]     # steps t = 2..T: delta_t h_{t-1}^T
    W_hh += dL_da[0].T @ H0              # step t = 1: delta_1 h_0^T
    return Params(W_xh=delta.T @ X.reshape(T * B, D), W_hh=W_hh, b_h=delta.sum(axis=0),
                  W_hy=g_o.T @ states, b_y=g_o.sum(axis=0))


@dataclass(frozen=True, eq=False)
class Problem:
    """The checked arguments of a loss: X (T, B, D), H0 (B, H), Y (T, B) or (T, B, O), w (T,)
    of eq. (5), and whether the caller passed a batch (else results drop the B axis)."""

    act: Activation
    out: Loss
    X: Array
    H0: Array
    Y: Array
    w: Array
    batched: bool


def check_problem(params: Params, xs, ys, *, activation: str, loss: str, reduction: str, mask,
                  h0) -> Problem:
    """Validate everything `bptt` (and `gradcheck`) take; ValueError naming what is wrong."""
    act, out = get_activation(activation), get_loss(loss)
    D, H, O = validate_params(params)
    X, batched = check_xs(xs, D)
    T, B, _ = X.shape
    return Problem(act=act, out=out, X=X, H0=check_h0(h0, B, H, batched),
                   Y=check_ys(ys, T, B, O, batched, out.integer_targets),
                   w=step_weights(check_mask(mask, T), reduction), batched=batched)


def bptt(params: Params, xs, ys, *, activation: str, loss: str, reduction: str = "sum",
         mask=None, h0=None, truncation=None) -> BPTTResult:
    """Loss and exact gradients of the RNN by backpropagation through time.

    xs (T, D) with ys (T,) int classes [softmax_ce] or (T, O) [mse, sigmoid_bce]; or a batch
    xs (T, B, D) with ys (T, B) or (T, B, O), where the loss is also averaged over B.
    mask (T,): non-negative weights m_t of the loss terms. h0 (H,) or (B, H), zeros by default.
    truncation: None (exact), ("k_step", k), ("chunked", k), ("randomized", p[, seed | xi]) or
    ("randomized", xi); see rnn_core.truncation.

    Overflow is reported, not raised: see `overflow_step` and `grad_overflow_step`.
    """
    problem = check_problem(params, xs, ys, activation=activation, loss=loss, reduction=reduction, mask=mask,
                            h0=h0)
    act, out, X, H0, Y, w, batched = (problem.act, problem.out, problem.X, problem.H0, problem.Y, problem.w,
                                      problem.batched)
    T, B, _ = X.shape
    H, O = params.W_hh.shape[0], params.W_hy.shape[0]
    trunc = parse_truncation(truncation, T)
    A, Hs, direct, dL_dh, indirect, dL_da, O_, dL_do = empty_arrays(*[(T, B, H)] * 6, *[(T, B, O)] * 2)
    with np.errstate(all="ignore"):
        run_forward(params, X, H0, act, out=(A, Hs, O_))
        per_term = out.value_and_grad(O_, Y, out=dL_do)                 # (T, B) eq. (4); dL_t/do_t
        step_losses = per_term.mean(axis=1)
        total = float(np.sum(np.where(w > 0, w * step_losses, 0.0)))    # eq. (5)
        dL_do *= (w / B)[:, None, None]                                 # eq. (6)
        dL_do[w == 0] = 0.0                                             # masked terms send nothing
        np.matmul(dL_do, params.W_hy, out=direct)                       # eq. (7), direct part
        dL_dh0 = backward_through_time(params.W_hh, direct, A, Hs, act, trunc, out=(dL_dh, indirect, dL_da))
        grads = parameter_gradients(X, H0, Hs, dL_da, dL_do)            # eq. (10)
        overflow = first_overflow_step(A, Hs, O_)
        grad_overflow = first_nonfinite_step(dL_dh, from_end=True)
    squeeze = (lambda z: z) if batched else (lambda z: z[:, 0])
    trace = Trace(xs=X if batched else X[:, 0], h0=H0 if batched else H0[0], a=squeeze(A),
                  h=squeeze(Hs), o=squeeze(O_), activation=act.name, overflow_step=overflow)
    return BPTTResult(loss=total, step_losses=step_losses, weights=w, grads=grads,
                      dL_do=squeeze(dL_do), dL_dh=squeeze(dL_dh), dL_dh_direct=squeeze(direct),
                      dL_dh_indirect=squeeze(indirect), dL_da=squeeze(dL_da),
                      dL_dh0=dL_dh0 if batched else dL_dh0[0], trace=trace, truncation=trunc,
                      overflow_step=overflow, grad_overflow_step=grad_overflow)
