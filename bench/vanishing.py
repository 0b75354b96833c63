"""The vanishing & exploding page's own compute time: engine + figure build, no Streamlit.

Runs the same functions the page runs (ui.vanishing, ui.figures.vanishing) on a config and
prints the best of several repeats per part. The target case: a sweep of five spectral radii
at T = 200, H = 64 plus the all-pairs heatmap, under 0.5 s.

    .venv/bin/python bench/vanishing.py             # the table for bench/RESULTS.md
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/vanishing.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from rnn_core.spectral import jacobian_bound  # noqa: E402
from ui import vanishing as vn  # noqa: E402
from ui.config import DEFAULT, build_params  # noqa: E402
from ui.figures import vanishing as fv  # noqa: E402
from ui.notation import NOTATIONS  # noqa: E402
from ui.state import make_data  # noqa: E402

REPEATS = 5
RADII = (0.5, 0.9, 1.0, 1.1, 1.5)
NT = NOTATIONS["wxh"]


def best_of(fn, repeats: int = REPEATS) -> tuple[float, float]:
    """(best wall-clock s, best CPU s of this process): on a shared machine the CPU time is
    what the page itself costs, the wall clock adds the waiting for other processes."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def sweep_and_heatmap(config, norm: str) -> None:
    """The target: five radii (engine + sweep figure) and all pairs (engine + heatmap)."""
    xs = make_data(config).xs
    curves = []
    for r in RADII:
        params = build_params(config.replace(rho=r))
        curves.append((f"ρ = {r:g}", vn.norm_curve(params, xs, config.activation, norm)))
    summaries = [vn.summarise(c) for _, c in curves]
    fv.sweep_figure(curves, nt=NT, ord=norm, horizons=[s.horizon for s in summaries],
                    horizon_texts=[s.horizon_text for s in summaries])
    P = vn.pairwise(build_params(config), xs, config.activation, "fro", config.T)
    fv.pairwise_figure(P, nt=NT, ord="fro")


def whole_page(config) -> None:
    """Everything the page computes for `config` on a first visit (cold caches)."""
    config = config.replace(v_section="all")
    params, xs = build_params(config), make_data(config).xs
    plan = vn.plan(config)          # what the page draws within its budget
    radius_cfgs, act_cfgs = vn.sweep_configs(config.replace(v_radii=plan.radii, v_acts=plan.acts))
    norms = vn.norm_curve(params, xs, config.activation, plan.norm, plan.main_window)
    bound = fv.bound_for_norm(jacobian_bound(params, config.activation, config.T), plan.norm, H=config.H)
    summary = vn.summarise(norms)
    fv.curve_figure(norms, bound[-plan.main_window:], nt=NT, ord=plan.norm, horizon=summary.horizon,
                    horizon_text=summary.horizon_text, factor_label=summary.label,
                    first_step=config.T - plan.main_window + 1)
    for cfgs in (radius_cfgs, act_cfgs):
        curves = [(n, vn.norm_curve(build_params(c), make_data(c).xs, c.activation, plan.norm, plan.sweep_window))
                  for n, c in cfgs]
        summaries = [vn.summarise(c) for _, c in curves]
        fv.sweep_figure(curves, nt=NT, ord=plan.norm, horizons=[s.horizon for s in summaries],
                        horizon_texts=[s.horizon_text for s in summaries])
    ev, sv = np.linalg.eigvals(params.W_hh), np.linalg.svd(params.W_hh, compute_uv=False)
    fv.spectrum_figure(ev, sv, gamma=1.0, rho=config.rho, nt=NT)
    P = vn.pairwise(params, xs, config.activation, plan.pair_norm, plan.pair_window)
    fv.pairwise_figure(P, nt=NT, ord=plan.pair_norm)
    stats = vn.factor_stats(params, xs, config.activation, plan.stats_window)
    fv.fade_figure(stats, activation=config.activation, rho=float(np.max(np.abs(ev))), nt=NT)
    fv.derivative_heatmap(vn.derivatives(params, xs, config.activation), gamma=1.0, nt=NT)


def main() -> None:
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"OpenBLAS threads: {threads}; best of {REPEATS}; load average {os.getloadavg()[0]:.1f}")
    target = DEFAULT.replace(T=200, H=64, activation="tanh")
    rows = []
    for norm in ("fro", "2"):
        rows.append((f"target: 5 radii ({norm}) + all pairs (fro), T=200 H=64",
                     best_of(lambda: sweep_and_heatmap(target, norm))))
    # the parts of the target, to see where the time goes
    params, xs = build_params(target), make_data(target).xs
    rows.append(("  one curve, fro, T=200 H=64", best_of(lambda: vn.norm_curve(params, xs, "tanh", "fro"))))
    rows.append(("  one curve, spectral, T=200 H=64", best_of(lambda: vn.norm_curve(params, xs, "tanh", "2"))))
    rows.append(("  all pairs, fro, T=200 H=64", best_of(lambda: vn.pairwise(params, xs, "tanh", "fro", 200))))
    P = vn.pairwise(params, xs, "tanh", "fro", 200)
    rows.append(("  heatmap figure build, T=200", best_of(lambda: fv.pairwise_figure(P, nt=NT, ord="fro"))))
    for T, H in ((12, 8), (50, 32), (200, 64), (500, 64), (500, 256)):
        config = DEFAULT.replace(T=T, H=H)
        rows.append((f"whole page, cold, T={T} H={H} (every section)",
                     best_of(lambda: whole_page(config), 1 if H > 64 else 3)))
    width = max(len(name) for name, _ in rows)
    print(f"| {'case':<{width}} | wall (s) | CPU (s) |")
    print(f"| {'-' * width} | -------: | ------: |")
    for name, (wall, cpu) in rows:
        print(f"| {name:<{width}} | {wall:8.3f} | {cpu:7.3f} |")


if __name__ == "__main__":
    main()
