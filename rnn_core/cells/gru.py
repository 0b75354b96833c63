"""The GRU cell (Cho et al. 2014; Dive into Deep Learning 10.2: the reset gate acts on h_{t-1}
*before* the product with W_hh, unlike cuDNN's and PyTorch's nn.GRU).

    (G1) r_t  = sigma(W_xr x_t + W_hr h_{t-1} + b_r)                reset gate
    (G2) z_t  = sigma(W_xz x_t + W_hz h_{t-1} + b_z)                update gate
    (G3) h~_t = tanh(W_xh x_t + W_hh (r_t * h_{t-1}) + b_h)         candidate
    (G4) h_t  = z_t * h_{t-1} + (1 - z_t) * h~_t

State s_t = h_t (S = H). Backward through one step from dL/dh_t:
    delta_z = dL/dh_t * (h_{t-1} - h~_t) * z_t (1 - z_t)
    delta_h = dL/dh_t * (1 - z_t) * (1 - h~_t^2),   g_rh = W_hh^T delta_h   (gradient on r_t * h_{t-1})
    delta_r = g_rh * h_{t-1} * r_t (1 - r_t)
    into h_{t-1}:  z_t * dL/dh_t  +  r_t * g_rh  +  W_hr^T delta_r + W_hz^T delta_z
The update gate's path h_{t-1} -> h_t alone is diag(z_t): the product of update gates.

The fast path: every step's input part in one matmul for T steps and three blocks; the two
gates' recurrent products of a step in one matmul against [W_hr; W_hz] (2H, H); the candidate
needs r_t first, so its product W_hh (r_t * h_{t-1}) is a second one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._arrays import empty_arrays
from ..params import CellParams
from ..truncation import Truncation
from .base import (Back, Cell, Run, backward_by_steps, negated_rows, sigmoid, stack_rows,
                   stacked_gradients, sum_leading)
from .lstm import CHUNK

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class GRUParams(CellParams):
    """W_x* (H, D), W_h* (H, H), b_* (H,) for * = r (reset), z (update), h (candidate; W_hh acts
    on r_t * h_{t-1}); W_hy (O, H), b_y (O,). Also used for gradients."""

    W_xr: Array
    W_hr: Array
    b_r: Array
    W_xz: Array
    W_hz: Array
    b_z: Array
    W_xh: Array
    W_hh: Array
    b_h: Array
    W_hy: Array
    b_y: Array


class GRUCell(Cell):
    name = "gru"
    title = "GRU"
    params_type = GRUParams
    gate_names = ("r", "z", "h~")
    gate_letters = ("r", "z", "h")
    memory = False
    recurrent_names = ("W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xh", "W_hh", "b_h")

    def step(self, p: GRUParams, x: Array, h: Array, act=None) -> Array:
        """(G1)-(G4) once: x (..., D), h_{t-1} (..., H) -> h_t (..., H)."""
        r = sigmoid(x @ p.W_xr.T + h @ p.W_hr.T + p.b_r)                  # (G1)
        z = sigmoid(x @ p.W_xz.T + h @ p.W_hz.T + p.b_z)                  # (G2)
        hc = np.tanh(x @ p.W_xh.T + (r * h) @ p.W_hh.T + p.b_h)           # (G3)
        return z * h + (1 - z) * hc                                       # (G4)

    def run_shapes(self, T: int, B: int, H: int) -> list[tuple[int, ...]]:
        return [(T, B, 3 * H), (T, B, H), (T, B, H)]                     # gates, h, r * h_{t-1}

    def backward_shapes(self, T: int, B: int, H: int) -> list[tuple[int, ...]]:
        return [(T, B, H), (T, B, H), (T, B, 3 * H)]                     # dL_dh, its indirect part, delta

    def run(self, p: GRUParams, X: Array, H0: Array, C0=None, act=None, out=None) -> Run:
        """(G1)-(G4) on a batch X (T, B, D) from H0 (B, H)."""
        T, B, D = X.shape
        H = H0.shape[1]
        W_rz = stack_rows(p, ("W_hr", "W_hz"))                         # (2H, H)
        # both gates computed as -pre-activations (see negated_rows)
        W_rz_T, W_hh_T = np.ascontiguousarray(negated_rows(W_rz, 2 * H).T), np.ascontiguousarray(p.W_hh.T)
        gates, Hs, RH = out if out is not None else empty_arrays(*self.run_shapes(T, B, H))
        np.matmul(X.reshape(T * B, D), negated_rows(stack_rows(p, ("W_xr", "W_xz", "W_xh")), 2 * H).T,
                  out=gates.reshape(T * B, 3 * H))
        gates += negated_rows(stack_rows(p, ("b_r", "b_z", "b_h")), 2 * H)
        rec_rz, rec_h = np.empty((B, 2 * H)), np.empty((B, H))
        # each block for every step, as views: indexing [t] is cheaper than slicing a step
        rz, r, z, hc = gates[..., :2 * H], gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:]
        dot, exp, tanh, multiply, reciprocal, copyto = np.dot, np.exp, np.tanh, np.multiply, np.reciprocal, np.copyto
        h = H0
        with np.errstate(over="ignore"):
            for t in range(T):
                s_t, hc_t, h_t = rz[t], hc[t], Hs[t]
                dot(h, W_rz_T, out=rec_rz)                             # both gates' products in one
                rec_rz += s_t                                          # in the contiguous buffer:
                exp(rec_rz, out=rec_rz)                                # (G1), (G2): sigma(a) from -a,
                rec_rz += 1.0                                          #   as in negated_rows
                reciprocal(rec_rz, out=rec_rz)
                copyto(s_t, rec_rz)
                multiply(r[t], h, out=RH[t])                           # r_t * h_{t-1}
                dot(RH[t], W_hh_T, out=rec_h)
                hc_t += rec_h
                tanh(hc_t, out=hc_t)                                   # (G3)
                np.subtract(h, hc_t, out=h_t)                          # (G4) as h~ + z (h_{t-1} - h~)
                h_t *= z[t]
                h_t += hc_t
                h = h_t
        return Run(X=X, H0=H0, C0=None, hs=Hs, a=gates, extra={"rh": RH, "W_rz": W_rz})

    def _derivatives_of_run(self, run: Run) -> Array:
        """(T, B, 3H): r(1-r), z(1-z), 1 - h~^2 at every step, computed once per run."""
        if "dgates" not in run.extra:
            H = run.hs.shape[2]
            g = run.a
            dgates = g * (1.0 - g)
            np.multiply(g[..., 2 * H:], g[..., 2 * H:], out=dgates[..., 2 * H:])
            np.subtract(1.0, dgates[..., 2 * H:], out=dgates[..., 2 * H:])
            run.extra["dgates"] = dgates
        return run.extra["dgates"]

    def state_vjp(self, p: GRUParams, run: Run, t: int, ds: Array, *, da_out=None, dc_out=None,
                  da_each=None) -> Array:
        H = run.hs.shape[2]
        dgates = self._derivatives_of_run(run)
        g = run.a[t]
        r, z, hc = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
        h_prev = run.h_prev(t)
        da = da_each if da_each is not None else (
            da_out if (da_out is not None and ds.ndim == 2) else np.empty(ds.shape[:-1] + (3 * H,)))
        np.multiply(ds, h_prev - hc, out=da[..., H:2 * H])     # to z_t         (G4)
        np.multiply(ds, 1.0 - z, out=da[..., 2 * H:])          # to h~_t        (G4)
        da[..., H:] *= dgates[t][:, H:]                        # through sigma (G2) and tanh (G3)
        g_rh = da[..., 2 * H:] @ p.W_hh                        # to r_t * h_{t-1}
        np.multiply(g_rh, h_prev, out=da[..., :H])             # to r_t         (G3)
        da[..., :H] *= dgates[t][:, :H]                        # through sigma (G1)
        ds_prev = ds * z                                       # into h_{t-1}: directly (G4),
        g_rh *= r
        ds_prev += g_rh                                        # through r_t * h_{t-1} (G3),
        ds_prev += da[..., :2 * H] @ run.extra["W_rz"]         # through both gates (G1), (G2)
        if da is not da_out:
            sum_leading(da, da_out)
        return ds_prev

    def backward(self, p: GRUParams, run: Run, direct: Array, trunc: Truncation, out=None) -> Back:
        """BPTT from T down to 1 (the module docstring's equations), full, chunked or randomized;
        k-step truncation goes through the generic `backward_by_steps`. The same algorithm as
        `state_vjp` step after step, written in place (what goes into h_{t-1} straight into the
        indirect part of step t-1), the local factors of each gate formed for CHUNK steps at a
        time, so that a step is ten NumPy calls."""
        T, B, H = direct.shape
        if trunc.window(T) is not None:
            return backward_by_steps(self, p, run, direct, trunc)
        r = trunc.step_factors(T)
        dL_dh, indirect, dL_da = out if out is not None else empty_arrays(*self.backward_shapes(T, B, H))
        gates, W_rz = run.a, run.extra["W_rz"]
        dh0 = np.empty((B, H))
        indirect[T - 1] = 0.0                                 # nothing reaches h_T from later steps
        n = min(CHUNK, T)
        local = np.empty((n, B, 3, H))                        # per step: what delta_r, _z, _h need
        g_rh, scratch = np.empty((B, H)), np.empty((B, H))
        r_, z_ = gates[..., :H], gates[..., H:2 * H]              # per-block views indexed by step
        blocks, da_rz = dL_da.reshape(T, B, 3, H), dL_da[..., :2 * H]
        add, multiply, dot = np.add, np.multiply, np.dot
        for t in range(T - 1, -1, -1):
            j = t % CHUNK
            if t == T - 1 or j == CHUNK - 1:                  # the next CHUNK steps' local factors
                _local_factors(gates[t - j:t + 1], _h_prev_rows(run, t - j, t + 1), local)
            dht, da = dL_dh[t], blocks[t]                     # da: the blocks r, z, h~ of delta_t
            into_h = indirect[t - 1] if t > 0 else dh0
            add(direct[t], indirect[t], out=dht)              # dL/dh_t = direct + through h_{t+1}
            multiply(local[j, :, 1:], dht[:, None, :], out=da[:, 1:])     # to z_t, h~_t (G4), (G2), (G3)
            dot(da[:, 2], p.W_hh, out=g_rh)                   # to r_t * h_{t-1}
            multiply(g_rh, local[j, :, 0], out=da[:, 0])      # to r_t (G3), (G1)
            multiply(dht, z_[t], out=into_h)                  # into h_{t-1}: directly (G4),
            g_rh *= r_[t]
            into_h += g_rh                                    # through r_t * h_{t-1} (G3),
            dot(da_rz[t], W_rz, out=scratch)                  # through both gates (G1), (G2)
            into_h += scratch
            if r is not None:
                into_h *= r[t]                                # detached or randomly truncated step
        return Back(dL_dh=dL_dh, dL_dh_indirect=indirect, dL_da=dL_da, dS0=dh0)

    def recurrent_gradients(self, p: GRUParams, run: Run, dL_da: Array) -> dict[str, Array]:
        H = run.hs.shape[2]
        T, B, _ = dL_da.shape
        out = stacked_gradients(run.X, run.H0, run.hs, dL_da, ("r", "z"))
        delta_h = dL_da[..., 2 * H:].reshape(T * B, H)
        out["W_xh"] = np.ascontiguousarray((run.X.reshape(T * B, -1).T @ delta_h).T)
        out["W_hh"] = np.ascontiguousarray((run.extra["rh"].reshape(T * B, H).T @ delta_h).T)   # delta_h (r h)^T
        out["b_h"] = np.ones(T * B) @ delta_h
        return out


def _h_prev_rows(run: Run, lo: int, hi: int) -> Array:
    """h_{t-1} for the steps of indices lo..hi-1: (hi - lo, B, H) (h_0 first when lo = 0)."""
    if lo > 0:
        return run.hs[lo - 1:hi - 1]
    return np.concatenate([run.H0[None], run.hs[:hi - 1]])


def _local_factors(g: Array, h_prev: Array, local: Array) -> None:
    """For n steps of gates g (n, B, 3H) and states h_prev (n, B, H), into local[:n] (n, B, 3, H)
    the factors that turn dL/dh_t (or, for r_t, the gradient on r_t * h_{t-1}) into delta:
    h_{t-1} r (1 - r);  (h_{t-1} - h~) z (1 - z);  (1 - z) (1 - h~^2)."""
    n, _, H3 = g.shape
    H = H3 // 3
    r, z, hc = g[..., :H], g[..., H:2 * H], g[..., 2 * H:]
    L = local[:n]
    np.subtract(1.0, r, out=L[:, :, 0])
    L[:, :, 0] *= r
    L[:, :, 0] *= h_prev
    np.subtract(1.0, z, out=L[:, :, 1])
    L[:, :, 1] *= z
    np.subtract(h_prev, hc, out=L[:, :, 2])
    L[:, :, 1] *= L[:, :, 2]
    np.multiply(hc, hc, out=L[:, :, 2])
    np.subtract(1.0, L[:, :, 2], out=L[:, :, 2])
    L[:, :, 2] *= 1.0 - z


def reference_bptt(p: GRUParams, xs: Array, ys: Array, *, loss, h0: Array) -> tuple:
    """The GRU's BPTT as a short loop for one sequence with reduction 'sum':
    (L, grads, dL_dh0). xs (T, D), ys (T,) or (T, O), h0 (H,); column vectors."""
    sig = sigmoid
    r, z, hc, h, o, L = {}, {}, {}, {-1: h0}, {}, 0.0
    for t in range(len(xs)):
        r[t] = sig(p.W_xr @ xs[t] + p.W_hr @ h[t - 1] + p.b_r)                  # (G1)
        z[t] = sig(p.W_xz @ xs[t] + p.W_hz @ h[t - 1] + p.b_z)                  # (G2)
        hc[t] = np.tanh(p.W_xh @ xs[t] + p.W_hh @ (r[t] * h[t - 1]) + p.b_h)    # (G3)
        h[t] = z[t] * h[t - 1] + (1 - z[t]) * hc[t]                             # (G4)
        o[t] = p.W_hy @ h[t] + p.b_y                                            # output layer
        L += float(loss.value(o[t], ys[t]))
    g = {n: np.zeros_like(a) for n, a in p.items()}
    dh_next = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        do = loss.grad(o[t], ys[t])
        g["W_hy"] += np.outer(do, h[t]); g["b_y"] += do
        dh = p.W_hy.T @ do + dh_next                                            # dL/dh_t
        d_z = dh * (h[t - 1] - hc[t]) * z[t] * (1 - z[t])                       # back through (G4), (G2)
        d_h = dh * (1 - z[t]) * (1 - hc[t] ** 2)                                # back through (G4), (G3)
        g_rh = p.W_hh.T @ d_h                                                   # to r_t * h_{t-1}
        d_r = g_rh * h[t - 1] * r[t] * (1 - r[t])                               # back through (G1)
        g["W_xz"] += np.outer(d_z, xs[t]); g["W_hz"] += np.outer(d_z, h[t - 1]); g["b_z"] += d_z
        g["W_xh"] += np.outer(d_h, xs[t]); g["W_hh"] += np.outer(d_h, r[t] * h[t - 1]); g["b_h"] += d_h
        g["W_xr"] += np.outer(d_r, xs[t]); g["W_hr"] += np.outer(d_r, h[t - 1]); g["b_r"] += d_r
        dh_next = z[t] * dh + r[t] * g_rh + p.W_hr.T @ d_r + p.W_hz.T @ d_z     # into h_{t-1}
    return L, GRUParams(**g), dh_next


GRU = GRUCell()
