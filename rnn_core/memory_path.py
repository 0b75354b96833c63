"""A gated cell's memory path alone: the product of its keeping gates, without the full Jacobian.

Along the LSTM's memory path c_k -> c_T, eq. (L5) gives dc_t/dc_{t-1} = diag(f_t) when every
other path is left out, so the path's Jacobian is diag(f_{k+1} * ... * f_T) (the "constant error
carousel": no weight matrix, no tanh', only the forget gates). Along the GRU's update path
h_{k} -> h_T through the z_t * h_{t-1} terms of eq. (G4) it is diag(z_{k+1} * ... * z_T).

`gate_path_to_last` (rnn_core.jacobians) returns this product beside ||ds_T/ds_k||, computing
the full Jacobians again; `gate_product_to_last` is the product alone (one forward pass), for
callers that already have the Jacobian's norms (a page that streams them with a time limit).

Shapes: T steps, D inputs, H hidden units; one sequence xs (T, D).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cells import cell_of
from .jacobians import _check_ord, _fro_norms, _gated_run

Array = np.ndarray

# The gate whose product is the memory path, per gated cell: its block in the cell's gate order.
KEEPING_GATE = {"lstm": "f", "gru": "z"}


@dataclass(frozen=True, eq=False)
class GateProduct:
    """gate: 'f' (LSTM) or 'z' (GRU); values (T, H): that gate at every step t = 1..T (index
    t-1); product (T, H): entry k-1 is prod_{j=k+1}^{T} of the gate at step j (entry T-1 all
    ones); norms (T,): ||diag(product[k-1])|| in `ord` ('fro': its Euclidean length, so
    sqrt(H) at k = T; 2: its largest entry, 1 at k = T)."""

    gate: str
    values: Array
    product: Array
    norms: Array
    ord: str | int


def gate_product_to_last(params, xs, *, h0=None, c0=None, ord="fro") -> GateProduct:
    """The memory path's Jacobian diag(prod_{j=k+1}^{T} g_j) for k = 1..T, g = f (LSTM) or z (GRU).

    xs (T, D) one sequence; h0 (H,) or None; c0 (H,) or None (LSTM only); ord 'fro' or 2.
    Equal to gate_path_to_last(...).product and .product_norm. A vanilla RNN has no gate.
    """
    ord = _check_ord(ord)
    cell = cell_of(params)
    if cell.name not in KEEPING_GATE:
        raise ValueError("gate_product_to_last needs an LSTM or GRU; the vanilla RNN has no gate "
                         "(see step_factor_stats and jacobian_bound)")
    _, run = _gated_run(params, xs, h0, c0)
    T, _, H = run.hs.shape
    block = cell.gate_names.index(KEEPING_GATE[cell.name])
    values = run.a[:, 0, block * H:(block + 1) * H]
    product = np.ones((T, H))
    with np.errstate(all="ignore"):
        # reversed running product: entry k-1 = g_{k+1} * ... * g_T (a cumulative product read backwards)
        product[:-1] = np.cumprod(values[:0:-1], axis=0)[::-1]
        norms = _fro_norms(product[:, None, :]) if ord == "fro" else np.max(np.abs(product), axis=1)
    return GateProduct(gate=KEEPING_GATE[cell.name], values=values.copy(), product=product, norms=norms, ord=ord)
