"""The five parameters of a vanilla RNN, their initialisers, and spectral-radius scaling.

Shapes: W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (O, H), b_y (O,); float64.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

Array = np.ndarray
PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")
INITIALISERS = ("normal", "uniform", "orthogonal", "identity")


@dataclass(frozen=True, eq=False)
class Params:
    """W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (O, H), b_y (O,). Also used for gradients."""

    W_xh: Array
    W_hh: Array
    b_h: Array
    W_hy: Array
    b_y: Array

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(D, H, O)."""
        H, D = self.W_xh.shape
        return D, H, self.W_hy.shape[0]

    def items(self) -> Iterator[tuple[str, Array]]:
        for name in PARAM_NAMES:
            yield name, getattr(self, name)

    def to_dict(self) -> dict[str, Array]:
        return dict(self.items())

    def map(self, fn: Callable[[Array], Array]) -> "Params":
        return Params(**{n: fn(a) for n, a in self.items()})

    def copy(self) -> "Params":
        return self.map(np.array)

    def replace(self, **arrays: Array) -> "Params":
        return Params(**{**self.to_dict(), **arrays})

    def global_norm(self) -> float:
        """sqrt of the sum of squares of every entry of all five arrays."""
        return float(np.sqrt(sum(float(np.sum(a * a)) for _, a in self.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Params) and all(
            np.array_equal(a, getattr(other, n)) for n, a in self.items())

    __hash__ = None  # mutable arrays inside: not hashable


def validate_params(params: Params) -> tuple[int, int, int]:
    """Check shapes, dtype and finiteness; return (D, H, O). ValueError names the field."""
    if not isinstance(params, Params):
        raise ValueError(f"params must be a rnn_core.Params, got {type(params).__name__}")
    for name, a in params.items():
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            raise ValueError(f"params.{name} must be a float numpy array, got {getattr(a, 'dtype', type(a))}")
    if params.W_xh.ndim != 2:
        raise ValueError(f"params.W_xh must have shape (H, D), got {params.W_xh.shape}")
    H, D = params.W_xh.shape
    O = params.W_hy.shape[0] if params.W_hy.ndim == 2 else -1
    expected = {"W_hh": (H, H), "b_h": (H,), "W_hy": (O, H), "b_y": (O,)}
    for name, shape in expected.items():
        if getattr(params, name).shape != shape or O < 1:
            raise ValueError(f"params.{name} must have shape {shape} (H={H}, D={D}, O={O}), "
                             f"got {getattr(params, name).shape}")
    for name, a in params.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"params.{name} holds non-finite values (nan or inf)")
    return D, H, O


def spectral_radius(W: Array) -> float:
    """max |eigenvalue| of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(W)))) if W.size else 0.0


def scale_to_spectral_radius(W: Array, rho: float) -> Array:
    """W rescaled so that its spectral radius is `rho` (a zero matrix stays zero)."""
    if not np.isfinite(rho) or rho < 0:
        raise ValueError(f"spectral_radius must be a finite number >= 0, got {rho!r}")
    current = spectral_radius(W)
    return W * (rho / current) if current > 0 else W.copy()


def _orthogonal(rng: np.random.Generator, n: int, m: int) -> Array:
    q, r = np.linalg.qr(rng.standard_normal((max(n, m), min(n, m))))
    q = q * np.sign(np.diag(r))  # makes the draw uniform over orthogonal matrices
    return q if n >= m else q.T


def init_params(D: int, H: int, O: int, *, seed: int = 0, init: str = "normal",
                scale: float | None = None, spectral_radius: float | None = None) -> Params:
    """Seeded parameters for sizes D (input), H (hidden), O (output).

    init: 'normal' (N(0, scale^2)), 'uniform' (U(-scale, scale)), 'orthogonal' (W_hh orthogonal,
    the others normal) or 'identity' (IRNN: W_hh = I, b_h = 0). scale defaults to 1/sqrt(H).
    Biases start at zero. If `spectral_radius` is given, W_hh is rescaled to it afterwards.
    """
    for name, v in (("D", D), ("H", H), ("O", O)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if init not in INITIALISERS:
        raise ValueError(f"init must be one of {list(INITIALISERS)}, got {init!r}")
    s = 1.0 / np.sqrt(H) if scale is None else float(scale)
    if not np.isfinite(s) or s < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    rng = np.random.default_rng(seed)
    draw = (lambda *shape: rng.uniform(-s, s, shape)) if init == "uniform" else (
        lambda *shape: s * rng.standard_normal(shape))
    W_xh, W_hh, W_hy = draw(H, D), draw(H, H), draw(O, H)
    if init == "orthogonal":
        W_hh = _orthogonal(rng, H, H)
    elif init == "identity":
        W_hh = np.eye(H)
    if spectral_radius is not None:
        W_hh = scale_to_spectral_radius(W_hh, spectral_radius)
    return Params(W_xh=W_xh, W_hh=W_hh, b_h=np.zeros(H), W_hy=W_hy, b_y=np.zeros(O))
