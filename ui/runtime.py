"""Process-wide settings of the app's server, applied once per process."""
from __future__ import annotations

from functools import cache

from threadpoolctl import threadpool_limits


@cache
def limit_blas_threads() -> None:
    """One BLAS thread: every rerun is many small matmuls, and several viewers share 2 cores.

    With OpenBLAS's default threads, small products such as (32, 1600) @ (1600, 32) were
    measured 100x slower under load, and 300 training steps took 64 s instead of 8 s
    (bench/RESULTS.md, Training). An environment variable cannot do this: Streamlit has
    imported numpy before app.py runs.
    """
    threadpool_limits(limits=1, user_api="blas")
