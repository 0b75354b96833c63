"""Hidden-state nonlinearities f, each beside its derivative f' and its bound gamma.

Eq. (2): h_t = f(a_t). The Jacobian factor of one step is dh_t/dh_{t-1} = diag(f'(a_t)) W_hh
(eq. (8)), and gamma = sup |f'| gives the bound ||dh_T/dh_k|| <= (gamma sigma_max(W_hh))^(T-k).

`df(a, h)` receives both the pre-activation and the state, so that tanh' and sigmoid' are
computed from the cached output (1 - h^2, h (1 - h)) as in min-char-rnn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    name: str
    f: Callable[[Array], Array]
    df: Callable[[Array, Array], Array]
    gamma: float
    latex: str  # the function as the app prints it, e.g. r"\tanh"
    # The same two functions writing into `out` (no temporaries; the vanilla kernels' steps),
    # equal to f and df bit for bit: f_into(a, out), df_into(a, h, out).
    f_into: Callable[[Array, Array], None]
    df_into: Callable[[Array, Array, Array], None]


def _numpy_tanh_is_vectorised() -> bool:
    """Whether NumPy runs float64 tanh through its AVX-512 loop (about 1 ns an entry).

    Measured: on an AVX-512 CPU np.tanh of 1024 entries takes 1.1 us and the expm1 form 6 us;
    where NumPy falls back to libm (~35 ns an entry) the expm1 form is about 1.5x faster.
    """
    try:
        from numpy.lib.introspect import opt_func_info    # NumPy >= 2.1
    except ImportError:
        return False
    loops = opt_func_info(func_name="^tanh$", signature="float64").get("tanh", {})
    return any(loop.get("current") in ("X86_V4", "AVX512_SKX") for loop in loops.values())


# Below this many entries np.tanh is faster than the expm1 form's six ufunc calls (crossover ~700).
_TANH_EXPM1_MIN_SIZE = 1024
_USE_EXPM1_TANH = not _numpy_tanh_is_vectorised()


def _tanh_expm1(a: Array) -> Array:
    """tanh(a) within 2 ulp of np.tanh, from expm1 (faster where np.tanh is scalar libm).

    With u = expm1(-2|a|) in [-1, 0], |tanh a| = -u / (u + 2) without cancellation for small |a|.
    Capping |a| at 20 (tanh(20) rounds to 1) keeps -2|a| finite; copysign restores the sign and
    keeps -0.0, nan and +-1 at +-inf as np.tanh does.
    """
    u = np.minimum(np.abs(a), 20.0)
    u *= -2.0
    with np.errstate(under="ignore"):   # a subnormal a gives a subnormal tanh, as in np.tanh
        np.expm1(u, out=u)
    minus_abs_tanh = u / (u + 2.0)
    return np.copysign(minus_abs_tanh, a, out=minus_abs_tanh)


def _tanh(a: Array) -> Array:
    """tanh(a): NumPy's own, or the expm1 form on large arrays where that is faster."""
    if _USE_EXPM1_TANH and np.size(a) >= _TANH_EXPM1_MIN_SIZE:
        return _tanh_expm1(a)
    return np.tanh(a)


def _tanh_into(a: Array, out: Array) -> None:
    if _USE_EXPM1_TANH and np.size(a) >= _TANH_EXPM1_MIN_SIZE:
        out[...] = _tanh_expm1(a)
    else:
        np.tanh(a, out=out)


def _one_minus_square_into(a: Array, h: Array, out: Array) -> None:
    """tanh'(a) = 1 - h^2 from h = tanh(a), into out."""
    np.multiply(h, h, out=out)
    np.subtract(1.0, out, out=out)


def _sigmoid_slope_into(a: Array, h: Array, out: Array) -> None:
    """sigma'(a) = h (1 - h) from h = sigma(a), into out."""
    np.subtract(1.0, h, out=out)
    np.multiply(h, out, out=out)


def _assign(value: Array, out: Array) -> None:
    out[...] = value


def _sigmoid(a: Array) -> Array:
    # exp of a non-positive number never overflows: pick the stable branch per sign.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", _tanh, lambda a, h: 1.0 - h * h, 1.0, r"\tanh",
                   _tanh_into, _one_minus_square_into),
        # ReLU'(0) = 0 by convention (DESIGN.md).
        Activation("relu", lambda a: np.maximum(a, 0.0), lambda a, h: (a > 0).astype(a.dtype), 1.0,
                   r"\mathrm{ReLU}", lambda a, out: np.maximum(a, 0.0, out=out),
                   lambda a, h, out: np.greater(a, 0.0, out=out)),
        Activation("sigmoid", _sigmoid, lambda a, h: h * (1.0 - h), 0.25, r"\sigma",
                   lambda a, out: _assign(_sigmoid(a), out), _sigmoid_slope_into),
        Activation("identity", lambda a: a.copy(), lambda a, h: np.ones_like(a), 1.0, r"\mathrm{id}",
                   lambda a, out: _assign(a, out), lambda a, h, out: out.fill(1.0)),
    )
}


def get_activation(name: str) -> Activation:
    """The registered activation called `name`; ValueError naming the choices otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None
