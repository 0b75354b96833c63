"""Capacity of the deploy/ recipe: bench/hall.py's lecture halls against 1, then 2 replicas
behind nginx, in one run, on loopback.

    .venv/bin/python deploy/bench_replicas.py [--replicas 1,2] [--viewers 10,50,100,200]
                                              [--duration 40] [-- more bench/hall.py options]

For each replica count: deploy/run_replicas.py on free loopback ports, then bench/hall.py
--url <the proxy> --server-pid <each replica> (the hall's server CPU and RSS are the replicas'
summed), then Ctrl-C (SIGINT) to the script, which stops nginx and the replicas. Viewers open
websockets without cookies, so each lands on a replica by the hash of a random key, as
browsers opening the link for the first time do. Prints hall.py's table per replica count and
nginx's own CPU; raw numbers in bench/.out/hall-replicas-<n>.json. Bounded: hall.py's own
deadlines, plus a start deadline here.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from run_replicas import free_ports    # this folder is on sys.path when the script runs

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / ".out"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def nginx_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


def start_deployment(replicas: int, workdir: Path) -> tuple[subprocess.Popen, str, list[int], int]:
    """(process, proxy url, replica pids, nginx pid) of run_replicas.py once it is ready."""
    port, first = free_ports(1), free_ports(replicas)
    proc = subprocess.Popen([sys.executable, str(REPO / "deploy" / "run_replicas.py"), "--replicas", str(replicas),
                             "--port", str(port), "--first-replica-port", str(first), "--workdir", str(workdir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, deadline = [], time.monotonic() + 180
    while not lines or not lines[-1].startswith("ready: "):
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            stop_deployment(proc)
            raise RuntimeError(f"run_replicas.py did not get ready: {lines}")
        lines.append(line.rstrip())
    replica_pids = [int(m.group(1)) for line in lines for m in [re.match(r"replica \d+: pid (\d+)", line)] if m]
    nginx = next(int(m.group(1)) for line in lines for m in [re.match(r"nginx: pid (\d+)", line)] if m)
    return proc, f"http://127.0.0.1:{port}", replica_pids, nginx


def stop_deployment(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicas", default="1,2", help="comma-separated replica counts (default 1,2)")
    ap.add_argument("--viewers", default="10,50,100,200")
    ap.add_argument("--duration", default="40", help="hall.py's steady window per hall, s")
    ap.add_argument("hall_args", nargs="*", help="after --: more bench/hall.py options")
    args = ap.parse_args()
    for replicas in map(int, args.replicas.split(",")):
        proc, url, pids, nginx = start_deployment(replicas, OUT / f"deploy-{replicas}")
        try:
            proxy_pids = nginx_pids(nginx)
            proxy_cpu = cpu_seconds(proxy_pids)
            print(f"\n### {replicas} replica(s) behind nginx ({url})\n", flush=True)
            subprocess.run([sys.executable, str(REPO / "bench" / "hall.py"), "--url", url,
                            *[a for pid in pids for a in ("--server-pid", str(pid))],
                            "--viewers", args.viewers, "--duration", args.duration,
                            "--out", str(OUT / f"hall-replicas-{replicas}.json"), *args.hall_args],
                           cwd=REPO, check=True, timeout=3600)
            print(f"\nnginx CPU over all halls: {cpu_seconds(proxy_pids) - proxy_cpu:.1f} s", flush=True)
        finally:
            stop_deployment(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
