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

The same driver serves every cell (rnn_core.cells): the cell's fast forward pass, the shared
output layer and losses (eqs. (3)-(6)), then the cell's backward pass on its whole state
([h_t; c_t] for the LSTM: also dL/dc_t and dL/dc0) and its parameter sums.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._arrays import empty_arrays
from ._checks import check_h0, check_mask, check_xs, check_ys, first_nonfinite_step, step_weights
from .activations import ACTIVATIONS, Activation, get_activation
from .cells import Cell, Run, cell_of
from .cells.rnn import RNN
from .forward import Trace, first_overflow_step, make_trace
from .losses import Loss, get_loss
from .params import CellParams, validate_params
from .truncation import Truncation, parse_truncation

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class BPTTResult:
    """The loss, its gradients and the flow of gradient through the states.

    loss: L (float). step_losses (T,): L_t averaged over the batch, unweighted.
    weights (T,): w_t of eq. (5), including the batch's 1/B is *not* folded in here.
    grads: the params' type (Params: dL/dW_xh, dL/dW_hh, dL/db_h, dL/dW_hy, dL/db_y; LSTMParams,
    GRUParams: every field's gradient). cell: 'rnn', 'lstm' or 'gru'.
    dL_do (T, [B,] O): eq. (6). dL_dh (T, [B,] H): the total derivative of L with respect to h_t
    (index i is step t = i + 1; for the LSTM c_t held fixed); dL_dh_direct (through o_t) +
    dL_dh_indirect (through step t+1, 0 at t = T) == dL_dh. dL_da: delta_t of eq. (10), (T, [B,] H)
    for the vanilla cell, the stacked gate pre-activations' gradients (T, [B,] G H) otherwise.
    dL_dh0 (H,) for one sequence, (B, H) for a batch. With a batch every gradient carries 1/B.
    LSTM only (None otherwise): dL_dc (T, [B,] H) the total derivative with respect to c_t,
    including c_t -> h_t (so dL_dc[T-1] = G_T * tanh'(c_T) * dL_dh[T-1]); dL_dc_direct (through
    h_t) + dL_dc_indirect (through c_{t+1}) == dL_dc; dL_dc0 like dL_dh0.
    overflow_step: first forward step with a non-finite value (None if none);
    grad_overflow_step: the step where dL/dh_t first became non-finite, going back from T.
    """

    loss: float
    step_losses: Array
    weights: Array
    grads: CellParams
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
    cell: str = "rnn"
    dL_dc: Array | None = None
    dL_dc_direct: Array | None = None
    dL_dc_indirect: Array | None = None
    dL_dc0: Array | None = None

    @property
    def overflow(self) -> bool:
        return self.overflow_step is not None or self.grad_overflow_step is not None


@dataclass(frozen=True, eq=False)
class Problem:
    """The checked arguments of a loss: X (T, B, D), H0 (B, H), C0 (B, H) for the LSTM (else None),
    Y (T, B) or (T, B, O), w (T,) of eq. (5), and whether the caller passed a batch (else results
    drop the B axis). cell: the params' cell; act: the vanilla activation (None for gated cells)."""

    act: Activation | None
    out: Loss
    X: Array
    H0: Array
    Y: Array
    w: Array
    batched: bool
    cell: Cell = RNN
    C0: Array | None = None


def check_problem(params, xs, ys, *, activation: str | None, loss: str, reduction: str, mask, h0,
                  c0=None) -> Problem:
    """Validate everything `bptt` (and `gradcheck`) take; ValueError naming what is wrong."""
    cell, act = cell_and_activation(params, activation, c0)
    out = get_loss(loss)
    D, H, O = cell.validate(params) if cell is not RNN else validate_params(params)
    X, batched = check_xs(xs, D)
    T, B, _ = X.shape
    C0 = check_h0(c0, B, H, batched, name="c0") if cell.memory else None
    return Problem(act=act, out=out, X=X, H0=check_h0(h0, B, H, batched),
                   Y=check_ys(ys, T, B, O, batched, out.integer_targets),
                   w=step_weights(check_mask(mask, T), reduction), batched=batched, cell=cell, C0=C0)


def cell_and_activation(params, activation, c0=None) -> tuple[Cell, Activation | None]:
    """The params' cell and the activation it uses; ValueError for a vanilla cell without an
    activation, a gated cell given another activation than None (or 'tanh', which its equations
    already use), or a c0 for a cell without memory."""
    cell = cell_of(params)
    if cell is RNN:
        if activation is None:
            raise ValueError(f"activation is required for the vanilla RNN: one of {sorted(ACTIVATIONS)}")
        act = get_activation(activation)
    elif activation not in (None, "tanh"):
        raise ValueError(f"activation applies to the vanilla RNN only; the {cell.title}'s equations fix "
                         f"sigma for the gates and tanh (leave activation None), got {activation!r}")
    else:
        act = None
    if c0 is not None and not cell.memory:
        raise ValueError(f"c0 is the LSTM's initial memory cell; the {cell.title} has no c (state h only)")
    return cell, act


