"""An independent reference for the tests: central finite differences in float64.

Written without rnn_core.gradcheck on purpose, so the engine's own checker is not the only
judge of the engine.
"""
from __future__ import annotations

import numpy as np


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, entry by entry; f takes an array shaped like x."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        up = f(x)
        x[idx] = old - eps
        down = f(x)
        x[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


def assert_close(analytic, numeric, *, rtol: float = 1e-6, atol: float = 1e-8, what: str = "") -> None:
    """Relative to the largest entry, so tiny entries do not dominate; prints both on failure."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    assert analytic.shape == numeric.shape, f"{what}: shapes {analytic.shape} vs {numeric.shape}"
    scale = max(np.max(np.abs(numeric), initial=0.0), 1.0)
    err = np.max(np.abs(analytic - numeric), initial=0.0)
    assert err <= atol + rtol * scale, (
        f"{what}: max abs error {err:.3e} (scale {scale:.3e})\nanalytic:\n{analytic}\nnumeric:\n{numeric}")
