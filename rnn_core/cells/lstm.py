"""The LSTM cell (Hochreiter & Schmidhuber; the names of Dive into Deep Learning 10.1).

    (L1) i_t  = sigma(W_xi x_t + W_hi h_{t-1} + b_i)        input gate
    (L2) f_t  = sigma(W_xf x_t + W_hf h_{t-1} + b_f)        forget gate
    (L3) G_t  = sigma(W_xo x_t + W_ho h_{t-1} + b_o)        output gate (o_t stays the logits)
    (L4) c~_t = tanh(W_xc x_t + W_hc h_{t-1} + b_c)         candidate
    (L5) c_t  = f_t * c_{t-1} + i_t * c~_t                  memory cell
    (L6) h_t  = G_t * tanh(c_t)

State s_t = [h_t; c_t] (S = 2H). Backward through one step, from dL/dh_t (total, c_t held) and
the gradient arriving on c_t from step t+1:
    dL/dc_t      = G_t * tanh'(c_t) * dL/dh_t  +  f_{t+1} * dL/dc_{t+1}     (through h_t, through c_{t+1})
    delta_i = dL/dc_t * c~_t * i_t (1 - i_t)       delta_f = dL/dc_t * c_{t-1} * f_t (1 - f_t)
    delta_o = dL/dh_t * tanh(c_t) * G_t (1 - G_t)  delta_c = dL/dc_t * i_t * (1 - c~_t^2)
    into s_{t-1}:  dL/dh_{t-1} += W_hi^T delta_i + W_hf^T delta_f + W_ho^T delta_o + W_hc^T delta_c,
                   dL/dc_{t-1} += f_t * dL/dc_t
The memory path c_k -> c_T alone is diag(f_{k+1} * ... * f_T): the forget gates' product.

The fast path stacks the four gates: pre-activations of all T steps' inputs in one matmul,
the four recurrent products of a step in one matmul against [W_hi; W_hf; W_ho; W_hc] (4H, H),
buffers (T, B, 4H) allocated once. `reference_bptt` is the same algorithm as a short loop.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._arrays import empty_arrays
from ..params import CellParams
from ..truncation import Truncation
from .base import (Back, Cell, Run, backward_by_steps, negated_rows, sigmoid, stack_rows,
                   stacked_gradients, sum_leading)

Array = np.ndarray

GATES = ("i", "f", "o", "c")     # the blocks of the stacked pre-activations, in this order
CHUNK = 32                       # the backward pass forms local derivatives for this many steps at once


@dataclass(frozen=True, eq=False)
class LSTMParams(CellParams):
    """W_x* (H, D), W_h* (H, H), b_* (H,) for * = i, f, o (output gate G), c (candidate);
    W_hy (O, H), b_y (O,). Also used for gradients."""

    W_xi: Array
    W_hi: Array
    b_i: Array
    W_xf: Array
    W_hf: Array
    b_f: Array
    W_xo: Array
    W_ho: Array
    b_o: Array
    W_xc: Array
    W_hc: Array
    b_c: Array
    W_hy: Array
    b_y: Array


class LSTMCell(Cell):
    name = "lstm"
    title = "LSTM"
    params_type = LSTMParams
    gate_names = ("i", "f", "G", "c~")
    gate_letters = GATES
    memory = True
    recurrent_names = tuple(name for g in GATES for name in (f"W_x{g}", f"W_h{g}", f"b_{g}"))

    def step(self, p: LSTMParams, x: Array, state: Array, act=None) -> Array:
        """(L1)-(L6) once: x (..., D), s_{t-1} = [h; c] (..., 2H) -> s_t (..., 2H)."""
        H = p.b_i.shape[0]
        h, c = state[..., :H], state[..., H:]
        i = sigmoid(x @ p.W_xi.T + h @ p.W_hi.T + p.b_i)            # (L1)
        f = sigmoid(x @ p.W_xf.T + h @ p.W_hf.T + p.b_f)            # (L2)
        G = sigmoid(x @ p.W_xo.T + h @ p.W_ho.T + p.b_o)            # (L3)
        cc = np.tanh(x @ p.W_xc.T + h @ p.W_hc.T + p.b_c)           # (L4)
        c = f * c + i * cc                                          # (L5)
        return np.concatenate([G * np.tanh(c), c], axis=-1)         # (L6)

    def run_shapes(self, T: int, B: int, H: int) -> list[tuple[int, ...]]:
        return [(T, B, 4 * H), (T, B, H), (T, B, H)]                     # gates, h, c

    def backward_shapes(self, T: int, B: int, H: int) -> list[tuple[int, ...]]:
        return [(T, B, H)] * 5 + [(T, B, 4 * H)]    # dL_dh, its indirect part, dL_dc, its two parts, delta

    def run(self, p: LSTMParams, X: Array, H0: Array, C0: Array, act=None, out=None) -> Run:
        """(L1)-(L6) on a batch X (T, B, D) from H0, C0 (B, H)."""
        T, B, D = X.shape
        H = H0.shape[1]
        W_h = stack_rows(p, ("W_hi", "W_hf", "W_ho", "W_hc"))        # (4H, H)
        # the three sigmoid gates computed as -pre-activations (see negated_rows)
        W_h_T = np.ascontiguousarray(negated_rows(W_h, 3 * H).T)    # C order: faster here (bench/variance.py)
        gates, Hs, Cs = out if out is not None else empty_arrays(*self.run_shapes(T, B, H))
        # every step's input part at once: one matmul for T steps and four gates
        np.matmul(X.reshape(T * B, D), negated_rows(stack_rows(p, ("W_xi", "W_xf", "W_xo", "W_xc")), 3 * H).T,
                  out=gates.reshape(T * B, 4 * H))
        gates += negated_rows(stack_rows(p, ("b_i", "b_f", "b_o", "b_c")), 3 * H)
        recurrent, scratch, tanh_c, pre_c = np.empty((B, 4 * H)), np.empty((B, H)), np.empty((B, H)), np.empty((B, H))
        # each gate's block for every step, as views: indexing [t] is cheaper than slicing a step
        i, f, G, cc = gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:3 * H], gates[..., 3 * H:]
        dot, exp, tanh, multiply, reciprocal, copyto = np.dot, np.exp, np.tanh, np.multiply, np.reciprocal, np.copyto
        h, c = H0, C0
        with np.errstate(over="ignore"):
            for t in range(T):
                g_t = gates[t]
                dot(h, W_h_T, out=recurrent)                        # four recurrent products in one
                g_t += recurrent
                copyto(pre_c, cc[t])                                # the candidate's pre-activation, kept:
                exp(g_t, out=g_t)                                   # (L1)-(L3): sigma(a) from -a, as in
                g_t += 1.0                                          #   negated_rows, on the whole
                reciprocal(g_t, out=g_t)                            #   contiguous row (faster than 3 of 4
                tanh(pre_c, out=cc[t])                              #   blocks); (L4) overwrites the 4th
                c_t = Cs[t]
                multiply(f[t], c, out=c_t)                          # (L5) f_t * c_{t-1}
                multiply(i[t], cc[t], out=scratch)                  #      i_t * c~_t
                c_t += scratch
                tanh(c_t, out=tanh_c)                               # (recomputed by the backward pass:
                multiply(G[t], tanh_c, out=Hs[t])                   #  cheaper than T B H more memory) (L6)
                h, c = Hs[t], c_t
        return Run(X=X, H0=H0, C0=C0, hs=Hs, a=gates, cs=Cs, extra={"W_h": W_h})

    def _derivatives_of_run(self, run: Run) -> tuple[Array, Array]:
        """(T, B, 4H) each gate's derivative at its pre-activation (sigma' = s(1-s), tanh' = 1 - c~^2)
        and (T, B, H) G_t * tanh'(c_t); computed once per run, for every step at once."""
        if "dgates" not in run.extra:
            H = run.hs.shape[2]
            g = run.a
            dgates = g * (1.0 - g)
            np.multiply(g[..., 3 * H:], g[..., 3 * H:], out=dgates[..., 3 * H:])
            np.subtract(1.0, dgates[..., 3 * H:], out=dgates[..., 3 * H:])
            tc = run.extra["tanh_c"] = np.tanh(run.cs)
            run.extra["dgates"] = dgates
            run.extra["G_dtanh_c"] = g[..., 2 * H:3 * H] * (1.0 - tc * tc)
        return run.extra["dgates"], run.extra["G_dtanh_c"]

    def state_vjp(self, p: LSTMParams, run: Run, t: int, ds: Array, *, da_out=None, dc_out=None,
                  da_each=None) -> Array:
        H = run.hs.shape[2]
        dgates, G_dtanh_c = self._derivatives_of_run(run)
        g = run.a[t]
        dh, dc_next = ds[..., :H], ds[..., H:]
        dc = dh * G_dtanh_c[t]                                  # dL/dc_t through h_t ...
        dc += dc_next                                           # ... and through c_{t+1}
        lead = ds.shape[:-1]
        da = da_each if da_each is not None else (
            da_out if (da_out is not None and ds.ndim == 2) else np.empty(lead + (4 * H,)))
        np.multiply(dc, g[:, 3 * H:], out=da[..., :H])          # to i_t      (L5)
        np.multiply(dc, run.c_prev(t), out=da[..., H:2 * H])    # to f_t      (L5)
        np.multiply(dh, run.extra["tanh_c"][t], out=da[..., 2 * H:3 * H])   # to G_t (L6)
        np.multiply(dc, g[:, :H], out=da[..., 3 * H:])          # to c~_t     (L5)
        da *= dgates[t]                                         # through sigma and tanh: (L1)-(L4)
        ds_prev = np.empty(ds.shape)
        ds_prev[..., :H] = da @ run.extra["W_h"]                # into h_{t-1}: all four W_h*^T delta_*
        np.multiply(dc, g[:, H:2 * H], out=ds_prev[..., H:])    # into c_{t-1}: f_t * dL/dc_t
        if da is not da_out:
            sum_leading(da, da_out)
        sum_leading(dc, dc_out)
        return ds_prev

    def backward(self, p: LSTMParams, run: Run, direct: Array, trunc: Truncation, out=None) -> Back:
        """BPTT from T down to 1 (the module docstring's equations), full, chunked or randomized;
        k-step truncation goes through the generic `backward_by_steps`.

        The same algorithm as `state_vjp` step after step, without its per-step allocations:
        every array is written in place, what goes into s_{t-1} straight into the indirect parts
        of step t-1; the local derivatives sigma', tanh' and tanh(c_t) are formed for CHUNK steps
        at a time (fewer NumPy calls, and never another (T, B, 4H) array).
        """
        T, B, H = direct.shape
        if trunc.window(T) is not None:
            return backward_by_steps(self, p, run, direct, trunc)
        r = trunc.step_factors(T)
        dL_dh, indirect, dL_dc, dc_direct, dc_indirect, dL_da = (
            out if out is not None else empty_arrays(*self.backward_shapes(T, B, H)))
        gates, Cs, W_h = run.a, run.cs, run.extra["W_h"]
        dh0, dc0 = np.empty((B, H)), np.empty((B, H))
        indirect[T - 1] = 0.0                                 # nothing reaches s_T from later steps
        dc_indirect[T - 1] = 0.0
        n = min(CHUNK, T)
        local, tanh_c, G_dtanh_c = np.empty((n, B, 4 * H)), np.empty((n, B, H)), np.empty((n, B, H))
        # per-block views indexed by step (cheaper than slicing each step's rows)
        i, f, cc = gates[..., :H], gates[..., H:2 * H], gates[..., 3 * H:]
        da_i, da_f, da_G, da_c = (dL_da[..., k * H:(k + 1) * H] for k in range(4))
        add, multiply, dot = np.add, np.multiply, np.dot
        for t in range(T - 1, -1, -1):
            j = t % CHUNK
            if t == T - 1 or j == CHUNK - 1:                  # the next CHUNK steps' local derivatives
                lo = t - j
                _local_derivatives(gates[lo:t + 1], Cs[lo:t + 1], local, tanh_c, G_dtanh_c)
            dc, dht = dL_dc[t], dL_dh[t]
            into_h, into_c = (indirect[t - 1], dc_indirect[t - 1]) if t > 0 else (dh0, dc0)
            add(direct[t], indirect[t], out=dht)              # dL/dh_t = direct + through h_{t+1}
            multiply(dht, G_dtanh_c[j], out=dc_direct[t])     # dL/dc_t through h_t (L6) ...
            add(dc_direct[t], dc_indirect[t], out=dc)         # ... plus through c_{t+1}
            multiply(dc, cc[t], out=da_i[t])                  # to i_t   (L5)
            multiply(dc, Cs[t - 1] if t > 0 else run.C0, out=da_f[t])     # to f_t (L5)
            multiply(dht, tanh_c[j], out=da_G[t])             # to G_t   (L6)
            multiply(dc, i[t], out=da_c[t])                   # to c~_t  (L5)
            dL_da[t] *= local[j]                              # through sigma and tanh: (L1)-(L4)
            dot(dL_da[t], W_h, out=into_h)                    # into h_{t-1}: all four W_h*^T delta_*
            multiply(dc, f[t], out=into_c)                    # into c_{t-1}: f_t * dL/dc_t
            if r is not None:
                into_h *= r[t]                                # detached or randomly truncated step
                into_c *= r[t]
        return Back(dL_dh=dL_dh, dL_dh_indirect=indirect, dL_da=dL_da, dS0=np.concatenate([dh0, dc0], axis=1),
                    dL_dc=dL_dc, dL_dc_indirect=dc_indirect, dL_dc_direct=dc_direct)

    def recurrent_gradients(self, p: LSTMParams, run: Run, dL_da: Array) -> dict[str, Array]:
        return stacked_gradients(run.X, run.H0, run.hs, dL_da, GATES)


