"""Speed of the Training & truncation page: rnn_core's training loop against the same loop in
PyTorch autograd, and the page's own compute (engine + figure building, no Streamlit).

    .venv/bin/python bench/training.py [--rounds 3] [--write]   # --write appends to bench/RESULTS.md
    .venv/bin/python bench/training.py --cells [adding:50 ...]   # the Compare cells section's runs

The headline case (issue 7): 300 SGD steps of the adding problem at T = 50, H = 32, batch 32,
tanh, momentum 0.9, clipping by global norm at 5, mean loss at the last step. Each side runs in
its own subprocess (so NumPy's and PyTorch's thread pools never meet), alternately, round after
round; each side's time is its best round. Both draw the same batches from rnn_core.tasks and
start from the same weights, and the loss histories are compared, so the ratio is for equal work.
The PyTorch loop records what rnn_core's records: the loss, ||g|| per parameter and
||dL/dh_t|| (through retain_grad on every h_t), which the page's heatmap needs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASE = dict(task="adding", T=50, H=32, batch=32, steps=300, lr=0.1, momentum=0.9, clip=5.0, seed=0)
TARGET_SECONDS = 10.0
HISTORY_RTOL = 1e-6        # the two loss histories agree to this (300 chaotic steps amplify rounding)


# ---------------------------------------------------------------------------- the two sides

def _initial_params():
    import rnn_core as rc
    return rc.init_params(2, CASE["H"], 1, seed=CASE["seed"], spectral_radius=0.9)


def numpy_side() -> dict:
    from rnn_core.training import train
    params = _initial_params()
    t0 = time.perf_counter()
    result = train(params, CASE["task"], steps=CASE["steps"], lr=CASE["lr"], momentum=CASE["momentum"],
                   T=CASE["T"], batch=CASE["batch"], activation="tanh", clip=("norm", CASE["clip"]),
                   reduction="mean", seed=CASE["seed"])
    return {"seconds": time.perf_counter() - t0, "loss": result.loss.tolist()}


def torch_side() -> dict:
    import torch

    import rnn_core as rc
    torch.set_num_threads(1)
    p = _initial_params()
    W_xh, W_hh, b_h, W_hy, b_y = params = [torch.from_numpy(a.copy()).requires_grad_() for _, a in p.items()]
    velocity = [torch.zeros_like(q) for q in params]
    sample = rc.make_task_sampler(CASE["task"], T=CASE["T"], batch=CASE["batch"])
    T, B, H = CASE["T"], CASE["batch"], CASE["H"]
    losses, grad_norms, dh_norms = [], [], []
    t0 = time.perf_counter()
    for s in range(1, CASE["steps"] + 1):
        data = sample((CASE["seed"], s))
        xs, ys = torch.from_numpy(data.xs), torch.from_numpy(data.ys)
        mask = torch.from_numpy(data.mask)
        x_proj = torch.addmm(b_h, xs.reshape(T * B, 2), W_xh.t()).reshape(T, B, H)
        h, hs = xs.new_zeros(B, H), []
        for x_t in x_proj.unbind(0):
            h = torch.tanh(torch.addmm(x_t, h, W_hh.t()))
            h.retain_grad()                                   # ||dL/dh_t|| for the heatmap
            hs.append(h)
        o = torch.addmm(b_y, torch.stack(hs).reshape(T * B, H), W_hy.t()).reshape(T, B, 1)
        per_step = 0.5 * ((o - ys) ** 2).sum(-1).mean(1)        # (T,) batch-averaged L_t
        loss = (per_step * mask).sum() / mask.sum()           # reduction 'mean'
        loss.backward()
        with torch.no_grad():
            norms = torch.stack([q.grad.norm() for q in params])
            total = norms.norm()
            scale = CASE["clip"] / total if total > CASE["clip"] else 1.0
            for q, v in zip(params, velocity):
                v.mul_(CASE["momentum"]).sub_(CASE["lr"] * scale * q.grad)
                q.add_(v)
                q.grad = None
            losses.append(loss.item())
            grad_norms.append(norms)
            dh_norms.append(torch.stack([hh.grad.norm(dim=1).mean() for hh in hs]))
    return {"seconds": time.perf_counter() - t0, "loss": losses}


# ---------------------------------------------------------------------------- the page's compute

def page_compute() -> list[tuple[str, float]]:
    """Seconds of what the page computes besides Streamlit, at the default settings and at the
    issue's size: training + held-out evaluation + figures; the two comparisons + figures."""
    from ui.config import DEFAULT
    from ui.figures import training as figs
    from ui.pages.training import (REDUCTION, TrainSpec, compare_clipping, compare_truncations, evaluate,
                                   initial_params, run_training, sample_data, window_lengths)
    import rnn_core as rc

    rows = []
    for label, config in (("default (char LM, T=12, H=8, batch 16)", DEFAULT),
                          ("adding, T=50, H=32, batch 32", DEFAULT.replace(tr_task="adding", T=50, H=32,
                                                                           tr_batch=32))):
        spec = TrainSpec.from_config(config)
        t0 = time.perf_counter()
        result = run_training(spec, None)
        evaluate(spec, None, result.params)      # timed as the page runs it
        figs.loss_figure({"loss": result.loss}).to_json()
        figs.grad_norms_figure(result.param_grad_norms, result.param_names, total=result.grad_norm,
                               applied=result.applied_norm, threshold=5.0).to_json()
        figs.dL_dh_heatmap(result.dL_dh_norms).to_json()
        rows.append((f"train {spec.steps} steps + evaluate + figures, {label}", time.perf_counter() - t0))
        data = sample_data(spec, None, batch=spec.batch, seed=spec.seed)
        params = initial_params(spec, data.D, data.O)
        t0 = time.perf_counter()
        table = compare_truncations(params, data.xs, data.ys, activation=spec.activation, loss=data.loss,
                                    reduction=REDUCTION, mask=data.mask, ks=window_lengths(spec.T, config.trunc_k))
        figs.truncation_figure(table.ks, table.cosine, table.ratio, T=spec.T).to_json()
        rows.append((f"truncation comparison ({len(table.ks)} k, 8 draws) + figure, {label}",
                     time.perf_counter() - t0))
        t0 = time.perf_counter()
        res = rc.bptt(params, data.xs, data.ys, activation="relu", loss=data.loss, reduction=REDUCTION,
                      mask=data.mask)
        clip = compare_clipping(res.grads, 5.0)
        figs.clipping_figure(clip.labels, clip.cosine, clip.applied_norm, threshold=5.0).to_json()
        rows.append((f"clipping comparison + figure, {label}", time.perf_counter() - t0))
    return rows


