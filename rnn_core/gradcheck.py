"""Gradient checking: bptt's gradients against central finite differences of the loss L (eq. (5)).

    numeric[i] = (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)

for every entry i of every parameter of the cell (W_xh, W_hh, b_h, W_hy, b_y for the vanilla RNN),
h0 and, for the LSTM, c0 (or a seeded random subset of them).

Errors are measured normwise, per parameter:

    relative_error(a, n) = max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|)     (0 if both are 0)

An entry a million times smaller than the largest would otherwise show the finite-difference
rounding noise as a huge "relative" error. A parameter passes when

    max_i |a_i - n_i| <= atol + rtol * max(max_i |a_i|, max_i |n_i|),
    atol = 100 * machine_eps * max(|L|, 1) / eps

atol is a hundred times the rounding noise of one central difference of a loss of size |L|
(~2e-8 for L ~ 1 and eps = 1e-6); rtol (default 1e-6) covers the O(eps^2) truncation error.
A ReLU pre-activation within eps of 0 makes the numeric value wrong, not the analytic one.

Finite differences of L measure the exact gradient, so truncated BPTT cannot be checked this
way: gradcheck accepts only truncations that compute the exact gradient (None, ('full',),
k_step or chunked with k >= T, randomized with every xi_t = 1) and raises ValueError otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bptt import bptt, check_problem
from .cells.base import output_layer
from .truncation import parse_truncation

Array = np.ndarray

RTOL = 1e-6
NOISE_FACTOR = 100.0


def relative_error(a, b) -> float:
    """max |a - b| / max(max |a|, max |b|) over all entries; 0 when both are all zero.

    Normwise, not entry by entry (see the module docstring). a, b: arrays of one shape.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    with np.errstate(invalid="ignore"):
        scale = _largest(a, b)
        err = np.max(np.abs(a - b), initial=0.0)
        if np.isnan(err) or np.isnan(scale):
            return float("nan")
        return float(err / scale) if scale > 0 else 0.0


def _largest(a: Array, b: Array) -> float:
    """max(max |a|, max |b|); nan if either holds a nan."""
    return float(np.max(np.abs(np.concatenate([a.ravel(), b.ravel()])), initial=0.0))


@dataclass(frozen=True, eq=False)
class GradcheckRow:
    """One parameter (or 'h0', whose analytic value is dL_dh0).

    shape: the array's shape; n_total its number of entries, n_checked how many were checked;
    indices (n_checked,): the flat indices checked (sorted); analytic, numeric (n_checked,): the
    values at those entries; max_abs_error, max_rel_error (see relative_error); passed.
    """

    name: str
    shape: tuple
    n_total: int
    n_checked: int
    indices: Array
    analytic: Array
    numeric: Array
    max_abs_error: float
    max_rel_error: float
    passed: bool


@dataclass(frozen=True, eq=False)
class GradcheckReport:
    """rows: one GradcheckRow per parameter in the params' field order, then 'h0' (and 'c0' for
    the LSTM). loss: L;
    eps, rtol, atol: the step and the tolerances used (see the module docstring)."""

    rows: tuple
    loss: float
    eps: float
    rtol: float
    atol: float

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    def row(self, name: str) -> GradcheckRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise ValueError(f"name must be one of {[r.name for r in self.rows]}, got {name!r}")


def _check_options(eps, max_entries, truncation, T: int) -> None:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.number)) or not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    if max_entries is not None and (isinstance(max_entries, bool) or not isinstance(max_entries, (int, np.integer))
                                    or max_entries < 1):
        raise ValueError(f"max_entries must be None or an integer >= 1, got {max_entries!r}")
    trunc = parse_truncation(truncation, T)
    factors = trunc.step_factors(T)
    if trunc.window(T) is not None or (factors is not None and np.any(factors != 1.0)):
        raise ValueError(f"truncation must give the exact gradient for a finite-difference check (None, "
                         f"k >= T, or xi all ones), got {truncation!r}: finite differences of L measure "
                         f"the exact gradient, which truncated BPTT does not compute")


