"""The Vanishing & exploding page's service: its cost model, computations, caches and words.

views/vanishing.py lays out widgets and calls this module; ui/figures/vanishing.py draws the
arrays it returns. Every number comes from rnn_core; this module decides what to ask for and at
what cost, caches it on the model's config (never on arrays), and words what the numbers say.
bench/vanishing.py times the functions on arrays as they are, so it measures the page's work.

`plan` counts everything a link can ask for in estimated CPU seconds and keeps one run within
PAGE_BUDGET; a ui.budget.Guard stops new work past GUARD_SECONDS of wall clock whatever the
estimate, or when the visitor has gone. Large models get windows: the Jacobians of the last W
steps, computed from the state h_{T-W} that the full forward pass reaches, are exactly the full
run's, so a window shows true values, just fewer. Sweeps that cannot all fit keep the
sidebar's own value first and drop others.

The memory horizon is stated one way everywhere (`CurveSummary.horizon_text`): measured on the
curve when it falls below 1 %, extrapolated from its trend when it is still above 1 % at its
first step and fading, and "none" when it does not fade or grows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import streamlit as st

import rnn_core as rc
from rnn_core.jacobians import (StepFactorStats, iter_jacobian_norms_to_last, pairwise_jacobian_norms,
                                step_factor_stats)
from rnn_core.spectral import (classify_factor, extrapolated_horizon, fit_decay_factor, jacobian_bound,
                               memory_horizon, singular_values)
from ui import state
from ui.budget import Guard, Stopped
from ui.config import EXACT_NUMBERS, MAX_RADII, NUMBERS, Config
from ui.figures.vanishing import split_for_log
from ui.keys import EXACT
from ui.notation import Notation

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
SECTION_WEIGHTS = {"sweeps": 2, "pairs": 2, "steps": 1}     # spectrum: one eig and one svd, counted in main
GUARD_SECONDS = 4.0               # wall clock: past this no new computation starts, whatever the estimate
MIN_WINDOW = 30                   # a curve over fewer steps than this shows no trend
MIN_MAP_WINDOW = 8                # a map or a per-step split still reads over this few steps
MAX_EXTRAPOLATION = 100_000    # steps: beyond this a trend line says nothing useful


def curve_seconds(steps: int, H: int, norm: str) -> float:
    """One ||dh_T/dh_k|| curve over `steps` steps: a product and a norm per step."""
    return steps * (H ** 3 * (1 + (SPECTRAL_COST if norm == "2" else 0)) / MATMUL_RATE + STEP_SECONDS)


def pairs_seconds(window: int, H: int, norm: str) -> float:
    """All pairs of `window` steps: a product and a norm per pair, the heatmap's cells."""
    pairs = window * (window + 1) // 2
    return pairs * (H ** 3 * (1 + (SPECTRAL_COST if norm == "2" else 0)) / MATMUL_RATE + STEP_SECONDS) \
        + window * window * CELL_SECONDS


def stats_seconds(window: int, H: int) -> float:
    """The per-step split: one spectral norm per step, plus the f' heatmap (T x H cells)."""
    return window * (H ** 3 * (1 + SPECTRAL_COST) / MATMUL_RATE + STEP_SECONDS + H * CELL_SECONDS)


def dl_dh_seconds(window: int, H: int, truncation: str, k: int, D: int, O: int) -> float:
    """bptt over `window` steps: k-step truncation sends each loss back min(k, window) steps
    on its own (a matrix-vector product each); every other mode is one pass. The output layer
    and the inputs (O and D) cost a few products per step."""
    reach = min(k, window) if truncation == "k_step" else 1
    return window * reach * (H ** 2 / MATVEC_RATE + STEP_SECONDS / 10) \
        + window * (4 * H ** 2 + 4 * H * (D + O)) / MATVEC_RATE


def forward_seconds(T: int, H: int, D: int) -> float:
    """One forward pass over all T steps: every curve, map and split runs one (a window starts
    from the state the full run reaches)."""
    return T * ((H ** 2 + H * D) / MATVEC_RATE + STEP_SECONDS)


