"""Spectral quantities of W_hh, the bound of eq. (11), and reading a norm curve.

    (11) ||dh_T/dh_k||_2 <= (gamma * sigma_max(W_hh))^(T-k)

since each factor diag(f'(a_t)) W_hh of eq. (8) has spectral norm at most gamma sigma_max(W_hh)
(gamma = sup |f'|: 1 for tanh, ReLU and identity, 1/4 for sigmoid). The Frobenius norm of the
Jacobian can exceed this by up to sqrt(H).

A norm curve is the (T,) array n with n[k-1] = ||dh_T/dh_k|| (see rnn_core.jacobians), so entry
k-1 lies at distance T-k from the last state.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array
from .activations import get_activation
from .params import Params, spectral_radius, validate_params

Array = np.ndarray

# A per-step factor within STABLE_TOLERANCE of 1 (in ratio: 1/1.02 .. 1.02) is called "stable":
# over 50 steps it changes the norm by at most 1.02^50 ~ 2.7x, which a log plot shows as flat.
STABLE_TOLERANCE = 0.02

__all__ = ["singular_values", "spectral_radius", "jacobian_bound", "fit_decay_factor",
           "classify_factor", "memory_horizon", "extrapolated_horizon", "STABLE_TOLERANCE"]


def singular_values(W) -> Array:
    """The singular values of a matrix W (m, n), largest first: (min(m, n),)."""
    M = as_float_array("W", W)
    if M.ndim != 2:
        raise ValueError(f"W must be a matrix (2-D), got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError("W holds non-finite values (nan or inf)")
    return np.linalg.svd(M, compute_uv=False)


def jacobian_bound(params: Params, activation: str, T: int) -> Array:
    """Eq. (11): (gamma sigma_max(W_hh))^(T-k) for k = 1..T: (T,); entry T-1 is 1.

    The bound on ||dh_T/dh_k||_2 for any input; it overflows to inf rather than raising.
    """
    validate_params(params)
    gamma = get_activation(activation).gamma
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}")
    per_step = gamma * singular_values(params.W_hh)[0]
    distance = np.arange(T - 1, -1, -1, dtype=np.float64)
    with np.errstate(over="ignore"):
        return per_step ** distance


def _curve(norms) -> Array:
    n = as_float_array("norms", norms)
    if n.ndim != 1 or n.size < 1:
        raise ValueError(f"norms must be a non-empty 1-D array (T,), got shape {n.shape}")
    return n


def fit_decay_factor(norms) -> float:
    """The per-step factor r of a norm curve, norms[k-1] ~ c r^(T-k), by least squares on logs.

    norms (T,), entry k-1 = ||dh_T/dh_k||. The straight line log n = log c + (T-k) log r is
    fitted over the entries that are finite and positive; zeros (a gradient that died exactly,
    as with dead ReLUs, or underflow), infs and nans carry no log value and are left out, so
    the factor describes the curve where it can be measured. Returns nan if fewer than two
    entries are usable. r < 1: vanishing; r > 1: exploding.
    """
    line = _log_line(_curve(norms))
    if line is None:
        return float("nan")
    with np.errstate(over="ignore"):
        return float(np.exp(line[0]))


def _log_line(n: Array) -> tuple[float, float] | None:
    """(slope, intercept) of the least-squares line log n = intercept + slope * (T-k) over the
    finite positive entries of a curve n (T,); None with fewer than two of them."""
    distance = np.arange(n.size - 1, -1, -1, dtype=np.float64)
    usable = np.isfinite(n) & (n > 0)
    if np.count_nonzero(usable) < 2:
        return None
    slope, intercept = np.polyfit(distance[usable], np.log(n[usable]), 1)
    return float(slope), float(intercept)


def classify_factor(factor: float) -> tuple[str, str]:
    """("vanishing" | "exploding" | "stable", a label like "vanishing: x0.62 per step").

    "stable" when 1/(1 + STABLE_TOLERANCE) <= factor <= 1 + STABLE_TOLERANCE (a symmetric band
    in log scale). factor must be finite and > 0 (fit_decay_factor returns nan when a curve
    has too few usable points: check before calling).
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, float, np.number)) \
            or not np.isfinite(factor) or factor <= 0:
        raise ValueError(f"factor must be a finite number > 0, got {factor!r}")
    if abs(np.log(factor)) <= np.log1p(STABLE_TOLERANCE):
        kind = "stable"
    else:
        kind = "vanishing" if factor < 1 else "exploding"
    return kind, f"{kind}: x{factor:.2f} per step"


def _curve_and_reference(norms, threshold) -> tuple[np.ndarray, float]:
    """The checked curve (T,) and its last entry ||dh_T/dh_T||, the horizons' reference."""
    n = _curve(norms)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
            or not 0 < threshold <= 1:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold!r}")
    reference = n[-1]
    if not np.isfinite(reference) or reference <= 0:
        raise ValueError(f"norms[-1] (||dh_T/dh_T||) must be finite and > 0, got {float(reference)!r}")
    return n, reference


def memory_horizon(norms, threshold: float = 0.01) -> int:
    """The largest distance T-k with norms[k-1] >= threshold * norms[T-1]: an int in 0..T-1.

    norms (T,), entry k-1 = ||dh_T/dh_k||, so norms[T-1] = ||I||. How many steps back a state
    still moves h_T by at least `threshold` (0 < threshold <= 1) of the identity's norm. nan
    entries never count; inf entries (an exploding product) always do.
    """
    n, reference = _curve_and_reference(norms, threshold)
    distance = np.arange(n.size - 1, -1, -1)
    with np.errstate(invalid="ignore"):
        reached = n >= threshold * reference
    return int(distance[reached].max())


def extrapolated_horizon(norms, threshold: float = 0.01) -> float:
    """Where the fitted line of `fit_decay_factor` falls to `threshold` * norms[T-1]: the
    largest distance n >= 0 with c r^n >= threshold * ||I|| (a float; it may lie far beyond
    the curve's T-1 steps).

    For a curve that is still above the threshold at its first step `memory_horizon` can only
    say "at least T-1"; the fitted trend says how much further it reaches. floor() of the
    result equals `memory_horizon` for an exactly geometric curve long enough to cross.
    inf when the line does not fall (r >= 1); nan when no line can be fitted.
    """
    n, reference = _curve_and_reference(norms, threshold)
    line = _log_line(n)
    if line is None:
        return float("nan")
    slope, intercept = line
    if slope >= 0:
        return float("inf")
    return max(0.0, (np.log(threshold * reference) - intercept) / slope)
