"""The cell seam: what a recurrent cell declares so that every algorithm of the engine runs on it.

A cell maps (x_t, s_{t-1}) to s_t, where the state s_t is what step t hands to step t+1: h_t for
the vanilla RNN and the GRU, [h_t; c_t] (S = 2H, in that order) for the LSTM. The output layer
o_t = W_hy h_t + b_y and the losses are shared by every cell. A cell declares:

- its parameter type (a frozen dataclass of named arrays), names and shapes, and initialisers;
- `step`: one forward step, written to be read (one line per equation; see each cell's module);
- `run`: the fast forward pass over a whole batch, T steps, keeping what the backward pass needs;
- `state_vjp`: one backward step, the vector-Jacobian product through step t, from a gradient
  on s_t to the gradient on s_{t-1} and on the step's pre-activations (from which the parameter
  gradients follow). Its rows may carry any leading axes: the rows of a Jacobian, or the loss
  terms of k-step truncation, go back together in one matrix product;
- `parameter_gradients`: the sums over t of eq. (10)'s kind, as whole-sequence matmuls.

`backward_by_steps` below is BPTT on any cell from `state_vjp` alone, with every truncation
acting on the whole state s_t; the state-to-state Jacobian ds_t/ds_{t-1} is `state_vjp` applied
to the rows of the identity (rnn_core.jacobians).

Shapes: T steps, B sequences, D inputs, H hidden units, O outputs, S state size, G gate blocks
(pre-activations are stacked (..., G H) in the cell's gate order).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..activations import Activation
from ..params import check_float_arrays
from ..truncation import Truncation

Array = np.ndarray


@dataclass(eq=False)
class Run:
    """A fast forward pass on a batch, as the backward pass and the Jacobians need it.

    X (T, B, D), H0 (B, H), C0 (B, H) or None; hs (T, B, H) the states h_t; cs (T, B, H) the
    memory c_t (LSTM) or None; a (T, B, G H): the vanilla cell's pre-activations a_t, or a gated
    cell's gate values after their nonlinearity, stacked in the cell's gate order;
    act: the vanilla activation (None for gated cells); extra: a cell's own cached arrays.
    """

    X: Array
    H0: Array
    C0: Array | None
    hs: Array
    a: Array
    cs: Array | None = None
    act: Activation | None = None
    extra: dict = field(default_factory=dict)

    def h_prev(self, t: int) -> Array:
        """The h entering step index t (step t+1 of the equations): H0 for t = 0, else hs[t-1]."""
        return self.H0 if t == 0 else self.hs[t - 1]

    def c_prev(self, t: int) -> Array:
        """The c entering step index t (LSTM): C0 for t = 0, else cs[t-1]."""
        return self.C0 if t == 0 else self.cs[t - 1]


@dataclass(eq=False)
class Back:
    """The backward pass of a cell on a batch (every array (T, B, ...)).

    dL_dh (T, B, H) total dL/dh_t; dL_dh_indirect its part through step t+1 (dL_dh minus the
    direct part through o_t); dL_da (T, B, G H) the gradients of the pre-activations (delta_t);
    dS0 (B, S) the gradient of the initial state; for the LSTM dL_dc (T, B, H) the total dL/dc_t
    and dL_dc_indirect its part through c_{t+1} (None for other cells).
    """

    dL_dh: Array
    dL_dh_indirect: Array
    dL_da: Array
    dS0: Array
    dL_dc: Array | None = None
    dL_dc_indirect: Array | None = None
    dL_dc_direct: Array | None = None      # if None, dL_dc - dL_dc_indirect


class Cell:
    """A recurrent cell behind the seam; see the module docstring. Subclasses set the class
    attributes and implement `init_arrays`, `step`, `run`, `state_vjp` and `recurrent_gradients`."""

    name: str = ""
    title: str = ""
    params_type: type = type(None)
    gate_names: tuple[str, ...] = ()   # the blocks of the stacked pre-activations, in order
    gate_letters: tuple[str, ...] = ()  # the same blocks as the parameter names spell them (W_x*)
    memory: bool = False               # True: the state is [h; c] (S = 2H)
    recurrent_names: tuple[str, ...] = ()   # parameters used at every step of the recurrence

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.params_type.names()

    def state_size(self, H: int) -> int:
        return 2 * H if self.memory else H

    def param_shapes(self, D: int, H: int, O: int) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape: W_x* (H, D), W_h* (H, H), b_* (H,), W_hy (O, H), b_y (O,)."""
        shapes = {}
        for name in self.param_names:
            if name == "W_hy":
                shapes[name] = (O, H)
            elif name == "b_y":
                shapes[name] = (O,)
            elif name.startswith("W_x"):
                shapes[name] = (H, D)
            elif name.startswith("W_h"):
                shapes[name] = (H, H)
            else:
                shapes[name] = (H,)
        return shapes

    def validate(self, params) -> tuple[int, int, int]:
        """Check type, dtype, shapes and finiteness; return (D, H, O). ValueError names the field."""
        check_float_arrays(params, self.params_type)
        first = self.param_names[0]
        if getattr(params, first).ndim != 2 or params.W_hy.ndim != 2 or params.W_hy.shape[0] < 1:
            raise ValueError(f"params.{first} must have shape (H, D) and W_hy (O, H), got "
                             f"{getattr(params, first).shape} and {params.W_hy.shape}")
        H, D = getattr(params, first).shape
        O = params.W_hy.shape[0]
        for name, shape in self.param_shapes(D, H, O).items():
            if getattr(params, name).shape != shape:
                raise ValueError(f"params.{name} must have shape {shape} (H={H}, D={D}, O={O}), "
                                 f"got {getattr(params, name).shape}")
        for name, a in params.items():
            if not np.all(np.isfinite(a)):
                raise ValueError(f"params.{name} holds non-finite values (nan or inf)")
        return D, H, O

    # -- to implement ---------------------------------------------------------------------
    def step(self, params, x: Array, state: Array, act: Activation | None) -> Array:
        """One forward step, readable: x (..., D), s_{t-1} (..., S) -> s_t (..., S)."""
        raise NotImplementedError

    def run_shapes(self, T: int, B: int, H: int) -> list[tuple[int, ...]]:
        """The shapes of the arrays `run` fills (passed back to it as `out`, one allocation)."""
        raise NotImplementedError

    def backward_shapes(self, T: int, B: int, H: int) -> list[tuple[int, ...]]:
        """The shapes of the arrays `backward` fills (full, chunked or randomized BPTT)."""
        raise NotImplementedError

    def run(self, params, X: Array, H0: Array, C0: Array | None, act: Activation | None,
            out: list[Array] | None = None) -> Run:
        """The fast forward pass over a batch; out: arrays of `run_shapes` to fill (else allocated)."""
        raise NotImplementedError

    def run_with_outputs(self, params, X: Array, H0: Array, C0: Array | None, act: Activation | None,
                         out: list[Array] | None, O: Array) -> Run:
        """`run`, and eq. (3) o_t = W_hy h_t + b_y into O (T, B, O). A cell may interleave the two
        (the vanilla cell does, while h_t is in cache); by default the outputs follow the run."""
        run = self.run(params, X, H0, C0, act, out=out)
        output_layer(params, run.hs, out=O)
        return run

    def state_vjp(self, params, run: Run, t: int, ds: Array, *, da_out: Array | None = None,
                  dc_out: Array | None = None, da_each: Array | None = None) -> Array:
        """Back through step index t (step t+1): ds (..., B, S) on s_t -> ds_prev (..., B, S).

        da_out (B, G H): if given, receives the pre-activations' gradients summed over the
        leading axes; dc_out (B, H) likewise the total dL/dc_t (LSTM only); da_each (..., B, G H)
        receives them row by row (gated cells).
        """
        raise NotImplementedError

    def recurrent_gradients(self, params, run: Run, dL_da: Array) -> dict[str, Array]:
        """The gradients of every parameter but W_hy, b_y from delta (T, B, G H)."""
        raise NotImplementedError

    def backward(self, params, run: Run, direct: Array, trunc: Truncation, out: list[Array] | None = None) -> Back:
        """BPTT on the batch of `run`; out: arrays of `backward_shapes` to fill (else allocated)."""
        return backward_by_steps(self, params, run, direct, trunc)


