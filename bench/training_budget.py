"""Does training cost what the Training page announces? (issue 12)

    .venv/bin/python bench/training_budget.py              # hostile links: announced vs actual
    .venv/bin/python bench/training_budget.py --calibrate  # refit ui.pages.training.COST on this machine
    .venv/bin/python bench/training_budget.py --cells      # the gated cells' steps against the cost model

--calibrate times `run_training` (the page's engine path, one BLAS thread as in the app) over a
grid of sizes, tasks and truncations and fits the six coefficients of ui.pages.training's cost
model by least squares on relative error (each run weighs alike, fast or slow); paste the
printed tuple into COST.

The default mode opens each hostile link in AppTest (the real page, with its progress bar and
live charts), presses Train, and prints the page's announced time against the measured wall
time and the process CPU time of that rerun.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from ui.runtime import limit_blas_threads  # noqa: E402
from ui.pages.training import COST, TrainSpec, cost_features, run_training, step_seconds  # noqa: E402

TASK_SIZES = {"char_lm": (32, 32), "sine": (1, 1), "copy": (4, 4), "pos_tagging": (30, 6)}
HOSTILE_LINKS = [           # (link, the button that starts the work)
    ("T=500&H=8&tr_batch=128&tr_task=sine&truncation=k_step&trunc_k=499&tr_steps=2000", "tr_train"),
    ("T=500&H=8&tr_batch=128&tr_task=sine&truncation=k_step&trunc_k=250&tr_steps=2000", "tr_train"),
    ("T=500&H=256&tr_batch=128&tr_task=char_lm&tr_steps=2000", "tr_train"),
    ("T=500&H=64&tr_batch=128&tr_task=pos_tagging&truncation=chunked&trunc_k=7&tr_steps=2000", "tr_train"),
    ("T=200&H=128&tr_batch=128&tr_task=copy&truncation=k_step&trunc_k=150&tr_steps=2000", "tr_train"),
    ("T=500&H=1&tr_batch=1&tr_task=sine&tr_steps=2000", "tr_train"),
    ("T=2&H=1&tr_batch=1&tr_task=sine&tr_steps=2000", "tr_train"),
    ("T=12&H=8&tr_task=char_lm&tr_steps=2000", "tr_train"),
    ("tr_view=truncation&T=500&H=64&tr_batch=128&trunc_k=499&tr_steps=2000", "tr_train_trunc"),
    ("tr_view=truncation&T=500&H=256&tr_batch=128&tr_task=char_lm&trunc_k=250&tr_steps=2000", "tr_train_trunc"),
    ("tr_view=clipping&T=500&H=256&tr_batch=128&tr_task=char_lm&tr_steps=2000", "tr_train_clip"),
    ("tr_view=clipping&T=200&H=64&tr_batch=128&tr_task=copy&tr_clip_c=0.01&tr_steps=2000", "tr_train_clip"),
    # issue 14: the gated cells, and the three cells side by side
    ("cell=lstm&init=orthogonal&T=500&H=256&tr_batch=128&tr_task=char_lm&tr_steps=2000", "tr_train"),
    ("cell=gru&init=orthogonal&T=200&H=64&tr_batch=128&tr_task=copy&tr_steps=2000", "tr_train"),
    ("cell=lstm&init=orthogonal&T=30&H=32&tr_task=sine&tr_steps=2000", "tr_train"),
    ("cell=lstm&init=orthogonal&tr_view=truncation&T=500&H=64&tr_batch=128&trunc_k=499&tr_steps=2000",
     "tr_train_trunc"),
    ("cell=gru&init=orthogonal&tr_view=clipping&T=200&H=64&tr_batch=128&tr_task=char_lm&tr_steps=2000",
     "tr_train_clip"),
    ("tr_view=cells&tr_task=adding&T=500&H=256", "tr_train_cells"),
    ("tr_view=cells&tr_task=adding&T=50&H=16&cell=gru&init=orthogonal", "tr_train_cells"),
    ("tr_view=cells&tr_task=copy&T=100&H=16", "tr_train_cells"),
]


# ---------------------------------------------------------------------------- calibration

def _spec(task: str, T: int, B: int, H: int, truncation, cell: str = "rnn") -> TrainSpec:
    return TrainSpec(task=task, T=T, H=H, activation="tanh", init="normal" if cell == "rnn" else "orthogonal",
                     rho=0.9, seed=0, lr=0.01, momentum=0.0, steps=1, batch=B, clip=("norm", 5.0),
                     truncation=truncation, delay=min(5, T - 1) if task == "copy" else None, cell=cell)


def _seconds_per_step(spec: TrainSpec, target: float = 0.4) -> float:
    """Best of two timed runs of enough steps to last about `target` seconds."""
    t0 = time.perf_counter()
    run_training(spec.replace(steps=2), None)
    guess = max((time.perf_counter() - t0) / 2, 1e-5)
    steps = int(np.clip(target / guess, 2, 2000))
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        run_training(spec.replace(steps=steps), None)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def calibration_cases(n: int = 90, seed: int = 0):
    """Sizes drawn log-uniformly over the page's ranges (T <= 500, B <= 128, H <= 256), a third
    with k-step truncation at a random k; cases slower than about 1.5 s per step are skipped."""
    rng = np.random.default_rng(seed)
    count = 0
    while count < n:
        T, B, H = (int(np.exp(rng.uniform(0, np.log(top)))) + low for top, low in ((499, 1), (128, 0), (256, 0)))
        B, H = max(B, 1), max(H, 1)
        task = str(rng.choice(list(TASK_SIZES)))
        truncation = ("k_step", int(rng.integers(1, T + 1))) if rng.random() < 0.35 else None
        k = truncation[1] if truncation and truncation[1] < T else 0
        if T * B * H * (H + 64) * 1e-9 + T * k * B * H * (H + 8) * 3e-11 > 1.5:
            continue
        count += 1
        yield task, T, B, H, truncation


def calibrate() -> None:
    rows, times = [], []
    for task, T, B, H, truncation in calibration_cases():
        D, O = TASK_SIZES[task]
        spec = _spec(task, T, B, H, truncation)
        seconds = _seconds_per_step(spec)
        rows.append(cost_features(T, B, H, D, O, truncation))
        times.append(seconds)
        print(f"{task:12s} T={T:4d} B={B:4d} H={H:4d} {str(truncation):16s} {seconds * 1e3:9.3f} ms/step", flush=True)
    X, y = np.array(rows), np.array(times)
    coef = _nonnegative_fit(X / y[:, None], np.ones(len(y)))
    ratio = (X @ coef) / y
    print("COST =", tuple(float(f"{c:.3g}") for c in coef))
    print(f"fit: predicted/measured from {ratio.min():.2f} to {ratio.max():.2f} (median {np.median(ratio):.2f})")
    old = (X @ np.array(COST)) / y
    print(f"current COST: predicted/measured from {old.min():.2f} to {old.max():.2f}")


CELL_CASES = (("adding", 50, 32, 16), ("copy", 100, 32, 16), ("sine", 200, 1, 4), ("char_lm", 50, 32, 64),
              ("char_lm", 100, 64, 128), ("pos_tagging", 30, 16, 32))


def check_cells() -> None:
    """The gated cells' measured seconds per step against the cost model (COST times the cell's
    factors), next to the vanilla cell's at the same sizes."""
    print(f"{'case':34s} {'cell':5s} {'measured ms':>11s} {'predicted ms':>12s} {'measured/predicted':>18s}")
    for task, T, B, H in CELL_CASES:
        D, O = {**TASK_SIZES, "adding": (2, 1)}[task]
        for cell in ("rnn", "lstm", "gru"):
            spec = _spec(task, T, B, H, None, cell)
            seconds = _seconds_per_step(spec)
            predicted = step_seconds(T, B, H, D, O, cell=cell)
            print(f"{task:12s} T={T:4d} B={B:4d} H={H:4d}    {cell:5s} {seconds * 1e3:11.2f} {predicted * 1e3:12.2f} "
                  f"{seconds / predicted:18.2f}", flush=True)


