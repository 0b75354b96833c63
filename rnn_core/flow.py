"""The gradient on the unrolled graph of one sequence: every node's and edge's share of BPTT.

Pure numpy over rnn_core (no screen code), for every cell. Shapes: T steps, D inputs, H hidden
units, O outputs, G gate blocks (1 for the vanilla cell, 4 for the LSTM, 3 for the GRU); index i
of a (T, ...) array is step t = i + 1.

Every node of the unrolled graph (x_t, h_t, o_t, L_t, h_0 and the total L) has the gradient
dL/d(node); every edge carries one of these back:
    x_t  <- h_t     dL/dx_t = W_xh^T delta_t              (delta_t = dL/da_t, eq. (10))
    h_t  <- h_{t+1} the indirect part of dL/dh_t          (eq. (7); into h_0: dL/dh_0)
    h_t  <- o_t     the direct part W_hy^T dL/do_t        (eq. (7))
    o_t  <- L_t     dL/do_t = w_t dL_t/do_t               (eq. (6))
    L_t  <- L       dL/dL_t = w_t                         (eq. (5))

A gated cell has the same edges, x_t <- h_t through the stacked gates (dL/dx_t = W_x^T delta_t,
delta_t (G H) the gates' pre-activation gradients), and the LSTM also has its memory row:
    c_t     <- c_{t+1} the indirect part of dL/dc_t = f_{t+1} * dL/dc_{t+1}   (L5; into c_0: dL/dc_0)
    c_t     <- h_t     the direct part of dL/dc_t = G_t * tanh'(c_t) * dL/dh_t (L6)
For the GRU, z_t * dL/dh_t is the part of the indirect gradient that the update gate passes
straight from h_t to h_{t-1} (G4): `update_gate_part`.

`full_flow` takes these from rnn_core.bptt (every loss term); `single_source` follows one loss
term L_s alone back through the recurrence (the inner sum over k of the double sum (9)); summed
over s it gives the engine's dL/dh_t exactly. `running_param_grads` sums eq. (10) over the steps
the backward pass has reached, frame by frame; `row_norms` is an overflow-safe norm.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import rnn_core as rc
from rnn_core.truncation import parse_truncation

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Flow:
    """The gradient of L (or of one term w_s L_s) on the unrolled graph of one sequence.

    dL_dh, direct, indirect (T, H); dL_da (T, G H); dL_do (T, O); dL_dx (T, D); dL_dh0 (H,);
    loss_weight (T,): dL/dL_t, i.e. w_t for the terms followed and 0 for the others.
    has_loss (T,) bool: the loss node L_t exists (w_t > 0), whichever source is followed.
    source: None (every loss term) or the step s whose term alone is followed.
    cell: 'rnn', 'lstm' or 'gru'. LSTM only (None otherwise): dL_dc (T, H) the total dL/dc_t,
    its parts c_direct (through h_t) and c_indirect (through c_{t+1}), dL_dc0 (H,).
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
    cell: str = "rnn"
    dL_dc: Array | None = None
    c_direct: Array | None = None
    c_indirect: Array | None = None
    dL_dc0: Array | None = None

    @property
    def T(self) -> int:
        return self.dL_dh.shape[0]

    @property
    def memory(self) -> bool:
        """Whether the cell has a memory row c_t (the LSTM)."""
        return self.dL_dc is not None

    @property
    def gate_letters(self) -> tuple[str, ...]:
        """The letters of the cell's blocks of parameters (W_x*, W_h*, b_*): ('h',) for the vanilla cell."""
        return rc.get_cell(self.cell).gate_letters


@dataclass(frozen=True, eq=False)
class NodeNorms:
    """||dL/d node|| per step (T,) for x, h, o and L_t; h0 and total L are scalars.

    L_t's value is the scalar dL/dL_t = w_t; the total L has dL/dL = 1. LSTM only (else None):
    c (T,) ||dL/dc_t|| and c0 ||dL/dc_0||.
    """

    x: Array
    h: Array
    o: Array
    loss: Array
    h0: float
    total: float = 1.0
    c: Array | None = None
    c0: float | None = None


