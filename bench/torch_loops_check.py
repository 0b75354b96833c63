"""Checks the PyTorch side of bench/engine.py against the plainest autograd code there is.

    .venv/bin/python bench/torch_loops_check.py

engine.py checks our LSTM and GRU against its torch loops (stacked gate weights, one addmm per
step) and nn.LSTM; this script checks those loops and the fused modules themselves against a
loop with one weight per gate and one line per equation of ../shared/DESIGN.md "Gated cells",
on every gated case of the benchmark: loss, every parameter gradient, dL/dh0, dL/dc0. nn.GRU
is the reset-after form, a different function: its difference is printed, not required small.
Exits 1 if a loop or nn.LSTM differs by more than 1e-12 (max |a - b| / max |b| per array).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _torch_side as ts                        # noqa: E402
from _engine_cases import all_cases, model_inputs  # noqa: E402

RTOL = 1e-12


def plain(case: dict) -> dict:
    """DESIGN.md's equations, one weight per gate, autograd."""
    a = {k: torch.from_numpy(v).clone().requires_grad_(k not in ("xs", "ys")) for k, v in model_inputs(case).items()}
    xs, ys = a["xs"], a["ys"]
    T, B, _ = xs.shape
    sig = torch.sigmoid
    h, c, hs = a["h0"], a.get("c0"), []
    for t in range(T):
        x = xs[t]

        def pre(gate: str, state: torch.Tensor) -> torch.Tensor:
            return x @ a[f"W_x{gate}"].T + state @ a[f"W_h{gate}"].T + a[f"b_{gate}"]

        if case["kind"] == "lstm":
            i, f, G, cand = sig(pre("i", h)), sig(pre("f", h)), sig(pre("o", h)), torch.tanh(pre("c", h))
            c = f * c + i * cand
            h = G * torch.tanh(c)
        else:
            r, z = sig(pre("r", h)), sig(pre("z", h))
            cand = torch.tanh(pre("h", r * h))          # W_hh acts on r_t * h_{t-1}
            h = z * h + (1 - z) * cand
        hs.append(h)
    logits = torch.stack(hs) @ a["W_hy"].T + a["b_y"]
    loss = ts._summed_ce(logits.reshape(T * B, -1), ys, B)
    loss.backward()
    out = {"loss": loss.detach().numpy()}
    out.update({k: v.grad.numpy() for k, v in a.items() if v.requires_grad and k not in ("h0", "c0")})
    out["dL_dh0"] = a["h0"].grad.numpy()
    if "c0" in a:
        out["dL_dc0"] = a["c0"].grad.numpy()
    return out


def main() -> int:
    torch.set_num_threads(1)
    failed = False
    for case in all_cases():
        if case["kind"] not in ("lstm", "gru"):
            continue
        ref = plain(case)
        for variant in ("loop", "fused"):
            run, collect = ts.PREPARE[f"{case['kind']}_{variant}"](case)
            got = collect(run())
            assert sorted(got) == sorted(ref), (sorted(got), sorted(ref))
            diff = max(float(np.max(np.abs(got[k] - ref[k])) / np.max(np.abs(ref[k]))) for k in ref)
            reset_after = case["kind"] == "gru" and variant == "fused"
            bad = diff > RTOL and not reset_after
            failed |= bad
            note = " (reset-after: another function)" if reset_after else (" FAILED" if bad else "")
            print(f"{case['kind']} T={case['T']} H={case['H']} B={case['B']} {variant}: max rel. diff {diff:.1e}{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