def _nonnegative_fit(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient >= 0 (drop the most negative one until none is)."""
    active = list(range(A.shape[1]))
    while True:
        coef = np.zeros(A.shape[1])
        coef[active] = np.linalg.lstsq(A[:, active], b, rcond=None)[0]
        if coef.min() >= 0:
            return coef
        active.remove(int(np.argmin(coef)))


# ---------------------------------------------------------------------------- hostile links

def announced_seconds(at) -> float | None:
    """The page's estimate for the work its button starts ('Estimated time: about X s' for
    training, '(n to train, about X s; ...)' for the side-by-side runs); None if it offers no work."""
    text = " ".join(c.value for c in at.caption) + " ".join(i.value for i in at.info)
    match = re.search(r"(?:Estimated time:|to train,) about ([\d.]+) s", text)
    return float(match.group(1)) if match else None


def hostile_links(only: str = "") -> None:
    from apptest_helpers import open_app_page

    print("Opening: the page's first run (for the comparisons, the gradient sweep, budget 8 s).\n"
          "Button: the work the button starts, against what the page announced for it.\n")
    print(f"{'link':88s} {'open wall':>9s} {'announced':>9s} {'wall':>6s} {'cpu':>6s} {'wall/ann':>8s}  stopped?")
    for link, button in HOSTILE_LINKS:
        if only not in link:
            continue
        query = dict(part.split("=") for part in link.split("&"))
        wall0 = time.perf_counter()
        at = open_app_page("views/training.py", query)
        opened = time.perf_counter() - wall0
        announced = announced_seconds(at)
        if announced is None:
            said = " ".join(w.value for w in at.warning)[:100]
            print(f"{link:88s} {opened:8.1f}s  no work offered: {said}", flush=True)
            continue
        wall0, cpu0 = time.perf_counter(), time.process_time()
        at.button(key=button).click().run(timeout=600)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        stopped = "stopped at the budget" if any(w.value.startswith("Stopped") for w in at.warning) else "no"
        print(f"{link:88s} {opened:8.1f}s {announced:8.1f}s {wall:5.1f}s {cpu:5.1f}s {wall / announced:8.2f}  "
              f"{stopped}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--cells", action="store_true", help="the gated cells' step time against the cost model")
    parser.add_argument("--only", default="", help="run only the links containing this text")
    args = parser.parse_args()
    limit_blas_threads()
    if args.cells:
        check_cells()
    else:
        calibrate() if args.calibrate else hostile_links(args.only)
