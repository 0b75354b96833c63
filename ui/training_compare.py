"""Side-by-side comparisons for the training page: truncated and clipped gradients.

Shape legend: T steps, B sequences in a batch, D inputs, H hidden units, O outputs.
Every gradient is compared as one flat vector g over all five parameters (eq. (10)):

    cosine(g, g_full) = <g, g_full> / (||g|| ||g_full||),   norm ratio = ||g|| / ||g_full||.

Truncations (rnn_core.truncation), each swept over the same window lengths k:
- k-step: every loss term reaches back through k states (k >= T is exact BPTT);
- chunked: the state is detached every k steps (k >= T is exact BPTT);
- randomized: each recurrent factor kept (and scaled by 1/p) with probability p = 1 - 1/k, so a
  gradient path crosses k - 1 factors on average, as many as a k-step window lets through. It is
  shown as one draw and as the average gradient of several draws (unbiased: it tends to g_full).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import rnn_core as rc
from rnn_core.training import clip_by_global_norm, clip_by_value
from ui.budget import Guard
from ui.training_run import step_seconds

Array = np.ndarray
RANDOM_DRAWS = 8                 # draws averaged for the randomized estimator
MAX_KS = 14                      # window lengths on the chart: keeps the sweep under a second


def method_labels(draws: int = RANDOM_DRAWS) -> tuple[str, ...]:
    """The compared methods, in the order charts and tables show them."""
    return ("k-step", "chunked", "randomized (one draw)", f"randomized (mean of {draws} draws)")


def flat(grads: rc.Params, names: tuple[str, ...] = rc.PARAM_NAMES) -> Array:
    """The gradients of `names` (default all five, in PARAM_NAMES order) as one vector."""
    return np.concatenate([getattr(grads, n).reshape(-1) for n in names])


def cosine_and_ratio(g: Array, reference: Array) -> tuple[float, float]:
    """(cosine, ||g|| / ||reference||); nan where a norm is 0 or not finite."""
    with np.errstate(all="ignore"):
        n_g, n_ref = np.linalg.norm(g), np.linalg.norm(reference)
        if not (np.isfinite(n_g) and np.isfinite(n_ref)) or n_ref == 0:
            return float("nan"), float("nan")
        cosine = float(g @ reference / (n_g * n_ref)) if n_g > 0 else float("nan")
    return cosine, float(n_g / n_ref)


def window_lengths(T: int, extra: int | None = None, most: int = MAX_KS) -> Array:
    """Up to `most` window lengths k from 1 to T, spaced evenly on a log axis, T and `extra` included."""
    ks = np.unique(np.round(np.geomspace(1, T, min(most, T))).astype(int))
    if extra is not None:
        ks = np.union1d(ks, [min(max(int(extra), 1), T)])
    return ks


def randomized_p(k: int) -> float:
    """The keep probability whose mean path length matches a k-step window (nan for k = 1)."""
    return 1.0 - 1.0 / k if k > 1 else float("nan")


@dataclass(frozen=True, eq=False)
class TruncationComparison:
    """cosine[method], ratio[method]: (len(ks),) arrays, nan where undefined.

    ks (n,): window lengths. p (n,): randomized keep probability at each k. full_norm: ||g_full||.
    """

    ks: Array
    p: Array
    full_norm: float
    cosine: dict[str, Array]
    ratio: dict[str, Array]
    draws: int = RANDOM_DRAWS

    def rows(self) -> list[dict]:
        """One row per (method, k), for a table."""
        return [{"method": m, "k": int(k), "p": float(p) if m.startswith("randomized") else None,
                 "cosine to full": float(self.cosine[m][i]), "norm ratio": float(self.ratio[m][i])}
                for m in self.cosine for i, (k, p) in enumerate(zip(self.ks, self.p))]


def compare_truncations(params: rc.Params, xs, ys, *, activation: str, loss: str, reduction: str = "sum",
                        mask=None, ks=None, seed: int = 0, draws: int = RANDOM_DRAWS,
                        names: tuple[str, ...] = rc.PARAM_NAMES, guard: Guard | None = None) -> TruncationComparison:
    """Every truncation's gradient against full BPTT on the same model and batch.

    xs (T, [B,] D), ys as rnn_core.bptt takes them. ks: window lengths (default `window_lengths(T)`).
    names: the parameters whose gradients are compared (dL/dW_hy and dL/db_y never change
    with truncation, so ('W_hh',) shows the effect undiluted).
    The randomized draws use seeds seed, seed + 1, ..., seed + draws - 1; "one draw" is seed.
    guard: checked before every bptt call; raises Stopped (a partial sweep is not worth keeping).
    """
    T = np.shape(xs)[0]
    ks = window_lengths(T) if ks is None else np.asarray(ks, dtype=int)

    def grad(truncation) -> Array:
        if guard is not None:
            guard.check()
        return flat(rc.bptt(params, xs, ys, activation=activation, loss=loss, reduction=reduction,
                            mask=mask, truncation=truncation).grads, names)

    full = grad(None)
    labels = method_labels(draws)
    cos = {m: np.full(len(ks), np.nan) for m in labels}
    ratio = {m: np.full(len(ks), np.nan) for m in labels}
    ps = np.array([randomized_p(int(k)) for k in ks])
    for i, k in enumerate(ks):
        k = int(k)
        for method, kind in (("k-step", "k_step"), ("chunked", "chunked")):
            cos[method][i], ratio[method][i] = cosine_and_ratio(grad((kind, k)), full)
        if k > 1:
            draws_g = [grad(("randomized", ps[i], seed + j)) for j in range(draws)]
            cos[labels[2]][i], ratio[labels[2]][i] = cosine_and_ratio(draws_g[0], full)
            with np.errstate(all="ignore"):
                mean_g = np.mean(draws_g, axis=0)
            cos[labels[3]][i], ratio[labels[3]][i] = cosine_and_ratio(mean_g, full)
    with np.errstate(over="ignore"):
        full_norm = float(np.linalg.norm(full))
    return TruncationComparison(ks=ks, p=ps, full_norm=full_norm, cosine=cos,
                                ratio=ratio, draws=draws)


# ---------------------------------------------------------------------------- clipping

CLIP_LABELS = ("none", "global norm", "element-wise")


@dataclass(frozen=True, eq=False)
class ClippingComparison:
    """For each rule in CLIP_LABELS: cosine to the raw gradient and the norm of what is applied."""

    c: float
    raw_norm: float
    cosine: tuple[float, ...]
    applied_norm: tuple[float, ...]
    labels: tuple[str, ...] = CLIP_LABELS

    def rows(self) -> list[dict]:
        return [{"clipping": label, "cosine to raw g": cos, "‖g applied‖": norm,
                 "‖g applied‖ / ‖g raw‖": norm / self.raw_norm if self.raw_norm > 0 else float("nan")}
                for label, cos, norm in zip(self.labels, self.cosine, self.applied_norm)]


def compare_clipping(grads: rc.Params, c: float) -> ClippingComparison:
    """The raw gradient against clipping by global norm to c and element-wise to [-c, c]."""
    raw = flat(grads)
    applied = (grads, clip_by_global_norm(grads, c)[0], clip_by_value(grads, c))
    pairs = [cosine_and_ratio(flat(g), raw) for g in applied]
    with np.errstate(all="ignore"):
        norms = tuple(float(np.linalg.norm(flat(g))) for g in applied)
    return ClippingComparison(c=float(c), raw_norm=norms[0], cosine=tuple(p[0] for p in pairs),
                              applied_norm=norms)


# ---------------------------------------------------------------------------- exploding

RADII = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)   # spectral radii tried for the clipping comparison
# 'exploded': ||g|| at least this many times c. Measured on the default char_lm model: at 10c
# (radius 3 at T = 12) one clipped step suffices and the three runs look alike; at 1000c (radius
# 5) the unclipped loss reaches 1e20 while the clipped ones stay near 1e3.
EXPLODES = 1000.0


def exploding_radius(grad_norm: Callable[[float], float], c: float, radii=RADII) -> tuple[float, float] | None:
    """(rho, ||g||) for the smallest radius in `radii` whose raw gradient norm is finite and at
    least EXPLODES * c, or None if none is: there clipping at c has something to do.

    grad_norm: rho -> ||g|| of the model at that radius on the comparison's batch.
    """
    for rho in radii:
        norm = grad_norm(rho)
        if np.isfinite(norm) and norm >= EXPLODES * c:
            return rho, norm
    return None


def clipped_steps(grad_norm: Array, c: float) -> int:
    """How many steps of a run had a raw gradient above c (steps a rule at c changed)."""
    with np.errstate(invalid="ignore"):
        return int(np.sum(np.asarray(grad_norm) > c))


# ---------------------------------------------------------------------------- cost

COMPARE_BUDGET = 8.0           # seconds the gradient comparison may take


def comparison_seconds(T: int, B: int, H: int, D: int, O: int, ks: Array, draws: int = RANDOM_DRAWS) -> float:
    """Estimated seconds of `compare_truncations`: one bptt call for the full gradient, and per k
    a k-step call (whose window multiplies the backward work, ui.training_run.COST), a chunked
    call and, for k > 1, `draws` randomized calls."""
    ks = np.asarray(ks)
    plain = step_seconds(T, B, H, D, O)
    calls = 1 + len(ks) + draws * int(np.sum(ks > 1))
    return calls * plain + sum(step_seconds(T, B, H, D, O, ("k_step", int(k))) for k in ks)


def affordable_batch(T: int, B: int, H: int, D: int, O: int, ks: Array, draws: int = RANDOM_DRAWS,
                     budget: float = COMPARE_BUDGET) -> int:
    """The most sequences (<= B) the comparison can use within `budget` seconds (0: not even one).
    The cost is a fixed part plus a part proportional to the batch."""
    fixed = comparison_seconds(T, 0, H, D, O, ks, draws)
    per_sequence = comparison_seconds(T, 1, H, D, O, ks, draws) - fixed
    return int(min(B, max(0.0, budget - fixed) // per_sequence))


def affordable_gradient_batch(T: int, B: int, H: int, D: int, O: int, calls: int,
                              budget: float = COMPARE_BUDGET) -> int:
    """The most sequences (<= B) for `calls` plain bptt calls within `budget` seconds."""
    fixed = calls * step_seconds(T, 0, H, D, O)
    per_sequence = calls * step_seconds(T, 1, H, D, O) - fixed
    return int(min(B, max(0.0, budget - fixed) // per_sequence))
