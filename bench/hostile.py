"""What one hostile link or file can cost the server: CPU per rerun, and memory per session.

    .venv/bin/python bench/hostile.py [--sessions 50] [--only cpu|memory]

CPU: every page opened with each of a set of worst-case links (largest sizes, every list at
its cap, costliest options), each on empty caches, in Streamlit's AppTest (the script runs in
this process, so `time.process_time` counts every thread's CPU the rerun caused, the browser's
drawing excluded). Prints the worst link per page; the goal is a few seconds at most.

Memory: `--sessions` sessions each open the Model page and upload their own weights of the
largest model (D = 64, H = 256, O = 64, ~100k entries, each a hand edit); the process's
resident memory (VmRSS) is sampled as sessions are added and after they are all closed, for
`--waves` waves: flat memory means the second wave costs no more than the first. (AppTest
keeps each session's element tree, which a real server sends and drops: an upper bound.)
Prints Markdown tables; raw numbers go to bench/.out/hostile.json.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

import rnn_core as rc  # noqa: E402
from ui.weights_io import to_npz_bytes  # noqa: E402

APP = str(ROOT / "app.py")
OUT = ROOT / "bench" / ".out"
BIG = {"T": 500, "H": 256, "D": 64, "O": 64}
RADII = ",".join(str(r) for r in (0.25, 0.5, 0.75, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 5.0))
LINKS = {
    "views/home.py": [BIG],
    "views/graph.py": [
        BIG, {**BIG, "activation": "relu", "rho": 5}, {**BIG, "g_source": 250, "g_split": 1, "g_window": 30},
        {**BIG, "truncation": "k_step", "trunc_k": 499, "g_start": 470}],
    "views/vanishing.py": [
        {**BIG, "v_section": "all"},
        {**BIG, "v_section": "all", "v_radii": RADII, "v_acts": "tanh,relu,sigmoid,identity",
         "truncation": "k_step", "trunc_k": 499},
        {**BIG, "v_section": "pairs", "v_norm": "fro", "activation": "relu", "rho": 5},
        {**BIG, "v_radii": ",".join(str(0.01 * i) for i in range(1, 49)), "v_section": "sweeps"}],
    "views/model.py": [BIG, {**BIG, "activation": "relu", "rho": 5, "presentation": 1}],
    "views/derivation.py": [
        {**BIG, "d_all": 1, "d_step": 1}, {**BIG, "d_stage": "double_sum", "d_step": 500},
        {**BIG, "loss": "mse", "reduction": "mean", "d_all": 1, "activation": "relu", "rho": 5}],
    "views/training.py": [
        {**BIG, "tr_view": "truncation", "tr_batch": 128, "truncation": "k_step", "trunc_k": 499},
        {**BIG, "tr_view": "clipping", "tr_batch": 128, "tr_task": "copy"},
        {"T": 500, "H": 8, "tr_batch": 128, "tr_task": "sine", "truncation": "k_step", "trunc_k": 499,
         "tr_steps": 2000}],
}
# The same worst cases for the gated cells (an LSTM step is ~4x the vanilla one's work)
GATED_LINKS = {
    "views/graph.py": [{**BIG, "cell": "lstm", "g_source": 250, "g_split": 1, "g_window": 30},
                       {**BIG, "cell": "gru", "truncation": "k_step", "trunc_k": 499}],
    "views/vanishing.py": [{**BIG, "cell": "lstm", "v_section": "all", "v_norm": "fro"},
                           {**BIG, "cell": "gru", "v_section": "cells", "truncation": "k_step", "trunc_k": 499}],
    "views/model.py": [{**BIG, "cell": "lstm", "presentation": 1}, {**BIG, "cell": "gru"}],
    "views/derivation.py": [{**BIG, "cell": "lstm", "d_all": 1, "d_step": 1},
                            {**BIG, "cell": "gru", "d_stage": "double_sum", "d_step": 500}],
    "views/training.py": [
        {**BIG, "cell": "lstm", "tr_view": "cells", "tr_task": "copy", "tr_batch": 128, "tr_steps": 2000},
        {**BIG, "cell": "lstm", "tr_view": "truncation", "tr_batch": 128, "truncation": "k_step", "trunc_k": 499},
        {**BIG, "cell": "gru", "tr_view": "clipping", "tr_batch": 128, "tr_task": "copy"}],
}
for page, links in GATED_LINKS.items():
    LINKS[page] += links


def cpu_of_link(page: str, query: dict) -> tuple[float, float, bool]:
    """(CPU s, wall s, raised) of opening `page` with `query` on empty caches."""
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=600)
    for key, value in query.items():
        at.query_params[key] = str(value)
    at.run()
    cpu, wall = time.process_time(), time.perf_counter()
    at.switch_page(page).run()
    return time.process_time() - cpu, time.perf_counter() - wall, bool(at.exception)


def measure_cpu() -> list[dict]:
    rows = []
    for page, links in LINKS.items():
        for query in links:
            cpu, wall, raised = cpu_of_link(page, query)
            rows.append({"page": page, "query": query, "cpu_s": cpu, "wall_s": wall, "raised": raised})
            print(f"{page:22s} cpu {cpu:6.2f} s  wall {wall:6.2f} s  {'RAISED ' if raised else ''}{query}",
                  file=sys.stderr)
    return rows


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def session_with_upload(seed: int) -> AppTest:
    """A session on the Model page that uploaded its own weights of the largest model."""
    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    at.switch_page("views/model.py").run()
    weights = to_npz_bytes(rc.init_params(64, 256, 64, seed=seed))
    at.file_uploader(key="weights_upload").set_value((f"w{seed}.npz", weights, "application/octet-stream"))
    at.run()
    assert at.session_state["_config"].H == 256 and len(at.session_state["_config"].edits) > 90_000
    return at


def measure_memory(sessions: int, waves: int) -> list[dict]:
    """RSS as waves of `sessions` sessions (each with different weights) open and close."""
    samples = [{"wave": 0, "sessions": 0, "rss_mb": rss_mb()}]
    for wave in range(1, waves + 1):
        open_sessions = []
        for i in range(1, sessions + 1):
            open_sessions.append(session_with_upload(seed=wave * 1000 + i))
            if i % 10 == 0 or i == 1:
                gc.collect()
                samples.append({"wave": wave, "sessions": i, "rss_mb": rss_mb()})
                print(f"wave {wave}, {i} sessions: {samples[-1]['rss_mb']:.0f} MB", file=sys.stderr)
        open_sessions.clear()
        gc.collect()
        samples.append({"wave": wave, "sessions": "all closed", "rss_mb": rss_mb()})
    return samples


def print_cpu(rows: list[dict]) -> None:
    print("| page | worst CPU per rerun (s) | its wall time (s) | the link | links tried |")
    print("| --- | --- | --- | --- | --- |")
    for page in LINKS:
        mine = [r for r in rows if r["page"] == page]
        worst = max(mine, key=lambda r: r["cpu_s"])
        link = "&".join(f"{k}={v}" for k, v in worst["query"].items())
        flag = " (raised!)" if any(r["raised"] for r in mine) else ""
        print(f"| {page} | {worst['cpu_s']:.2f}{flag} | {worst['wall_s']:.2f} | `{link[:90]}` | {len(mine)} |")


def print_memory(samples: list[dict]) -> None:
    print("\n| wave | sessions holding an upload of the largest model | process RSS (MB) |")
    print("| --- | --- | --- |")
    for s in samples:
        print(f"| {s['wave']} | {s['sessions']} | {s['rss_mb']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--waves", type=int, default=2, help="open and close the sessions this many times")
    parser.add_argument("--only", choices=("cpu", "memory"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    result = {}
    if args.only != "memory":
        result["cpu"] = measure_cpu()
        print_cpu(result["cpu"])
    if args.only != "cpu":
        result["memory"] = measure_memory(args.sessions, args.waves)
        print_memory(result["memory"])
    (OUT / "hostile.json").write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