# ---------------------------------------------------------------------------- the three cells

CELLS_CASES = (("adding", 50), ("adding", 100), ("copy", 50), ("copy", 100))


def cells_compare(cases=CELLS_CASES, H: int = 16, seed: int = 0) -> list[str]:
    """The page's "Compare cells" section without Streamlit: for each (task, T), the three cells
    trained with the page's recipe, as many steps as its plan allows; each run's announced time
    (the cost model) against its wall time, its final and held-out losses against the best
    constant answer, and whether it learned (the page's words)."""
    from ui.config import DEFAULT
    from ui.pages.training import (CELLS_RECIPE, LEARNED_FRACTION, cells_steps, cells_variants, evaluate,
                                   run_training, spec_step_seconds, with_steps)
    from rnn_core import TASKS
    from ui.budget import Guard

    lines = [f"Compare cells (recipe {CELLS_RECIPE}, H = {H}, seed {seed}):", "",
             "| task | T | cell | steps | announced s | wall s | wall/announced | final loss (last 100) | "
             "held-out | best constant | learned |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for task, T in cases:
        config = DEFAULT.replace(tr_task=task, T=T, H=H, seed=seed)
        D, O = TASKS[task].D, TASKS[task].O
        variants = cells_variants(config)
        variants = with_steps(variants, cells_steps(variants, D, O))
        for title, spec in variants.items():
            announced = spec.steps * spec_step_seconds(spec, D, O)
            t0 = time.perf_counter()
            result = run_training(spec, None, guard=Guard(float("inf")))      # every step, however loaded
            wall = time.perf_counter() - t0
            ev = evaluate(spec, None, result.params)
            learned = ev.loss < LEARNED_FRACTION * ev.baseline_loss
            lines.append(f"| {task} | {T} | {title} | {spec.steps} | {announced:.1f} | {wall:.1f} | "
                         f"{wall / announced:.2f} | {np.mean(result.loss[-100:]):.4g} | {ev.loss:.4g} | "
                         f"{ev.baseline_loss:.4g} | {'yes' if learned else 'no'} |")
            print(lines[-1], flush=True)
    load = os.getloadavg()
    lines += ["", f"Load average {load[0]:.1f} at the end, {time.strftime('%Y-%m-%d %H:%M')}."]
    return lines


# ---------------------------------------------------------------------------- driver

def run_side(side: str, threads: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if threads == "1":
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--side", side], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", choices=("numpy", "torch", "page"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--cells", nargs="*", metavar="TASK:T",
                        help="only the Compare cells section: every case, or the given ones (e.g. adding:100)")
    args = parser.parse_args()
    if args.cells is not None:
        from ui.runtime import limit_blas_threads
        limit_blas_threads()
        cases = [(c.split(":")[0], int(c.split(":")[1])) for c in args.cells] or CELLS_CASES
        print("\n".join(cells_compare(cases)))
        return
    if args.side:
        sides = {"numpy": numpy_side, "torch": torch_side, "page": lambda: {"rows": page_compute()}}
        print(json.dumps(sides[args.side]()))
        return
    contenders = {"rnn_core (NumPy, 1 BLAS thread)": ("numpy", "1"),
                  "rnn_core (NumPy, default BLAS threads)": ("numpy", "default"),
                  "PyTorch autograd (1 thread)": ("torch", "1")}
    times = {name: [] for name in contenders}
    histories = {}
    for _ in range(args.rounds):
        for name, (side, threads) in contenders.items():
            reply = run_side(side, threads)
            times[name].append(reply["seconds"])
            histories[name] = np.array(reply["loss"])
    reference = histories["PyTorch autograd (1 thread)"]
    for name, loss in histories.items():
        np.testing.assert_allclose(loss, reference, rtol=HISTORY_RTOL, err_msg=f"{name} did other work")
    best = {name: min(t) for name, t in times.items()}
    torch_best = best["PyTorch autograd (1 thread)"]
    lines = [f"Training, {CASE['steps']} steps of `{CASE['task']}` at T = {CASE['T']}, H = {CASE['H']}, batch "
             f"{CASE['batch']} (momentum {CASE['momentum']}, clip {CASE['clip']}); best of {args.rounds} rounds, "
             f"each side in its own process; target < {TARGET_SECONDS:.0f} s. Loss histories agree to "
             f"rtol {HISTORY_RTOL:g} (final loss {reference[-1]:.4f}, first {reference[0]:.4f}).", "",
             "| loop | best s | all rounds s | ratio to PyTorch | under target |", "|---|---|---|---|---|"]
    for name, t in times.items():
        lines.append(f"| {name} | {best[name]:.2f} | {', '.join(f'{x:.2f}' for x in t)} | "
                     f"{best[name] / torch_best:.2f} | {'yes' if best[name] < TARGET_SECONDS else 'NO'} |")
    page = {threads: run_side("page", threads)["rows"] for threads in ("1", "default")}
    lines += ["", "Page compute (engine + figure JSON, no Streamlit), in s:", "",
              "| what | 1 BLAS thread | default BLAS threads |", "|---|---|---|"]
    lines += [f"| {what} | {one:.2f} | {many:.2f} |" for (what, one), (_, many) in zip(page["1"], page["default"])]
    load = os.getloadavg()
    lines += ["", f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
              f"{load[0]:.1f} at the end; numpy {np.__version__}, {time.strftime('%Y-%m-%d %H:%M')}."]
    report = "\n".join(lines)
    print(report)
    if args.write:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write("\n## Training\n\n" + report + "\n")


if __name__ == "__main__":
    main()