def _local_derivatives(g: Array, c: Array, local: Array, tanh_c: Array, G_dtanh_c: Array) -> None:
    """For the n steps of gates g (n, B, 4H) and memory c (n, B, H): into local[:n] each gate's
    derivative at its pre-activation (sigma' = s (1 - s) for i, f, G; tanh' = 1 - c~^2), into
    tanh_c[:n] tanh(c_t) and into G_dtanh_c[:n] G_t * tanh'(c_t)."""
    n, _, H4 = g.shape
    H = H4 // 4
    d = local[:n]
    np.subtract(1.0, g, out=d)
    d *= g
    np.multiply(g[..., 3 * H:], g[..., 3 * H:], out=d[..., 3 * H:])
    np.subtract(1.0, d[..., 3 * H:], out=d[..., 3 * H:])
    np.tanh(c, out=tanh_c[:n])
    np.multiply(tanh_c[:n], tanh_c[:n], out=G_dtanh_c[:n])
    np.subtract(1.0, G_dtanh_c[:n], out=G_dtanh_c[:n])
    G_dtanh_c[:n] *= g[..., 2 * H:3 * H]


def reference_bptt(p: LSTMParams, xs: Array, ys: Array, *, loss, h0: Array, c0: Array) -> tuple:
    """The LSTM's BPTT as a short loop for one sequence with reduction 'sum':
    (L, grads, dL_dh0, dL_dc0). xs (T, D), ys (T,) or (T, O), h0, c0 (H,); column vectors."""
    sig = sigmoid
    i, f, G, cc, c, h, o, L = {}, {}, {}, {}, {-1: c0}, {-1: h0}, {}, 0.0
    for t in range(len(xs)):
        i[t] = sig(p.W_xi @ xs[t] + p.W_hi @ h[t - 1] + p.b_i)            # (L1)
        f[t] = sig(p.W_xf @ xs[t] + p.W_hf @ h[t - 1] + p.b_f)            # (L2)
        G[t] = sig(p.W_xo @ xs[t] + p.W_ho @ h[t - 1] + p.b_o)            # (L3)
        cc[t] = np.tanh(p.W_xc @ xs[t] + p.W_hc @ h[t - 1] + p.b_c)       # (L4)
        c[t] = f[t] * c[t - 1] + i[t] * cc[t]                             # (L5)
        h[t] = G[t] * np.tanh(c[t])                                       # (L6)
        o[t] = p.W_hy @ h[t] + p.b_y                                      # output layer
        L += float(loss.value(o[t], ys[t]))
    g = {n: np.zeros_like(a) for n, a in p.items()}
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(len(xs))):
        do = loss.grad(o[t], ys[t])
        g["W_hy"] += np.outer(do, h[t]); g["b_y"] += do
        dh = p.W_hy.T @ do + dh_next                                      # dL/dh_t
        dc = dh * G[t] * (1 - np.tanh(c[t]) ** 2) + dc_next               # dL/dc_t
        deltas = {"i": dc * cc[t] * i[t] * (1 - i[t]),                    # back through (L5), (L1)
                  "f": dc * c[t - 1] * f[t] * (1 - f[t]),                 # back through (L5), (L2)
                  "o": dh * np.tanh(c[t]) * G[t] * (1 - G[t]),            # back through (L6), (L3)
                  "c": dc * i[t] * (1 - cc[t] ** 2)}                      # back through (L5), (L4)
        dh_next = np.zeros_like(h0)
        for k, d in deltas.items():
            g[f"W_x{k}"] += np.outer(d, xs[t]); g[f"W_h{k}"] += np.outer(d, h[t - 1]); g[f"b_{k}"] += d
            dh_next += getattr(p, f"W_h{k}").T @ d                        # into h_{t-1}
        dc_next = f[t] * dc                                               # into c_{t-1}
    return L, LSTMParams(**g), dh_next, dc_next


LSTM = LSTMCell()