def output_layer(params, Hs: Array, out: Array | None = None) -> Array:
    """Eq. (3) for all steps at once: Hs (T, B, H) -> O (T, B, O), into `out` if given."""
    T, B, H = Hs.shape
    O_size = params.W_hy.shape[0]
    O = np.empty((T, B, O_size)) if out is None else out
    np.matmul(Hs.reshape(T * B, H), params.W_hy.T, out=O.reshape(T * B, O_size))
    O += params.b_y
    return O


def backward_by_steps(cell: Cell, params, run: Run, direct: Array, trunc: Truncation) -> Back:
    """BPTT from T down to 1 on any cell, through `cell.state_vjp` (the whole state s_t).

    direct (T, B, H): W_hy^T dL/do_t. The gradient ds on s_t arriving from step t+1 (zero at
    t = T) plus the direct part on its h half is dL/dh_t (and, through the step, dL/dc_t);
    chunked and randomized truncation scale what enters s_{t-1}; k-step truncation carries each
    loss term's own gradient for k steps (`_backward_k_step`).
    """
    T, B, H = direct.shape
    S = cell.state_size(H)
    window = trunc.window(T)
    if window is not None:
        return _backward_k_step(cell, params, run, direct, window)
    G = run.a.shape[2]
    dL_dh, indirect = np.empty((T, B, H)), np.empty((T, B, H))
    dL_da = np.empty((T, B, G))
    dL_dc = np.empty((T, B, H)) if cell.memory else None
    dL_dc_indirect = np.empty((T, B, H)) if cell.memory else None
    r = trunc.step_factors(T)
    ds = np.zeros((B, S))                                   # dL/ds_T from later steps: none
    for t in range(T - 1, -1, -1):
        indirect[t] = ds[:, :H]                             # through h_{t+1}
        if cell.memory:
            dL_dc_indirect[t] = ds[:, H:]                   # through c_{t+1}
        ds[:, :H] += direct[t]                              # + through o_t: dL/dh_t
        dL_dh[t] = ds[:, :H]
        ds = cell.state_vjp(params, run, t, ds, da_out=dL_da[t], dc_out=None if dL_dc is None else dL_dc[t])
        if r is not None:
            ds *= r[t]                                      # detached or randomly truncated step
    return Back(dL_dh=dL_dh, dL_dh_indirect=indirect, dL_da=dL_da, dS0=ds, dL_dc=dL_dc,
                dL_dc_indirect=dL_dc_indirect)