def powers_seconds(steps: int, H: int, norm: str) -> float:
    """The identity activation's check ||W^(T-k)||: a product and a norm (an SVD for ord 2)."""
    return steps * (H ** 3 * (1 + (SVD_COST if norm == "2" else 0)) / MATMUL_RATE + STEP_SECONDS)


def spectrum_seconds(H: int) -> float:
    """eigvals and singular values of W_hh, and the bound's largest singular value."""
    return 3 * SVD_COST * H ** 3 / MATMUL_RATE


@dataclass(frozen=True)
class Plan:
    """What one page run computes, within PAGE_BUDGET.

    norm: '2' or 'fro' for the main curve and the sweeps; main_window: how many of the last
    steps the main curve covers; powers: draw ||W^(T-k)|| (identity activation); sweep_window,
    radii, acts: the sweeps' steps and which of the chosen radii and activations are drawn
    (the rest did not fit); pair_norm, pair_window; stats_window; dl_dh_window: the steps of
    ||dL/dh_t|| (the last ones); seconds: the estimate of all of it.
    """

    norm: str
    main_window: int
    powers: bool
    sweep_window: int
    radii: tuple[float, ...]
    acts: tuple[str, ...]
    pair_norm: str
    pair_window: int
    stats_window: int
    dl_dh_window: int
    seconds: float


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
    """The norms, windows and curves of one page run for `config`, within PAGE_BUDGET.

    Counts everything a link can ask for: T, H, D, O, the norm, the number of radii and
    activations, the identity's matrix powers, the truncation (k-step costs T * k), the section
    shown, and the forward pass each computation starts with.
    Spectral norms are kept while every curve can have them over all T steps; otherwise all
    curves use Frobenius. Then each part gets the most of the last steps its share affords
    (at least MIN_WINDOW); sweeps that cannot all have MIN_WINDOW steps drop curves.
    """
    T, H, section = config.T, config.H, config.v_section
    fwd = forward_seconds(T, H, config.D)            # paid once by each computation below
    budgets = section_budgets(section)
    main_budget = SHARES["main"] * PAGE_BUDGET - spectrum_seconds(H) - fwd
    identity = config.activation == "identity"
    sweeps = budgets["sweeps"]
    n_curves = len(config.v_radii) + len(config.v_acts) if sweeps else 0

    def main_cost(W: int, norm: str) -> float:
        return curve_seconds(W, H, norm) + (powers_seconds(W, H, norm) if identity else 0.0)

    def dl_dh_cost(W: int) -> float:
        return dl_dh_seconds(W, H, config.truncation, config.trunc_k, config.D, config.O)

    spectral = (config.v_norm == "2" and main_cost(T, "2") <= main_budget
                and n_curves * (curve_seconds(T, H, "2") + fwd) <= sweeps)
    norm = "2" if spectral else "fro"
    main_window = _fit_steps(lambda W: main_cost(W, norm), main_budget, T, MIN_WINDOW)
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
    pair_norm = "2" if norm == "2" and pairs_seconds(T, H, "2") + fwd <= budgets["pairs"] else "fro"
    pair_window = _fit_steps(lambda W: pairs_seconds(W, H, pair_norm), budgets["pairs"] - fwd, T,
                             MIN_MAP_WINDOW) if budgets["pairs"] else 0
    # the per-step split and the f' heatmap: two forward passes
    stats_window = _fit_steps(lambda W: stats_seconds(W, H), budgets["steps"] - 2 * fwd, T, MIN_MAP_WINDOW) \
        if budgets["steps"] else 0
    dl_dh_window = _fit_steps(dl_dh_cost, SHARES["dl_dh"] * PAGE_BUDGET - fwd, T, MIN_WINDOW)
    seconds = (spectrum_seconds(H) + fwd + main_cost(main_window, norm)
               + (curves * (curve_seconds(sweep_window, H, norm) + fwd) if sweeps else 0.0)
               + (pairs_seconds(pair_window, H, pair_norm) + fwd if pair_window else 0.0)
               + (stats_seconds(stats_window, H) + 2 * fwd if stats_window else 0.0)
               + dl_dh_cost(dl_dh_window) + fwd)
    return Plan(norm, main_window, identity, sweep_window, radii, acts, pair_norm, pair_window, stats_window,
                dl_dh_window, seconds)



