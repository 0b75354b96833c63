"""Jacobians of the hidden states, eq. (8), and why they vanish or explode.

    (8)  dh_t/dh_{t-1} = diag(f'(a_t)) W_hh,     dh_T/dh_k = prod_{i=k+1}^{T} dh_i/dh_{i-1}
                                                           = dh_T/dh_{k+1} diag(f'(a_{k+1})) W_hh

Convention: entry [r, c] of dh_t/dh_k is d h_t[r] / d h_k[c] (rows follow the later state), so
for the identity activation dh_T/dh_k = W_hh^(T-k), not its transpose. Array index k-1 holds
state h_k (h_0 is the initial state and has no entry).

Every function here takes ONE sequence xs (T, D): a Jacobian belongs to one trajectory. Shapes:
T steps, D inputs, H hidden units.

Gated cells (LSTMParams, GRUParams; no activation): the same functions give the Jacobians of
the whole state s_t, [h_t; c_t] (S = 2H) for the LSTM, h_t for the GRU, from the cell's own
backward step (see the section "gated cells" below); `gate_path_to_last` sets the product of
forget (LSTM) or update (GRU) gates beside ||ds_T/ds_k||. `jacobian_between` gives one pair.

Overflow is not an error. Once a product leaves the float range its entries are inf or nan, and
so are the norms computed from it; where a pre-activation a_t itself is nan (a forward overflow),
f'(a_t) is taken as nan rather than 0, so the Jacobians through that step say "unknown" instead
of pretending the gradient died. `step_factor_stats(...).overflow_step` names the first step
whose forward values are not finite. No numpy warning escapes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_float_array, check_h0, check_xs, first_nonfinite_step
from .activations import get_activation
from .cells.rnn import run_forward
from .params import Params, validate_params

Array = np.ndarray

SATURATION = 0.05   # a unit is saturated (or dead) when f'(a) < SATURATION * gamma
NORM_BLOCK = 32     # spectral norms are computed for this many stacked matrices at a time
# Squared Frobenius norms inside this range neither overflow nor lose digits to underflow.
_SAFE_SQUARES = (1e-290, 1e290)


@dataclass(frozen=True)
class _Sequence:
    """One sequence's forward pass, as the Jacobians need it: a (T, H), fp (T, H) = f'(a_t)."""

    a: Array
    fp: Array
    gamma: float
    overflow_step: int | None


def _one_sequence(xs, h0, D: int, H: int) -> tuple[Array, Array]:
    """xs (T, D) as X (T, 1, D) and h0 as H0 (1, H), checked: Jacobians are of one sequence."""
    X = as_float_array("xs", xs)
    if X.ndim == 3:
        raise ValueError(f"xs must be one sequence of shape (T, D={D}) for Jacobians, got a batch of "
                         f"shape {X.shape}; pass xs[:, b] for sequence b")
    X, _ = check_xs(X, D)
    return X, check_h0(h0, 1, H, batched=False)


def _run_one_sequence(params: Params, xs, activation: str, h0) -> _Sequence:
    """Validate the arguments and run eqs. (1)-(2) on one sequence xs (T, D)."""
    act = get_activation(activation)
    D, H, _ = validate_params(params)
    X, H0 = _one_sequence(xs, h0, D, H)
    with np.errstate(all="ignore"):
        A, Hs, _ = run_forward(params, X, H0, act)
        a, h = A[:, 0], Hs[:, 0]
        fp = act.df(a, h)
        fp[np.isnan(a)] = np.nan    # f' of an overflowed pre-activation is unknown, not 0
    overflow = first_nonfinite_step(np.concatenate([a, h], axis=1))
    return _Sequence(a=a, fp=fp, gamma=act.gamma, overflow_step=overflow)


def _check_ord(ord) -> str | int:
    if isinstance(ord, str) and ord == "fro":
        return "fro"
    if not isinstance(ord, (str, bool)) and ord == 2:
        return 2
    raise ValueError(f"ord must be 'fro' or 2, got {ord!r}")


# ---------------------------------------------------------------------------------- norms
def _fro_norms(stack: Array) -> Array:
    """||M||_F of each matrix of stack (n, H, H), without overflow or underflow of the squares.

    The fast path is one dot product per matrix; matrices whose sum of squares leaves the safe
    range are rescaled by their largest entry first. inf stays inf, nan stays nan.
    """
    flat = stack.reshape(stack.shape[0], -1)
    squares = np.vecdot(flat, flat)
    norms = np.sqrt(squares)
    unsafe = np.flatnonzero(~((squares > _SAFE_SQUARES[0]) & (squares < _SAFE_SQUARES[1])))
    if unsafe.size:
        biggest = np.max(np.abs(flat[unsafe]), axis=1)
        norms[unsafe] = biggest                 # right as it is when 0, inf, or nan (a nan present)
        rescale = np.isfinite(biggest) & (biggest > 0)
        scaled = flat[unsafe[rescale]] / biggest[rescale, None]
        norms[unsafe[rescale]] = biggest[rescale] * np.sqrt(np.vecdot(scaled, scaled))
    return norms


def _spectral_norms(stack: Array) -> Array:
    """sigma_max of each matrix M of stack (n, H, H).

    sigma_max(M)^2 is the largest eigenvalue of the Gram matrix G = M M^T: a symmetric eigenvalue
    problem is about twice as fast as an SVD, and its largest eigenvalue is accurate to a few
    ulps relative (only small singular values would lose digits). M is divided by ||M||_F first
    so G can neither overflow nor underflow. A non-finite M has the norm inf (or nan).
    """
    fro = _fro_norms(stack)
    out = fro.copy()                     # 0, inf and nan are their own spectral norms
    ok = np.isfinite(fro) & (fro > 0)
    if ok.any():
        scaled = stack[ok] / fro[ok, None, None]
        gram = np.matmul(scaled, scaled.transpose(0, 2, 1))
        largest = np.linalg.eigvalsh(gram)[:, -1]
        out[ok] = fro[ok] * np.sqrt(np.clip(largest, 0.0, 1.0))   # 0 <= sigma_max^2/||M||_F^2 <= 1
    return out


def matrix_norm(M, ord=2) -> float:
    """||M|| of one matrix M (m, n), ord 2 (spectral, the default) or 'fro', without overflow or
    underflow in the computation: a finite M gets its finite norm even when its squares would
    leave the float range; an M holding inf has the norm inf, one holding nan has nan. Never a
    warning or an exception for non-finite entries (the Derivation page's norm of one Jacobian)."""
    ord = _check_ord(ord)
    A = np.asarray(M, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"M must be a matrix (2-D), got shape {A.shape}")
    if A.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        return float(_norms(A[None], ord)[0])


def _norms(stack: Array, ord: str | int) -> Array:
    return _fro_norms(stack) if ord == "fro" else _spectral_norms(stack)


# ------------------------------------------------------------------------------ Jacobians
def step_jacobians(params, xs, *, activation: str | None = None, h0=None, c0=None) -> Array:
    """dh_t/dh_{t-1} = diag(f'(a_t)) W_hh for t = 1..T (eq. (8)): (T, H, H); entry t-1 is step t.

    xs (T, D) one sequence; h0 (H,) or None (zeros). Their product from the right end gives
    `jacobians_to_last`. LSTM, GRU: ds_t/ds_{t-1} (T, S, S) of the whole state (c0: LSTM only).
    """
    if _gated(params, activation, c0):
        return _gated_step_jacobians(params, xs, h0=h0, c0=c0)
    seq = _run_one_sequence(params, xs, activation, h0)
    with np.errstate(all="ignore"):
        return seq.fp[:, :, None] * params.W_hh[None]


def jacobians_to_last(params, xs, *, activation: str | None = None, h0=None, c0=None) -> Array:
    """dh_T/dh_k for k = 1..T (eq. (8)): (T, H, H); entry k-1 is dh_T/dh_k, entry T-1 is I.

    Entry [k-1, r, c] = d h_T[r] / d h_k[c]. For the identity activation entry k-1 equals
    W_hh^(T-k). xs (T, D) one sequence (a batch is a ValueError); h0 (H,) or None (zeros).
    Computed backward from k = T with one matrix product per step:
    dh_T/dh_k = (dh_T/dh_{k+1} * f'(a_{k+1})[None, :]) @ W_hh (columns scaled, then W_hh).
    Memory is T H^2; for norms alone use `jacobian_norms_to_last`, which streams.
    LSTM, GRU (activation None; c0 (H,) LSTM only): (T, S, S), entry k-1 = ds_T/ds_k with
    s_k = [h_k; c_k] (S = 2H) for the LSTM: perturbing the c half of s_k leaves h_k as it is,
    so entry T-1 is the identity.
    """
    if _gated(params, activation, c0):
        return _gated_jacobians_to_last(params, xs, h0=h0, c0=c0)
    seq = _run_one_sequence(params, xs, activation, h0)
    T, H = seq.fp.shape
    J = np.empty((T, H, H))
    J[T - 1] = np.eye(H)
    scaled = np.empty((H, H))
    with np.errstate(all="ignore"):
        for k in range(T - 2, -1, -1):              # index k holds dh_T/dh_{k+1}
            np.multiply(J[k + 1], seq.fp[k + 1], out=scaled)   # ... diag(f'(a_{k+2}))
            np.matmul(scaled, params.W_hh, out=J[k])           # ... W_hh
    return J


def jacobian_between(params, xs, k: int, t: int, *, activation: str | None = None, h0=None, c0=None) -> Array:
    """ds_t/ds_k for one pair of steps 0 <= k <= t <= T: (H, H), the product of eq. (8)'s factors

        dh_t/dh_k = diag(f'(a_t)) W_hh  ...  diag(f'(a_{k+1})) W_hh      (I when k = t)

    multiplied in that order, the latest step on the left, one factor per step (k = 0 is the
    initial state h_0). xs (T, D) one sequence; h0 (H,) or None. Entry [r, c] = d h_t[r] / d h_k[c].
    LSTM, GRU (activation None; c0 LSTM only): ds_t/ds_k (S, S) of the whole state.
    """
    if _gated(params, activation, c0):
        return _gated_jacobian_between(params, xs, k, t, h0=h0, c0=c0)
    seq = _run_one_sequence(params, xs, activation, h0)
    T, H = seq.fp.shape
    k, t = _check_pair(k, t, T)
    J = np.eye(H)
    with np.errstate(all="ignore"):
        for j in range(k + 1, t + 1):                  # step j's factor, eq. (8)
            J = (seq.fp[j - 1][:, None] * params.W_hh) @ J
    return J


def _check_pair(k, t, T: int) -> tuple[int, int]:
    for name, v in (("k", k), ("t", t)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an integer step, got {v!r}")
    if not 0 <= k <= t <= T:
        raise ValueError(f"steps must satisfy 0 <= k <= t <= T = {T}, got k={k}, t={t}")
    return int(k), int(t)


def _walk_back_to_first(W_hh: Array, fp: Array):
    """Yield (i, dh_T/dh_{i+1}) for i = T-1 down to 0, keeping only two H x H matrices.

    The yielded array is overwritten by the next step: copy it to keep it.
    """
    T, H = fp.shape
    current, scratch = np.eye(H), np.empty((H, H))
    yield T - 1, current
    for i in range(T - 2, -1, -1):
        np.multiply(current, fp[i + 1], out=scratch)       # dh_T/dh_{i+2} diag(f'(a_{i+2}))
        np.matmul(scratch, W_hh, out=current)              # ... W_hh = dh_T/dh_{i+1}
        yield i, current


def jacobian_norms_to_last(params, xs, *, activation: str | None = None, h0=None, c0=None, ord="fro") -> Array:
    """||dh_T/dh_k|| for k = 1..T: (T,); entry k-1 is the norm for h_k, entry T-1 is ||I||.

    ord 'fro' (Frobenius; ||I|| = sqrt(H)) or 2 (spectral; ||I|| = 1). xs (T, D) one sequence;
    h0 (H,) or None. Streams over k (eq. (8) backward) with O(H^2) memory for the running
    product; spectral norms are computed in blocks of NORM_BLOCK matrices (see
    `_spectral_norms`). The bound of eq. (11) is `rnn_core.spectral.jacobian_bound`.
    LSTM, GRU (activation None; c0 LSTM only): ||ds_T/ds_k|| of the whole state (||I|| = sqrt(S)).
    """
    blocks = list(iter_jacobian_norms_to_last(params, xs, activation=activation, h0=h0, c0=c0, ord=ord))
    return np.concatenate([norms for _, norms in reversed(blocks)])


def iter_jacobian_norms_to_last(params, xs, *, activation: str | None = None, h0=None, c0=None, ord="fro"):
    """Yield (first, norms): entries first..first+n-1 of `jacobian_norms_to_last`, in blocks of
    NORM_BLOCK walking back from k = T (the first block ends with ||I||), first decreasing to 0.

    A caller may stop between blocks (a time limit): what it has is then the exact curve of
    the last steps, as if computed on a shorter window. Arguments as `jacobian_norms_to_last`.
    """
    ord = _check_ord(ord)
    if _gated(params, activation, c0):
        yield from _gated_iter_jacobian_norms_to_last(params, xs, h0=h0, c0=c0, ord=ord)
        return
    seq = _run_one_sequence(params, xs, activation, h0)
    T, H = seq.fp.shape
    walk = _walk_back_to_first(params.W_hh, seq.fp)
    block = np.empty((min(NORM_BLOCK, T), H, H))
    first = T
    while first > 0:
        n = min(len(block), first)        # block[j] holds the Jacobian of index first - 1 - j
        with np.errstate(all="ignore"):   # overflow is reported as inf/nan, never as a warning
            for j in range(n):
                block[j] = next(walk)[1]
            norms = _norms(block[:n], ord)[::-1]
        first -= n
        yield first, norms


def pairwise_jacobian_norms(params, xs, *, activation: str | None = None, h0=None, c0=None, ord="fro") -> Array:
    """||dh_t/dh_k|| for every pair: (T, T); entry [t-1, k-1] for k <= t, 0 above the diagonal.

    The diagonal is ||I|| (sqrt(H) for 'fro', 1 for ord=2); row T-1 equals
    `jacobian_norms_to_last`. xs (T, D) one sequence; h0 (H,) or None.
    Going forward in t, dh_t/dh_k = diag(f'(a_t)) W_hh dh_{t-1}/dh_k (eq. (8)) for all k < t at
    once: the transposes (dh_t/dh_k)^T are stacked as rows of one (t H, H) array and multiplied
    by W_hh^T diag(f'(a_t)), NORM_BLOCK Jacobians per matrix product so that each chunk's norms
    are taken while it is still in cache. Time ~ T^2 H^3 (ord=2 adds one H x H symmetric
    eigenproblem per pair, several times more), memory ~ T H^2.
    LSTM, GRU (activation None; c0 LSTM only): ||ds_t/ds_k|| of the whole state.
    """
    ord = _check_ord(ord)
    if _gated(params, activation, c0):
        return _gated_pairwise_jacobian_norms(params, xs, h0=h0, c0=c0, ord=ord)
    seq = _run_one_sequence(params, xs, activation, h0)
    T, H = seq.fp.shape
    out = np.zeros((T, T))
    stack, spare = np.empty((T * H, H)), np.empty((T * H, H))
    chunk = NORM_BLOCK * H          # rows per matrix product: one chunk stays in cache for its norms
    with np.errstate(all="ignore"):
        for t in range(T):                                 # index t holds step t+1
            rows = t * H                                   # k = 1..t already in the stack
            step_T = params.W_hh.T * seq.fp[t]             # (dh_{t+1}/dh_t)^T = W_hh^T diag(f'(a_{t+1}))
            for start in range(0, rows, chunk):
                end = min(rows, start + chunk)
                np.matmul(stack[start:end], step_T, out=spare[start:end])
                out[t, start // H:end // H] = _norms(spare[start:end].reshape(-1, H, H), ord)
            spare[rows:rows + H] = np.eye(H)               # dh_{t+1}/dh_{t+1} = I
            out[t, t] = _norms(spare[rows:rows + H][None], ord)[0]
            stack, spare = spare, stack
    return out


# ------------------------------------------------------------------- why the product fades
@dataclass(frozen=True, eq=False)
class StepFactorStats:
    """Per step t = 1..T (index t-1), the pieces of the factor dh_t/dh_{t-1} = diag(f'(a_t)) W_hh.

    W_hh_norm: ||W_hh||_2 (the same every step; a float). fprime_max (T,): max_i |f'(a_t)_i|.
    fprime_mean (T,): mean_i f'(a_t)_i. saturated_fraction (T,): the fraction of units with
    f'(a_t)_i < SATURATION * gamma, i.e. passing under 5% of the largest possible gradient:
    saturated units for tanh/sigmoid, dead units (f' = 0) for ReLU, never for identity.
    factor_norm (T,): ||diag(f'(a_t)) W_hh||_2, at most gamma * W_hh_norm.
    gamma: the activation's derivative bound. overflow_step: first step with a non-finite a_t
    or h_t (None if none); from there on the statistics may be nan.
    """

    W_hh_norm: float
    fprime_max: Array
    fprime_mean: Array
    saturated_fraction: Array
    factor_norm: Array
    gamma: float
    overflow_step: int | None


def step_factor_stats(params: Params, xs, *, activation: str, h0=None) -> StepFactorStats:
    """Why ||dh_T/dh_k|| fades or grows, step by step (eq. (8) and the bound (11)).

    xs (T, D) one sequence; h0 (H,) or None. See StepFactorStats for the fields.
    """
    if not isinstance(params, Params):
        raise ValueError(f"step_factor_stats reads the vanilla RNN's factor diag(f'(a_t)) W_hh; for "
                         f"{type(params).__name__} see gate_path_to_last")
    seq = _run_one_sequence(params, xs, activation, h0)
    fp = seq.fp
    T, H = fp.shape
    factor_norm = np.empty(T)
    with np.errstate(all="ignore"):
        for start in range(0, T, NORM_BLOCK):
            factors = fp[start:start + NORM_BLOCK, :, None] * params.W_hh[None]
            factor_norm[start:start + len(factors)] = _spectral_norms(factors)
        saturated = np.where(np.isnan(fp), np.nan, fp < SATURATION * seq.gamma)
        return StepFactorStats(
            W_hh_norm=float(_spectral_norms(params.W_hh[None])[0]),
            fprime_max=np.max(np.abs(fp), axis=1), fprime_mean=np.mean(fp, axis=1),
            saturated_fraction=np.mean(saturated, axis=1), factor_norm=factor_norm,
            gamma=seq.gamma, overflow_step=seq.overflow_step)


# ------------------------------------------------------------------------- gated cells
# The state s_t is [h_t; c_t] (S = 2H) for the LSTM, h_t (S = H) for the GRU; s_k is the pair
# handed to step k+1, so perturbing its c half leaves h_k as it is and ds_T/ds_T = I. Every
# Jacobian comes from the cell's backward step (`Cell.state_vjp`) applied to the rows of a
# matrix: row r of ds_T/ds_k pulled back through step k is row r of ds_T/ds_{k-1}.

def _gated(params, activation, c0) -> bool:
    """True for an LSTM or GRU; checks activation (vanilla only) and c0 (LSTM only)."""
    from .bptt import cell_and_activation
    return cell_and_activation(params, activation, c0)[0].name != "rnn"


def _gated_run(params, xs, h0, c0):
    """(cell, Run on one sequence as a batch of one) after checking the arguments."""
    from .bptt import cell_and_activation
    cell, _ = cell_and_activation(params, None, c0)
    D, H, _ = cell.validate(params)
    X, H0 = _one_sequence(xs, h0, D, H)
    C0 = check_h0(c0, 1, H, batched=False, name="c0") if cell.memory else None
    with np.errstate(all="ignore"):
        return cell, cell.run(params, X, H0, C0, None)


def _pull_back(cell, params, run, t: int, rows: Array) -> Array:
    """rows (n, S) of d(something)/ds_{t+1} -> (n, S) of d(something)/ds_t, through step index t."""
    return cell.state_vjp(params, run, t, rows[:, None, :])[:, 0, :]


def _gated_step_jacobians(params, xs, *, h0, c0) -> Array:
    cell, run = _gated_run(params, xs, h0, c0)
    T = run.hs.shape[0]
    eye = np.eye(cell.state_size(run.hs.shape[2]))
    with np.errstate(all="ignore"):
        return np.stack([_pull_back(cell, params, run, t, eye) for t in range(T)])


def _gated_jacobians_to_last(params, xs, *, h0, c0) -> Array:
    cell, run = _gated_run(params, xs, h0, c0)
    T = run.hs.shape[0]
    S = cell.state_size(run.hs.shape[2])
    J = np.empty((T, S, S))
    J[T - 1] = np.eye(S)
    with np.errstate(all="ignore"):
        for k in range(T - 2, -1, -1):           # index k holds ds_T/ds_{k+1}
            J[k] = _pull_back(cell, params, run, k + 1, J[k + 1])
    return J


def _gated_jacobian_between(params, xs, k, t, *, h0, c0) -> Array:
    cell, run = _gated_run(params, xs, h0, c0)
    k, t = _check_pair(k, t, run.hs.shape[0])
    J = np.eye(cell.state_size(run.hs.shape[2]))
    with np.errstate(all="ignore"):
        for j in range(t, k, -1):                # back through steps t, t-1, ..., k+1
            J = _pull_back(cell, params, run, j - 1, J)
    return J


def _gated_iter_jacobian_norms_to_last(params, xs, *, h0, c0, ord):
    cell, run = _gated_run(params, xs, h0, c0)
    T = run.hs.shape[0]
    S = cell.state_size(run.hs.shape[2])
    block = np.empty((min(NORM_BLOCK, T), S, S))
    current = np.eye(S)
    first = T
    while first > 0:
        n = min(len(block), first)               # block[j] holds the Jacobian of index first - 1 - j
        with np.errstate(all="ignore"):
            for j in range(n):
                index = first - 1 - j
                if index < T - 1:
                    current = _pull_back(cell, params, run, index + 1, current)
                block[j] = current
            norms = _norms(block[:n], ord)[::-1]
        first -= n
        yield first, norms


def _gated_pairwise_jacobian_norms(params, xs, *, h0, c0, ord) -> Array:
    steps = _gated_step_jacobians(params, xs, h0=h0, c0=c0)      # (T, S, S): ds_t/ds_{t-1}
    T, S, _ = steps.shape
    out = np.zeros((T, T))
    stack, spare = np.empty((T, S, S)), np.empty((T, S, S))       # stack[:t]: ds_{t-1}/ds_k, k < t
    with np.errstate(all="ignore"):
        for t in range(T):                                        # index t holds step t+1
            np.matmul(steps[t], stack[:t], out=spare[:t])         # ds_{t+1}/ds_k = step factor @ ...
            spare[t] = np.eye(S)
            out[t, :t + 1] = _norms(spare[:t + 1], ord)
            stack, spare = spare, stack
    return out


@dataclass(frozen=True, eq=False)
class GatePath:
    """Why a gated cell's Jacobian fades or holds, per k = 1..T (index k-1).

    gate: 'f' (LSTM: forget gates, the memory path c_k -> c_T alone is diag(f_{k+1} ... f_T)) or
    'z' (GRU: update gates, the path h_{k} -> h_T through the z_t * h_{t-1} terms alone is
    diag(z_{k+1} ... z_T)). product (T, H): that elementwise product (entry T-1 all ones).
    product_norm (T,): ||diag(product)|| in `ord` ('fro': its Euclidean length, 2: its largest
    entry). jacobian_norm (T,): ||ds_T/ds_k|| of the whole state in `ord`, as
    `jacobian_norms_to_last`. ord: 'fro' or 2.
    """

    gate: str
    product: Array
    product_norm: Array
    jacobian_norm: Array
    ord: str | int


def gate_path_to_last(params, xs, *, h0=None, c0=None, ord="fro") -> GatePath:
    """The gate product that explains a gated cell's decay, next to the full Jacobian's norm.

    LSTM: prod_{j=k+1}^{T} f_j (the forget gates along c_k -> c_T); GRU: prod_{j=k+1}^{T} z_j
    (the update gates). xs (T, D) one sequence; h0, c0 (LSTM only) (H,) or None. A vanilla
    RNN has no gate: see `step_factor_stats` and rnn_core.spectral.jacobian_bound instead.
    """
    ord = _check_ord(ord)
    from .cells import cell_of
    cell = cell_of(params)
    if cell.name == "rnn":
        raise ValueError("gate_path_to_last needs an LSTM or GRU; the vanilla RNN has no gate "
                         "(see step_factor_stats and jacobian_bound)")
    _, run = _gated_run(params, xs, h0, c0)
    T, _, H = run.hs.shape
    gate = "f" if cell.name == "lstm" else "z"
    values = run.a[:, 0, H:2 * H]                            # f_t (LSTM) or z_t (GRU): block 1 in both
    product = np.ones((T, H))
    with np.errstate(all="ignore"):
        for k in range(T - 2, -1, -1):
            product[k] = product[k + 1] * values[k + 1]
        norm = _fro_norms(product[:, None, :]) if ord == "fro" else np.max(np.abs(product), axis=1)
    jac = jacobian_norms_to_last(params, xs, h0=h0, c0=c0, ord=ord)
    return GatePath(gate=gate, product=product, product_norm=norm, jacobian_norm=jac, ord=ord)