def _backward_k_step(cell: Cell, params, run: Run, direct: Array, k: int) -> Back:
    """Each loss term's gradient goes back through k states only: inflight[j] (B, S) is what
    loss term t + j sends into s_t (j = 0 .. k-1); all k go back together through the step."""
    T, B, H = direct.shape
    S = cell.state_size(H)
    G = run.a.shape[2]
    dL_dh, indirect, dL_da = np.empty((T, B, H)), np.empty((T, B, H)), np.empty((T, B, G))
    dL_dc = np.empty((T, B, H)) if cell.memory else None
    dL_dc_indirect = np.empty((T, B, H)) if cell.memory else None
    inflight = np.zeros((k, B, S))
    arriving = np.zeros((k, B, S))
    for t in range(T - 1, -1, -1):
        inflight[1:] = arriving[:-1]                        # sources t+1 .. t+k-1, one step older
        inflight[0] = 0.0
        inflight[0, :, :H] = direct[t]                      # source t enters at its own h_t
        inflight[1:, :, :H].sum(axis=0, out=indirect[t])
        if cell.memory:
            inflight[1:, :, H:].sum(axis=0, out=dL_dc_indirect[t])
        arriving = cell.state_vjp(params, run, t, inflight, da_out=dL_da[t],
                                  dc_out=None if dL_dc is None else dL_dc[t])
    np.add(direct, indirect, out=dL_dh)
    return Back(dL_dh=dL_dh, dL_dh_indirect=indirect, dL_da=dL_da, dS0=arriving.sum(axis=0), dL_dc=dL_dc,
                dL_dc_indirect=dL_dc_indirect)


def stacked_gradients(X: Array, H0: Array, Hs: Array, dL_da: Array, gates: tuple[str, ...]) -> dict[str, Array]:
    """W_x*, W_h*, b_* for each gate block of delta (T, B, G H), as whole-sequence matmuls:
    W_x = sum_t delta_t x_t^T, W_h = sum_t delta_t h_{t-1}^T, b = sum_t delta_t, for the first
    len(gates) blocks of delta (the GRU's candidate block, whose W_hh acts on r_t * h_{t-1},
    is summed apart)."""
    T, B, D = X.shape
    H = Hs.shape[2]
    n = len(gates) * H
    delta = dL_da.reshape(T * B, -1)[:, :n]              # the first len(gates) blocks (a view)
    # (x^T delta)^T rather than delta^T x: the same sums, ~25% faster in BLAS for these shapes
    W_x = (X.reshape(T * B, D).T @ delta).T
    W_h = (Hs.reshape(T * B, H)[:-B].T @ delta[B:]).T   # steps t = 2..T: delta_t h_{t-1}^T
    W_h += dL_da[0, :, :n].T @ H0                       # step t = 1: delta_1 h_0^T
    b = np.ones(T * B) @ delta
    out = {}
    for j, g in enumerate(gates):
        rows = slice(j * H, (j + 1) * H)
        out[f"W_x{g}"], out[f"W_h{g}"] = np.ascontiguousarray(W_x[rows]), np.ascontiguousarray(W_h[rows])
        out[f"b_{g}"] = b[rows]
    return out


def sum_leading(values: Array, out: Array | None) -> None:
    """Write the sum of values (..., B, n) over its leading axes into out (B, n), if out is given."""
    if out is None:
        return
    if values.ndim == 2:
        out[...] = values
    else:
        values.reshape(-1, *values.shape[-2:]).sum(axis=0, out=out)


def sigmoid_(z: Array) -> Array:
    """The logistic sigmoid 1 / (1 + exp(-z)) in place (accurate for every z; exp(-z) may
    overflow to inf, giving exactly 0; call under np.errstate(over='ignore'))."""
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    return np.reciprocal(z, out=z)


def negated_rows(M: Array, rows: int) -> Array:
    """A copy of M (stacked gate blocks) with its first `rows` rows negated.

    The fast paths keep the sigmoid gates' weights negated, so a product gives m = -a and
    sigma(a) = 1 / (1 + exp(m)) needs no negation pass; no bit changes (-(x w) == x (-w)).
    """
    out = np.array(M, dtype=np.float64)
    out[:rows] *= -1.0
    return out


def sigmoid(z: Array) -> Array:
    with np.errstate(over="ignore"):
        return sigmoid_(np.array(z, dtype=np.float64))


def stack_rows(params, names: tuple[str, ...]) -> Array:
    """The named matrices (or vectors) joined along their first axis: one matmul for all gates."""
    return np.concatenate([getattr(params, n) for n in names], axis=0)