# ---- computations on arrays (what bench/vanishing.py times) ----------------------------------

def tail(params: rc.Params, xs: np.ndarray, activation: str,
         window: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(xs of the last `window` steps (W, D), the state h_{T-W} (H,) they start from, or None
    for h0 = 0 when the window is the whole sequence)."""
    start = xs.shape[0] - window
    if start <= 0:
        return xs, None
    return xs[start:], rc.forward(params, xs[:start], activation=activation).h[-1]


def norm_curve(params: rc.Params, xs: np.ndarray, activation: str, norm: str,
               window: int | None = None, guard: Guard | None = None) -> np.ndarray:
    """(W,): ||dh_T/dh_k|| for the last W steps k = T-W+1..T (eq. (8)); W = T by default.

    guard: None, or a Guard asked between blocks of steps; when it stops, the walk back ends
    and Stopped carries the steps done so far in `partial` (the exact curve of a shorter window).
    """
    xs_w, h0 = tail(params, xs, activation, xs.shape[0] if window is None else window)
    blocks = []
    for first, norms in iter_jacobian_norms_to_last(params, xs_w, activation=activation, h0=h0,
                                                    ord=ENGINE_ORD[norm]):
        blocks.append(norms)
        if first > 0 and guard is not None and guard.should_stop():
            raise Stopped(guard.stopped_by, partial=np.concatenate(blocks[::-1]))
    return np.concatenate(blocks[::-1])


def pairwise(params: rc.Params, xs: np.ndarray, activation: str, norm: str, window: int) -> np.ndarray:
    """(W, W): ||dh_t/dh_k|| for t, k among the last W steps, entry [i, j] for t = T-W+1+i,
    k = T-W+1+j (k <= t; 0 above the diagonal)."""
    xs_w, h0 = tail(params, xs, activation, window)
    return pairwise_jacobian_norms(params, xs_w, activation=activation, h0=h0, ord=ENGINE_ORD[norm])


def factor_stats(params: rc.Params, xs: np.ndarray, activation: str, window: int) -> StepFactorStats:
    """rnn_core.step_factor_stats for the last W steps t = T-W+1..T."""
    xs_w, h0 = tail(params, xs, activation, window)
    return step_factor_stats(params, xs_w, activation=activation, h0=h0)


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
    xs_w, h0 = tail(params, data.xs, config.activation, window)
    return rc.bptt(params, xs_w, data.ys[T - window:], activation=config.activation, loss=config.loss,
                   reduction="sum", mask=weights[T - window:], h0=h0, truncation=config.truncation_spec).dL_dh


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


# ---- the page's numbers, cached on a model's config (never on arrays) -------------------------

CACHE = dict(max_entries=32, show_spinner=False, hash_funcs=EXACT)
# A link draws at most 1 + MAX_RADII + 4 curves: the curve cache holds those of 8 such links, so
# one link can never evict more than an eighth of what other visitors are looking at (a curve is
# at most 500 floats: the whole cache stays under 1 MB).
CURVE_ENTRIES = 8 * (1 + MAX_RADII + len(rc.ACTIVATIONS))


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
def cached_bound(model: Config) -> Array:
    """(T,): the bound (gamma sigma_max(W_hh))^(T-k) of eq. (11) for every k."""
    return jacobian_bound(state.params(model), model.activation, model.T)


@st.cache_data(**CACHE)
def cached_matrix_powers(model: Config, steps: int, norm: str) -> Array:
    return matrix_power_norms(state.params(model).W_hh, steps, norm)


# ---- one run of the page ---------------------------------------------------------------------

def new_guard() -> Guard:
    """The wall clock of one page run (GUARD_SECONDS, or until the visitor has gone)."""
    return Guard(GUARD_SECONDS)


@dataclass(frozen=True)
class Run:
    """What every section of one page run shares: the config, its plan and guard, the main
    curve ||dh_T/dh_k|| (W,) in plan.norm over the last plan.main_window steps, its summary
    and bound (W,), the matrix powers (W,) for the identity activation (else None), and the
    spectrum of W_hh."""

    config: Config
    model: Config                  # config.project(*EXACT_NUMBERS): the caches' key
    plan: Plan
    guard: Guard
    norms: Array
    summary: CurveSummary
    bound: Array
    powers: Array | None
    eigenvalues: Array
    singular: Array
    gamma: float

    @property
    def rho(self) -> float:
        return float(np.max(np.abs(self.eigenvalues)))

    @property
    def first_step(self) -> int:
        return self.config.T - self.norms.shape[0] + 1


def main_run(config: Config, guard: Guard) -> Run:
    """The plan and the main curve's numbers: the curve (cut short if the guard stops it),
    the spectrum, the bound of eq. (11) and, for the identity, the matrix powers."""
    plan_ = plan(config)
    model = config.project(*EXACT_NUMBERS)
    norms = guarded_curve(guard, "the main curve", model, plan_.norm,
                          plan_.main_window if plan_.main_window < config.T else None, keep_tail=True)
    eigenvalues, singular = cached_spectrum(model)
    W = norms.shape[0]
    bound = bound_for_norm(cached_bound(model)[-W:], plan_.norm, H=config.H)
    powers = cached_matrix_powers(model, W, plan_.norm) if plan_.powers else None
    return Run(config=config, model=model, plan=plan_, guard=guard, norms=norms,
               summary=summarise(norms), bound=bound, powers=powers, eigenvalues=eigenvalues, singular=singular,
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


def gradient_of(run: Run) -> Array | None:
    """dL/dh_t (W, H) over the planned window, or None if the guard has stopped."""
    if not run.guard.allows("the gradient each step receives"):
        return None
    return gradient_per_step(run.config, run.plan.dl_dh_window)


def pairs_of(run: Run) -> Array | None:
    """||dh_t/dh_k|| over the planned window, or None if the guard has stopped."""
    if not run.guard.allows("the map of all pairs"):
        return None
    return cached_pairwise(run.model, run.plan.pair_norm, run.plan.pair_window)


def steps_of(run: Run) -> tuple[StepFactorStats, Array] | None:
    """(the per-step split over the planned window, f'(a_t) (T, H)), or None if the guard has stopped."""
    if not run.guard.allows("the per-step split"):
        return None
    return cached_factor_stats(run.model, run.plan.stats_window), cached_derivatives(run.model)


# ---- words: what the numbers on screen say ---------------------------------------------------

def inline_maths(nt: Notation) -> dict[str, str]:
    """Inline maths for captions and notes, in the reader's notation."""
    hT, hk, ht = nt.at(nt.h, "T"), nt.at(nt.h, "k"), nt.at(nt.h, "t")
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


def log_notes(values, what: str) -> list[str]:
    """Plain sentences about the zeros and overflow in `values` (the figures' edge markers)."""
    split = split_for_log(values)
    notes = []
    if split.overflow.any():
        notes.append(f"{int(split.overflow.sum())} value(s) of {what} overflowed (inf or nan): they are "
                     "drawn as ▲ markers pinned to the top edge.")
    if split.zero.any():
        notes.append(f"{int(split.zero.sum())} value(s) of {what} are exactly 0 (every path goes through "
                     "a unit with f' = 0, e.g. dead ReLUs): a log axis has no 0, so they are drawn as ▼ "
                     "markers on the bottom edge.")
    return notes


def metrics(run: Run, nt: Notation) -> list[dict]:
    """The four numbers above the main curve, as st.metric's label, value, delta and help. Values
    are short (a number and a word) so that a metric never cuts them; the delta qualifies them."""
    maths, summary = inline_maths(nt), run.summary
    jac, W = maths["jac"], maths["W"]
    finite = np.isfinite(summary.factor)
    quiet = dict(delta_color="off", delta_arrow="off")
    value, note = horizon_value(summary)
    return [
        dict(label="Fitted per-step factor", value=f"×{summary.factor:#.3g}" if finite else "—",
             delta=summary.kind if finite else summary.label, **quiet,
             help=f"r in {jac} ≈ c·r^(T−k): a least-squares line through the log of the curve"),
        dict(label="Memory horizon (1 %)", value=value, delta=note, **quiet,
             help=f"the largest distance T − k at which {jac} is still at least 1 % of its value at k = T; "
                  "when the curve is still above 1 % at its first step, its fitted trend is extended "
                  "(extrapolated); a curve that does not fade has none"),
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
    return (f"At T = {config.T}, H = {config.H} spectral norms of every curve would take too long to compute: "
            "the page uses the Frobenius norm (its bound carries an extra √H).")


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
    return log_notes(run.norms, inline_maths(nt)["jac"]) + log_notes(run.bound, "the bound")[:1]


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


def pairs_caption(nt: Notation) -> str:
    return (f"**What to look for:** row t, column k is {inline_maths(nt)['jac_tk']} in log colour. The diagonal "
            "is the identity; the colour changing away from it is the gradient vanishing (darker) or exploding "
            "(brighter) over the distance t − k. The bottom row is the curve above.")


def pair_norm_note(run: Run) -> str | None:
    T, H = run.config.T, run.config.H
    if run.plan.pair_norm == run.plan.norm:
        return None
    return (f"The map uses the Frobenius norm: spectral norms of all {T * (T + 1) // 2} pairs at H = {H} "
            "would take too long to compute.")


def pair_notes(pairs: Array, nt: Notation) -> list[str]:
    return log_notes(pairs[np.tril_indices(pairs.shape[0])], inline_maths(nt)["jac_tk"])


def gradient_caption(run: Run, nt: Notation) -> str:
    truncation = run.config.truncation
    truncated = "" if truncation == "full" else f", with the sidebar's {truncation} truncation"
    return (f"**What to look for:** {inline_maths(nt)['dLdh']} from BPTT (eq. (7){truncated}): how much "
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



# ---- the CSV of what one run computed --------------------------------------------------------

def curves_csv(run: Run, grads: Array | None, curves: list[tuple[str, Array]]) -> bytes:
    """The curves of this run, one row per step (empty where a window does not reach)."""
    T = run.config.T

    def padded(values: Array) -> Array:
        return np.concatenate([np.full(T - values.shape[0], np.nan), values])

    frame = curves_frame(padded(run.norms), padded(run.bound),
                         padded(step_norms(grads)) if grads is not None else np.full(T, np.nan),
                         [(name, padded(c)) for name, c in curves])
    return frame.to_csv(index=False).encode()


def curves_frame(norms, bound, dL_dh_norms, sweeps: Sequence[tuple[str, Array]] = ()) -> pd.DataFrame:
    """All curves of the page as one table, a row per step (for the CSV download).

    norms, bound (T,): ||dh_T/dh_k|| and its bound at k; dL_dh_norms (T,): ||dL/dh_t|| at t;
    sweeps: (name, norms (T,)) pairs, one column each.
    """
    T = np.asarray(norms).shape[0]
    k = np.arange(1, T + 1)
    columns = {"step": k, "distance_T_minus_k": T - k, "norm_dhT_dhk": np.asarray(norms, dtype=np.float64),
               "bound": np.asarray(bound, dtype=np.float64), "norm_dL_dh_t": np.asarray(dL_dh_norms, dtype=np.float64)}
    for name, values in sweeps:
        columns[f"sweep {name}"] = np.asarray(values, dtype=np.float64)
    return pd.DataFrame(columns)
