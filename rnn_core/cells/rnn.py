"""The vanilla RNN cell, eqs. (1)-(3) and (7)-(10), behind the cell seam.

    (1)  a_t = W_xh x_t + W_hh h_{t-1} + b_h
    (2)  h_t = f(a_t)
    (3)  o_t = W_hy h_t + b_y                      (the output layer, shared by every cell)
    (8)  dh_t/dh_{t-1} = diag(f'(a_t)) W_hh
    (10) delta_t = f'(a_t) * dL/dh_t

State s_t = h_t (S = H). The fast kernels (`run_forward`, `backward_through_time` and the
parameter sums of `stacked_gradients`) work on whole batches in preallocated arrays;
`reference_bptt` is the same algorithm as a short loop (tested equal). Which memory layout BLAS
is handed decides the last bits of a product, so the kernels' numbers are exact to rounding
(about 1e-14 relative), not bit for bit across versions or CPUs.
"""
from __future__ import annotations

import numpy as np

from .._arrays import empty_arrays
from ..activations import Activation
from ..params import Params
from ..truncation import Truncation
from .base import Back, Cell, Run, stacked_gradients, sum_leading

Array = np.ndarray


def run_forward(params: Params, X: Array, H0: Array, act: Activation,
                out: tuple[Array, Array, Array] | None = None) -> tuple[Array, Array, Array]:
    """Eqs. (1)-(3) on a batch: X (T, B, D), H0 (B, H) -> A (T, B, H), Hs (T, B, H), O (T, B, O).

    out: optional C-contiguous arrays of those shapes to write A, Hs and O into.
    """
    T, B, D = X.shape
    H, O_size = H0.shape[1], params.W_hy.shape[0]
    A, Hs, O = out if out is not None else empty_arrays((T, B, H), (T, B, H), (T, B, O_size))
    _recurrence(params, X, H0, act, A, Hs, O)     # eqs. (1)-(3)
    return A, Hs, O


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
    W_hh = np.ascontiguousarray(W_hh)                      # C order: see _recurrence
    dL_dh0 = np.empty((B, H))
    indirect[T - 1] = 0.0                                  # the indirect part is 0 at t = T
    for t in range(T - 1, -1, -1):
        into_prev = indirect[t - 1] if t > 0 else dL_dh0   # the indirect part of dL/dh_{t-1}
        delta = dL_da[t]
        np.add(direct[t], indirect[t], out=dL_dh[t])       # eq. (7): dL/dh_t = direct + indirect
        act.df_into(A[t], Hs[t], delta)                    # back through eq. (2): f'(a_t)
        delta *= dL_dh[t]                                  # eq. (10): delta_t = f'(a_t) * dL/dh_t
        np.dot(delta, W_hh, out=into_prev)                 # back through eq. (1): W_hh^T delta_t
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


class RNNCell(Cell):
    """h_t = f(W_xh x_t + W_hh h_{t-1} + b_h); f chosen by `activation`."""

    name = "rnn"
    title = "vanilla RNN"
    params_type = Params
    gate_names = ("a",)
    gate_letters = ("h",)
    memory = False
    recurrent_names = ("W_xh", "W_hh", "b_h")

    def step(self, params: Params, x: Array, state: Array, act: Activation) -> Array:
        a = x @ params.W_xh.T + state @ params.W_hh.T + params.b_h      # eq. (1)
        return act.f(a)                                                 # eq. (2)

    def run_shapes(self, T: int, B: int, H: int) -> list[tuple[int, ...]]:
        return [(T, B, H), (T, B, H)]                       # A, Hs

    def backward_shapes(self, T: int, B: int, H: int) -> list[tuple[int, ...]]:
        return [(T, B, H)] * 3                              # dL_dh, indirect, dL_da

    def run(self, params: Params, X: Array, H0: Array, C0, act: Activation, out=None) -> Run:
        return self.run_with_outputs(params, X, H0, C0, act, out, None)

    def run_with_outputs(self, params: Params, X: Array, H0: Array, C0, act: Activation, out,
                         O: Array | None) -> Run:
        """Eqs. (1)-(2), and eq. (3) into O if given (o_t right after h_t: see _recurrence)."""
        T, B, _ = X.shape
        A, Hs = out if out is not None else empty_arrays(*self.run_shapes(T, B, H0.shape[1]))
        _recurrence(params, X, H0, act, A, Hs, O)
        return Run(X=X, H0=H0, C0=None, hs=Hs, a=A, act=act)

    def backward(self, params: Params, run: Run, direct: Array, trunc: Truncation, out=None) -> Back:
        dL_dh, indirect, dL_da = out if out is not None else empty_arrays(*self.backward_shapes(*direct.shape))
        dS0 = backward_through_time(params.W_hh, direct, run.a, run.hs, run.act, trunc,
                                    out=(dL_dh, indirect, dL_da))
        return Back(dL_dh=dL_dh, dL_dh_indirect=indirect, dL_da=dL_da, dS0=dS0)

    def state_vjp(self, params: Params, run: Run, t: int, ds: Array, *, da_out=None, dc_out=None,
                  da_each=None) -> Array:
        da = ds * run.act.df(run.a[t], run.hs[t])        # eq. (10): f'(a_t) * dL/dh_t
        if da_each is not None:
            da_each[...] = da
        sum_leading(da, da_out)
        return da @ params.W_hh                          # back through eq. (1): W_hh^T delta_t

    def recurrent_gradients(self, params: Params, run: Run, dL_da: Array) -> dict[str, Array]:
        return stacked_gradients(run.X, run.H0, run.hs, dL_da, ("h",))