@dataclass(frozen=True, eq=False)
class EdgeFlow:
    """||gradient carried|| by each edge, (T,) per kind; index i belongs to step t = i + 1.

    x: h_t -> x_t; recurrent: h_t -> h_{t-1} carries dL/dh_{t-1}'s indirect part, so entry
    i = 0 is the edge into h_0 and carries dL/dh_0; direct: o_t -> h_t; output: L_t -> o_t;
    loss: L -> L_t. LSTM only (else None): memory: c_t -> c_{t-1} carries f_t * dL/dc_t, the
    indirect part of dL/dc_{t-1} (entry 0: into c_0, dL/dc_0); cell: h_t -> c_t carries the
    direct part of dL/dc_t.
    """

    x: Array
    recurrent: Array
    direct: Array
    output: Array
    loss: Array
    memory: Array | None = None
    cell: Array | None = None


def full_flow(result: rc.BPTTResult, params) -> Flow:
    """The engine's gradients (every loss term) as a Flow. One sequence: result.dL_dh (T, H)."""
    cell = _require_single_sequence(result, params)
    with np.errstate(all="ignore"):
        dL_dx = result.dL_da @ input_weights(params)                     # x_t <- h_t, through W_x
    has_loss = result.weights > 0
    memory = {}
    if cell.memory:
        memory = dict(dL_dc=result.dL_dc, c_direct=result.dL_dc_direct, c_indirect=result.dL_dc_indirect,
                      dL_dc0=result.dL_dc0)
    return Flow(dL_dh=result.dL_dh, direct=result.dL_dh_direct, indirect=result.dL_dh_indirect,
                dL_da=result.dL_da, dL_do=result.dL_do, dL_dx=dL_dx, dL_dh0=result.dL_dh0,
                loss_weight=np.where(has_loss, result.weights, 0.0), has_loss=has_loss, source=None,
                cell=cell.name, **memory)


def input_weights(params) -> Array:
    """W_x (G H, D): the input weights of every gate block stacked in the engine's order of
    delta_t (W_xh for the vanilla cell; W_xi, W_xf, W_xo, W_xc; W_xr, W_xz, W_xh)."""
    cell = rc.cell_of(params)
    if cell.name == "rnn":
        return params.W_xh
    return np.concatenate([getattr(params, f"W_x{g}") for g in cell.gate_letters], axis=0)


def single_source(result: rc.BPTTResult, params, s: int) -> Flow:
    """The gradient of the single term w_s L_s, backpropagated alone (1 <= s <= T).

    It enters h_s as the engine's direct part W_hy^T dL/do_s and goes back by eq. (7) without
    the other terms, under the same truncation as the engine: k-step stops after h_{s-k+1}
    (h_0 is reached only if s <= k); chunked and randomized scale each step's recurrent
    factor by r_t. Vanishing shows as dL_s/dh_t shrinking as t moves away from s.
    A gated cell's term goes back through the cell's own backward pass (the engine's, with
    every other term's direct part set to zero): the LSTM's along both h and c.
    """
    cell = _require_single_sequence(result, params)
    T, H = result.dL_dh.shape
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= T:
        raise ValueError(f"s must be a step in [1, {T}], got {s!r}")
    if cell.name != "rnn":
        return _gated_single_source(result, params, cell, int(s))
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
    return Flow(dL_dh=dL_dh, direct=direct, indirect=indirect, dL_da=dL_da, dL_do=dL_do,
                dL_dx=dL_dx, dL_dh0=dL_dh0, loss_weight=_one_weight(result, s), has_loss=result.weights > 0,
                source=int(s))


def _one_weight(result: rc.BPTTResult, s: int) -> Array:
    weight = np.zeros(result.weights.shape[0])
    weight[s - 1] = result.weights[s - 1]
    return weight