def gradcheck(params, xs, ys, *, activation: str | None = None, loss: str, reduction: str = "sum", mask=None,
              h0=None, c0=None, truncation=None, eps: float = 1e-6, max_entries: int | None = None, seed: int = 0,
              rtol: float = RTOL) -> GradcheckReport:
    """Check bptt(...) against central differences of L for every parameter, h0 and (LSTM) c0.

    Arguments as in `bptt`, for any cell: xs (T, D) or (T, B, D), ys, mask (T,), h0 (H,) or
    (B, H), c0 likewise (LSTM only). For a batch the h0 (c0) row checks dL_dh0 (dL_dc0) (B, H)
    against differences in each sequence's own h0 (c0).
    max_entries: check at most this many entries per array, drawn without replacement by
    numpy's default_rng(seed) (in the row order), so a big model can be checked live; each
    row says how many it checked. Costs two forward passes per checked entry.
    """
    problem = check_problem(params, xs, ys, activation=activation, loss=loss, reduction=reduction, mask=mask,
                            h0=h0, c0=c0)
    cell, act, out, X, H0, C0, Y, w, batched = (problem.cell, problem.act, problem.out, problem.X, problem.H0,
                                                problem.C0, problem.Y, problem.w, problem.batched)
    _check_options(eps, max_entries, truncation, X.shape[0])
    res = bptt(params, xs, ys, activation=activation, loss=loss, reduction=reduction, mask=mask, h0=h0, c0=c0,
               truncation=truncation)

    def loss_at(p, h_start: Array, c_start: Array | None = C0) -> float:
        """L of the forward pass and eqs. (3)-(5) only."""
        logits = output_layer(p, cell.run(p, X, h_start, c_start, act).hs)
        step_losses = out.value(logits, Y).mean(axis=1)
        return float(np.sum(np.where(w > 0, w * step_losses, 0.0)))

    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        L = loss_at(params, H0)
        atol = NOISE_FACTOR * np.finfo(np.float64).eps * max(abs(L), 1.0) / eps
        rows = []
        for name, value in params.items():
            analytic = getattr(res.grads, name)
            rows.append(_check_array(name, value, analytic, lambda v, n=name: loss_at(params.replace(**{n: v}), H0),
                                     eps, max_entries, rng, rtol, atol))
        # h0 (and c0) in the caller's layout: (B, H) for a batch, (H,) for one sequence
        as_batch = (lambda v: v) if batched else (lambda v: v[None])
        shown = (lambda v: v) if batched else (lambda v: v[0])
        rows.append(_check_array("h0", shown(H0), res.dL_dh0, lambda v: loss_at(params, as_batch(v)),
                                 eps, max_entries, rng, rtol, atol))
        if cell.memory:
            rows.append(_check_array("c0", shown(C0), res.dL_dc0, lambda v: loss_at(params, H0, as_batch(v)),
                                     eps, max_entries, rng, rtol, atol))
    return GradcheckReport(rows=tuple(rows), loss=res.loss, eps=float(eps), rtol=rtol, atol=atol)


def _check_array(name: str, value: Array, analytic: Array, loss_of, eps: float, max_entries, rng,
                 rtol: float, atol: float) -> GradcheckRow:
    """Central differences of loss_of(v) at the chosen entries of v = value; one GradcheckRow."""
    size = value.size
    if max_entries is None or size <= max_entries:
        indices = np.arange(size)
    else:
        indices = np.sort(rng.choice(size, size=max_entries, replace=False))
    work = np.array(value, dtype=np.float64)
    flat = work.reshape(-1)
    numeric = np.empty(len(indices))
    for j, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + eps
        up = loss_of(work)
        flat[i] = old - eps
        down = loss_of(work)
        flat[i] = old
        numeric[j] = (up - down) / (2 * eps)
    checked = np.asarray(analytic).reshape(-1)[indices]
    abs_err = float(np.max(np.abs(checked - numeric), initial=0.0))
    scale = _largest(checked, numeric)
    passed = bool(abs_err <= atol + rtol * scale)      # False whenever a nan is involved
    return GradcheckRow(name=name, shape=tuple(value.shape), n_total=int(size), n_checked=len(indices),
                        indices=indices, analytic=checked, numeric=numeric, max_abs_error=abs_err,
                        max_rel_error=relative_error(checked, numeric), passed=passed)
