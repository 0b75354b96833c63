"""The gradient on the unrolled graph of one sequence: every node's and edge's share of BPTT.

Pure numpy over rnn_core's public API (no screen code); the vanilla cell only for now. Shapes:
T steps, D inputs, H hidden units, O outputs; index i of a (T, ...) array is step t = i + 1.

Every node of the unrolled graph (x_t, h_t, o_t, L_t, h_0 and the total L) has the gradient
dL/d(node); every edge carries one of these back:
    x_t  <- h_t     dL/dx_t = W_xh^T delta_t              (delta_t = dL/da_t, eq. (10))
    h_t  <- h_{t+1} the indirect part of dL/dh_t          (eq. (7); into h_0: dL/dh_0)
    h_t  <- o_t     the direct part W_hy^T dL/do_t        (eq. (7))
    o_t  <- L_t     dL/do_t = w_t dL_t/do_t               (eq. (6))
    L_t  <- L       dL/dL_t = w_t                         (eq. (5))

`full_flow` takes these from rnn_core.bptt (every loss term); `single_source` follows one loss
term L_s alone back through the recurrence (the inner sum over k of the double sum (9)); summed
over s it gives the engine's dL/dh_t exactly. `running_param_grads` sums eq. (10) over the steps
the backward pass has reached, frame by frame; `row_norms` is an overflow-safe norm.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import rnn_core as rc

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Flow:
    """The gradient of L (or of one term w_s L_s) on the unrolled graph of one sequence.

    dL_dh, direct, indirect, dL_da (T, H); dL_do (T, O); dL_dx (T, D); dL_dh0 (H,);
    loss_weight (T,): dL/dL_t, i.e. w_t for the terms followed and 0 for the others.
    has_loss (T,) bool: the loss node L_t exists (w_t > 0), whichever source is followed.
    source: None (every loss term) or the step s whose term alone is followed.
    """

    dL_dh: Array
    direct: Array
    indirect: Array
    dL_da: Array
    dL_do: Array
    dL_dx: Array
    dL_dh0: Array
    loss_weight: Array
    has_loss: Array
    source: int | None

    @property
    def T(self) -> int:
        return self.dL_dh.shape[0]


@dataclass(frozen=True, eq=False)
class NodeNorms:
    """||dL/d node|| per step (T,) for x, h, o and L_t; h0 and total L are scalars.

    L_t's value is the scalar dL/dL_t = w_t; the total L has dL/dL = 1.
    """

    x: Array
    h: Array
    o: Array
    loss: Array
    h0: float
    total: float = 1.0


@dataclass(frozen=True, eq=False)
class EdgeFlow:
    """||gradient carried|| by each edge, (T,) per kind; index i belongs to step t = i + 1.

    x: h_t -> x_t; recurrent: h_t -> h_{t-1} carries dL/dh_{t-1}'s indirect part, so entry
    i = 0 is the edge into h_0 and carries dL/dh_0; direct: o_t -> h_t; output: L_t -> o_t;
    loss: L -> L_t.
    """

    x: Array
    recurrent: Array
    direct: Array
    output: Array
    loss: Array


def full_flow(result: rc.BPTTResult, params: rc.Params) -> Flow:
    """The engine's gradients (every loss term) as a Flow. One sequence: result.dL_dh (T, H)."""
    _require_vanilla_single_sequence(result, params)
    with np.errstate(all="ignore"):
        dL_dx = result.dL_da @ params.W_xh                                  # x_t <- h_t, through W_xh
    has_loss = result.weights > 0
    return Flow(dL_dh=result.dL_dh, direct=result.dL_dh_direct, indirect=result.dL_dh_indirect,
                dL_da=result.dL_da, dL_do=result.dL_do, dL_dx=dL_dx, dL_dh0=result.dL_dh0,
                loss_weight=np.where(has_loss, result.weights, 0.0), has_loss=has_loss, source=None)


def single_source(result: rc.BPTTResult, params: rc.Params, s: int) -> Flow:
    """The gradient of the single term w_s L_s, backpropagated alone (1 <= s <= T).

    It enters h_s as the engine's direct part W_hy^T dL/do_s and goes back by eq. (7) without
    the other terms, under the same truncation as the engine: k-step stops after h_{s-k+1}
    (h_0 is reached only if s <= k); chunked and randomized scale each step's recurrent
    factor by r_t. Vanishing shows as dL_s/dh_t shrinking as t moves away from s.
    """
    _require_vanilla_single_sequence(result, params)
    T, H = result.dL_dh.shape
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= T:
        raise ValueError(f"s must be a step in [1, {T}], got {s!r}")
    act = rc.get_activation(result.trace.activation)
    trunc = result.truncation
    window, factors = trunc.window(T), trunc.step_factors(T)
    lowest = max(1, s - window + 1) if window is not None else 1   # the last state L_s reaches
    direct = np.zeros((T, H))
    direct[s - 1] = result.dL_dh_direct[s - 1]
    indirect = np.zeros((T, H))
    dL_da = np.zeros((T, H))
    carry = np.zeros(H)                                     # nothing arrives from after step s
    with np.errstate(all="ignore"):
        for i in range(s - 1, lowest - 2, -1):              # steps s, s-1, ..., lowest
            indirect[i] = carry
            dL_da[i] = (direct[i] + carry) * act.df(result.trace.a[i], result.trace.h[i])  # (10)
            carry = dL_da[i] @ params.W_hh                  # eq. (7): back through W_hh
            if factors is not None:
                carry = carry * factors[i]                  # detached or randomly kept step
        dL_dh0 = carry if lowest == 1 else np.zeros(H)      # k-step: L_s stops above h_0
        dL_do = np.zeros_like(result.dL_do)
        dL_do[s - 1] = result.dL_do[s - 1]
        dL_dx = dL_da @ params.W_xh
        dL_dh = direct + indirect
    weight = np.zeros(T)
    weight[s - 1] = result.weights[s - 1]
    return Flow(dL_dh=dL_dh, direct=direct, indirect=indirect, dL_da=dL_da, dL_do=dL_do,
                dL_dx=dL_dx, dL_dh0=dL_dh0, loss_weight=weight, has_loss=result.weights > 0,
                source=int(s))


