"""The three truncated variants of BPTT, as named, checked objects.

- ("k_step", k): *k-step truncation of the sum*. Each loss term L_t sends gradient back through
  at most k states, h_t ... h_{t-k+1}: in eq. (9) the inner sum over k' runs over
  t-k+1 <= k' <= t only. k = 1 lets no gradient through the recurrence; k >= T is exact BPTT;
  h0 receives L_t's gradient only if t <= k.
- ("chunked", k): *detach every k steps*. Chunks are steps 1..k, k+1..2k, ...; the state
  entering each chunk after the first is detached, so no gradient crosses a chunk boundary
  (as in language-model training loops). It is the gradient of the whole L, with no update
  between chunks. h0 enters the first chunk and is not detached, so k >= T is exact BPTT.
- ("randomized", p[, seed]) or ("randomized", xi): *randomized truncation* (Tallec & Ollivier;
  D2L 9.7). The recurrent factor dh_t/dh_{t-1} of each step t = 1..T (the one into h0 included)
  is multiplied by xi_t, with xi_t = 1/p with probability p and 0 otherwise, so that the
  expected gradient is the exact one. Give a seed (default 0) or the explicit xi (T,) to
  reproduce a draw.

`None` (or ("full",)) is exact BPTT.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray
KINDS = ("full", "k_step", "chunked", "randomized")


@dataclass(frozen=True, eq=False)
class Truncation:
    """A parsed truncation. kind in KINDS; k for k_step/chunked; xi (T,) for randomized."""

    kind: str = "full"
    k: int | None = None
    xi: Array | None = None

    def step_factors(self, T: int) -> Array | None:
        """r (T,): the multiplier of each step's recurrent factor dh_t/dh_{t-1}, or None if all 1."""
        if self.kind == "chunked":
            r = np.ones(T)
            r[self.k::self.k] = 0.0  # steps k+1, 2k+1, ...: their incoming state is detached
            return r
        if self.kind == "randomized":
            return self.xi
        return None

    def window(self, T: int) -> int | None:
        """How many states each loss term reaches back through, if fewer than T."""
        return self.k if self.kind == "k_step" and self.k < T else None


def draw_xi(T: int, p: float, seed: int = 0) -> Array:
    """xi (T,): 1/p with probability p, else 0, from numpy's default_rng(seed)."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(T) < p, 1.0 / p, 0.0)


def _positive_k(kind: str, k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"truncation ({kind!r}, k) needs an integer k >= 1, got {k!r}")
    return int(k)


def _probability(p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not 0 < p <= 1:
        raise ValueError(f"truncation ('randomized', p) needs 0 < p <= 1, got {p!r}")
    return float(p)


def _xi_array(xi, T: int) -> Array:
    arr = np.asarray(xi, dtype=np.float64)
    if arr.shape != (T,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"truncation ('randomized', xi) needs xi of shape ({T},) with finite values >= 0, "
                         f"got shape {arr.shape}")
    return arr


def parse_truncation(truncation, T: int) -> Truncation:
    """Accept None, a Truncation, or a tuple as documented above; ValueError otherwise."""
    if truncation is None:
        return Truncation()
    if isinstance(truncation, Truncation):
        return truncation if truncation.kind != "randomized" else Truncation(
            "randomized", xi=_xi_array(truncation.xi, T))
    if not isinstance(truncation, (tuple, list)) or not truncation or truncation[0] not in KINDS:
        raise ValueError(f"truncation must be None or a tuple starting with one of {list(KINDS)}, "
                         f"got {truncation!r}")
    kind, *args = truncation
    if kind == "full" and not args:
        return Truncation()
    if kind in ("k_step", "chunked") and len(args) == 1:
        return Truncation(kind, k=_positive_k(kind, args[0]))
    if kind == "randomized" and len(args) in (1, 2):
        if np.ndim(args[0]) >= 1:  # ("randomized", xi); a wrong shape is reported as xi
            return Truncation(kind, xi=_xi_array(args[0], T))
        p = _probability(args[0])
        if len(args) == 2 and np.ndim(args[1]) >= 1:  # ("randomized", p, xi)
            return Truncation(kind, xi=_xi_array(args[1], T))
        seed = args[1] if len(args) == 2 else 0
        return Truncation(kind, xi=draw_xi(T, p, seed))
    raise ValueError(f"truncation {truncation!r} has the wrong arguments; see rnn_core.truncation")
