"""The vanishing & exploding page's computations, without Streamlit.

views/vanishing.py wraps these in st.cache_data; bench/vanishing.py times them as they are, so
the benchmark measures exactly the page's work. Every number comes from rnn_core; this module
only decides what to ask for and at what cost.

`plan` counts everything a link can ask for in estimated CPU seconds and keeps one run within
PAGE_BUDGET; a ui.budget.Guard stops new work past GUARD_SECONDS of wall clock whatever the
estimate, or when the visitor has gone.
Large models get windows: the Jacobians of the last W steps, computed from the state h_{T-W}
that the full forward pass reaches, are exactly the full run's, so a window shows true values,
just fewer. Sweeps that cannot all fit keep the sidebar's own value first and drop others.

The memory horizon is stated one way everywhere (`CurveSummary.horizon_text`): measured on the
curve when it falls below 1 %, extrapolated from its trend when it is still above 1 % at its
first step and fading, and "none" when it does not fade or grows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import rnn_core as rc
from rnn_core.jacobians import (StepFactorStats, iter_jacobian_norms_to_last, pairwise_jacobian_norms,
                                step_factor_stats)
from rnn_core.spectral import classify_factor, extrapolated_horizon, fit_decay_factor, memory_horizon
from ui.budget import Guard, Stopped
from ui.config import DEFAULT, FIELDS, Config

ENGINE_ORD = {"2": 2, "fro": "fro"}
HORIZON_THRESHOLD = 0.01
MODEL_GROUPS = ("model", "data")     # the fields the weights and the sequence depend on

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


def model_only(config: Config, groups: tuple[str, ...] = MODEL_GROUPS) -> Config:
    """`config` with every field outside `groups` at its default, so that page controls,
    truncation or training settings never recompute the Jacobians (the cache keys)."""
    return DEFAULT.replace(**{f.name: getattr(config, f.name) for f in FIELDS if f.group in groups})


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


def sweep_configs(config: Config) -> tuple[list[tuple[str, Config]], list[tuple[str, Config]]]:
    """The model configs of both sweeps, named for the legend: one per chosen radius (the
    sidebar's activation) and one per chosen activation (the sidebar's radius); same seed."""
    model = model_only(config)
    radii = [(f"ρ = {r:g}", model.replace(rho=float(r))) for r in config.v_radii]
    acts = [(f"f = {a}", model.replace(activation=a)) for a in config.v_acts]
    return radii, acts
