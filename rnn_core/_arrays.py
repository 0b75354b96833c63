"""Working arrays of the forward and backward passes, allocated together.

Why one block: NumPy asks the kernel for huge pages (madvise) on allocations of 4 MB and more,
so one block of a pass's arrays is mapped in a few faults, where the same arrays allocated
one by one (1.6 MB each at T = 200, B = 16, H = 64) took ~2,500 faults of 4 KB: a third of a
`bptt` call on the benchmark machine.
"""
from __future__ import annotations

from math import prod

import numpy as np

Array = np.ndarray


def empty_arrays(*shapes: tuple[int, ...]) -> list[Array]:
    """Uninitialised float64 arrays of the given shapes: C-contiguous views of one allocation."""
    sizes = [prod(shape) for shape in shapes]
    block = np.empty(sum(sizes))
    ends = np.cumsum(sizes)
    return [block[end - size:end].reshape(shape) for shape, size, end in zip(shapes, sizes, ends)]
