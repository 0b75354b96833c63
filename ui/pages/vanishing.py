"""The Vanishing & exploding page's service: its cost model, computations, caches and words.

views/vanishing.py lays out widgets and calls this module; ui/figures/vanishing.py draws the
arrays it returns. Every number comes from rnn_core; this module decides what to ask for and at
what cost, caches it on the model's config (never on arrays), and words what the numbers say.
bench/vanishing.py runs this module with empty caches, so it measures the page's work.

Every cell (rnn_core.CELLS): the curves are ||ds_T/ds_k|| of the cell's state s (h for the
vanilla RNN and the GRU, [h; c] for the LSTM). The bound of eq. (11), the spectrum of W_hh, the
sweeps of rho and f and the per-step split of diag(f'(a_t)) W_hh are the vanilla cell's; a gated
cell has its memory path instead (rnn_core.memory_path: the product of its forget or update
gates), the spectra of its recurrent blocks and its gates per unit and step. `cell_configs`
builds the three cells compared on the same inputs.

`plan` counts everything a link can ask for in estimated CPU seconds and keeps one run within
PAGE_BUDGET; a ui.budget.Guard stops new work past GUARD_SECONDS of wall clock whatever the
estimate, or when the visitor has gone. Large models get windows: the Jacobians of the last W
steps, computed from the state s_{T-W} that the full forward pass reaches, are exactly the full
run's, so a window shows true values, just fewer. Sweeps that cannot all fit keep the
sidebar's own value first and drop others.

The ρ scrubber (`plan`'s Plan.scrub, `radius_family`, `scrub_figure`): the vanilla main curve,
its bound and its trend at every radius of a grid (0.1 to 2.0 in steps of 0.05, and the
sidebar's own), cached per model config and drawn as plotly frames that a slider inside the chart
moves through in the browser, with no rerun; the all-pairs map's rows get the same over t
(`pairs_row_figure`). Their figures are kept across reruns (st.cache_resource).

The memory horizon is stated one way everywhere (`CurveSummary.horizon_text`): measured on the
curve when it falls below 1 %, extrapolated from its trend when it is still above 1 % at its
first step and fading, and "none" when it does not fade or grows.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import rnn_core as rc
from rnn_core.jacobians import (StepFactorStats, iter_jacobian_norms_to_last, pairwise_jacobian_norms,
                                step_factor_stats)
from rnn_core.memory_path import GateProduct, gate_product_to_last
from rnn_core.spectral import (classify_factor, extrapolated_horizon, fit_decay_factor, jacobian_bound,
                               memory_horizon, singular_values)
from ui import state
from ui.budget import Guard, Stopped
from ui.config import DEFAULT, EXACT_NUMBERS, MAX_RADII, NUMBERS, Config, build_params
from ui.figures import vanishing as figures
from ui.figures.vanishing import split_for_log
from ui.keys import EXACT
from ui.notation import NOTATIONS, Notation
from ui.pages import sent

Array = np.ndarray
ENGINE_ORD = {"2": 2, "fro": "fro"}
HORIZON_THRESHOLD = 0.01

# ---- the cost model ------------------------------------------------------------------------
# Everything a link can ask of this page is counted in estimated seconds of one CPU core (the
# server runs one BLAS thread per process): matrix products as H^3 multiply-adds at MATMUL_RATE,
# the k-step truncation's matrix-vector products as H^2 at MATVEC_RATE, plus a fixed Python
# cost per loop step. Rates are the slower ends of what was measured on the 2-core server
# (H = 8..256, one BLAS thread), so the estimate errs towards drawing less.
MATMUL_RATE = 3e9                 # H^3 multiply-adds per second in the Jacobian loops
MATVEC_RATE = 8e9                 # H^2 multiply-adds per second in bptt's k-step loops
STEP_SECONDS = 5e-6               # Python cost of one loop step (dominates at small H)
CELL_SECONDS = 1e-6               # one heatmap cell sent to the browser (JSON, base64)
SPECTRAL_COST = 4                 # a spectral norm: a Gram matrix and a symmetric eigenproblem
SVD_COST = 8                      # np.linalg.norm(M, 2) / eigvals / svd of an H x H matrix
PAGE_BUDGET = 1.5                 # estimated CPU seconds one rerun may compute, caches cold
# Shares of PAGE_BUDGET: the main curve and the gradient each step receives are always drawn
# (the CSV holds them); the sweeps, the map of all pairs and the per-step split only when their
# section is on screen, sharing SECTIONS_SHARE when "all" shows them together.
SHARES = {"main": 0.3, "dl_dh": 0.15}
SECTIONS_SHARE = 0.55
SECTION_WEIGHTS = {"sweeps": 2, "cells": 2, "pairs": 2, "steps": 1}   # spectrum: eig and svd, counted in main
GUARD_SECONDS = 4.0               # wall clock: past this no new computation starts, whatever the estimate
MIN_WINDOW = 30                   # a curve over fewer steps than this shows no trend
MIN_MAP_WINDOW = 8                # a map or a per-step split still reads over this few steps
MAX_EXTRAPOLATION = 100_000    # steps: beyond this a trend line says nothing useful
# A gated cell's Jacobian step, in H^3 multiply-adds: the LSTM pulls S = 2H rows back through
# four H x H blocks and their gates, the GRU H rows through three (measured at H = 64 with
# bench/vanishing.py: ~11x and ~5x the vanilla step, whose model counts H^3).
PULLBACK_COST = {"rnn": 1, "lstm": 10, "gru": 5}
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}        # H x (H + D) products in one forward step


def state_size(H: int, cell: str) -> int:
    """S: the state's size, 2H for the LSTM's [h; c], H otherwise."""
    return rc.get_cell(cell).state_size(H)


def step_seconds(H: int, norm: str, cell: str = "rnn") -> float:
    """One step back of a ||ds_T/ds_k|| curve: the pull-back of the S x S product and its norm."""
    S = state_size(H, cell)
    return (PULLBACK_COST[cell] * H ** 3 + (SPECTRAL_COST * S ** 3 if norm == "2" else 0)) / MATMUL_RATE \
        + STEP_SECONDS


def curve_seconds(steps: int, H: int, norm: str, cell: str = "rnn") -> float:
    """One ||ds_T/ds_k|| curve over `steps` steps: a product and a norm per step."""
    return steps * step_seconds(H, norm, cell)


def pairs_seconds(window: int, H: int, norm: str, cell: str = "rnn") -> float:
    """All pairs of `window` steps: an S x S product and a norm per pair, the heatmap's cells;
    a gated cell first builds each step's Jacobian (a pull-back of S rows)."""
    pairs = window * (window + 1) // 2
    S = state_size(H, cell)
    steps = 0.0 if cell == "rnn" else window * PULLBACK_COST[cell] * H ** 3 / MATMUL_RATE
    return pairs * (S ** 3 * (1 + (SPECTRAL_COST if norm == "2" else 0)) / MATMUL_RATE + STEP_SECONDS) \
        + window * window * CELL_SECONDS + steps


def stats_seconds(window: int, H: int) -> float:
    """The per-step split: one spectral norm per step, plus the f' heatmap (T x H cells)."""
    return window * (H ** 3 * (1 + SPECTRAL_COST) / MATMUL_RATE + STEP_SECONDS + H * CELL_SECONDS)


def dl_dh_seconds(window: int, H: int, truncation: str, k: int, D: int, O: int, cell: str = "rnn") -> float:
    """bptt over `window` steps: k-step truncation sends each loss back min(k, window) steps
    on its own (a matrix-vector product each); every other mode is one pass. The output layer
    and the inputs (O and D) cost a few products per step. A gated step multiplies the
    recurrent work by its gate blocks times S / H."""
    reach = min(k, window) if truncation == "k_step" else 1
    blocks = GATE_BLOCKS[cell] * state_size(H, cell) // H
    return window * reach * (blocks * H ** 2 / MATVEC_RATE + STEP_SECONDS / 10) \
        + window * (4 * blocks * H ** 2 + 4 * H * (D + O)) / MATVEC_RATE


def forward_seconds(T: int, H: int, D: int, cell: str = "rnn") -> float:
    """One forward pass over all T steps: every curve, map and split runs one (a window starts
    from the state the full run reaches)."""
    return T * (GATE_BLOCKS[cell] * (H ** 2 + H * D) / MATVEC_RATE + STEP_SECONDS)


def powers_seconds(steps: int, H: int, norm: str) -> float:
    """The identity activation's check ||W^(T-k)||: a product and a norm (an SVD for ord 2)."""
    return steps * (H ** 3 * (1 + (SVD_COST if norm == "2" else 0)) / MATMUL_RATE + STEP_SECONDS)


def spectrum_seconds(H: int, cell: str = "rnn") -> float:
    """eigvals and singular values of each recurrent block (W_hh alone for the vanilla cell),
    and the bound's largest singular value."""
    return (2 * GATE_BLOCKS[cell] + 1) * SVD_COST * H ** 3 / MATMUL_RATE


@dataclass(frozen=True)
class Plan:
    """What one page run computes, within PAGE_BUDGET.

    norm: '2' or 'fro' for the main curve and the sweeps; main_window: how many of the last
    steps the main curve covers; powers: draw ||W^(T-k)|| (identity activation); sweep_window,
    radii, acts: the sweeps' steps and which of the chosen radii and activations are drawn
    (the rest did not fit); cells_norm, cells_window: the three cells compared (window 0: not
    shown); pair_norm, pair_window; stats_window; dl_dh_window: the steps of
    ||dL/dh_t|| (the last ones); seconds: the estimate of all of it.
    """

    norm: str
    main_window: int
    powers: bool
    sweep_window: int
    radii: tuple[float, ...]
    acts: tuple[str, ...]
    cells_norm: str
    cells_window: int
    pair_norm: str
    pair_window: int
    stats_window: int
    dl_dh_window: int
    seconds: float
    scrub: tuple[float, ...] = ()   # the ρ scrubber's radii (none: no scrubber)
    scrub_step: float = 0.0         # their grid's step


