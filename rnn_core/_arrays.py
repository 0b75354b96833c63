"""Working arrays of the forward and backward passes, allocated together, and reused.

Why one block: NumPy asks the kernel for huge pages (madvise) on allocations of 4 MB and more,
so one block of a pass's arrays is mapped in a few faults, where the same arrays allocated
one by one (1.6 MB each at T = 200, B = 16, H = 64) took ~2,500 faults of 4 KB: a third of a
`bptt` call on the benchmark machine.

Why reuse: a fresh block costs page faults on first touch, and what they cost depends on the
machine far more than the arithmetic does: with huge pages ~900 faults for the largest vanilla
case's 213 MB, without them ~52,000 (about 45% more time; bench/variance.py), and the kernel
may have to compact memory to find huge pages at all. PyTorch's loop works in small per-step
tensors, mostly from memory already mapped. So a block whose arrays nobody holds any more is
kept and handed to the next call of about its size: no faults, whatever the machine (measured
here: 0 faults a call instead of 390 to 2,300 at (1000, 128, 32), 10-20% less time).

A block is reused only when the pool holds the last reference to it (every array handed out is
a view whose `.base` is the block, so a result still alive anywhere keeps its block out of
reach). The pool holds the POOL_BLOCKS most recent blocks, at most POOL_MAX_BYTES in all (two:
a loop's previous result is still alive while the next call allocates); with threads, a lock
hands each idle block to one caller. Reused memory is not cleared, as np.empty's is not: every
array must be written before it is read (tests/test_cells_api.py runs the engine on poisoned
blocks, filled with nan before each reuse).
"""
from __future__ import annotations

import sys
import threading
from math import prod

import numpy as np

Array = np.ndarray

POOL_BLOCKS = 2                  # blocks kept for reuse, the most recent ones
POOL_MAX_BYTES = 1 << 30         # in all; a larger block is never kept
POOL_MIN_ENTRIES = 1 << 16       # smaller blocks (512 kB) come from the C heap, already mapped
POISON_REUSED = False            # tests: fill a reused block with nan, to catch reads before writes

_pool: list[Array] = []
_lock = threading.Lock()
# The pool relies on CPython's reference counts (and its GIL, for them to be exact).
_POOLING = sys.implementation.name == "cpython" and getattr(sys, "_is_gil_enabled", lambda: True)()


def empty_arrays(*shapes: tuple[int, ...]) -> list[Array]:
    """Uninitialised float64 arrays of the given shapes: C-contiguous views of one allocation."""
    sizes = [prod(shape) for shape in shapes]
    block = _block(sum(sizes))
    ends = np.cumsum(sizes)
    return [block[end - size:end].reshape(shape) for shape, size, end in zip(shapes, sizes, ends)]


def _block(n: int) -> Array:
    """n float64 entries: an idle pooled block of n .. 2n entries, else a new one (then pooled)."""
    if not _POOLING or n < POOL_MIN_ENTRIES or 8 * n > POOL_MAX_BYTES:
        return np.empty(n)
    with _lock:
        for k in range(len(_pool)):
            if n <= _pool[k].size <= 2 * n and _references(_pool, k) == _IDLE:
                block = _pool.pop(k)
                _pool.append(block)                     # the most recently used last
                if POISON_REUSED:
                    block.fill(np.nan)
                return block[:n] if block.size > n else block
        block = np.empty(n)
        _pool.append(block)
        _trim()
        return block


def _references(pool: list, k: int) -> int:
    """sys.getrefcount of pool[k], as seen from here."""
    return sys.getrefcount(pool[k])


_IDLE = _references([np.empty(1)], 0)   # what _references says of a block only the pool holds


def _trim() -> None:
    """Keep the POOL_BLOCKS most recent blocks, POOL_MAX_BYTES in all (the newest always). An
    older block dropped here while in use is simply freed when its arrays are."""
    while len(_pool) > POOL_BLOCKS or (len(_pool) > 1 and sum(b.nbytes for b in _pool) > POOL_MAX_BYTES):
        _pool.pop(0)


def clear_pool() -> None:
    """Let go of every pooled block (each is freed once no array of it is held any more): for a
    long-lived process that has just run an unusually large case and wants its memory back."""
    with _lock:
        _pool.clear()
