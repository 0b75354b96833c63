"""The request loop both benchmark workers run: one JSON request per line on stdin, one JSON
reply per line on stdout. Each worker is its own process, so NumPy's and PyTorch's thread pools
never share one (in one process they were seen to slow each other down tenfold here).

Requests: {"op": "time", "case": {...}, "variant": str, "seconds": float, "max_calls": int}
-> {"wall": [s, ...], "cpu": [s, ...]}; {"op": "check", "case", "variant", "path"} -> the results saved as .npz
at path, reply {"ok": true}; {"op": "quit"}. A side supplies
prepare(case, variant) -> (run, collect): run() does the timed work, collect(run()) turns its
result into a dict of NumPy arrays for the equal-work check.
"""
from __future__ import annotations

import gc
import json
import sys
import time
from typing import Callable

import numpy as np

Prepare = Callable[[dict, str], tuple[Callable[[], object], Callable[[object], dict]]]


def time_calls(run: Callable[[], object], seconds: float, max_calls: int) -> dict[str, list[float]]:
    """Wall-clock and CPU times of repeated run() calls: at least one, then until `seconds` pass.

    CPU time (this process, all its threads) barely changes when other processes compete for
    the cores, so with one thread it is the load-robust cross-check of the wall time.
    """
    wall: list[float] = []
    cpu: list[float] = []
    gc.collect()
    gc.disable()            # as timeit does: a collection inside a timed call is noise
    try:
        start = time.perf_counter()
        while not wall or (time.perf_counter() - start < seconds and len(wall) < max_calls):
            w0, c0 = time.perf_counter(), time.process_time()
            run()
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
    finally:
        gc.enable()
    return {"wall": wall, "cpu": cpu}


def serve(prepare: Prepare, extra_ops: dict[str, Callable[[dict], dict]] | None = None) -> None:
    prepared: dict[str, tuple] = {}
    warmed: set[str] = set()
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "quit":
            break
        if extra_ops and op in extra_ops:
            reply = extra_ops[op](req)
        else:
            key = json.dumps([req["case"], req["variant"]], sort_keys=True)
            if key not in prepared:
                prepared[key] = prepare(req["case"], req["variant"])
            run, collect = prepared[key]
            if op == "check":                           # its call is also the warm-up
                np.savez(req["path"], **collect(run()))
                warmed.add(key)
                reply = {"ok": True}
            elif op == "time":
                if key not in warmed:
                    run()                               # warm-up: caches, lazy imports, allocator
                    warmed.add(key)
                reply = time_calls(run, req["seconds"], req["max_calls"])
            else:
                raise ValueError(f"unknown op {op!r}")
        out.write(json.dumps(reply) + "\n")
        out.flush()
