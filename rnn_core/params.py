"""The five parameters of a vanilla RNN, their initialisers, and spectral-radius scaling.

Shapes: W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (O, H), b_y (O,); float64.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Iterator

import numpy as np

Array = np.ndarray
PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")
INITIALISERS = ("normal", "uniform", "orthogonal", "identity")
GATED_INITIALISERS = ("orthogonal", "normal", "uniform")


class CellParams:
    """What every cell's parameters share: named float64 arrays in a fixed order.

    A subclass is a frozen dataclass whose fields are the parameter names in the order of the
    cell's equations (Params, LSTMParams, GRUParams); the same type also holds gradients.
    """

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(D, H, O)."""
        H, D = getattr(self, self.names()[0]).shape
        return D, H, self.W_hy.shape[0]

    def items(self) -> Iterator[tuple[str, Array]]:
        for name in self.names():
            yield name, getattr(self, name)

    def to_dict(self) -> dict[str, Array]:
        return dict(self.items())

    def map(self, fn: Callable[[Array], Array]):
        return type(self)(**{n: fn(a) for n, a in self.items()})

    def copy(self):
        return self.map(np.array)

    def replace(self, **arrays: Array):
        return type(self)(**{**self.to_dict(), **arrays})

    def global_norm(self) -> float:
        """sqrt of the sum of squares of every entry of every array."""
        return float(np.sqrt(sum(float(np.sum(a * a)) for _, a in self.items())))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            np.array_equal(a, getattr(other, n)) for n, a in self.items())

    __hash__ = None  # mutable arrays inside: not hashable


@dataclass(frozen=True, eq=False)
class Params(CellParams):
    """The vanilla RNN: W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (O, H), b_y (O,). Also used
    for gradients."""

    W_xh: Array
    W_hh: Array
    b_h: Array
    W_hy: Array
    b_y: Array


def check_float_arrays(params: CellParams, kind: type) -> None:
    """ValueError unless `params` is of type `kind` and each of its arrays a float numpy array."""
    if type(params) is not kind:
        raise ValueError(f"params must be a rnn_core.{kind.__name__}, got {type(params).__name__}")
    for name, a in params.items():
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            raise ValueError(f"params.{name} must be a float numpy array, got {getattr(a, 'dtype', type(a))}")


def validate_params(params: Params) -> tuple[int, int, int]:
    """Check shapes, dtype and finiteness; return (D, H, O). ValueError names the field."""
    check_float_arrays(params, Params)
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


def init_params(D: int, H: int, O: int, *, seed: int = 0, init: str | None = None,
                scale: float | None = None, spectral_radius: float | None = None, cell: str = "rnn",
                forget_bias: float | None = None):
    """Seeded parameters of a cell ('rnn', 'lstm' or 'gru') for sizes D (input), H (hidden), O (output).

    Vanilla RNN (Params): init 'normal' (default; N(0, scale^2)), 'uniform' (U(-scale, scale)),
    'orthogonal' (W_hh orthogonal, the others normal) or 'identity' (IRNN: W_hh = I, b_h = 0).
    If `spectral_radius` is given, W_hh is rescaled to it afterwards.
    LSTM (LSTMParams) and GRU (GRUParams): init 'orthogonal' (default: every recurrent block
    W_h* an independent random orthogonal matrix, the input weights normal), 'normal' or
    'uniform' (every weight drawn so). forget_bias (LSTM only, default 1): the forget gate's
    bias b_f, so that f_t starts near sigma(1) = 0.73 and the memory is kept from the start
    (Jozefowicz et al. 2015). scale defaults to 1/sqrt(H). Other biases start at zero.
    """
    for name, v in (("D", D), ("H", H), ("O", O)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if cell not in ("rnn", "lstm", "gru"):
        raise ValueError(f"cell must be one of ['rnn', 'lstm', 'gru'], got {cell!r}")
    if cell != "lstm" and forget_bias is not None:
        raise ValueError(f"forget_bias is the LSTM's forget-gate bias; cell {cell!r} has no forget gate")
    allowed = INITIALISERS if cell == "rnn" else GATED_INITIALISERS
    init = ("normal" if cell == "rnn" else "orthogonal") if init is None else init
    if init not in allowed:
        raise ValueError(f"init must be one of {list(allowed)} for cell {cell!r}, got {init!r}")
    if cell != "rnn" and spectral_radius is not None:
        raise ValueError("spectral_radius scales the vanilla RNN's W_hh; gated cells take init='orthogonal'")
    s = 1.0 / np.sqrt(H) if scale is None else float(scale)
    if not np.isfinite(s) or s < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    rng = np.random.default_rng(seed)
    draw = (lambda *shape: rng.uniform(-s, s, shape)) if init == "uniform" else (
        lambda *shape: s * rng.standard_normal(shape))
    if cell != "rnn":
        return _init_gated(cell, D, H, O, rng, draw, init, 1.0 if forget_bias is None else forget_bias)
    W_xh, W_hh, W_hy = draw(H, D), draw(H, H), draw(O, H)
    if init == "orthogonal":
        W_hh = _orthogonal(rng, H, H)
    elif init == "identity":
        W_hh = np.eye(H)
    if spectral_radius is not None:
        W_hh = scale_to_spectral_radius(W_hh, spectral_radius)
    return Params(W_xh=W_xh, W_hh=W_hh, b_h=np.zeros(H), W_hy=W_hy, b_y=np.zeros(O))


def _init_gated(cell: str, D: int, H: int, O: int, rng, draw, init: str, forget_bias) -> CellParams:
    """Every parameter of an LSTM or GRU in field order: W_x* drawn, W_h* orthogonal (or drawn),
    b_* zero except b_f = forget_bias, W_hy drawn, b_y zero."""
    from .cells import get_cell
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float, np.number)) \
            or not np.isfinite(forget_bias):
        raise ValueError(f"forget_bias must be a finite number, got {forget_bias!r}")
    c = get_cell(cell)
    arrays = {}
    for name, shape in c.param_shapes(D, H, O).items():
        if name == "b_f":
            arrays[name] = np.full(H, float(forget_bias))
        elif name.startswith("b_"):
            arrays[name] = np.zeros(shape)
        elif name.startswith("W_h") and name != "W_hy" and init == "orthogonal":
            arrays[name] = _orthogonal(rng, H, H)
        else:
            arrays[name] = draw(*shape)
    return c.params_type(**arrays)
