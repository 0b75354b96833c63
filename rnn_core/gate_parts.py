"""A gated cell's backward step split into the paths it takes, for a reader to see each one.

The engine's BPTT (rnn_core.bptt) adds up what step t+1 sends back into h_t in one product;
`indirect_parts` gives the same gradient path by path, so that a page can print each term of

    LSTM  dL/dh_t (indirect) = W_hi^T delta_i + W_hf^T delta_f + W_ho^T delta_o + W_hc^T delta_c
    GRU   dL/dh_t (indirect) = z * dL/dh_{t+1} + r * (W_hh^T delta_h) + W_hr^T delta_r + W_hz^T delta_z

(every gate at step t+1), and `reset_input_gradient` the GRU's gradient on r_t * h_{t-1}.
Inputs are one sequence's exact BPTT (no batch, no truncation): params and its BPTTResult.
Steps t are 1-based as in the equations; t = 0 names h_0.
"""
from __future__ import annotations

import numpy as np

from .bptt import BPTTResult
from .cells import cell_of

Array = np.ndarray


def _deltas(result: BPTTResult, step: int, letters: tuple[str, ...]) -> dict[str, Array]:
    """{gate letter: delta (H,)} of step `step` (1-based) from the stacked dL_da (T, G H)."""
    H = result.dL_dh.shape[-1]
    row = result.dL_da[step - 1]
    return {g: row[k * H:(k + 1) * H] for k, g in enumerate(letters)}


def _check(params, result: BPTTResult, t: int) -> None:
    if result.dL_dh.ndim != 2:
        raise ValueError("gate parts need one sequence's BPTT (dL_dh of shape (T, H)), not a batch")
    T = result.dL_dh.shape[0]
    if not 0 <= t <= T:
        raise ValueError(f"t must lie in [0, T={T}], got {t!r}")
    if cell_of(params).name != result.cell:
        raise ValueError(f"params of a {cell_of(params).name} cell with the BPTT of a {result.cell}")


def indirect_parts(params, result: BPTTResult, t: int) -> dict[str, Array]:
    """What step t+1 sends back into h_t (t = 0..T; t = 0 is h_0), path by path, each (H,).

    LSTM: {'i', 'f', 'o', 'c'}: W_hg^T delta_{g,t+1}. GRU: {'carry': z_{t+1} * dL/dh_{t+1} (the
    update gate's direct path), 'h': r_{t+1} * W_hh^T delta_{h,t+1} (through the candidate),
    'r': W_hr^T delta_{r,t+1}, 'z': W_hz^T delta_{z,t+1}}. Their sum is the indirect part of
    dL/dh_t (result.dL_dh_indirect[t-1], or result.dL_dh0 at t = 0); every part is 0 at t = T.
    """
    _check(params, result, t)
    cell = cell_of(params)
    T = result.dL_dh.shape[0]
    if cell.name == "rnn":
        raise ValueError("indirect_parts needs an LSTM or GRU: the vanilla cell has one path, W_hh^T delta")
    H = result.dL_dh.shape[-1]
    names = ("i", "f", "o", "c") if cell.name == "lstm" else ("carry", "h", "r", "z")
    if t == T:
        return {name: np.zeros(H) for name in names}
    deltas = _deltas(result, t + 1, cell.gate_letters)
    if cell.name == "lstm":
        return {g: getattr(params, f"W_h{g}").T @ deltas[g] for g in names}
    r, z = result.trace.gates["r"][t], result.trace.gates["z"][t]
    return {"carry": z * result.dL_dh[t],
            "h": r * reset_input_gradient(params, result, t + 1),
            "r": params.W_hr.T @ deltas["r"],
            "z": params.W_hz.T @ deltas["z"]}


def reset_input_gradient(params, result: BPTTResult, t: int) -> Array:
    """The GRU's gradient on r_t * h_{t-1} at step t (1..T): W_hh^T delta_{h,t} (H,)."""
    _check(params, result, t)
    if cell_of(params).name != "gru" or t < 1:
        raise ValueError("reset_input_gradient needs a GRU and a step t in 1..T")
    return params.W_hh.T @ _deltas(result, t, ("r", "z", "h"))["h"]


def gate_pre_activations(params, trace, t: int) -> dict[str, Array]:
    """Each gate's pre-activation at step t (1..T) of one sequence's trace, (H,) each, keyed by
    the Trace's gate names ('i', 'f', 'G', 'c~' / 'r', 'z', 'h~'): W_x? x_t + W_h? h_{t-1} + b_?,
    the GRU's candidate with W_hh (r_t * h_{t-1}). sigma (tanh for the candidates) of each is
    trace.gates[name][t-1]."""
    cell = cell_of(params)
    if cell.name == "rnn" or trace.h.ndim != 2 or not 1 <= t <= trace.h.shape[0]:
        raise ValueError("gate_pre_activations needs a gated cell's trace of one sequence and t in 1..T")
    x, h_prev = trace.xs[t - 1], trace.h0 if t == 1 else trace.h[t - 2]
    out = {}
    for letter, gate in zip(cell.gate_letters, cell.gate_names):
        hidden = trace.gates["r"][t - 1] * h_prev if gate == "h~" else h_prev
        out[gate] = (getattr(params, f"W_x{letter}") @ x + getattr(params, f"W_h{letter}") @ hidden
                     + getattr(params, f"b_{letter}"))
    return out


def path_product(trace, t: int) -> Array:
    """The gate product of the cell's own path from step T back to step t (0..T), (H,): the LSTM's
    forget gates f_{t+1} * ... * f_T (the memory path c_T -> c_t), the GRU's update gates
    z_{t+1} * ... * z_T (the update path h_T -> h_t); ones at t = T."""
    gate = {"lstm": "f", "gru": "z"}.get(trace.cell)
    if gate is None or trace.h.ndim != 2:
        raise ValueError("path_product needs an LSTM's or GRU's trace of one sequence")
    return np.prod(trace.gates[gate][t:], axis=0)
