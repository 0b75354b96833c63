"""Servers and browser settings for the browser benchmarks (bench/latency.py, bench/load.py):
the tests' own `streamlit_server` (tests/e2e/server.py), logging to bench/.out, and a process's
resident memory from /proc."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.e2e import server  # noqa: E402

LOGS = ROOT / "bench" / ".out"
CHROMIUM = server.CHROMIUM
IDLE = server.IDLE
# Timers and rendering must not slow down in tabs that are not in front: several are timed at once.
CHROMIUM_ARGS = server.CHROMIUM_ARGS + ["--disable-renderer-backgrounding", "--disable-background-timer-throttling",
                                        "--disable-backgrounding-occluded-windows"]


def streamlit_server(script: str, *, env: dict[str, str] | None = None, name: str = "server"):
    """Yield (url, pid) of `streamlit run <script>` on loopback, its output in bench/.out."""
    return server.streamlit_server(script, log_dir=LOGS, name=name, env=env)


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")