def bptt(params, xs, ys, *, activation: str | None = None, loss: str, reduction: str = "sum",
         mask=None, h0=None, c0=None, truncation=None) -> BPTTResult:
    """Loss and exact gradients of any cell by backpropagation through time.

    params: Params (vanilla RNN; activation required), LSTMParams or GRUParams (activation None;
    'tanh' is accepted as what their equations use):
    the cell comes from the type. xs (T, D) with ys (T,) int classes [softmax_ce] or (T, O)
    [mse, sigmoid_bce]; or a batch xs (T, B, D) with ys (T, B) or (T, B, O), where the loss is
    also averaged over B. mask (T,): non-negative weights m_t of the loss terms. h0 (H,) or
    (B, H), zeros by default; c0 likewise, LSTM only. truncation: None (exact), ("k_step", k),
    ("chunked", k), ("randomized", p[, seed | xi]) or ("randomized", xi), acting on the whole
    state s_t ([h_t; c_t] for the LSTM); see rnn_core.truncation.

    Overflow is reported, not raised: see `overflow_step` and `grad_overflow_step`.
    """
    problem = check_problem(params, xs, ys, activation=activation, loss=loss, reduction=reduction, mask=mask,
                            h0=h0, c0=c0)
    cell, act, out, X, H0, C0, Y, w, batched = (problem.cell, problem.act, problem.out, problem.X, problem.H0,
                                                problem.C0, problem.Y, problem.w, problem.batched)
    T, B, _ = X.shape
    H, O = H0.shape[1], params.W_hy.shape[0]
    trunc = parse_truncation(truncation, T)
    # every working array of the call in one allocation (see _arrays.py)
    forward_shapes = cell.run_shapes(T, B, H)
    backward_shapes = cell.backward_shapes(T, B, H) if cell is RNN or trunc.window(T) is None else []
    arrays = empty_arrays(*forward_shapes, (T, B, H), (T, B, O), (T, B, O), *backward_shapes)
    n = len(forward_shapes)
    direct, O_, dL_do = arrays[n:n + 3]
    with np.errstate(all="ignore"):
        run = cell.run_with_outputs(params, X, H0, C0, act, arrays[:n], O_)   # the cell's equations, eq. (3)
        per_term = out.value_and_grad(O_, Y, out=dL_do)                 # (T, B) eq. (4); dL_t/do_t
        step_losses = per_term.mean(axis=1)
        total = float(np.sum(np.where(w > 0, w * step_losses, 0.0)))    # eq. (5)
        dL_do *= (w / B)[:, None, None]                                 # eq. (6)
        dL_do[w == 0] = 0.0                                             # masked terms send nothing
        np.matmul(dL_do, params.W_hy, out=direct)                       # eq. (7), direct part
        back = cell.backward(params, run, direct, trunc, out=arrays[n + 3:] or None)   # eqs. (7), (10)
        grads = params_gradients(cell, params, run, back.dL_da, dL_do)  # eq. (10)
        overflow = first_overflow_step(run.a, O_) if cell is RNN else gated_overflow_step(run, O_)
        grad_overflow = first_nonfinite_step(back.dL_dh, from_end=True)
    squeeze = (lambda z: z) if batched else (lambda z: z[:, 0])
    trace = make_trace(cell, run, O_, batched, act, overflow)
    lstm = {}
    if cell.memory:
        direct_c = back.dL_dc - back.dL_dc_indirect if back.dL_dc_direct is None else back.dL_dc_direct
        lstm = dict(dL_dc=squeeze(back.dL_dc), dL_dc_direct=squeeze(direct_c),
                    dL_dc_indirect=squeeze(back.dL_dc_indirect),
                    dL_dc0=back.dS0[:, H:] if batched else back.dS0[0, H:])
    dS0 = back.dS0 if cell is RNN else np.ascontiguousarray(back.dS0[:, :H])
    return BPTTResult(loss=total, step_losses=step_losses, weights=w, grads=grads,
                      dL_do=squeeze(dL_do), dL_dh=squeeze(back.dL_dh), dL_dh_direct=squeeze(direct),
                      dL_dh_indirect=squeeze(back.dL_dh_indirect), dL_da=squeeze(back.dL_da),
                      dL_dh0=dS0 if batched else dS0[0], trace=trace, truncation=trunc,
                      overflow_step=overflow, grad_overflow_step=grad_overflow, cell=cell.name, **lstm)


def gated_overflow_step(run: Run, O: Array) -> int | None:
    """The first step whose h_t, c_t or o_t is not finite. The gates need no check: with finite
    weights and inputs their values lie in [0, 1] or [-1, 1] (so do h_t, and |c_t| <= |c_0| + t)."""
    found = [first_nonfinite_step(a) for a in (run.hs, run.cs, O) if a is not None]
    return min(filter(None, found), default=None)


def params_gradients(cell: Cell, params, run: Run, dL_da: Array, dL_do: Array):
    """Every parameter's gradient (eq. (10) and the cell's own sums) in the params' type."""
    T, B, O = dL_do.shape
    H = run.hs.shape[2]
    g_o = dL_do.reshape(T * B, O)
    grads = cell.recurrent_gradients(params, run, dL_da)
    grads["W_hy"] = g_o.T @ run.hs.reshape(T * B, H)
    grads["b_y"] = np.ones(T * B) @ g_o
    return cell.params_type(**grads)