def _recurrence(params: Params, X: Array, H0: Array, act: Activation, A: Array, Hs: Array,
                O: Array | None = None) -> None:
    """Eqs. (1)-(2) on a batch into A, Hs (T, B, H), and eq. (3) into O (T, B, O) if given.

    o_t is computed right after h_t, while h_t is still in cache: T small products cost less
    than one whole-sequence product reading Hs back from memory (~4 ms of 7 at the largest
    benchmark size).
    """
    T, B, D = X.shape
    H = H0.shape[1]
    # eq. (1), the input part for all steps at once: one BLAS call instead of T.
    np.matmul(X.reshape(T * B, D), params.W_xh.T, out=A.reshape(T * B, H))
    A += params.b_h
    # C order: OpenBLAS multiplies (B, H) by a C-order (H, H) 25% faster than by a Fortran-order
    # one at B = 32, H = 128 on the benchmark machine (15 against 19.5 us; bench/RESULTS.md).
    W_hh_T = np.ascontiguousarray(params.W_hh.T)
    W_hy_T = None if O is None else np.ascontiguousarray(params.W_hy.T)
    recurrent = np.empty((B, H))    # W_hh h_{t-1}, rewritten in place every step
    h = H0
    for t, (a, h_next) in enumerate(zip(A, Hs)):   # a_t, h_t (B, H): views, written in place
        np.dot(h, W_hh_T, out=recurrent)   # np.dot: less call overhead than matmul on small arrays
        a += recurrent                     # eq. (1), the recurrent part
        act.f_into(a, h_next)              # eq. (2)
        if W_hy_T is not None:
            np.dot(h_next, W_hy_T, out=O[t])   # eq. (3), without b_y
        h = h_next
    if O is not None:
        O += params.b_y


def reference_bptt(params: Params, xs: Array, ys: Array, *, activation: Activation, loss, h0: Array) -> tuple:
    """min-char-rnn's loop for one sequence with reduction 'sum': (L, grads, dL_dh0).

    xs (T, D), ys (T,) or (T, O), h0 (H,); column vectors as in the equations. No buffers, no
    tricks: the backward loop mirrors the forward loop, one line per equation.
    """
    f, df = activation.f, activation.df
    hs, as_, os_, L = {-1: h0}, {}, {}, 0.0
    for t in range(len(xs)):
        as_[t] = params.W_xh @ xs[t] + params.W_hh @ hs[t - 1] + params.b_h     # (1)
        hs[t] = f(as_[t])                                                       # (2)
        os_[t] = params.W_hy @ hs[t] + params.b_y                               # (3)
        L += float(loss.value(os_[t], ys[t]))                                   # (4), (5)
    g = {n: np.zeros_like(a) for n, a in params.items()}
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        do = loss.grad(os_[t], ys[t])                                           # (6)
        g["W_hy"] += np.outer(do, hs[t]); g["b_y"] += do
        dh = params.W_hy.T @ do + dh_next                                       # (7)
        da = df(as_[t], hs[t]) * dh                                             # (10)
        g["W_xh"] += np.outer(da, xs[t]); g["W_hh"] += np.outer(da, hs[t - 1]); g["b_h"] += da
        dh_next = params.W_hh.T @ da                                            # into h_{t-1}
    return L, Params(**g), dh_next


RNN = RNNCell()
