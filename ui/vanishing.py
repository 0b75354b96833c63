"""The vanishing & exploding page's computations, without Streamlit.

views/vanishing.py wraps these in st.cache_data; bench/vanishing.py times them as they are, so
the benchmark measures exactly the page's work. Every number comes from rnn_core; this module
only decides what to ask for and at what cost.

Cost is counted in units of H^3 multiply-adds (one H x H matrix product). Large models get
windows: the Jacobians of the last W steps, computed from the state h_{T-W} that the full
forward pass reaches, are exactly the full run's, so a window shows true values, just fewer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import rnn_core as rc
from rnn_core.jacobians import (StepFactorStats, jacobian_norms_to_last, pairwise_jacobian_norms,
                                step_factor_stats)
from rnn_core.spectral import classify_factor, fit_decay_factor, memory_horizon
from ui.config import DEFAULT, FIELDS, Config

ENGINE_ORD = {"2": 2, "fro": "fro"}
HORIZON_THRESHOLD = 0.01
MODEL_GROUPS = ("model", "data")     # the fields the weights and the sequence depend on

# A spectral norm costs about SPECTRAL_COST matrix products more than the product itself (a
# Gram matrix and a symmetric eigenproblem); a Frobenius norm is a dot product.
SPECTRAL_COST = 4
CURVES_BUDGET = 9 * 200 * 64**3           # e.g. 9 Frobenius curves at T = 200, H = 64
PAIRWISE_BUDGET = 200 * 201 // 2 * 64**3  # all pairs at T = 200, H = 64 (Frobenius)
STATS_BUDGET = 500 * 64**3 * (1 + SPECTRAL_COST)   # per-step spectral norms at T = 500, H = 64
MIN_WINDOW = 30                            # fewer steps than this show no trend


@dataclass(frozen=True)
class Plan:
    """What one page run computes. norm: '2' or 'fro' for every curve; sweep_window,
    pair_window, stats_window: how many of the last steps the sweeps, the all-pairs map
    and the per-step statistics cover (T when everything fits)."""

    norm: str
    sweep_window: int
    pair_norm: str
    pair_window: int
    stats_window: int


def _fit(budget: float, per_step: float, T: int, floor: int = 1) -> int:
    """The most steps (at least `floor`, at most T) whose cost stays within `budget`."""
    return int(min(T, max(floor, budget // per_step)))


def plan(requested: str, T: int, H: int, sweep_curves: int) -> Plan:
    """The norms and windows for a model of T steps and H units with `sweep_curves` sweep curves.

    Spectral norms are kept while 1 + sweep_curves curves of them fit CURVES_BUDGET, else every
    curve uses Frobenius; Frobenius sweeps longer than the budget allows cover the last steps.
    """
    cube = float(H) ** 3
    curves = 1 + sweep_curves
    spectral = requested == "2" and curves * T * cube * (1 + SPECTRAL_COST) <= CURVES_BUDGET
    norm = "2" if spectral else "fro"
    per_step = max(sweep_curves, 1) * cube * (1 + SPECTRAL_COST if spectral else 1)
    sweep_window = _fit(CURVES_BUDGET, per_step, T, MIN_WINDOW)
    pairs = T * (T + 1) // 2
    pair_norm = "2" if norm == "2" and pairs * cube * (1 + SPECTRAL_COST) <= PAIRWISE_BUDGET else "fro"
    pair_window = T
    while pair_window > 1 and pair_window * (pair_window + 1) // 2 * cube > PAIRWISE_BUDGET:
        pair_window -= 1
    stats_window = _fit(STATS_BUDGET, cube * (1 + SPECTRAL_COST), T, MIN_WINDOW)
    return Plan(norm, sweep_window, pair_norm, pair_window, stats_window)


def model_only(config: Config) -> Config:
    """`config` with every field that cannot change the weights or the sequence at its default,
    so that page controls, truncation or training settings never recompute the Jacobians."""
    return DEFAULT.replace(**{f.name: getattr(config, f.name) for f in FIELDS if f.group in MODEL_GROUPS})


def tail(params: rc.Params, xs: np.ndarray, activation: str,
         window: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(xs of the last `window` steps (W, D), the state h_{T-W} (H,) they start from, or None
    for h0 = 0 when the window is the whole sequence)."""
    start = xs.shape[0] - window
    if start <= 0:
        return xs, None
    return xs[start:], rc.forward(params, xs[:start], activation=activation).h[-1]


