"""For bench/hall.py --profile only: with this folder on PYTHONPATH (and $HALL_PROFILE_OUT set)
the app's server samples where its CPU goes. Every SAMPLE_S a thread reads each thread's CPU
clock (pthread_getcpuclockid) and its Python stack (sys._current_frames), and charges the CPU
used since the last sample to that stack; the totals ("thread name; file:function; ...", root
first -> CPU seconds) are written to $HALL_PROFILE_OUT every few seconds. Never used to serve
the app."""
import json
import os
import sys
import threading
import time
from collections import Counter

SAMPLE_S = 0.002
WRITE_EVERY_S = 2.0
OUT = os.environ.get("HALL_PROFILE_OUT")


def _stack(frame) -> str:
    names = []
    while frame is not None:
        code = getattr(frame, "f_code", None)
        if code is None:                     # a frame torn down under us (seen in 3.11): stop there
            break
        names.append(f"{code.co_filename}:{code.co_name}")
        frame = frame.f_back
    return ";".join(reversed(names))


def _cpu(ident: int) -> float:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (OSError, ProcessLookupError):
        return 0.0


def _sample() -> None:
    me = threading.get_ident()
    totals: Counter = Counter()
    last_cpu: dict[int, float] = {}
    next_write = time.monotonic() + WRITE_EVERY_S
    while True:
        time.sleep(SAMPLE_S)
        names = {t.ident: t.name for t in threading.enumerate()}
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            now = _cpu(ident)
            spent = now - last_cpu.get(ident, now)
            last_cpu[ident] = now
            if spent > 0:
                totals[f"{names.get(ident, '?')};{_stack(frame)}"] += spent
        if time.monotonic() >= next_write:
            next_write += WRITE_EVERY_S
            with open(OUT + ".tmp", "w") as f:
                json.dump(totals, f)
            os.replace(OUT + ".tmp", OUT)


if OUT:
    # The sampler gets the GIL when the running thread lets go of it: at a forced switch (every
    # switch interval) or at a release of its own (a syscall, hashing a large buffer), where it
    # would be charged all the CPU since the last sample. A short interval makes most samples
    # forced ones, so the CPU lands where it was spent.
    sys.setswitchinterval(0.0005)
    threading.Thread(target=_sample, name="hall-profiler", daemon=True).start()
