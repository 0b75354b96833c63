"""The forward pass, eqs. (1)-(3):

    (1) a_t = W_xh x_t + W_hh h_{t-1} + b_h
    (2) h_t = f(a_t)
    (3) o_t = W_hy h_t + b_y

Shapes: xs (T, D) or (T, B, D); every array of the Trace keeps that batch layout.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_h0, check_xs, first_nonfinite_step
from .params import validate_params

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Trace:
    """Everything the forward pass computed.

    xs (T, [B,] D), h0 ([B,] H), a (T, [B,] H) pre-activations, h (T, [B,] H) states,
    o (T, [B,] O) outputs/logits. overflow_step: the first step t (1-based) whose a_t, h_t
    or o_t is not finite, else None. activation: the vanilla cell's (None for gated cells).
    Gated cells (a is None): gates maps each gate's name ('i', 'f', 'G', 'c~' for the LSTM;
    'r', 'z', 'h~' for the GRU) to its values (T, [B,] H); the LSTM also has c (T, [B,] H), the
    memory cells, and c0 ([B,] H).
    """

    xs: Array
    h0: Array
    a: Array
    h: Array
    o: Array
    activation: str | None
    overflow_step: int | None
    cell: str = "rnn"
    c0: Array | None = None
    c: Array | None = None
    gates: dict | None = None

    @property
    def T(self) -> int:
        return self.h.shape[0]

    @property
    def batched(self) -> bool:
        return self.h.ndim == 3


def first_overflow_step(A: Array, O: Array) -> int | None:
    """The first step t (1-based) whose a_t, h_t or o_t holds a non-finite value, else None.

    A (T, B, H), O (T, B, O). h_t = f(a_t) needs no scan of its own: every activation maps a
    finite a_t to a finite h_t, so h_t is first non-finite where a_t is. Checked array by array:
    joining them first would copy them all.
    """
    found = [step for step in map(first_nonfinite_step, (A, O)) if step is not None]
    return min(found, default=None)


def make_trace(cell, run, O: Array, batched: bool, act, overflow: int | None) -> Trace:
    """A Trace in the caller's layout from a cell's Run and the outputs O (T, B, O)."""
    squeeze = (lambda z: z) if batched else (lambda z: z[:, 0])
    first = (lambda z: z) if batched else (lambda z: z[0])
    X, H0 = run.X, run.H0
    if cell.name == "rnn":
        return Trace(xs=squeeze(X), h0=first(H0), a=squeeze(run.a), h=squeeze(run.hs), o=squeeze(O),
                     activation=act.name, overflow_step=overflow)
    H = H0.shape[1]
    gates = {name: squeeze(run.a[:, :, j * H:(j + 1) * H]) for j, name in enumerate(cell.gate_names)}
    return Trace(xs=squeeze(X), h0=first(H0), a=None, h=squeeze(run.hs), o=squeeze(O), activation=None,
                 overflow_step=overflow, cell=cell.name, gates=gates,
                 c0=None if run.C0 is None else first(run.C0), c=None if run.cs is None else squeeze(run.cs))


def forward(params, xs, *, activation: str | None = None, h0=None, c0=None) -> Trace:
    """Run any cell over xs (T, D) or (T, B, D) from h0 ((H,) or (B, H); zeros by default) and,
    for the LSTM, c0 (likewise). activation: required for the vanilla RNN, None for gated cells.

    Overflow (e.g. ReLU with a large W_hh) is not an error: the trace carries inf/nan and
    `overflow_step` names where it began.
    """
    from .bptt import cell_and_activation      # the argument rules of bptt, in one place
    cell, act = cell_and_activation(params, activation, c0)
    D, H, _ = cell.validate(params) if cell.name != "rnn" else validate_params(params)
    X, batched = check_xs(xs, D)
    H0 = check_h0(h0, X.shape[1], H, batched)
    C0 = check_h0(c0, X.shape[1], H, batched, name="c0") if cell.memory else None
    with np.errstate(all="ignore"):
        O = np.empty((*X.shape[:2], params.W_hy.shape[0]))
        run = cell.run_with_outputs(params, X, H0, C0, act, None, O)
        if cell.name == "rnn":
            overflow = first_overflow_step(run.a, O)
        else:
            from .bptt import gated_overflow_step
            overflow = gated_overflow_step(run, O)
    return make_trace(cell, run, O, batched, act, overflow)
