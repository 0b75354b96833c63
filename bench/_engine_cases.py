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
# All-k ||dh_T/dh_k|| for one sequence, sizes (T, H); inputs have JAC_D features.
JAC_SIZES = [(200, 64), (500, 256)]
JAC_TARGET = 1.0
JAC_D = 8
JAC_ORDS = ["fro", 2]


def case_name(case: dict) -> str:
    if case["kind"] == "bptt":
        return "bptt T={T} H={H} B={B} D={D} O={O}".format(**case)
    return "jac ord={ord} T={T} H={H}".format(**case)


def all_cases() -> list[dict]:
    cases = [dict(kind="bptt", T=T, H=H, B=B, D=D, O=O, target=target)
             for (T, H, B, D, O), target in zip(BPTT_SIZES, BPTT_TARGETS)]
    cases += [dict(kind="jac", T=T, H=H, D=JAC_D, ord=ord, target=JAC_TARGET)
              for T, H in JAC_SIZES for ord in JAC_ORDS]
    return cases


def _rng(case: dict) -> np.random.Generator:
    # One seed per size, so the Frobenius and spectral cases of one size share their inputs.
    return np.random.default_rng([case["T"], case["H"], case.get("B", 1), case["D"]])


def model_inputs(case: dict) -> dict[str, np.ndarray]:
    """Weights W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (O, H), b_y (O,) and data.

    bptt: xs (T, B, D), ys (T, B) int64 classes. jac: xs (T, D), one sequence (O = 1 unused).
    Weights are N(0, 1/H) (spectral radius of W_hh near 1), biases N(0, 0.1^2), h0 = 0.
    """
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


def flops(case: dict) -> int:
    """Matrix-product FLOPs (2 per multiply-add) of one BPTT forward + backward.

    forward: W_xh x_t, W_hh h_{t-1}, W_hy h_t; backward: W_hy^T dL/do_t, W_hh^T delta_{t+1}, and
    the three weight gradients. Elementwise work (tanh, softmax) is not counted.
    """
    T, H, B, D, O = (case[k] for k in "THBDO")
    per_row = (D * H + H * H + H * O) + (O * H + H * H) + (H * D + H * H + O * H)
    return 2 * T * B * per_row
