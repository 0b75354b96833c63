"""Benchmark worker for our engine (rnn_core, NumPy). Started by bench/engine.py; never imports torch.

Variants: "bptt" = rnn_core.bptt (tanh, softmax_ce, 'sum'); "lstm", "gru" = rnn_core.bptt on
rnn_core.LSTMParams / GRUParams (softmax_ce, 'sum', with h0 and for the LSTM c0); "norms" =
rnn_core.jacobians.jacobian_norms_to_last. Extra op "peak": the float64 matmul rate of one
big n x n product, best of `repeats`.
"""
from __future__ import annotations

import time
from dataclasses import fields

import numpy as np

import rnn_core as rc
from rnn_core.jacobians import jacobian_norms_to_last
from _engine_cases import model_inputs
from _engine_worker import serve


def prepare(case: dict, variant: str):
    arrays = model_inputs(case)
    xs = arrays["xs"]
    if variant in ("bptt", "norms"):
        params = rc.Params(**{name: arrays[name] for name in rc.PARAM_NAMES})
    if variant == "bptt":
        ys = arrays["ys"]

        def run():
            return rc.bptt(params, xs, ys, activation="tanh", loss="softmax_ce", reduction="sum")

        return run, lambda res: {"loss": np.array(res.loss), **res.grads.to_dict()}
    if variant in ("lstm", "gru"):
        cls = rc.LSTMParams if variant == "lstm" else rc.GRUParams
        params = cls(**{f.name: arrays[f.name] for f in fields(cls)})
        states = {name: arrays[name] for name in ("h0", "c0") if name in arrays}
        ys = arrays["ys"]

        def run():
            return rc.bptt(params, xs, ys, loss="softmax_ce", reduction="sum", **states)

        def collect(res):
            out = {"loss": np.array(res.loss), **res.grads.to_dict(), "dL_dh0": res.dL_dh0}
            if variant == "lstm":
                out["dL_dc0"] = res.dL_dc0
            return out

        return run, collect
    if variant == "norms":
        def run():
            return jacobian_norms_to_last(params, xs, activation="tanh", ord=case["ord"])

        return run, lambda norms: {"norms": norms}
    raise ValueError(f"unknown variant {variant!r}")


def peak(req: dict) -> dict:
    n = req["n"]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(req["repeats"]):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return {"gflops": 2 * n**3 / best / 1e9}


if __name__ == "__main__":
    serve(prepare, {"peak": peak})
