"""The vanishing & exploding page's own compute time: engine + figure build, no Streamlit page.

Runs the page's service (ui.pages.vanishing: its plan, cached computations and guard) and
figures (ui.figures.vanishing) on a config with every cache emptied before each repeat, and
prints the best of several repeats per part. Targets (issue 14): the default view <= 0.3 s at
T = 200, H = 64 for every cell; the three-cell comparison at T = 200, H = 64 within 0.5 s; and
(issue 2) five spectral radii plus the all-pairs heatmap at T = 200, H = 64 under 0.5 s.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/vanishing.py      # the table for bench/RESULTS.md
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

# "No runtime found": outside a server the caches live in memory, as intended here
logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)

from ui.budget import Guard  # noqa: E402
from ui.config import DEFAULT, build_params  # noqa: E402
from ui.figures import vanishing as fv  # noqa: E402
from ui.notation import NOTATIONS  # noqa: E402
from ui.pages import vanishing as vn  # noqa: E402
from ui.state import make_data  # noqa: E402

REPEATS = 5
RADII = (0.5, 0.9, 1.0, 1.1, 1.5)
NT = NOTATIONS["wxh"]
CELLS = ("rnn", "lstm", "gru")


def best_of(fn, repeats: int = REPEATS) -> tuple[float, float]:
    """(best wall-clock s, best CPU s of this process), every cache emptied before each repeat:
    on a shared machine the CPU time is what the page itself costs, the wall clock adds the
    waiting for other processes."""
    walls, cpus = [], []
    for _ in range(repeats):
        st.cache_data.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def cell_config(cell: str, **sizes):
    """The sidebar's config for a cell (a gated cell: orthogonal weights, as the schema makes it)."""
    return DEFAULT.replace(cell=cell, init="orthogonal" if cell != "rnn" else DEFAULT.init, **sizes)


def sweep_and_heatmap(config, norm: str) -> None:
    """Issue 2's target: five radii (engine + sweep figure) and all pairs (engine + heatmap)."""
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


def curves_figure(curves, norm: str, first_step: int) -> None:
    summaries = [vn.summarise(c) for _, c in curves]
    fv.sweep_figure(curves, nt=NT, ord=norm, horizons=[s.horizon for s in summaries],
                    horizon_texts=[s.horizon_text for s in summaries], first_step=first_step)


def main_figure(run: vn.Run) -> None:
    s = run.summary
    common = dict(nt=NT, ord=run.plan.norm, horizon=s.horizon, horizon_text=s.horizon_text, factor_label=s.label,
                  first_step=run.first_step)
    if run.vanilla:
        fv.curve_figure(run.norms, run.bound, matrix_powers=run.powers, **common)
    else:
        fv.curve_figure(run.norms, None, gate=run.gate.norms, gate_label=vn.gate_label(run.config.cell), state="s",
                        **common)


def page(config) -> None:
    """What the page computes and draws for `config` on a first visit (cold caches): the main
    run, the gradient each step receives, and the sections the config's v_section shows."""
    run = vn.main_run(config, vn.plan(config), Guard(60.0, alive=lambda: True))
    main_figure(run)
    grads = vn.gradient_of(run)
    shown = ("sweeps", "cells", "spectrum", "pairs", "steps") if config.v_section == "all" else (config.v_section,)
    radius_curves, act_curves = vn.sweep_curves(run)
    T = config.T
    for curves in (radius_curves, act_curves):
        if curves:
            curves_figure(curves, run.plan.norm, T - run.plan.sweep_window + 1)
    if cells := vn.cell_curves(run):
        curves_figure(vn.named_cells(cells), run.plan.cells_norm, T - run.plan.cells_window + 1)
    if "spectrum" in shown:
        if run.vanilla:
            fv.spectrum_figure(run.eigenvalues, run.singular, gamma=run.gamma, rho=config.rho, nt=NT)
        else:
            fv.blocks_spectrum_figure(vn.cached_block_spectra(run.model))
    if "pairs" in shown:
        if (pairs := vn.pairs_of(run)) is not None:
            fv.pairwise_figure(pairs, nt=NT, ord=run.plan.pair_norm)
        fv.dl_dh_figure(vn.step_norms(grads), nt=NT)
    if "steps" in shown:
        if run.vanilla:
            stats, fprime = vn.steps_of(run)
            fv.fade_figure(stats, activation=config.activation, rho=run.rho, nt=NT)
            fv.derivative_heatmap(fprime, gamma=run.gamma, nt=NT)
        else:
            fv.derivative_heatmap(run.gate.values, gamma=1.0, nt=NT, label="gate")


def comparison(config) -> None:
    """The three-cell comparison alone: its plan's curves (each cell's own model) and its figure."""
    plan = vn.plan(config)
    run = vn.Run(config=config, model=config, plan=plan, guard=Guard(60.0, alive=lambda: True),
                 norms=None, summary=None)
    curves = vn.cell_curves(run)
    curves_figure(vn.named_cells(curves), plan.cells_norm, config.T - plan.cells_window + 1)


def rows() -> list[tuple[str, tuple[float, float]]]:
    out = []
    target = DEFAULT.replace(T=200, H=64, activation="tanh")
    for norm in ("fro", "2"):
        out.append((f"issue 2: 5 radii ({norm}) + all pairs (fro), T=200 H=64",
                    best_of(lambda: sweep_and_heatmap(target, norm))))
    for cell in CELLS:
        config = cell_config(cell, T=200, H=64)
        params, xs = build_params(config), make_data(config).xs
        for norm in ("fro", "2"):
            out.append((f"  one {cell} curve, {norm}, T=200 H=64",
                        best_of(lambda: vn.norm_curve(params, xs, "tanh", norm))))
    for cell in CELLS:
        config = cell_config(cell, T=200, H=64)
        plan = vn.plan(config)
        out.append((f"default view, {cell}, T=200 H=64 (main {plan.norm} x{plan.main_window})",
                    best_of(lambda: page(config))))
    for cell in CELLS:
        for norm in ("2", "fro"):
            config = cell_config(cell, T=200, H=64, v_section="cells", v_norm=norm)
            plan = vn.plan(config)
            out.append((f"compare cells from {cell}, v_norm {norm}, T=200 H=64 "
                        f"({plan.cells_norm} x{plan.cells_window})",
                        best_of(lambda: comparison(config))))
    for T, H in ((12, 8), (100, 8), (50, 32), (200, 64), (500, 64), (500, 256)):
        for cell in CELLS:
            config = cell_config(cell, T=T, H=H, v_section="all")
            out.append((f"whole page, every section, {cell}, T={T} H={H} (estimate {vn.plan(config).seconds:.2f})",
                        best_of(lambda: page(config), 1 if H > 64 else 3)))
    return out


def main() -> None:
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"OpenBLAS threads: {threads}; best of {REPEATS}; load average {os.getloadavg()[0]:.1f}")
    table = rows()
    width = max(len(name) for name, _ in table)
    print(f"| {'case':<{width}} | wall (s) | CPU (s) |")
    print(f"| {'-' * width} | -------: | ------: |")
    for name, (wall, cpu) in table:
        print(f"| {name:<{width}} | {wall:8.3f} | {cpu:7.3f} |")


if __name__ == "__main__":
    main()
