"""Process-wide settings of the app's server, applied once per process, and its run slots."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from functools import cache
from typing import Iterator

from threadpoolctl import threadpool_limits

# Script runs allowed to execute at once in this process; the others queue for a slot.
RUN_SLOTS = 1
_slots = threading.BoundedSemaphore(RUN_SLOTS)


@cache
def limit_blas_threads() -> None:
    """One BLAS thread: every rerun is many small matmuls, and several viewers share 2 cores.

    With OpenBLAS's default threads, small products such as (32, 1600) @ (1600, 32) were
    measured 100x slower under load, and 300 training steps took 64 s instead of 8 s
    (bench/RESULTS.md, Training). An environment variable cannot do this: Streamlit has
    imported numpy before app.py runs.
    """
    threadpool_limits(limits=1, user_api="blas")


@contextmanager
def run_slot() -> Iterator[None]:
    """Hold one of RUN_SLOTS while a script run executes; wait for one if all are taken.

    Streamlit gives every session its own script thread, and a run is Python holding the GIL
    almost throughout (widgets, figures, protobuf): N runs at once share one core N ways, so
    every one of them ends late (processor sharing), and the event loop that sends their
    messages and answers the websockets' pings gets 1/(N+1) of the GIL. Runs taken one at a
    time end in arrival order, each as soon as its own work is done (bench/hall.py measures
    both). Release is guaranteed: st.rerun and st.stop leave through the exception path.
    """
    _slots.acquire()
    try:
        yield
    finally:
        _slots.release()