def _gated_single_source(result: rc.BPTTResult, params, cell, s: int) -> Flow:
    """single_source for a gated cell: the cell's backward pass (rnn_core.cells) with only step
    s's direct part W_hy^T dL/do_s, on a batch of one, under the engine's truncation."""
    trace = result.trace
    C0 = trace.c0[None] if cell.memory else None
    direct = np.zeros((result.dL_dh.shape[0], 1, result.dL_dh.shape[1]))
    direct[s - 1, 0] = result.dL_dh_direct[s - 1]
    window = result.truncation.window(T := direct.shape[0])
    # k-step truncation carries term s back through the states s, ..., s - k + 1 exactly, then
    # drops it: the untruncated pass of this one term, cut there (T H^2 work, not the T k H^2 of
    # carrying k terms at once)
    trunc = parse_truncation(None, T) if window is not None else result.truncation
    lowest = max(1, s - window + 1) if window is not None else 1
    with np.errstate(all="ignore"):
        run = cell.run(params, trace.xs[:, None, :], trace.h0[None], C0)     # the forward pass again
        back = cell.backward(params, run, direct, trunc)
        H = direct.shape[2]
        dS0 = back.dS0[0] if lowest == 1 else np.zeros(back.dS0.shape[1])
        parts = dict(dL_dh=back.dL_dh, indirect=back.dL_dh_indirect, dL_da=back.dL_da)
        if cell.memory:
            c_direct = back.dL_dc - back.dL_dc_indirect if back.dL_dc_direct is None else back.dL_dc_direct
            parts.update(dL_dc=back.dL_dc, c_direct=c_direct, c_indirect=back.dL_dc_indirect)
        parts = {name: _below_zeroed(value[:, 0], lowest) for name, value in parts.items()}
        dL_dx = parts["dL_da"] @ input_weights(params)
    dL_do = np.zeros_like(result.dL_do)
    dL_do[s - 1] = result.dL_do[s - 1]
    memory = dict(dL_dc0=dS0[H:]) if cell.memory else {}
    return Flow(direct=direct[:, 0], dL_do=dL_do, dL_dx=dL_dx, dL_dh0=dS0[:H].copy(), loss_weight=_one_weight(result, s),
                has_loss=result.weights > 0, source=s, cell=cell.name, **parts, **memory)


def _below_zeroed(values: Array, lowest: int) -> Array:
    """values (T, n) with the steps before `lowest` set to zero (a copy)."""
    out = np.array(values)
    out[:lowest - 1] = 0.0
    return out


def node_norms(flow: Flow) -> NodeNorms:
    """The Euclidean norm of every node's gradient (inf/nan stay inf/nan: overflow is shown)."""
    with np.errstate(all="ignore"):
        memory = {}
        if flow.memory:
            memory = dict(c=row_norms(flow.dL_dc), c0=float(row_norms(flow.dL_dc0[None])[0]))
        return NodeNorms(x=row_norms(flow.dL_dx), h=row_norms(flow.dL_dh), o=row_norms(flow.dL_do),
                         loss=flow.loss_weight.copy(), h0=float(row_norms(flow.dL_dh0[None])[0]), **memory)


def edge_flow(flow: Flow) -> EdgeFlow:
    """The norm of the gradient each edge carries (see EdgeFlow for which edge is which)."""
    with np.errstate(all="ignore"):
        into_h0 = row_norms(flow.dL_dh0[None])
        memory = {}
        if flow.memory:
            memory = dict(memory=np.concatenate([row_norms(flow.dL_dc0[None]), row_norms(flow.c_indirect[:-1])]),
                          cell=row_norms(flow.c_direct))
        return EdgeFlow(x=row_norms(flow.dL_dx),
                        recurrent=np.concatenate([into_h0, row_norms(flow.indirect[:-1])]),
                        direct=row_norms(flow.direct), output=row_norms(flow.dL_do),
                        loss=flow.loss_weight.copy(), **memory)


def update_gate_carry(flow: Flow, trace: rc.Trace) -> Array:
    """GRU: (T, H) z_t * dL/dh_t, the part of the gradient into h_{t-1} that the update gate
    passes straight along h_{t-1} -> h_t (G4), without any weight matrix; row i is step
    t = i + 1's (before the engine's chunked or randomized factor r_t)."""
    if flow.cell != "gru":
        raise ValueError(f"the update gate's path is the GRU's, got cell {flow.cell!r}")
    with np.errstate(all="ignore"):
        return trace.gates["z"] * flow.dL_dh


def update_gate_part(flow: Flow, trace: rc.Trace) -> Array:
    """GRU: (T,) ||z_t * dL/dh_t|| (update_gate_carry's norms)."""
    return row_norms(update_gate_carry(flow, trace))