def norm_curve(params: rc.Params, xs: np.ndarray, activation: str, norm: str,
               window: int | None = None) -> np.ndarray:
    """(W,): ||dh_T/dh_k|| for the last W steps k = T-W+1..T (eq. (8)); W = T by default."""
    xs_w, h0 = tail(params, xs, activation, xs.shape[0] if window is None else window)
    return jacobian_norms_to_last(params, xs_w, activation=activation, h0=h0, ord=ENGINE_ORD[norm])


def pairwise(params: rc.Params, xs: np.ndarray, activation: str, norm: str, window: int) -> np.ndarray:
    """(W, W): ||dh_t/dh_k|| for t, k among the last W steps, entry [i, j] for t = T-W+1+i,
    k = T-W+1+j (k <= t; 0 above the diagonal)."""
    xs_w, h0 = tail(params, xs, activation, window)
    return pairwise_jacobian_norms(params, xs_w, activation=activation, h0=h0, ord=ENGINE_ORD[norm])


def factor_stats(params: rc.Params, xs: np.ndarray, activation: str, window: int) -> StepFactorStats:
    """rnn_core.step_factor_stats for the last W steps t = T-W+1..T."""
    xs_w, h0 = tail(params, xs, activation, window)
    return step_factor_stats(params, xs_w, activation=activation, h0=h0)


def derivatives(params: rc.Params, xs: np.ndarray, activation: str) -> np.ndarray:
    """(T, H): f'(a_t) of every unit at every step, the diagonal of eq. (8)'s factors."""
    trace = rc.forward(params, xs, activation=activation)
    with np.errstate(all="ignore"):
        return rc.get_activation(activation).df(trace.a, trace.h)


@dataclass(frozen=True)
class CurveSummary:
    """factor: the fitted per-step factor (nan without a trend); kind: 'vanishing',
    'exploding', 'stable' or 'none'; label: e.g. 'vanishing: x0.62 per step'; horizon: the
    memory horizon as a distance T - k; reaches_start: the curve is still above the threshold
    at its first step (so the true horizon may be longer than the curve)."""

    factor: float
    kind: str
    label: str
    horizon: int
    reaches_start: bool


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
    horizon = memory_horizon(grown, HORIZON_THRESHOLD)
    reaches = bool(grown.shape[0] > 1 and grown[0] >= HORIZON_THRESHOLD * grown[-1])
    return CurveSummary(factor, kind, label, horizon, reaches)


def horizon_text(summary: CurveSummary, T: int) -> str:
    """The memory horizon as the page prints it: '7 steps', or '≥ 11 steps' when the curve is
    still above the threshold at its first step (the true horizon may be longer)."""
    if T == 1:
        return "0 steps (T = 1)"
    h = summary.horizon
    return f"{'≥ ' if summary.reaches_start else ''}{h} step{'s' if h != 1 else ''}"


def sweep_configs(config: Config) -> tuple[list[tuple[str, Config]], list[tuple[str, Config]]]:
    """The model configs of both sweeps, named for the legend: one per chosen radius (the
    sidebar's activation) and one per chosen activation (the sidebar's radius); same seed."""
    model = model_only(config)
    radii = [(f"ρ = {r:g}", model.replace(rho=float(r))) for r in config.v_radii]
    acts = [(f"f = {a}", model.replace(activation=a)) for a in config.v_acts]
    return radii, acts