def _fit_steps(cost, budget: float, T: int, floor: int) -> int:
    """The most steps W <= T (at least min(floor, T)) with cost(W) <= budget; cost increases with W."""
    lo, hi = min(floor, T), T
    if cost(hi) <= budget:
        return hi
    while hi - lo > 1:                          # cost(lo) may exceed the budget only at the floor
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if cost(mid) <= budget else (lo, mid)
    return lo


def _spread(values: tuple, keep: int, first) -> tuple:
    """`keep` of `values` (in their order): `first` if present, then evenly spaced ones."""
    if keep >= len(values):
        return values
    picked = {values.index(first)} if first in values else set()
    for i in np.linspace(0, len(values) - 1, keep).round().astype(int):
        if len(picked) < keep:
            picked.add(int(i))
    for i in range(len(values)):               # rounding may have picked one index twice
        if len(picked) < keep:
            picked.add(i)
    return tuple(values[i] for i in sorted(picked))


def section_budgets(section: str) -> dict[str, float]:
    """Seconds of PAGE_BUDGET for each section on screen (0 for the others)."""
    shown = tuple(SECTION_WEIGHTS) if section == "all" else (section,)
    weight = sum(SECTION_WEIGHTS.get(s, 0) for s in shown) or 1
    return {s: SECTIONS_SHARE * PAGE_BUDGET * SECTION_WEIGHTS[s] / weight if s in shown else 0.0
            for s in SECTION_WEIGHTS}


def plan(config: Config) -> Plan:
    """`_plan` of `config` and, for the vanilla cell, the radii of the ρ scrubber (`Plan.scrub`).

    The scrubber's family shares the main curve's norm and window (its sidebar frame is the main
    curve) and takes what the rest of the page leaves of PAGE_BUDGET: the finest grid of
    SCRUB_STEPS that fits, none (with a note) if even the coarsest does not. Spectral norms (the
    norm the bound is about) are kept while some grid fits with them, even a coarser one; only
    when none does, every curve uses Frobenius, as with the sweeps.
    """
    first = _plan(config, allow_spectral=True)
    if config.cell != "rnn":
        return first
    if first.norm == "2" and not any(_scrub_fits(config, first, scrub_grid(config.rho, step))
                                     for step in SCRUB_STEPS):
        first = _plan(config, allow_spectral=False)
    for step in SCRUB_STEPS:
        grid = scrub_grid(config.rho, step)
        if _scrub_fits(config, first, grid):
            return replace(first, scrub=grid, scrub_step=step, seconds=first.seconds + scrub_seconds(grid, first, config))
    return first