def node_norms(flow: Flow) -> NodeNorms:
    """The Euclidean norm of every node's gradient (inf/nan stay inf/nan: overflow is shown)."""
    with np.errstate(all="ignore"):
        return NodeNorms(x=row_norms(flow.dL_dx), h=row_norms(flow.dL_dh), o=row_norms(flow.dL_do),
                         loss=flow.loss_weight.copy(), h0=float(row_norms(flow.dL_dh0[None])[0]))


def edge_flow(flow: Flow) -> EdgeFlow:
    """The norm of the gradient each edge carries (see EdgeFlow for which edge is which)."""
    with np.errstate(all="ignore"):
        into_h0 = row_norms(flow.dL_dh0[None])
        return EdgeFlow(x=row_norms(flow.dL_dx),
                        recurrent=np.concatenate([into_h0, row_norms(flow.indirect[:-1])]),
                        direct=row_norms(flow.direct), output=row_norms(flow.dL_do),
                        loss=flow.loss_weight.copy())


def running_param_grads(flow: Flow, trace: rc.Trace) -> dict[str, Array]:
    """The five parameter gradients of eq. (10) summed over the steps the backward pass reached.

    Entry [j] of each array is the sum over t >= T - j (frame j of the animation), so entry
    [T - 1] is the full gradient. Shapes: W_xh (T, H, D), W_hh (T, H, H), b_h (T, H),
    W_hy (T, O, H), b_y (T, O). Memory is T times a gradient: callers bound T * size.
    """
    h_prev = np.concatenate([trace.h0[None], trace.h[:-1]], axis=0)      # h_{t-1}, (T, H)
    with np.errstate(all="ignore"):
        per_step = {
            "W_xh": flow.dL_da[:, :, None] * trace.xs[:, None, :],       # delta_t x_t^T
            "W_hh": flow.dL_da[:, :, None] * h_prev[:, None, :],         # delta_t h_{t-1}^T
            "b_h": flow.dL_da,
            "W_hy": flow.dL_do[:, :, None] * trace.h[:, None, :],        # dL/do_t h_t^T
            "b_y": flow.dL_do,
        }
        return {name: np.cumsum(terms[::-1], axis=0) for name, terms in per_step.items()}


def full_param_grads(flow: Flow, trace: rc.Trace) -> dict[str, Array]:
    """The five gradients of eq. (10) summed over every step, each with a leading axis of 1
    (the shape running_param_grads has for one frame): W_xh (1, H, D), ..., b_y (1, O)."""
    h_prev = np.concatenate([trace.h0[None], trace.h[:-1]], axis=0)
    with np.errstate(all="ignore"):
        sums = {"W_xh": flow.dL_da.T @ trace.xs, "W_hh": flow.dL_da.T @ h_prev, "b_h": flow.dL_da.sum(axis=0),
                "W_hy": flow.dL_do.T @ trace.h, "b_y": flow.dL_do.sum(axis=0)}
    return {name: value[None] for name, value in sums.items()}


def row_norms(values: Array) -> Array:
    """Euclidean norms of the rows of (N, n) without overflow: each row is scaled by its largest
    |entry| first. Rows of zeros give exactly 0; a row holding inf gives inf, one holding nan nan."""
    with np.errstate(all="ignore"):
        scale = np.max(np.abs(values), axis=1)
        safe = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        norms = safe * np.sqrt(np.sum((values / safe[:, None]) ** 2, axis=1))
        return np.where(np.isfinite(scale), norms, scale)


def _require_vanilla_single_sequence(result: rc.BPTTResult, params) -> None:
    if not isinstance(params, rc.Params) or result.trace.a is None:
        raise ValueError(f"the flow on the unrolled graph is for the vanilla cell only, got {type(params).__name__}")
    if result.dL_dh.ndim != 2:
        raise ValueError(f"result must come from one sequence (dL_dh of shape (T, H)), "
                         f"got dL_dh of shape {result.dL_dh.shape}")


def outputs_carried_back(result: rc.BPTTResult, params: rc.Params, t: int) -> Array:
    """(T - t + 1, H): row k - t is what output o_k sends back to h_t, for k = t..T,

        (dh_k/dh_t)^T W_hy^T dL/do_k        (eq. (7) unrolled into a sum over later outputs)

    the direct part of dL/dh_k carried back through the factors (8) of steps k..t+1, ignoring
    truncation (these are the exact gradient's terms: they add up to dL/dh_t of full BPTT).
    Cost: about (T - t)^2 / 2 products of H x H by a vector.
    """
    _require_vanilla_single_sequence(result, params)
    T, H = result.dL_dh.shape
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= t <= T:
        raise ValueError(f"t must be a step in [1, {T}], got {t!r}")
    fprime = rc.get_activation(result.trace.activation).df(result.trace.a, result.trace.h)   # (T, H)
    terms = np.empty((T - t + 1, H))
    with np.errstate(all="ignore"):
        for k in range(t, T + 1):
            g = params.W_hy.T @ result.dL_do[k - 1]              # the direct part of dL/dh_k
            for j in range(k, t, -1):                             # back through step j's factor
                g = params.W_hh.T @ (fprime[j - 1] * g)
            terms[k - t] = g
    return terms