def running_param_grads(flow: Flow, trace: rc.Trace) -> dict[str, Array]:
    """The parameter gradients (eq. (10); a gated cell's every block) summed over the steps the
    backward pass reached, frame by frame.

    Entry [j] of each array is the sum over t >= T - j (frame j of the animation), so entry
    [T - 1] is the full gradient. Shapes: W_x* (T, H, D), W_h* (T, H, H), b_* (T, H),
    W_hy (T, O, H), b_y (T, O). Memory is T times a gradient: callers bound T * size.
    """
    with np.errstate(all="ignore"):
        return {name: np.cumsum(terms[::-1], axis=0) for name, terms in _per_step_grads(flow, trace).items()}


def full_param_grads(flow: Flow, trace: rc.Trace) -> dict[str, Array]:
    """The parameter gradients summed over every step, each with a leading axis of 1 (the shape
    running_param_grads has for one frame): W_xh (1, H, D), ..., b_y (1, O)."""
    with np.errstate(all="ignore"):
        sums = {name: delta.T @ inputs if inputs is not None else delta.sum(axis=0)
                for name, (delta, inputs) in _gradient_blocks(flow, trace).items()}
        sums.update(W_hy=flow.dL_do.T @ trace.h, b_y=flow.dL_do.sum(axis=0))
    return {name: value[None] for name, value in sums.items()}


def _per_step_grads(flow: Flow, trace: rc.Trace) -> dict[str, Array]:
    """Every parameter's gradient term of each step, (T, *shape)."""
    out = {name: delta[:, :, None] * inputs[:, None, :] if inputs is not None else delta
           for name, (delta, inputs) in _gradient_blocks(flow, trace).items()}
    out.update(W_hy=flow.dL_do[:, :, None] * trace.h[:, None, :], b_y=flow.dL_do)      # dL/do_t h_t^T
    return out


def _gradient_blocks(flow: Flow, trace: rc.Trace) -> dict[str, tuple[Array, Array | None]]:
    """For each recurrent parameter, (delta (T, H), what it multiplies (T, n) or None for a bias):
    W_x* <- delta_* x_t^T, W_h* <- delta_* h_{t-1}^T (the GRU's candidate: (r_t * h_{t-1})^T), b_* <- delta_*."""
    h_prev = np.concatenate([trace.h0[None], trace.h[:-1]], axis=0)      # h_{t-1}, (T, H)
    H = h_prev.shape[1]
    if flow.cell == "rnn":
        return {"W_xh": (flow.dL_da, trace.xs), "W_hh": (flow.dL_da, h_prev), "b_h": (flow.dL_da, None)}
    letters = rc.get_cell(flow.cell).gate_letters
    blocks = {}
    for k, g in enumerate(letters):
        delta = flow.dL_da[:, k * H:(k + 1) * H]
        recurrent_input = trace.gates["r"] * h_prev if (flow.cell, g) == ("gru", "h") else h_prev   # (G3)
        blocks.update({f"W_x{g}": (delta, trace.xs), f"W_h{g}": (delta, recurrent_input), f"b_{g}": (delta, None)})
    return blocks


def row_norms(values: Array) -> Array:
    """Euclidean norms of the rows of (N, n) without overflow: each row is scaled by its largest
    |entry| first. Rows of zeros give exactly 0; a row holding inf gives inf, one holding nan nan."""
    with np.errstate(all="ignore"):
        scale = np.max(np.abs(values), axis=1)
        safe = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        norms = safe * np.sqrt(np.sum((values / safe[:, None]) ** 2, axis=1))
        return np.where(np.isfinite(scale), norms, scale)


def _require_single_sequence(result: rc.BPTTResult, params):
    """The params' cell, checked against the result's; one sequence only."""
    cell = rc.cell_of(params)
    if cell.name != result.cell:
        raise ValueError(f"params are the {cell.title}'s but result is the {result.cell} cell's")
    if result.dL_dh.ndim != 2:
        raise ValueError(f"result must come from one sequence (dL_dh of shape (T, H)), "
                         f"got dL_dh of shape {result.dL_dh.shape}")
    return cell


def _require_vanilla_single_sequence(result: rc.BPTTResult, params) -> None:
    if _require_single_sequence(result, params).name != "rnn":
        raise ValueError(f"this sum is written for the vanilla cell only, got {type(params).__name__}")


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
