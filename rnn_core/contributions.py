"""The double sum of BPTT, eq. (9): how much of dL/dtheta flows from loss term t through step k.

    (9)  dL/dW_hh = sum_t sum_{k<=t} piece[t, k],
         piece[t, k] = (f'(a_k) * (dh_t/dh_k)^T g_t) h_{k-1}^T,     g_t = W_hy^T dL/do_t

g_t is the direct part of eq. (7) contributed by loss term t alone, weighted as in L (eq. (6):
mask, 1/sum(mask) for 'mean', 1/B for a batch); f'(a_k) * (dh_t/dh_k)^T g_t is loss term t's
share of delta_k (eq. (10)), and h_{k-1}^T is step k's direct dependence on W_hh. For W_xh the
last factor is x_k^T, for b_h it is 1. With a batch, each piece is also summed over the batch.
So piece[t, k] is the derivative of w_t L_t with respect to a copy of the parameter used at
step k only; summing all pieces gives bptt(...).grads exactly.

Gated cells (LSTMParams, GRUParams): the same double sum for any parameter used at every step
(W_x*, W_h*, b_*): loss term t's gradient on the whole state s_t goes back through the cell's
steps, and piece[t, k] is its share of the gate's delta at step k times x_k^T, h_{k-1}^T
((r_k * h_{k-1})^T for the GRU's W_hh) or 1. Their sum is again bptt(...).grads.

Shapes: xs (T, D) or (T, B, D); results are indexed [t-1, k-1] and are 0 for k > t.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .activations import get_activation
from .bptt import bptt
from .cells import cell_of
from .params import Params

Array = np.ndarray

PIECE_PARAMS = ("W_hh", "W_xh", "b_h")
# contribution_pieces refuses to build more entries than this (2^24 float64 = 128 MiB).
MAX_PIECE_ENTRIES = 2 ** 24


def _check_param(param, params=None) -> str:
    cell = cell_of(params) if params is not None else None
    if param is None:          # the recurrent matrix: W_hh (vanilla, GRU), the candidate's W_hc (LSTM)
        param = "W_hc" if cell is not None and cell.name == "lstm" else "W_hh"
    allowed = PIECE_PARAMS if cell is None or cell.name == "rnn" else cell.recurrent_names
    if param not in allowed:
        raise ValueError(f"param must be one of {list(allowed)} (the parameters used at every step "
                         f"of the recurrence), got {param!r}")
    return param


def _sources_by_step(params: Params, xs, ys, param: str, **kwargs) -> tuple[int, Iterator]:
    """(T, an iterator of (i, delta, right)) for steps k = i+1 from T down to 1.

    delta (T-i, B, H): f'(a_k) * (dh_t/dh_k)^T g_t, loss term t's share of delta_k (eq. (10)),
    for sources t = k..T in that order. right (B, cols): step k's direct dependence on the
    parameter, h_{k-1} for W_hh, x_k for W_xh, ones (B, 1) for b_h; so that
    piece[t, k] = delta[t]^T right (see `_pieces`). The arguments are checked (by bptt)
    before this returns.
    """
    res = bptt(params, xs, ys, **kwargs)
    if isinstance(params, Params):
        return res.trace.T, _walk_back(params.W_hh, res, param)
    return res.trace.T, _walk_back_gated(cell_of(params), params, res, param)


def _walk_back(W_hh: Array, res, param: str) -> Iterator:
    """The loop of `_sources_by_step`, on the batch layout (T, B, ...) of a BPTTResult.

    inflight[j] is the gradient that loss term j+1 alone sends into the current state h_k (as
    `inflight` in bptt._backward_k_step): every source steps back together, one matmul a step.
    """
    tr = res.trace
    as_batch = (lambda z: z) if tr.batched else (lambda z: z[:, None])
    A, Hs, X = as_batch(tr.a), as_batch(tr.h), as_batch(tr.xs)
    direct = as_batch(res.dL_dh_direct)                      # g_t (T, B, H), weighted as in L
    H_prev = np.concatenate([(tr.h0 if tr.batched else tr.h0[None])[None], Hs[:-1]])
    fp = get_activation(tr.activation).df(A, Hs)             # f'(a_t) (T, B, H)
    T, B, H = direct.shape
    right = {"W_hh": H_prev, "W_xh": X, "b_h": np.ones((T, B, 1))}[param]
    inflight = np.zeros_like(direct)
    for i in range(T - 1, -1, -1):
        inflight[i] = direct[i]                              # source t = k enters at its own state
        n = T - i
        delta = inflight[i:] * fp[i]                         # each source's share of delta_k
        yield i, delta, right[i]
        inflight[i:] = (delta.reshape(n * B, H) @ W_hh).reshape(n, B, H)   # back into h_{k-1}


def _walk_back_gated(cell, params, res, param: str) -> Iterator:
    """`_walk_back` for a gated cell: every source's gradient on the whole state s_k goes back
    through the cell's step together (`Cell.state_vjp`, one row per source); delta is the
    parameter's gate block of each source's pre-activation gradient."""
    tr = res.trace
    as_batch = (lambda z: z) if tr.batched else (lambda z: z[:, None])
    first = (lambda z: z) if tr.batched else (lambda z: z[None])
    X = as_batch(tr.xs)
    run = cell.run(params, X, first(tr.h0), None if tr.c0 is None else first(tr.c0), None)
    direct = as_batch(res.dL_dh_direct)
    T, B, H = direct.shape
    S, G = cell.state_size(H), run.a.shape[2]
    kind, letter = param[:3] if param.startswith("W_") else "b_", param[3:] if param.startswith("W_") else param[2:]
    block = slice(cell.gate_letters.index(letter) * H, (cell.gate_letters.index(letter) + 1) * H)
    if kind == "W_x":
        right = X
    elif kind == "b_":
        right = np.ones((T, B, 1))
    elif cell.name == "gru" and param == "W_hh":
        right = run.extra["rh"]                               # W_hh multiplies r_k * h_{k-1}
    else:
        right = np.concatenate([run.H0[None], run.hs[:-1]])   # h_{k-1}
    inflight = np.zeros((T, B, S))
    for i in range(T - 1, -1, -1):
        inflight[i, :, :H] = direct[i]                        # source t = k enters at its own h_k
        n = T - i
        da = np.empty((n, B, G))
        prev = cell.state_vjp(params, run, i, inflight[i:], da_each=da)
        yield i, da[..., block], right[i]
        inflight[i:] = prev                                   # back into s_{k-1}


def _pieces(delta: Array, right: Array, param: str) -> Array:
    """piece[t, k] = sum over the batch of delta[t]^T right: (n, *param.shape)."""
    if param.startswith("b_"):
        return delta.sum(axis=1)
    n, B, H = delta.shape
    stacked = delta.transpose(0, 2, 1).reshape(n * H, B)     # all sources in one matmul
    return (stacked @ right).reshape(n, H, right.shape[1])


def contributions(params, xs, ys, *, activation: str | None = None, loss: str, reduction: str = "sum",
                  mask=None, h0=None, c0=None, param: str | None = None) -> Array:
    """||piece[t, k]||_F for every pair: (T, T), entry [t-1, k-1], 0 above the diagonal (eq. (9)).

    xs (T, D) with ys (T,) or (T, O), or a batch xs (T, B, D) with ys (T, B) or (T, B, O);
    mask (T,), h0 (H,) or (B, H), c0 (LSTM), reduction as in `bptt`. param: 'W_hh' (the default),
    'W_xh' or 'b_h'; for gated cells any W_x*, W_h*, b_* (default W_hh for the GRU, W_hc for the
    LSTM).
    Time ~ T^2 B H^2 for the backward flow of every source, plus T^2 B H cols to form the
    pieces of a batch (one sequence needs only ||piece|| = ||delta_t|| ||right||); memory
    ~ T B H + T H cols (one step's pieces at a time).
    Overflow gives inf/nan entries, never an exception or a warning.
    """
    param = _check_param(param, params)
    kwargs = dict(activation=activation, loss=loss, reduction=reduction, mask=mask, h0=h0, c0=c0)
    with np.errstate(all="ignore"):
        T, steps = _sources_by_step(params, xs, ys, param, **kwargs)
        out = np.zeros((T, T))
        for i, delta, right in steps:
            if delta.shape[1] == 1:     # one sequence: each piece is an outer product d r^T
                out[i:, i] = np.linalg.norm(delta[:, 0], axis=1) * np.linalg.norm(right[0])
            else:
                flat = _pieces(delta, right, param).reshape(len(delta), -1)
                out[i:, i] = np.sqrt(np.vecdot(flat, flat))
    return out


def contribution_pieces(params, xs, ys, *, activation: str | None = None, loss: str, reduction: str = "sum",
                        mask=None, h0=None, c0=None, param: str | None = None,
                        max_entries: int = MAX_PIECE_ENTRIES) -> Array:
    """The pieces of eq. (9) themselves: (T, T, *param.shape), [t-1, k-1] = piece[t, k], 0 for k > t.

    Their sum over the first two axes is bptt(...).grads.<param>. Arguments as in
    `contributions`. ValueError if T * T * param.size exceeds max_entries (default 2^24,
    128 MiB): use `contributions` for the norms of long sequences.
    """
    param = _check_param(param, params)
    kwargs = dict(activation=activation, loss=loss, reduction=reduction, mask=mask, h0=h0, c0=c0)
    with np.errstate(all="ignore"):
        T, steps = _sources_by_step(params, xs, ys, param, **kwargs)
        shape = getattr(params, param).shape
        entries = T * T * int(np.prod(shape))
        if entries > max_entries:
            raise ValueError(f"contribution_pieces for {param} {shape} with T={T} would hold {entries} "
                             f"entries, more than max_entries={max_entries}; use contributions() for norms")
        out = np.zeros((T, T) + shape)
        for i, delta, right in steps:
            out[i:, i] = _pieces(delta, right, param)
    return out
