"""The forward pass, eqs. (1)-(3):

    (1) a_t = W_xh x_t + W_hh h_{t-1} + b_h
    (2) h_t = f(a_t)
    (3) o_t = W_hy h_t + b_y

Shapes: xs (T, D) or (T, B, D); every array of the Trace keeps that batch layout.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._arrays import empty_arrays
from ._checks import check_h0, check_xs, first_nonfinite_step
from .activations import Activation, get_activation
from .params import Params, validate_params

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Trace:
    """Everything the forward pass computed.

    xs (T, [B,] D), h0 ([B,] H), a (T, [B,] H) pre-activations, h (T, [B,] H) states,
    o (T, [B,] O) outputs/logits. overflow_step: the first step t (1-based) whose a_t, h_t
    or o_t is not finite, else None.
    """

    xs: Array
    h0: Array
    a: Array
    h: Array
    o: Array
    activation: str
    overflow_step: int | None

    @property
    def T(self) -> int:
        return self.h.shape[0]

    @property
    def batched(self) -> bool:
        return self.h.ndim == 3


def run_forward(params: Params, X: Array, H0: Array, act: Activation,
                out: tuple[Array, Array, Array] | None = None) -> tuple[Array, Array, Array]:
    """Eqs. (1)-(3) on a batch: X (T, B, D), H0 (B, H) -> A (T, B, H), Hs (T, B, H), O (T, B, O).

    out: optional C-contiguous arrays of those shapes to write A, Hs and O into.
    """
    T, B, D = X.shape
    H, O_size = H0.shape[1], params.W_hy.shape[0]
    A, Hs, O = out if out is not None else empty_arrays((T, B, H), (T, B, H), (T, B, O_size))
    # eq. (1), the input part for all steps at once: one BLAS call instead of T.
    np.matmul(X.reshape(T * B, D), params.W_xh.T, out=A.reshape(T * B, H))
    A += params.b_h
    W_hh_T = params.W_hh.T          # a Fortran-order view: BLAS's fast layout for this product
    recurrent = np.empty((B, H))    # W_hh h_{t-1}, rewritten in place every step
    h = H0
    for t in range(T):
        np.dot(h, W_hh_T, out=recurrent)   # np.dot: less call overhead than matmul on small arrays
        A[t] += recurrent           # eq. (1), the recurrent part
        h = Hs[t] = act.f(A[t])     # eq. (2)
    np.matmul(Hs.reshape(T * B, H), params.W_hy.T, out=O.reshape(T * B, O_size))
    O += params.b_y                 # eq. (3) for all steps at once
    return A, Hs, O


def first_overflow_step(A: Array, Hs: Array, O: Array) -> int | None:
    """The first step t (1-based) whose a_t, h_t or o_t holds a non-finite value, else None.

    A, Hs (T, B, H), O (T, B, O). Checked array by array: joining them first would copy them all.
    """
    found = [step for step in map(first_nonfinite_step, (A, Hs, O)) if step is not None]
    return min(found, default=None)


def forward(params: Params, xs, *, activation: str, h0=None) -> Trace:
    """Run the RNN over xs (T, D) or (T, B, D) from h0 ((H,) or (B, H); zeros by default).

    Overflow (e.g. ReLU with a large W_hh) is not an error: the trace carries inf/nan and
    `overflow_step` names where it began.
    """
    act = get_activation(activation)
    D, H, _ = validate_params(params)
    X, batched = check_xs(xs, D)
    H0 = check_h0(h0, X.shape[1], H, batched)
    with np.errstate(all="ignore"):
        A, Hs, O = run_forward(params, X, H0, act)
        overflow = first_overflow_step(A, Hs, O)
    squeeze = (lambda z: z) if batched else (lambda z: z[:, 0])
    return Trace(xs=X if batched else X[:, 0], h0=H0 if batched else H0[0], a=squeeze(A),
                 h=squeeze(Hs), o=squeeze(O), activation=act.name, overflow_step=overflow)