def _plan(config: Config, *, allow_spectral: bool) -> Plan:
    """The norms, windows and curves of one page run for `config`, within PAGE_BUDGET.

    Counts everything a link can ask for: T, H, D, O, the cell (a gated cell's Jacobian step
    and forward pass cost more, PULLBACK_COST and GATE_BLOCKS), the norm, the number of radii
    and activations, the identity's matrix powers, the truncation (k-step costs T * k), the
    section shown, the three cells compared, and the forward pass each computation starts with.
    Spectral norms are kept while every curve can have them over all T steps; otherwise all
    curves use Frobenius. Then each part gets the most of the last steps its share affords
    (at least MIN_WINDOW); sweeps that cannot all have MIN_WINDOW steps drop curves. The sweeps
    and the per-step split are the vanilla cell's (a gated cell has neither rho nor f to vary).
    """
    T, H, section, cell = config.T, config.H, config.v_section, config.cell
    vanilla = cell == "rnn"
    fwd = forward_seconds(T, H, config.D, cell)     # paid once by each computation below
    budgets = section_budgets(section)
    # a gated cell's main run also reads its gates (one more forward pass); its blocks' spectra
    # are computed only when their section is on screen
    spectra = spectrum_seconds(H, cell) if vanilla or section in ("spectrum", "all") else 0.0
    main_budget = SHARES["main"] * PAGE_BUDGET - (spectra if vanilla else 0.0) - fwd * (1 if vanilla else 2)
    identity = vanilla and config.activation == "identity"
    sweeps = budgets["sweeps"] if vanilla else 0.0
    n_curves = len(config.v_radii) + len(config.v_acts) if sweeps else 0

    def main_cost(W: int, norm: str) -> float:
        return curve_seconds(W, H, norm, cell) + (powers_seconds(W, H, norm) if identity else 0.0)

    def dl_dh_cost(W: int) -> float:
        return dl_dh_seconds(W, H, config.truncation, config.trunc_k, config.D, config.O, cell)

    spectral = (allow_spectral and config.v_norm == "2" and main_cost(T, "2") <= main_budget
                and n_curves * (curve_seconds(T, H, "2") + fwd) <= sweeps)
    norm = "2" if spectral else "fro"
    # a gated step costs up to 10x a vanilla one: at the largest H a trend's 30 steps would not fit
    main_window = _fit_steps(lambda W: main_cost(W, norm), main_budget, T, MIN_WINDOW if vanilla else MIN_MAP_WINDOW)
    # the sweeps: as many curves as fit MIN_WINDOW steps each, then as many steps as fit
    per_curve_floor = curve_seconds(min(MIN_WINDOW, T), H, norm) + fwd
    keep = min(n_curves, int(sweeps // per_curve_floor)) if sweeps else 0
    keep = max(keep, 1) if n_curves else 0
    keep_radii = min(len(config.v_radii), max(1, keep - min(len(config.v_acts), keep // 2)))
    radii = _spread(tuple(config.v_radii), keep_radii, config.rho) if sweeps else ()
    acts = _spread(tuple(config.v_acts), max(0, keep - len(radii)), config.activation) if sweeps else ()
    curves = len(radii) + len(acts)
    sweep_window = _fit_steps(lambda W: curves * (curve_seconds(W, H, norm) + fwd), sweeps, T, MIN_WINDOW) \
        if sweeps else 0
    cells_norm, cells_window = _plan_cells(config, budgets["cells"])
    pair_norm = "2" if norm == "2" and pairs_seconds(T, H, "2", cell) + fwd <= budgets["pairs"] else "fro"
    pair_window = _fit_steps(lambda W: pairs_seconds(W, H, pair_norm, cell), budgets["pairs"] - fwd, T,
                             MIN_MAP_WINDOW) if budgets["pairs"] else 0
    if not vanilla and pairs_seconds(pair_window, H, pair_norm, cell) + fwd > budgets["pairs"]:
        pair_window = 0                 # a gated map of even MIN_MAP_WINDOW steps is too costly: a note says so
    # the per-step split and the f' heatmap: two forward passes (a gated cell's gates come with its main run)
    stats_window = _fit_steps(lambda W: stats_seconds(W, H), budgets["steps"] - 2 * fwd, T, MIN_MAP_WINDOW) \
        if budgets["steps"] and vanilla else 0
    dl_dh_window = _fit_steps(dl_dh_cost, SHARES["dl_dh"] * PAGE_BUDGET - fwd, T, MIN_WINDOW)
    seconds = (spectra + fwd * (1 if vanilla else 2) + main_cost(main_window, norm)
               + (curves * (curve_seconds(sweep_window, H, norm) + fwd) if sweeps else 0.0)
               + (cells_seconds(cells_window, config, cells_norm) if cells_window else 0.0)
               + (pairs_seconds(pair_window, H, pair_norm, cell) + fwd if pair_window else 0.0)
               + (stats_seconds(stats_window, H) + 2 * fwd if stats_window else 0.0)
               + dl_dh_cost(dl_dh_window) + fwd)
    return Plan(norm=norm, main_window=main_window, powers=identity, sweep_window=sweep_window, radii=radii,
                acts=acts, cells_norm=cells_norm, cells_window=cells_window, pair_norm=pair_norm,
                pair_window=pair_window, stats_window=stats_window, dl_dh_window=dl_dh_window, seconds=seconds)


# ---- the ρ scrubber: the main curve's family over the spectral radius ------------------------
# Every radius of a grid over [SCRUB_LO, SCRUB_HI] (and the sidebar's own, exactly) gets its exact
# curve and bound, drawn as plotly frames: the slider inside the chart moves through them in the
# browser, with no rerun. Finest grid first; each is tried until one fits the page's budget.
SCRUB_LO, SCRUB_HI = 0.1, 2.0
SCRUB_STEPS = (0.05, 0.1, 0.25)
MIN_SCRUB = 5                     # fewer radii than this would not feel like scrubbing


def scrub_grid(rho: float, step: float) -> tuple[float, ...]:
    """Radii SCRUB_LO, SCRUB_LO + step, ..., SCRUB_HI (each the float of its 2-decimal literal, so
    0.9 is 0.9) and the sidebar's `rho`, sorted."""
    count = int(round((SCRUB_HI - SCRUB_LO) / step)) + 1
    return tuple(sorted({round(SCRUB_LO + i * step, 2) for i in range(count)} | {float(rho)}))


def scrub_seconds(radii: tuple[float, ...], plan_: Plan, config: Config) -> float:
    """The family beside the main curve (which is cached already): per other radius a forward
    pass, the curve over the main window, the bound's sigma_max, and two arrays in the frames."""
    T, H, W = config.T, config.H, plan_.main_window
    per_radius = curve_seconds(W, H, plan_.norm) + forward_seconds(T, H, config.D) + SVD_COST * H ** 3 / MATMUL_RATE
    return (len(radii) - 1) * per_radius + 2 * len(radii) * W * CELL_SECONDS


def _scrub_fits(config: Config, plan_: Plan, radii: tuple[float, ...]) -> bool:
    return len(radii) >= MIN_SCRUB and plan_.seconds + scrub_seconds(radii, plan_, config) <= PAGE_BUDGET


def cells_seconds(window: int, config: Config, norm: str) -> float:
    """The three cells' curves over the last `window` steps, each with its own forward pass."""
    return sum(curve_seconds(window, config.H, norm, cell) + forward_seconds(config.T, config.H, config.D, cell)
               for cell in rc.CELLS)


def _plan_cells(config: Config, budget: float) -> tuple[str, int]:
    """(norm, window) of the three cells compared: spectral norms if all three fit over all T
    steps, else Frobenius over as many of the last steps as fit (0: the section is not shown)."""
    if not budget:
        return "fro", 0
    norm = "2" if config.v_norm == "2" and cells_seconds(config.T, config, "2") <= budget else "fro"
    window = _fit_steps(lambda W: cells_seconds(W, config, norm), budget, config.T, MIN_WINDOW)
    return norm, window if cells_seconds(window, config, norm) <= budget else 0



# ---- computations on arrays (what bench/vanishing.py times) ----------------------------------

def tail(params, xs: np.ndarray, activation: str, window: int) -> tuple[np.ndarray, dict[str, Array]]:
    """(xs of the last `window` steps (W, D), the state they start from as the engine's keyword
    arguments: {'h0': h_{T-W} (H,)}, with 'c0': c_{T-W} (H,) for the LSTM; {} for the zero state
    when the window is the whole sequence). params: any cell's."""
    start = xs.shape[0] - window
    if start <= 0:
        return xs, {}
    trace = rc.forward(params, xs[:start], activation=activation)
    return xs[start:], {"h0": trace.h[-1]} | ({"c0": trace.c[-1]} if trace.c is not None else {})


def norm_curve(params, xs: np.ndarray, activation: str, norm: str,
               window: int | None = None, guard: Guard | None = None) -> np.ndarray:
    """(W,): ||ds_T/ds_k|| for the last W steps k = T-W+1..T (eq. (8) for the vanilla cell, whose
    state s is h; [h; c] for the LSTM); W = T by default. params: any cell's.

    guard: None, or a Guard asked between blocks of steps; when it stops, the walk back ends
    and Stopped carries the steps done so far in `partial` (the exact curve of a shorter window).
    """
    xs_w, start = tail(params, xs, activation, xs.shape[0] if window is None else window)
    blocks = []
    for first, norms in iter_jacobian_norms_to_last(params, xs_w, activation=activation, **start,
                                                    ord=ENGINE_ORD[norm]):
        blocks.append(norms)
        if first > 0 and guard is not None and guard.should_stop():
            raise Stopped(guard.stopped_by, partial=np.concatenate(blocks[::-1]))
    return np.concatenate(blocks[::-1])


def pairwise(params, xs: np.ndarray, activation: str, norm: str, window: int) -> np.ndarray:
    """(W, W): ||ds_t/ds_k|| for t, k among the last W steps, entry [i, j] for t = T-W+1+i,
    k = T-W+1+j (k <= t; 0 above the diagonal). params: any cell's."""
    xs_w, start = tail(params, xs, activation, window)
    return pairwise_jacobian_norms(params, xs_w, activation=activation, **start, ord=ENGINE_ORD[norm])


def gate_product(params, xs: np.ndarray, norm: str, window: int) -> GateProduct:
    """A gated cell's memory path over the last W steps: its keeping gates (W, H) (the LSTM's
    forget gates, the GRU's update gates), their product diag(g_{k+1} ... g_T) and its norms
    (W,) for k = T-W+1..T (exact: the gates after k are the full run's)."""
    xs_w, start = tail(params, xs, "tanh", window)
    return gate_product_to_last(params, xs_w, **start, ord=ENGINE_ORD[norm])


def factor_stats(params: rc.Params, xs: np.ndarray, activation: str, window: int) -> StepFactorStats:
    """rnn_core.step_factor_stats for the last W steps t = T-W+1..T."""
    xs_w, start = tail(params, xs, activation, window)
    return step_factor_stats(params, xs_w, activation=activation, **start)


def dl_dh(params: rc.Params, data: rc.TaskData, config: Config, window: int) -> np.ndarray:
    """(W, H): dL/dh_t for the last W steps t = T-W+1..T (eq. (7)), with the config's loss,
    reduction, mask and truncation; W = T is the whole run.

    A tail is exact for full BPTT and k-step truncation, which only look forward from t: it
    starts from the full run's state h_{T-W} and keeps the full run's weights w_t of eq. (5)
    (passed as the mask, with reduction 'sum', since a 'mean' over the tail would divide by
    less). Chunked and randomized truncation count steps from 1, and cost one pass anyway.
    """
    T = data.xs.shape[0]
    mask = np.ones(T) if data.mask is None else np.asarray(data.mask, dtype=np.float64)
    weights = mask / mask.sum() if config.reduction == "mean" else mask
    if window < T and config.truncation not in ("full", "k_step"):
        raise ValueError(f"a window of {config.truncation} truncation is not the full run's")
    xs_w, start = tail(params, data.xs, config.activation, window)
    return rc.bptt(params, xs_w, data.ys[T - window:], activation=config.activation, loss=config.loss,
                   reduction="sum", mask=weights[T - window:], **start, truncation=config.truncation_spec).dL_dh


def derivatives(params: rc.Params, xs: np.ndarray, activation: str) -> np.ndarray:
    """(T, H): f'(a_t) of every unit at every step, the diagonal of eq. (8)'s factors."""
    trace = rc.forward(params, xs, activation=activation)
    with np.errstate(all="ignore"):
        return rc.get_activation(activation).df(trace.a, trace.h)



def spectrum(W_hh: Array) -> tuple[Array, Array]:
    """The eigenvalues (H,) complex and the singular values (H,) of W_hh (H, H)."""
    return np.linalg.eigvals(W_hh), singular_values(W_hh)


def bound_for_norm(bound, ord: str, *, H: int) -> Array:
    """The bound of eq. (11) for the chosen norm: as is for the spectral norm; times
    ||I||_F = sqrt(H) for the Frobenius norm, since ||A B||_F <= ||A||_2 ||B||_F.

    bound (T,): (gamma sigma_max)^(T-k) from rnn_core.jacobian_bound.
    """
    b = np.asarray(bound, dtype=np.float64)
    if ord == "2":
        return b
    with np.errstate(over="ignore"):
        return b * np.sqrt(H)


def matrix_power_norms(W: Array, T: int, ord: str = "2") -> Array:
    """(T,): entry k-1 is ||W^(T-k)||, the identity-activation Jacobian dh_T/dh_k (eq. (8)).

    W (H, H). Powers are built by repeated multiplication, independent of the engine's
    cumulative product, so the page can check the two against each other.
    """
    norm_ord = 2 if ord == "2" else "fro"
    out = np.empty(T)
    power = np.eye(W.shape[0])
    with np.errstate(all="ignore"):
        for n in range(T):                         # n = T - k steps
            out[T - 1 - n] = np.linalg.norm(power, norm_ord) if np.all(np.isfinite(power)) else np.inf
            power = W @ power
    return out


def relative_gap(a, b) -> float:
    """max |a - b| / max(|b|, tiny) over the entries where both are finite."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any():
        return 0.0
    return float(np.max(np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-300)))


def step_norms(rows) -> Array:
    """(T,) Euclidean norm of each row of a (T, H) array; inf where a row is not finite."""
    R = np.asarray(rows, dtype=np.float64)
    with np.errstate(all="ignore"):
        norms = np.sqrt(np.sum(R * R, axis=1))
    return np.where(np.all(np.isfinite(R), axis=1), norms, np.inf)




# ---- what a curve says -----------------------------------------------------------------------

@dataclass(frozen=True)
class CurveSummary:
    """factor: the fitted per-step factor (nan without a trend); kind: 'vanishing',
    'exploding', 'stable' or 'none'; label: e.g. 'vanishing: x0.62 per step'; horizon: the
    memory horizon measured on the curve (a distance T - k) when the curve falls below the
    threshold within its steps, else None; horizon_text: the one way the page states it."""

    factor: float
    kind: str
    label: str
    horizon: int | None
    horizon_text: str


def summarise(norms: np.ndarray) -> CurveSummary:
    """The per-step factor, its label and the memory horizon of a curve (W,), entry k-1 at distance W-k.

    Entries that overflowed (inf, or nan from inf - inf in the product) count as above every
    threshold: the gradient from there grew past the float range, it did not vanish.
    """
    overflowed = ~np.isfinite(norms)
    factor = fit_decay_factor(norms)
    if np.isfinite(factor) and factor > 0:
        kind, label = classify_factor(factor)
    elif overflowed.any():
        kind, label = "exploding", "exploding: past the float64 range"
    else:
        kind, label = "none", "no trend: too few nonzero points"
    grown = np.where(overflowed, np.inf, norms)
    measured = memory_horizon(grown, HORIZON_THRESHOLD)
    crossed = grown.shape[0] == 1 or bool(grown[0] < HORIZON_THRESHOLD * grown[-1])
    if crossed:
        return CurveSummary(factor, kind, label, measured, _steps(measured))
    return CurveSummary(factor, kind, label, None, _beyond(norms, kind, factor))


def _steps(n: int) -> str:
    return f"{n:,} step{'s' if n != 1 else ''}"


def _beyond(norms: np.ndarray, kind: str, factor: float) -> str:
    """The horizon of a curve still above the threshold at its first step: extrapolated from
    its trend when it fades, else why there is none."""
    if kind == "exploding":
        return "none (it grows)"
    if not (np.isfinite(factor) and factor < 1):
        return "none (it does not fade)" if kind == "stable" else f"> {_steps(norms.shape[0] - 1)}"
    estimate = extrapolated_horizon(norms, HORIZON_THRESHOLD)
    if estimate >= MAX_EXTRAPOLATION:
        return f"> {_steps(MAX_EXTRAPOLATION)} (extrapolated)"
    if estimate < norms.shape[0]:          # the trend says it crossed, the curve says it did not
        return f"> {_steps(norms.shape[0] - 1)}"
    return f"≈ {_steps(int(estimate))} (extrapolated)"


def horizon_value(summary: CurveSummary) -> tuple[str, str | None]:
    """(value, note) for a metric whose width holds a number, not a sentence: the horizon's
    text split before its parenthesis, e.g. ('≈ 43 steps', 'extrapolated')."""
    value, _, note = summary.horizon_text.partition(" (")
    return value, note.rstrip(")") or None



# ---- the configs the numbers depend on -------------------------------------------------------
# The Jacobians depend on the model and its sequence alone (Config.project(*EXACT_NUMBERS)): the
# notation, the page's view and the sidebar's truncation never recompute them; dL/dh_t also
# depends on the truncation (NUMBERS).

def sweep_configs(config: Config) -> tuple[list[tuple[str, Config]], list[tuple[str, Config]]]:
    """The model configs of both sweeps, named for the legend: one per chosen radius (the
    sidebar's activation) and one per chosen activation (the sidebar's radius); same seed."""
    model = config.project(*EXACT_NUMBERS)
    radii = [(f"ρ = {r:g}", model.replace(rho=float(r))) for r in config.v_radii]
    acts = [(f"f = {a}", model.replace(activation=a)) for a in config.v_acts]
    return radii, acts


def cell_configs(config: Config) -> list[tuple[str, Config]]:
    """(cell, model config) of the three cells compared, on the same inputs, seed, T and H: the
    sidebar's cell as it is set; each other cell with its own defaults (the vanilla RNN: tanh, the
    schema's rho and initialiser; the LSTM: orthogonal, forget-gate bias 1; the GRU: orthogonal)
    and without the hand edits, which name the sidebar cell's weights."""
    model = config.project(*EXACT_NUMBERS)
    configs = []
    for cell in rc.CELLS:
        if cell == model.cell:
            configs.append((cell, model))
            continue
        init = DEFAULT.init if cell == "rnn" else "orthogonal"
        configs.append((cell, model.replace(cell=cell, init=init, activation=DEFAULT.activation, rho=DEFAULT.rho,
                                            forget_bias=DEFAULT.forget_bias, edits=())))
    return configs


# ---- the page's numbers, cached on a model's config (never on arrays) -------------------------

CACHE = dict(max_entries=32, show_spinner=False, hash_funcs=EXACT)
# A link draws at most 1 + MAX_RADII + 4 + 3 curves (main, sweeps, cells): the curve cache holds those of 8 such
# links, so
# one link can never evict more than an eighth of what other visitors are looking at (a curve is
# at most 500 floats: the whole cache stays under 1 MB).
CURVE_ENTRIES = 8 * (1 + MAX_RADII + len(rc.ACTIVATIONS) + len(rc.CELLS))


def _inputs(model: Config) -> tuple[rc.Params, Array]:
    return state.params(model), state.data(model).xs


@st.cache_data(**{**CACHE, "max_entries": CURVE_ENTRIES})
def cached_curve(model: Config, norm: str, window: int | None = None, _guard: Guard | None = None) -> Array:
    """norm_curve of the model's config (a stopped curve raises Stopped and is not cached)."""
    return norm_curve(*_inputs(model), model.activation, norm, window, guard=_guard)


def guarded_curve(guard: Guard, what: str, model: Config, norm: str, window: int | None = None, *,
                  keep_tail: bool) -> Array | None:
    """The curve; if the guard stops it while it is computed, its exact last steps
    (keep_tail: the main curve, which always gets at least its first block of steps) or None
    (a sweep curve, whose chart needs curves of equal lengths)."""
    if not keep_tail and not guard.allows(what):
        return None
    try:
        return cached_curve(model, norm, window, _guard=guard)
    except Stopped as stopped:
        if not keep_tail:
            guard.skipped.append(what)
            return None
        guard.cut.append(f"{what} (its last {stopped.partial.shape[0]} steps)")
        return stopped.partial


@st.cache_data(**CACHE)
def cached_pairwise(model: Config, norm: str, window: int) -> Array:
    return pairwise(*_inputs(model), model.activation, norm, window)


@st.cache_data(**CACHE)
def cached_factor_stats(model: Config, window: int) -> StepFactorStats:
    return factor_stats(*_inputs(model), model.activation, window)


@st.cache_data(**CACHE)
def _cached_dl_dh_tail(model: Config, window: int) -> Array:
    """dL/dh_t of the last `window` steps; model: the model with its truncation and loss."""
    return dl_dh(state.params(model), state.data(model), model, window)


def gradient_per_step(config: Config, window: int) -> Array:
    """(window, H): the whole run's dL/dh_t (shared with the other pages) or its last steps."""
    # keyed on what the gradient depends on: a page setting must not add a shared cache entry
    model = config.project(*NUMBERS)
    if window == config.T:
        return state.bptt_result(model).dL_dh
    return _cached_dl_dh_tail(model, window)


@st.cache_data(**CACHE)
def cached_derivatives(model: Config) -> Array:
    return derivatives(*_inputs(model), model.activation)


@st.cache_data(**CACHE)
def cached_spectrum(model: Config) -> tuple[Array, Array]:
    return spectrum(state.params(model).W_hh)


@st.cache_data(**CACHE)
def cached_block_spectra(model: Config) -> list[tuple[str, Array, Array]]:
    """(name, eigenvalues (H,), singular values (H,)) of each recurrent block of a gated cell."""
    params = state.params(model)
    return [(name, *spectrum(getattr(params, name))) for name in recurrent_blocks(model.cell)]


def recurrent_blocks(cell: str) -> tuple[str, ...]:
    """The H x H matrices applied to h_{t-1} at every step: W_hh for the vanilla cell, one per
    gate block for the LSTM (W_hi, W_hf, W_ho, W_hc) and the GRU (W_hr, W_hz, W_hh)."""
    return tuple(n for n in rc.get_cell(cell).recurrent_names if n.startswith("W_h"))


@st.cache_data(**CACHE)
def cached_gate_product(model: Config, norm: str, window: int) -> GateProduct:
    return gate_product(*_inputs(model), norm, window)


@st.cache_data(**CACHE)
def cached_bound(model: Config) -> Array:
    """(T,): the bound (gamma sigma_max(W_hh))^(T-k) of eq. (11) for every k."""
    return jacobian_bound(state.params(model), model.activation, model.T)


@st.cache_data(**CACHE)
def cached_matrix_powers(model: Config, steps: int, norm: str) -> Array:
    return matrix_power_norms(state.params(model).W_hh, steps, norm)


@dataclass(frozen=True)
class RadiusFamily:
    """The main curve at every radius of the scrubber: radii (n,) sorted, norms and bounds (n, W)
    in the main curve's norm over its window (row i for radii[i]; the bound of eq. (11) in that
    norm); selected: the row of the sidebar's rho, which is the main curve itself."""

    radii: tuple[float, ...]
    norms: Array
    bounds: Array
    selected: int


def radius_family(model: Config, radii: tuple[float, ...], norm: str, window: int,
                  guard: Guard | None = None) -> RadiusFamily:
    """The vanilla model's curve and bound at each radius (same seed, inputs, edits), from the
    engine; raises Stopped (nothing partial is kept) if the guard stops between radii."""
    xs = state.data(model).xs
    norms, bounds = [], []
    for rho in radii:
        if guard is not None:
            guard.check()
        params = build_params(model.replace(rho=float(rho)))       # not state.params: n entries would evict others
        norms.append(norm_curve(params, xs, model.activation, norm, window))
        bounds.append(bound_for_norm(jacobian_bound(params, model.activation, model.T)[-window:], norm, H=model.H))
    return RadiusFamily(tuple(radii), np.array(norms), np.array(bounds), radii.index(model.rho))


@st.cache_data(**CACHE)
def cached_radius_family(model: Config, radii: tuple[float, ...], norm: str, window: int,
                         _guard: Guard | None = None) -> RadiusFamily:
    """radius_family, one entry per model config and grid (a stopped family is not cached)."""
    return radius_family(model, radii, norm, window, guard=_guard)


def shared_family(model: Config, radii: tuple[float, ...], norm: str, window: int,
                  guard: Guard | None = None) -> RadiusFamily:
    """cached_radius_family, one entry for every radius of a grid: its rows are the curves at
    `radii` whichever of them the sidebar's ρ is, so a lecture hall spread over the grid shares
    one family; only `selected` is the caller's own."""
    family = cached_radius_family(model.replace(rho=radii[0]), radii, norm, window, _guard=guard)
    return replace(family, selected=radii.index(model.rho))


def family_of(run: Run) -> RadiusFamily | None:
    """The ρ scrubber's family for this run, or None: a gated cell, a plan without one, a main
    curve the guard cut short, or the guard stopping it (which its note then says)."""
    radii, W = run.plan.scrub, run.norms.shape[0]
    if not run.vanilla or not radii or W != run.plan.main_window or not run.guard.allows("the ρ scrubber"):
        return None
    try:
        return shared_family(run.model, radii, run.plan.norm, W, guard=run.guard)
    except Stopped:
        run.guard.skipped.append("the ρ scrubber")
        return None


def scrub_words(family: RadiusFamily) -> list[CurveSummary]:
    """Each radius's summary: its trend (the line above its frame) and its memory horizon."""
    return [summarise(row) for row in family.norms]


def scrub_text(summary: CurveSummary) -> str:
    """The line above one frame of the ρ scrubber: its trend and its memory horizon."""
    return f"{summary.label} · memory horizon: {summary.horizon_text}"


# Figures with frames are worth keeping across reruns: plotly validates every frame (~60 ms at
# T = 200 for 39 radii). Keyed on everything they draw; st.cache_resource hands the same object back.
FIGURES = dict(max_entries=16, show_spinner=False, hash_funcs=EXACT)
# The scrubber's figure marks the sidebar's ρ (its first frame, axis range and label), so each
# radius has its own: room for the whole 0.05 grid (39) and a few more (~1.2 MB each at T = 200).
SCRUB_FIGURES = 48


@st.cache_resource(**{**FIGURES, "max_entries": SCRUB_FIGURES})
def scrub_figure(model: Config, radii: tuple[float, ...], norm: str, window: int, notation: str, axis: str,
                 presentation: bool) -> go.Figure:
    """The main chart with its ρ scrubber (figures.scrub_curve_figure) for the family of `model`."""
    family = shared_family(model, radii, norm, window)
    words = scrub_words(family)
    powers = cached_matrix_powers(model, window, norm) if model.activation == "identity" else None
    return sent(figures.scrub_curve_figure(family.norms, family.bounds, family.radii, selected=family.selected,
                                      horizons=[s.horizon for s in words],
                                      factor_texts=[scrub_text(s) for s in words], nt=NOTATIONS[notation], ord=norm,
                                      axis=axis, first_step=model.T - window + 1, presentation=presentation,
                                      matrix_powers=powers))


# Small figures (a few curves, no frames), three per config: room for a hall's worth of radii.
SWEEP_FIGURES = 64


@st.cache_resource(max_entries=SWEEP_FIGURES, show_spinner=False)
def sweep_figure(curves: list[tuple[str, Array]], notation: str, norm: str, axis: str, title: str, highlight: str,
                 first_step: int, presentation: bool, state: str | None = None) -> go.Figure:
    """Curves (name, norms (W,)) overlaid with their memory horizons (figures.sweep_figure): a
    sweep's or the compared cells' chart. Keyed on the curves' exact values (Streamlit hashes an
    array by its bytes), so a rerun that changes nothing they draw builds nothing."""
    summaries = [summarise(c) for _, c in curves]
    return sent(figures.sweep_figure(curves, nt=NOTATIONS[notation], ord=norm, axis=axis,
                                     horizons=[s.horizon for s in summaries],
                                     horizon_texts=[s.horizon_text for s in summaries], title=title,
                                     highlight=highlight, first_step=first_step, presentation=presentation,
                                     state=state))


@st.cache_resource(**FIGURES)
def pairs_row_figure(model: Config, norm: str, window: int, notation: str, presentation: bool) -> go.Figure:
    """One row of the map of all pairs with its slider over t (figures.pairs_row_figure)."""
    return sent(figures.pairs_row_figure(cached_pairwise(model, norm, window), nt=NOTATIONS[notation], ord=norm,
                                         first_step=model.T - window + 1, presentation=presentation,
                                         state=None if model.cell == "rnn" else "s"))


def scrub_note(run: Run) -> str | None:
    """Why the chart has no ρ scrubber: a gated cell does not read ρ, or it would not fit."""
    if not run.vanilla:
        return (f"The ρ scrubber is the vanilla RNN's: the {cell_title(run.config.cell)} does not read ρ, its gates "
                "decide what fades. Choose the vanilla RNN to scrub ρ.")
    if run.plan.scrub:
        return None
    return (f"At T = {run.config.T}, H = {run.config.H} the curves for a range of ρ would take too long to compute: "
            "the chart has no ρ scrubber; move the sidebar's ρ instead (or choose a smaller H or T).")


def scrub_caption(run: Run, family: RadiusFamily) -> str:
    """What the slider under the chart does, and which ρ the numbers around it are for."""
    radii = family.radii
    return (f"**Scrub ρ:** drag the slider under the chart: it moves through {len(radii)} exact curves, "
            f"ρ = {radii[0]:g} to {radii[-1]:g} in steps of {run.plan.scrub_step:g}, in your browser, with no wait; "
            "the line above the chart gives each curve's trend and memory horizon. The numbers above the chart and "
            f"the words under it are for the sidebar's ρ = {run.config.rho:g}: its slider sets ρ exactly, and the "
            "link shares it.")


# ---- one run of the page ---------------------------------------------------------------------

def new_guard() -> Guard:
    """The wall clock of one page run (GUARD_SECONDS, or until the visitor has gone)."""
    return Guard(GUARD_SECONDS)


@dataclass(frozen=True)
class Run:
    """What every section of one page run shares: the config, its plan and guard, the main
    curve ||ds_T/ds_k|| (W,) in plan.norm over the last plan.main_window steps and its summary;
    for the vanilla cell (s = h) the bound (W,) of eq. (11), the matrix powers (W,) for the
    identity activation (else None) and the spectrum of W_hh; for a gated cell (those are None)
    its memory path over the same W steps (`gate`)."""

    config: Config
    model: Config                  # config.project(*EXACT_NUMBERS): the caches' key
    plan: Plan
    guard: Guard
    norms: Array
    summary: CurveSummary
    bound: Array | None = None
    powers: Array | None = None
    eigenvalues: Array | None = None
    singular: Array | None = None
    gamma: float | None = None
    gate: GateProduct | None = None

    @property
    def vanilla(self) -> bool:
        return self.config.cell == "rnn"

    @property
    def rho(self) -> float:
        return float(np.max(np.abs(self.eigenvalues)))

    @property
    def first_step(self) -> int:
        return self.config.T - self.norms.shape[0] + 1


def main_run(config: Config, plan_: Plan, guard: Guard) -> Run:
    """The main curve's numbers under `plan_` (plan(config)): the curve (cut short if the guard
    stops it); for the vanilla cell the spectrum, the bound of eq. (11) and, for the identity,
    the matrix powers; for a gated cell its keeping gates' product over the same steps."""
    model = config.project(*EXACT_NUMBERS)
    norms = guarded_curve(guard, "the main curve", model, plan_.norm,
                          plan_.main_window if plan_.main_window < config.T else None, keep_tail=True)
    W = norms.shape[0]
    common = dict(config=config, model=model, plan=plan_, guard=guard, norms=norms, summary=summarise(norms))
    if config.cell != "rnn":
        return Run(**common, gate=cached_gate_product(model, plan_.norm, W))
    eigenvalues, singular = cached_spectrum(model)
    bound = bound_for_norm(cached_bound(model)[-W:], plan_.norm, H=config.H)
    powers = cached_matrix_powers(model, W, plan_.norm) if plan_.powers else None
    return Run(**common, bound=bound, powers=powers, eigenvalues=eigenvalues, singular=singular,
               gamma=rc.get_activation(config.activation).gamma)


def sweep_curves(run: Run) -> tuple[list[tuple[str, Array]], list[tuple[str, Array]]]:
    """(name, curve) of every planned radius and activation (none when the sweeps are not on
    screen); curves the guard stopped are left out."""
    if not run.plan.sweep_window:
        return [], []
    config = run.config.replace(v_radii=run.plan.radii, v_acts=run.plan.acts)
    drawn: tuple[list, list] = ([], [])
    for out, configs in zip(drawn, sweep_configs(config)):
        for name, model in configs:
            curve = guarded_curve(run.guard, f"the {name} curve", model, run.plan.norm, run.plan.sweep_window,
                                  keep_tail=False)
            if curve is not None:
                out.append((name, curve))
    return drawn


def cell_curves(run: Run) -> list[tuple[str, Array]]:
    """(cell, curve (W,)) of each cell compared, over the planned window and norm (none when the
    comparison is not on screen); curves the guard stopped are left out."""
    window = run.plan.cells_window
    if not window:
        return []
    drawn = []
    for cell, model in cell_configs(run.config):
        curve = guarded_curve(run.guard, f"the {rc.get_cell(cell).title} curve", model, run.plan.cells_norm,
                              window if window < run.config.T else None, keep_tail=False)
        if curve is not None:
            drawn.append((cell, curve))
    return drawn


def gradient_of(run: Run) -> Array | None:
    """dL/dh_t (W, H) over the planned window, or None if the guard has stopped."""
    if not run.guard.allows("the gradient each step receives"):
        return None
    return gradient_per_step(run.config, run.plan.dl_dh_window)


def pairs_of(run: Run) -> Array | None:
    """||ds_t/ds_k|| over the planned window, or None if the guard has stopped or it does not fit."""
    if not run.plan.pair_window or not run.guard.allows("the map of all pairs"):
        return None
    return cached_pairwise(run.model, run.plan.pair_norm, run.plan.pair_window)


def steps_of(run: Run) -> tuple[StepFactorStats, Array] | None:
    """(the per-step split over the planned window, f'(a_t) (T, H)), or None if the guard has stopped."""
    if not run.guard.allows("the per-step split"):
        return None
    return cached_factor_stats(run.model, run.plan.stats_window), cached_derivatives(run.model)


# ---- words: what the numbers on screen say ---------------------------------------------------

def state_letter(nt: Notation, cell: str) -> str:
    """The state whose Jacobians the page shows: h for the vanilla cell (eq. (8)); s for a gated
    cell (s_t = [h_t; c_t] for the LSTM, h_t for the GRU, as rnn_core.jacobians_to_last)."""
    return nt.h if cell == "rnn" else "s"


def inline_maths(nt: Notation, cell: str = "rnn") -> dict[str, str]:
    """Inline maths for captions and notes, in the reader's notation; the Jacobians of the
    cell's state (`state_letter`)."""
    s = state_letter(nt, cell)
    hT, hk, ht = nt.at(s, "T"), nt.at(s, "k"), nt.at(s, "t")
    return {"W": f"${nt.param('W_hh')}$", "hT": f"${hT}$", "a_t": f"${nt.at(nt.a, 't')}$",
            "factor": f"${nt.step_jacobian('t')}$", "Wstep": f"${nt.recurrent_matrix()}$",
            "jac": rf"$\lVert \partial {hT} / \partial {hk} \rVert$",
            "jac_tk": rf"$\lVert \partial {ht} / \partial {hk} \rVert$",
            "dLdh": rf"$\lVert \partial {nt.L} / \partial {ht} \rVert$"}


def equations_latex(nt: Notation) -> str:
    """Eqs. (8) and (11) in the reader's notation."""
    hT, hk, W = nt.at(nt.h, "T"), nt.at(nt.h, "k"), nt.param("W_hh")
    return (rf"(8)\quad \frac{{\partial {hT}}}{{\partial {hk}}} = \prod_{{t=k+1}}^{{T}} "
            rf"{nt.step_jacobian('t')}"
            rf"\qquad\qquad (11)\quad \Big\lVert \frac{{\partial {hT}}}{{\partial {hk}}} \Big\rVert_2 "
            rf"\le \big(\gamma\, \sigma_{{\max}}({W})\big)^{{T-k}}")


DEAD_UNITS = "every path goes through a unit with f' = 0, e.g. dead ReLUs"
UNDERFLOW = "the product of gates fell below the smallest float64"


def log_notes(values, what: str, zero_why: str = DEAD_UNITS) -> list[str]:
    """Plain sentences about the zeros and overflow in `values` (the figures' edge markers);
    zero_why: why a value is exactly 0."""
    split = split_for_log(values)
    notes = []
    if split.overflow.any():
        notes.append(f"{int(split.overflow.sum())} value(s) of {what} overflowed (inf or nan): they are "
                     "drawn as ▲ markers pinned to the top edge.")
    if split.zero.any():
        notes.append(f"{int(split.zero.sum())} value(s) of {what} are exactly 0 ({zero_why}): a log axis has "
                     "no 0, so they are drawn as ▼ markers on the bottom edge.")
    return notes


QUIET = dict(delta_color="off", delta_arrow="off")


def metrics(run: Run, nt: Notation) -> list[dict]:
    """The four numbers above the main curve, as st.metric's label, value, delta and help. Values
    are short (a number and a word) so that a metric never cuts them; the delta qualifies them.
    The first two read the curve (any cell); the last two its cause: W_hh and the bound (11) for
    the vanilla cell, the keeping gates for a gated one."""
    maths, summary = inline_maths(nt, run.config.cell), run.summary
    jac, W = maths["jac"], maths["W"]
    finite = np.isfinite(summary.factor)
    quiet = QUIET
    value, note = horizon_value(summary)
    curve = [
        dict(label="Fitted per-step factor", value=f"×{summary.factor:#.3g}" if finite else "—",
             delta=summary.kind if finite else summary.label, **quiet,
             help=f"r in {jac} ≈ c·r^(T−k): a least-squares line through the log of the curve"),
        dict(label="Memory horizon (1 %)", value=value, delta=note, **quiet,
             help=f"the largest distance T − k at which {jac} is still at least 1 % of its value at k = T; "
                  "when the curve is still above 1 % at its first step, its fitted trend is extended "
                  "(extrapolated); a curve that does not fade has none")]
    if not run.vanilla:
        return curve + gate_metrics(run)
    return curve + [
        dict(label=f"Spectral radius ρ({W})", value=f"{run.rho:.3f}",
             help=f"the largest |eigenvalue|: what {W} does per step in the long run"),
        dict(label="Bound per step γ·σ_max", value=f"{run.gamma * run.singular[0]:.3f}",
             help=f"γ = sup |f′| = {run.gamma:g} for {run.config.activation}; eq. (11) raises this to the "
                  "power T − k")]


def norm_note(run: Run) -> str | None:
    """Why the page uses Frobenius norms when spectral ones were asked for."""
    config = run.config
    if run.plan.norm == config.v_norm:
        return None
    why = "its bound carries an extra √H" if run.vanilla else "‖I‖ is then the square root of the state's size"
    return (f"At T = {config.T}, H = {config.H} spectral norms of every curve would take too long to compute: "
            f"the page uses the Frobenius norm ({why}).")


def window_note(window: int, T: int, what: str) -> str | None:
    if 0 < window < T:
        return (f"At this size {what} would take too long to compute on every change: it covers the last "
                f"{window} of the {T} steps ({T - window + 1} to {T}), with exact values.")
    return None


def dropped_note(run: Run) -> str | None:
    """Which chosen sweep curves did not fit the page's budget."""
    config, plan_ = run.config, run.plan
    left_out = [f"ρ = {r:g}" for r in config.v_radii if r not in plan_.radii] + \
               [f"f = {a}" for a in config.v_acts if a not in plan_.acts]
    if not left_out:
        return None
    return (f"At T = {config.T}, H = {config.H} the {len(config.v_radii) + len(config.v_acts)} chosen curves "
            f"would take too long to compute even over their last {min(MIN_WINDOW, config.T)} steps: the "
            f"page draws {len(plan_.radii) + len(plan_.acts)} of them and leaves out {', '.join(left_out)}. "
            "Pick fewer radii or activations to see those.")


def curve_caption(run: Run, nt: Notation) -> str:
    summary, norm = run.summary, run.plan.norm
    return (
        f"**What to look for:** read the blue curve from the right (k = T, where it is ‖I‖) to the left, "
        f"going back in time. On this log axis its slope is the per-step factor ({summary.label}): a "
        f"straight line dropping to the left is a gradient vanishing geometrically, one climbing to the "
        f"left is exploding. The dashed line is the worst case of eq. (11)"
        f"{' (times √H for the Frobenius norm)' if norm == 'fro' else ''}: the curve never crosses above it. "
        f"The memory horizon ({summary.horizon_text}) is how far back a state still moves "
        f"{inline_maths(nt)['hT']} by at least 1 %" + (" (the ★)." if summary.horizon is not None else "."))


def powers_check(run: Run, nt: Notation) -> str:
    """The identity activation: the curve is the norms of the matrix powers, and by how much."""
    hT, hk = nt.at(nt.h, "T"), nt.at(nt.h, "k")
    return (f"With the identity activation f′ = 1, so every step's factor is {inline_maths(nt)['Wstep']} itself "
            rf"and $\partial {hT} / \partial {hk} = {nt.jacobian_power('T-k')}$ exactly: the curve *is* the "
            "norms of the matrix powers (open circles); "
            f"largest relative difference here {relative_gap(run.norms, run.powers):.1e}.")


def curve_notes(run: Run, nt: Notation) -> list[str]:
    jac = inline_maths(nt, run.config.cell)["jac"]
    if not run.vanilla:
        return log_notes(run.norms, jac) + log_notes(run.gate.norms, f"the {GATE_WORDS[run.config.cell].path}",
                                                     UNDERFLOW)
    return log_notes(run.norms, jac) + log_notes(run.bound, "the bound")[:1]


SWEEP_RHO_CAPTION = (
    "**What to look for:** the same weights rescaled to each radius. Below ρ ≈ 1 the lines fall, above it "
    "they can rise, and the memory horizon (★ where it is on the curve, else extrapolated in the legend) moves "
    "further back as ρ grows. The thick line is the sidebar's ρ (if it is among the radii).")
SWEEP_TABLE_CAPTION = "**How the horizon moves across the sweep:** one row per curve above, with its fitted factor."


def sweep_act_caption(nt: Notation) -> str:
    return (f"**What to look for:** the same {inline_maths(nt)['W']} and inputs with a different f. The identity "
            "follows the matrix powers; tanh and sigmoid shrink each step by f′ ≤ γ (the sigmoid's γ is ¼, so it "
            "vanishes fastest); ReLU passes the gradient unchanged through active units and cuts it at dead ones.")


def sweep_table(curves: list[tuple[str, Array]]) -> dict[str, list]:
    """One row per sweep curve: its setting, fitted factor, trend and memory horizon."""
    summaries = [summarise(c) for _, c in curves]
    return {"setting": [name for name, _ in curves], "per-step factor": [s.factor for s in summaries],
            "trend": [s.label for s in summaries], "memory horizon": [s.horizon_text for s in summaries]}


def sweep_notes(curves: list[tuple[str, Array]]) -> list[str]:
    return [n for name, c in curves for n in log_notes(c, f"the {name} curve")]


def spectrum_caption(run: Run, nt: Notation) -> str:
    gamma = run.gamma
    gamma_note = ("For tanh, ReLU and identity γ = 1, so the 1/γ circle is the unit circle."
                  if np.isclose(gamma, 1.0) else
                  f"For the sigmoid γ = {gamma:g}: σ_max must pass 1/γ = {1 / gamma:g} before the bound even "
                  "allows growth.")
    return (f"**What to look for:** the sidebar's ρ puts the largest eigenvalue on the dotted circle. "
            f"Eigenvalues inside the unit circle make long products of {inline_maths(nt)['W']} shrink; outside, "
            "grow. The bound of eq. (11) uses the largest singular value instead (σ_max ≥ ρ), so it guarantees "
            f"vanishing only when σ_max < 1/γ (dashed line, right). {gamma_note}")


def edits_note(run: Run) -> str | None:
    """Hand-edited weights that moved the spectral radius away from the sidebar's."""
    config = run.config
    if config.edits and not np.isclose(run.rho, config.rho):
        return (f"Hand-edited weights move the spectral radius to {run.rho:.3f} (the sidebar's ρ = "
                f"{config.rho:g} was applied before the edits).")
    return None


def pairs_caption(nt: Notation, cell: str = "rnn") -> str:
    return (f"**What to look for:** row t, column k is {inline_maths(nt, cell)['jac_tk']} in log colour. The diagonal "
            "is the identity; the colour changing away from it is the gradient vanishing (darker) or exploding "
            "(brighter) over the distance t − k. The bottom row is the curve above.")


def pairs_row_caption(nt: Notation, cell: str = "rnn") -> str:
    maths = inline_maths(nt, cell)
    return (f"**Scrub t:** one row of the map, {maths['jac_tk']} for every k ≤ t: drag the slider under it to move t "
            "in your browser. Each row is the main curve of a sequence that ended at t; where the rows look alike, "
            "how fast the gradient fades does not depend on where the sequence ends.")


def pair_norm_note(run: Run) -> str | None:
    T, H = run.config.T, run.config.H
    if run.plan.pair_norm == run.plan.norm:
        return None
    return (f"The map uses the Frobenius norm: spectral norms of all {T * (T + 1) // 2} pairs at H = {H} "
            "would take too long to compute.")


def pair_notes(pairs: Array, nt: Notation, cell: str = "rnn") -> list[str]:
    return log_notes(pairs[np.tril_indices(pairs.shape[0])], inline_maths(nt, cell)["jac_tk"])


def gradient_caption(run: Run, nt: Notation) -> str:
    truncation = run.config.truncation
    truncated = "" if truncation == "full" else f", with the sidebar's {truncation} truncation"
    source = "eq. (7)" if run.vanilla else f"the {rc.get_cell(run.config.cell).title}'s backward pass"
    return (f"**What to look for:** {inline_maths(nt)['dLdh']} from BPTT ({source}{truncated}): how much "
            "gradient each state receives from all later losses. Each step gets its own loss's share plus what "
            "flows back from the future; when the factors vanish, early steps receive little more than their own.")


def gradient_window_note(run: Run, window: int) -> str | None:
    what = f"the gradient with {run.config.truncation.replace('_', '-')} truncation"
    return window_note(window, run.config.T, what)


def gradient_notes(norms: Array, nt: Notation) -> list[str]:
    return log_notes(norms, inline_maths(nt)["dLdh"])


def fade_caption(nt: Notation) -> str:
    maths = inline_maths(nt)
    atm, Wm = maths["a_t"], maths["W"]
    return (f"**What to look for:** each step multiplies by {maths['factor']} (eq. (8)). Its norm (black) is "
            f"at most ‖{Wm}‖₂ · max|f′({atm})|, the most one step can do; over many steps {Wm} alone scales by "
            f"its spectral radius ρ (dotted), which can be below 1 even when ‖{Wm}‖₂ is above. Where the black "
            "line drops below the blue ones the activation takes the gradient away: saturated tanh/sigmoid "
            "units or dead ReLUs (the bars).")


def overflow_note(run: Run, stats: StepFactorStats, nt: Notation) -> str | None:
    if stats.overflow_step is None:
        return None
    return (f"The forward pass overflowed at step {run.config.T - run.plan.stats_window + stats.overflow_step}: "
            f"from there on {inline_maths(nt)['a_t']} is not finite and the per-step numbers are unknown.")


def derivative_caption(run: Run, nt: Notation) -> str:
    return (f"**What to look for:** f′({inline_maths(nt)['a_t']}) of every hidden unit over time, from 0 (dark: "
            f"the unit passes no gradient back) to γ = {run.gamma:g} (bright). A dark column is a step where the "
            "gradient gets stuck; a dark row is a unit that is always saturated or dead.")


def fade_verdict_of(run: Run, stats: StepFactorStats) -> str:
    return fade_verdict(stats, run.norms, activation=run.config.activation, factor=run.summary.factor, rho=run.rho)


def fade_verdict(stats: StepFactorStats, norms, *, activation: str, factor: float, rho: float) -> str:
    """One or two sentences naming what makes ||dh_T/dh_k|| fade (or grow), for the page's note.

    norms (T,): the curve, entry k-1 = ||dh_T/dh_k||; factor: its per-step factor
    (rnn_core.fit_decay_factor, fitted where it is not 0); rho: the spectral radius of W_hh,
    the per-step factor of the weights alone in the long run (||W_hh^n||^(1/n) -> rho). Their
    ratio is what the activation's derivatives take away. stats supplies the share of
    saturated (or dead) units.
    """
    finite = np.isfinite(stats.saturated_fraction)
    share = float(np.mean(stats.saturated_fraction[finite])) if finite.any() else 0.0
    mean_fp = stats.fprime_mean[np.isfinite(stats.fprime_mean)]
    slope = float(np.mean(mean_fp)) if mean_fp.size else float("nan")
    return _trend_sentence(activation, factor, rho, share, slope, stats.gamma) + _cut_sentence(norms)


def _cut_sentence(norms) -> str:
    """Where the curve drops to exactly 0 (a step with f' = 0 for every unit): dh_T/dh_k = 0
    for that k and, as a factor of every longer product, for all earlier k too."""
    zero = np.flatnonzero(np.asarray(norms) == 0)
    if zero.size == 0:
        return ""
    T, k0 = len(norms), int(zero.max()) + 1
    return (f" Beyond distance {T - k0} (k ≤ {k0}) the gradient is exactly 0: at step {k0 + 1} every unit has "
            "f′ = 0, so nothing passes.")


def _trend_sentence(activation: str, factor: float, rho: float, share: float, slope: float,
                    gamma: float) -> str:
    """share: mean fraction of saturated (dead) units; slope: mean f'(a_t) over units and steps."""
    if not np.isfinite(factor) or factor <= 0:
        return "The curve has too few nonzero points to read a trend."
    head = (f"The gradient changes by about ×{factor:.3g} per step; the weights alone (ρ = {rho:.3g}) would "
            f"give ×{rho:.3g}")
    units = "dead" if activation == "relu" else "saturated"
    if activation == "identity":
        return head + ": f′ = 1, so the weights alone decide; any gap to ρ comes from the curve's finite length."
    if classify_factor(factor)[0] == "stable":
        return head + ": it neither fades nor grows much, so early steps keep their say."
    if factor > 1.0:
        return head + (f"; the activation takes some of that ({100 * share:.0f} % of units {units} on a "
                       "typical step) but not enough, so it explodes.")
    kept = factor / rho if rho > 0 else 0.0
    if rho < 1.0 and kept >= 0.8:
        return head + ": it dies mainly from the weights, and the activation takes little more."
    if activation == "relu":
        return head + (f": the rest is taken by dead ReLUs ({100 * share:.0f} % of units pass no gradient "
                       "on a typical step).")
    return head + (f": the rest is taken by {activation}'s slope: f′ averages {slope:.2g} (at most γ = {gamma:g}) "
                   f"and {100 * share:.0f} % of units are saturated (f′ ≈ 0) on a typical step.")



# ---- words for the gated cells and the comparison ----------------------------------------------

@dataclass(frozen=True)
class GateWords:
    """How the page names a gated cell's memory path: its keeping gate (the letter of the
    cell's equations), the path and its ends, and what else reaches s_T."""

    gate: str
    letter: str
    path: str
    ends: tuple[str, str]            # state letters: the path runs from ends[0]_k to ends[1]_T
    equation: str                    # the cell's equation that puts the gate on the path
    others: str


GATE_WORDS = {
    "lstm": GateWords("forget gate", "f", "memory path", ("c", "c"), "L5",
                      r"through $h_{t-1}$ into the four gates and the candidate"),
    "gru": GateWords("update gate", "z", "update path", ("h", "h"), "G4",
                     r"through $h_{t-1}$ into the gates and the candidate $\tilde h_t$"),
}


def cell_title(cell: str) -> str:
    return rc.get_cell(cell).title


def named_cells(curves: list[tuple[str, Array]]) -> list[tuple[str, Array]]:
    """(cell, curve) pairs as (the cell's title, curve), for legends, tables and the CSV."""
    return [(cell_title(cell), c) for cell, c in curves]


def gated_intro(cell: str, nt: Notation) -> str:
    """One paragraph under the title for a gated cell: what its gates change."""
    w, at = GATE_WORDS[cell], nt.at
    state = (rf"${at('s', 't')} = [{at(nt.h, 't')}; {at('c', 't')}]$ holds a memory cell ${at('c', 't')}$"
             if cell == "lstm" else rf"${at('s', 't')} = {at(nt.h, 't')}$ is its hidden state")
    return (f"The {cell_title(cell)}'s state {state}: besides the products through its weights, the gradient can "
            f"travel back along its **{w.path}**, where each step multiplies it by the {w.gate} "
            f"${at(w.letter, 't')}$ alone. Gates near 1 keep it alive.")


def gated_equations_latex(nt: Notation, cell: str) -> list[str]:
    """Three equations: the cell's update that carries the gradient, its memory path's
    Jacobian, and the whole state's product of step Jacobians (what the main curve shows)."""
    w = GATE_WORDS[cell]
    at = nt.at
    g = lambda t: at(w.letter, t)                                          # noqa: E731
    x = w.ends[0]
    candidate = at(r"\tilde c" if cell == "lstm" else r"\tilde h", "t")
    if cell == "lstm":
        update = rf"{at('c', 't')} = {g('t')} \odot {at('c', 't-1')} + {at('i', 't')} \odot {candidate}"
        state = rf",\ \ {at('s', 't')} = [{at(nt.h, 't')};\, {at('c', 't')}]"
    else:
        update = rf"{at(nt.h, 't')} = {g('t')} \odot {at(nt.h, 't-1')} + (1 - {g('t')}) \odot {candidate}"
        state = rf",\ \ {at('s', 't')} = {at(nt.h, 't')}"
    product = rf"\frac{{\partial {at('s', 'T')}}}{{\partial {at('s', 'k')}}} = \prod_{{t=k+1}}^{{T}} " \
              rf"\frac{{\partial {at('s', 't')}}}{{\partial {at('s', 't-1')}}}{state}"
    path = (rf"\frac{{\partial {at(x, 'T')}}}{{\partial {at(x, 'k')}}}\Big|_{{\text{{{w.path}}}}} = "
            rf"\operatorname{{diag}}\big({g('k+1')} \odot \cdots \odot {g('T')}\big)")
    return [rf"({w.equation})\quad {update}", path, product]


def relative_at_first(values: Array) -> float:
    """The first entry of a curve over its last (the value at k = T): how much of the gradient
    a state at the window's first step keeps (norms of I differ by cell and norm)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        return float(values[0] / values[-1])


def gate_metrics(run: Run) -> list[dict]:
    """The gated cell's two causes: its keeping gate's mean on the path, and how much the path
    alone keeps at the window's first step against the whole state."""
    w, gate, k = GATE_WORDS[run.config.cell], run.gate, run.first_step
    on_path = gate.values[1:] if gate.values.shape[0] > 1 else gate.values      # the gates after k
    return [
        dict(label=f"Mean {w.gate} {w.letter}", value=f"{float(np.mean(on_path)):.3f}", delta="per step", **QUIET,
             help=f"the {w.gate}s {w.letter}_t averaged over the units and the steps k + 1 … T that the "
                  f"{w.path}'s product runs over; near 1 the {w.path} keeps the gradient"),
        dict(label=f"{w.path.capitalize()} at k = {k}", value=f"{relative_at_first(gate.norms):.1e}",
             delta=f"whole state {relative_at_first(run.norms):.1e}", **QUIET,
             help=f"the {w.path} alone (the product of {w.gate}s) and the whole state's Jacobian at the "
                  "curve's first step, each as a fraction of its value at k = T")]


def gate_label(cell: str) -> str:
    """The legend of the memory path's curve (plotly HTML)."""
    w = GATE_WORDS[cell]
    return (f"{w.path}: ‖diag({w.letter}<sub>k+1</sub> ⊙ ⋯ ⊙ {w.letter}<sub>T</sub>)‖ "
            f"(∂{w.ends[1]}<sub>T</sub>/∂{w.ends[0]}<sub>k</sub> through the {w.gate}s alone)")


def gate_caption(run: Run, nt: Notation) -> str:
    """What the gated cell's main chart shows, with the path against the whole state in live numbers."""
    w, title, maths = GATE_WORDS[run.config.cell], rc.get_cell(run.config.cell).title, inline_maths(nt, run.config.cell)
    return (f"**What to look for:** the blue curve is {maths['jac']}, every path from the state at step k to the "
            f"last one. The dashed curve is the {title}'s {w.path} alone (eq. ({w.equation})): a product of "
            f"{w.gate}s only, with no weight matrix and no tanh′ in it, so where the gates sit near 1 nothing "
            f"fades. The memory horizon ({run.summary.horizon_text}) is how far back a state still moves "
            f"{maths['hT']} by at least 1 %" + (" (the ★)." if run.summary.horizon is not None else "."))


def gate_verdict(run: Run) -> str | None:
    """The path against the whole state at the window's first step, from the numbers drawn."""
    if run.norms.shape[0] < 2:
        return None
    w, k = GATE_WORDS[run.config.cell], run.first_step
    path, whole = relative_at_first(run.gate.norms), relative_at_first(run.norms)
    head = (f"At k = {k}, {_steps(run.config.T - k)} back, the {w.path} alone keeps {_share(path)} of its value "
            f"at k = T and the whole state {_share(whole)}: ")
    if not (np.isfinite(path) and np.isfinite(whole)) or path <= 0 or whole <= 0:
        return head + "one of them is exactly 0 or overflowed, so their ratio says nothing."
    if whole > 10 * path:
        hint = (" Raise the forget-gate bias b_f in the sidebar to put the gates nearer 1."
                if run.config.cell == "lstm" else "")
        return head + (f"the other paths ({w.others}) carry {times(whole, path)} times more than the {w.gate}s "
                       f"alone.{hint}")
    if path > 10 * whole:
        return head + f"the other paths cancel part of what the {w.gate}s keep."
    return head + f"the {w.gate}s explain the decay (within a factor of 10)."


def _share(value: float) -> str:
    """A fraction of the gradient in words: '3e-07', 'exactly 0', 'overflow'."""
    if not np.isfinite(value):
        return "an overflowed value"
    return "exactly 0" if value == 0 else f"{value:.1g}"


def gated_note(section: str, cell: str) -> str:
    """Why a vanilla-only section is not drawn for a gated cell (one line)."""
    title = rc.get_cell(cell).title
    if section == "sweeps":
        return (f"The sweeps vary the vanilla RNN's spectral radius ρ and activation f; the {title} has neither (its "
                "gates are sigmoids, its candidate tanh): choose the vanilla RNN in the sidebar to sweep them, or "
                "see *Compare cells*.")
    return ""


def gates_caption(run: Run) -> str:
    w, gate = GATE_WORDS[run.config.cell], run.gate
    kept = float(np.mean(gate.values >= 0.9))
    return (f"**What to look for:** the {w.gate} {w.letter}_t of every unit at every step, from 0 (dark: the unit "
            f"forgets, its {w.path} passes nothing back) to 1 (bright: it keeps everything). The {w.path}'s product "
            f"multiplies one row's values from k + 1 to T, so a row that stays bright is a unit that remembers. "
            f"Here {100 * kept:.0f} % of the values are at least 0.9, and they average "
            f"{float(np.mean(gate.values)):.2f}.")


def block_spectrum_caption(cell: str, blocks: list[tuple[str, Array, Array]]) -> str:
    """What the blocks' spectra say, with their largest |eigenvalue| and singular value."""
    title = rc.get_cell(cell).title
    rho = max(float(np.max(np.abs(ev))) for _, ev, _ in blocks)
    sigma = max(float(np.max(sv)) for _, _, sv in blocks)
    return (f"**What to look for:** the {title} applies one H × H matrix to $h_{{t-1}}$ per gate block; here the "
            f"largest |eigenvalue| of any block is {rho:.3f} and the largest singular value {sigma:.3f}"
            + (" (orthogonal blocks: every singular value is 1)" if np.isclose(sigma, 1.0) and all(
                np.allclose(sv, 1.0) for _, _, sv in blocks) else "")
            + ". They matter less than the vanilla RNN's W_hh: each block's product passes through a gate (a "
            "sigmoid, slope at most ¼) or the candidate's tanh, and the memory path skips them all.")


CELLS_CAPTION = ("**What to look for:** the three cells read the same inputs from the same seed at the same T and H: "
                 "the sidebar's cell as it is set, the other two with their own defaults (vanilla RNN: tanh, ρ = "
                 f"{DEFAULT.rho:g}; LSTM: orthogonal weights, forget-gate bias 1; GRU: orthogonal weights). The "
                 "flatter a curve, the further back its cell still hears the last state's gradient (★: its memory "
                 "horizon).")


def cells_sentence(T: int, curves: list[tuple[str, Array]]) -> str:
    """One sentence from the compared curves: how much of the gradient each cell keeps at the
    window's first step (relative to k = T), and the ratio between the most and the least kept."""
    W = curves[0][1].shape[0] if curves else 0
    if W < 2:                                         # T = 1: nothing to go back through
        return ""
    k = T - W + 1
    kept = [(rc.get_cell(cell).title, relative_at_first(c)) for cell, c in curves]
    parts = [f"the {title} {_keeps(v)}" for title, v in kept]
    listed = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else parts[0]
    sentence = f"At T = {T}, {_steps(W - 1)} back (k = {k}), of the gradient each cell has at k = T {listed}."
    finite = [(t, v) for t, v in kept if np.isfinite(v) and v > 0]
    if len(finite) > 1:
        (most, hi), (least, lo) = max(finite, key=lambda p: p[1]), min(finite, key=lambda p: p[1])
        if np.log10(hi) - np.log10(lo) >= 1:
            sentence += f" The {most} keeps {times(hi, lo)} times as much as the {least}."
    return sentence


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def times(big: float, small: float) -> str:
    """big / small (both finite, > 0, big >= small) for a sentence: '37' below a thousand, else
    '8 × 10¹¹'; computed on logs, so a ratio past the float range (1e300 / 1e-300) is still said."""
    exponent = float(np.log10(big) - np.log10(small))
    if exponent < 3:
        return f"{10 ** exponent:.0f}"
    whole = int(np.floor(exponent))
    mantissa = round(10 ** (exponent - whole))
    if mantissa == 10:                                   # 9.6 rounds up to the next power
        mantissa, whole = 1, whole + 1
    return f"{mantissa} × 10{str(whole).translate(SUPERSCRIPTS)}"


def _keeps(value: float) -> str:
    if not np.isfinite(value):
        return "overflows (it explodes)"
    if value == 0:
        return "keeps exactly 0"
    if value <= 1:
        return f"keeps {value:.1g}"
    return f"keeps {value:.2g} (it grows)" if value < 1000 else f"grows it {value:.1g}-fold"


def cells_window_note(run: Run) -> str | None:
    return window_note(run.plan.cells_window, run.config.T, "the comparison of the three cells")


def too_costly_note(config: Config, what: str, steps: int) -> str:
    """Why a section is not drawn at this size (its smallest useful window does not fit the budget)."""
    return (f"At T = {config.T}, H = {config.H} {what} would take too long to compute even over its last "
            f"{min(steps, config.T)} steps: choose a smaller H (or T) to see it.")


def cells_skipped_note(run: Run) -> str | None:
    if run.plan.cells_window:
        return None
    return too_costly_note(run.config, "the comparison of the three cells", MIN_WINDOW)


def pairs_skipped_note(run: Run) -> str | None:
    if run.plan.pair_window:
        return None
    return too_costly_note(run.config, f"the {cell_title(run.config.cell)}'s map of all pairs", MIN_MAP_WINDOW)


def cells_norm_note(run: Run) -> str | None:
    if run.plan.cells_norm == run.config.v_norm:
        return None
    return (f"At T = {run.config.T}, H = {run.config.H} spectral norms of the three cells would take too long to "
            "compute: the comparison uses the Frobenius norm, each curve relative to its own ‖I‖ at k = T.")


# ---- the CSV of what one run computed --------------------------------------------------------

def curves_csv(run: Run, grads: Array | None, curves: list[tuple[str, Array]]) -> bytes:
    """The curves of this run, one row per step (empty where a window does not reach)."""
    T = run.config.T

    def padded(values: Array) -> Array:
        return np.concatenate([np.full(T - values.shape[0], np.nan), values])

    frame = curves_frame(padded(run.norms), None if run.bound is None else padded(run.bound),
                         padded(step_norms(grads)) if grads is not None else np.full(T, np.nan),
                         [(name, padded(c)) for name, c in curves],
                         memory_path=None if run.gate is None else padded(run.gate.norms))
    return frame.to_csv(index=False).encode()


def curves_frame(norms, bound, dL_dh_norms, sweeps: Sequence[tuple[str, Array]] = (), *,
                 memory_path=None) -> pd.DataFrame:
    """All curves of the page as one table, a row per step (for the CSV download).

    norms, bound (T,): ||ds_T/ds_k|| and its bound at k (the vanilla cell's; None for a gated
    cell, which has memory_path (T,) instead: the norm of its keeping gates' product);
    dL_dh_norms (T,): ||dL/dh_t|| at t; sweeps: (name, norms (T,)) pairs, one column each.
    """
    T = np.asarray(norms).shape[0]
    k = np.arange(1, T + 1)
    columns = {"step": k, "distance_T_minus_k": T - k, "norm_dhT_dhk": np.asarray(norms, dtype=np.float64)}
    if bound is not None:
        columns["bound"] = np.asarray(bound, dtype=np.float64)
    if memory_path is not None:
        columns["norm_memory_path"] = np.asarray(memory_path, dtype=np.float64)
    columns["norm_dL_dh_t"] = np.asarray(dL_dh_norms, dtype=np.float64)
    for name, values in sweeps:
        columns[f"sweep {name}"] = np.asarray(values, dtype=np.float64)
    return pd.DataFrame(columns)
