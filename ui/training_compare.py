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

import numpy as np

import rnn_core as rc
from rnn_core.training import clip_by_global_norm, clip_by_value

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
                        names: tuple[str, ...] = rc.PARAM_NAMES) -> TruncationComparison:
    """Every truncation's gradient against full BPTT on the same model and batch.

    xs (T, [B,] D), ys as rnn_core.bptt takes them. ks: window lengths (default `window_lengths(T)`).
    names: the parameters whose gradients are compared (dL/dW_hy and dL/db_y never change
    with truncation, so ('W_hh',) shows the effect undiluted).
    The randomized draws use seeds seed, seed + 1, ..., seed + draws - 1; "one draw" is seed.
    """
    T = np.shape(xs)[0]
    ks = window_lengths(T) if ks is None else np.asarray(ks, dtype=int)

    def grad(truncation) -> Array:
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
    return TruncationComparison(ks=ks, p=ps, full_norm=float(np.linalg.norm(full)), cosine=cos,
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


# ---------------------------------------------------------------------------- cost

SECONDS_PER_UNIT = 20e-9       # as ui.training_run: multiply-adds -> seconds on a loaded 2-core machine
COMPARE_BUDGET = 8.0           # seconds the gradient comparison may take


def comparison_seconds(T: int, B: int, H: int, D: int, O: int, ks: Array, draws: int = RANDOM_DRAWS) -> float:
    """Estimated seconds of `compare_truncations`: every bptt call costs T B H (H + D + O), and a
    k-step window with k < T carries k gradients back at once (T k B H^2 more)."""
    ks = np.asarray(ks)
    calls = 1 + 2 * len(ks) + draws * int(np.sum(ks > 1))
    windows = float(np.sum(ks[ks < T]))
    return (calls * T * B * H * (H + D + O) + windows * T * B * H * H) * SECONDS_PER_UNIT


def affordable_batch(T: int, B: int, H: int, D: int, O: int, ks: Array, draws: int = RANDOM_DRAWS,
                     budget: float = COMPARE_BUDGET) -> int:
    """The most sequences (<= B) the comparison can use within `budget` seconds (0: not even one)."""
    per_sequence = comparison_seconds(T, 1, H, D, O, ks, draws)
    return int(min(B, budget // per_sequence))
