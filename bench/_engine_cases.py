"""The benchmark's cases and their inputs, shared by both workers.

Inputs are made with NumPy alone from a seed fixed per case, so the NumPy worker and the
PyTorch worker build bit-identical weights and data in their own processes.
Shapes: T steps, B sequences, D inputs, H hidden units, O outputs (as in rnn_core).
"""
from __future__ import annotations

import numpy as np

# Full BPTT forward + backward (tanh, softmax_ce, reduction 'sum'), sizes (T, H, B, D, O).
BPTT_SIZES = [(50, 32, 1, 8, 8), (200, 64, 16, 16, 16), (1000, 128, 32, 32, 32)]
BPTT_TARGETS = [0.5, 0.8, 1.0]          # highest acceptable time ratio ours / torch
# The gated cells (issue 18): the same sizes, loss and targets. Kind "bptt" is the vanilla RNN.
CELL_KINDS = ("bptt", "lstm", "gru")
# Parameter names of ../shared/DESIGN.md "Gated cells", in its order.
LSTM_NAMES = ("W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f", "W_xo", "W_ho", "b_o", "W_xc", "W_hc", "b_c",
              "W_hy", "b_y")
GRU_NAMES = ("W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xh", "W_hh", "b_h", "W_hy", "b_y")
# All-k ||dh_T/dh_k|| for one sequence, sizes (T, H); inputs have JAC_D features.
JAC_SIZES = [(200, 64), (500, 256)]
JAC_TARGET = 1.0
JAC_D = 8
JAC_ORDS = ["fro", 2]


def case_name(case: dict) -> str:
    if case["kind"] in CELL_KINDS:
        return "{kind} T={T} H={H} B={B} D={D} O={O}".format(**case)
    return "jac ord={ord} T={T} H={H}".format(**case)


def all_cases() -> list[dict]:
    cases = [dict(kind=kind, T=T, H=H, B=B, D=D, O=O, target=target) for kind in CELL_KINDS
             for (T, H, B, D, O), target in zip(BPTT_SIZES, BPTT_TARGETS)]
    cases += [dict(kind="jac", T=T, H=H, D=JAC_D, ord=ord, target=JAC_TARGET)
              for T, H in JAC_SIZES for ord in JAC_ORDS]
    return cases


def _rng(case: dict) -> np.random.Generator:
    # One seed per size, so the Frobenius and spectral cases of one size share their inputs.
    seed = [case["T"], case["H"], case.get("B", 1), case["D"]]
    if case["kind"] in ("lstm", "gru"):        # the vanilla cases keep the inputs they always had
        seed.append(CELL_KINDS.index(case["kind"]))
    return np.random.default_rng(seed)


def model_inputs(case: dict) -> dict[str, np.ndarray]:
    """Weights W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (O, H), b_y (O,) and data.

    bptt: xs (T, B, D), ys (T, B) int64 classes. jac: xs (T, D), one sequence (O = 1 unused).
    Weights are N(0, 1/H) (spectral radius of W_hh near 1), biases N(0, 0.1^2), h0 = 0.
    """
    if case["kind"] in ("lstm", "gru"):
        return gated_inputs(case)
    rng = _rng(case)
    T, H, D = case["T"], case["H"], case["D"]
    O = case.get("O", 1)
    s = 1.0 / np.sqrt(H)
    arrays = dict(W_xh=s * rng.standard_normal((H, D)), W_hh=s * rng.standard_normal((H, H)),
                  b_h=0.1 * rng.standard_normal(H), W_hy=s * rng.standard_normal((O, H)),
                  b_y=0.1 * rng.standard_normal(O))
    if case["kind"] == "bptt":
        arrays["xs"] = rng.standard_normal((T, case["B"], D))
        arrays["ys"] = rng.integers(0, O, (T, case["B"]))
    else:
        arrays["xs"] = rng.standard_normal((T, D))
    return arrays


def gated_inputs(case: dict) -> dict[str, np.ndarray]:
    """LSTM or GRU weights (names of DESIGN.md), data, and h0 (and c0 for the LSTM), all (B, H).

    W_x* (H, D) N(0, 1/D), W_h* (H, H) N(0, 1/H), b_* N(0, 0.1^2) (the LSTM's forget bias + 1, the
    Jozefowicz et al. default), W_hy (O, H) N(0, 1/H); h0, c0 N(0, 0.5^2), so that their
    gradients are checked too. xs (T, B, D), ys (T, B) int64 classes.
    """
    rng = _rng(case)
    T, H, B, D, O = (case[k] for k in "THBDO")
    arrays = {}
    for name in (LSTM_NAMES if case["kind"] == "lstm" else GRU_NAMES):
        if name.startswith("W_x"):
            arrays[name] = rng.standard_normal((H, D)) / np.sqrt(D)
        elif name == "W_hy":
            arrays[name] = rng.standard_normal((O, H)) / np.sqrt(H)
        elif name.startswith("W_h"):
            arrays[name] = rng.standard_normal((H, H)) / np.sqrt(H)
        else:
            arrays[name] = 0.1 * rng.standard_normal(O if name == "b_y" else H)
    if case["kind"] == "lstm":
        arrays["b_f"] += 1.0
    arrays["xs"] = rng.standard_normal((T, B, D))
    arrays["ys"] = rng.integers(0, O, (T, B))
    arrays["h0"] = 0.5 * rng.standard_normal((B, H))
    if case["kind"] == "lstm":
        arrays["c0"] = 0.5 * rng.standard_normal((B, H))
    return arrays


def flops(case: dict) -> int:
    """Matrix-product FLOPs (2 per multiply-add) of one BPTT forward + backward.

    Vanilla: forward W_xh x_t, W_hh h_{t-1}, W_hy h_t; backward W_hy^T dL/do_t, W_hh^T delta_{t+1},
    and the three weight gradients. A gated cell has G blocks (W_x*, W_h*) in place of the one
    (G = 4 for the LSTM, 3 for the GRU; the GRU's W_hh acts on r_t * h_{t-1}, or in PyTorch's
    reset-after form gives r_t * (W_hh h_{t-1}): the same products either way): forward
    G (DH + HH), back to h_{t-1} G HH, weight gradients G (HD + HH). No gradient to the inputs.
    Elementwise work (tanh, sigmoid, softmax, gate products) is not counted.
    """
    T, H, B, D, O = (case[k] for k in "THBDO")
    G = {"bptt": 1, "lstm": 4, "gru": 3}[case["kind"]]
    per_row = (G * (D * H + H * H) + H * O) + (O * H + G * H * H) + (G * (H * D + H * H) + O * H)
    return 2 * T * B * per_row
