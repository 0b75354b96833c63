"""A lecture hall on one link: many simulated viewers on one server, measured.

    .venv/bin/python bench/hall.py [--viewers 10,50,100,200] [--duration 60] [--link /vanishing]
                                   [--think 4] [--url http://host:port --server-pid PID ...] [--quick]

Each viewer is a websocket client speaking Streamlit's own protocol (bench/_hall_viewer.py: a
BackMsg per widget change, the ForwardMsgs of the rerun back; no browser, nothing drawn). All
of a hall's viewers open the same share link at once, wait for their first run, then each moves
the sidebar's spectral radius (widget key cfg_rho) to its own values (random on the 0.05 grid
of [0.5, 1.5]) every `--think` seconds on average (uniform 0.5x-1.5x jitter); a viewer whose
rerun has not ended yet waits for it before its next move, as a student waits for the chart.
Every change is timed from sending it to its rerun's script_finished.

Once every viewer has opened (or the opening deadline passed), a steady window of `--duration`
seconds starts; the table counts the changes sent inside it: reruns/s sustained (changes whose
rerun ended / window), p50/p95/p99 change-to-rerun-end (a change past `--timeout` is an error
but still timed; one still not ended `--timeout` s after the window counts as "never"), errors (connect, disconnect, exception elements drawn by the app, compile
errors, timeouts, a URL that does not hold the value sent), the server's CPU per rerun and its
resident memory (/proc/<pid>), and the load average. The reference is one viewer alone on the
same page, measured first in the same run ("p50 / alone").

Without --url each hall gets a fresh `streamlit run app.py` on loopback (tests/e2e/server.py),
stopped at its end; with --url the halls go to that server (or proxy), and --server-pid names
the processes whose CPU and memory to sample (summed). Everything is bounded: the opening
deadline, the window, and `--timeout` per change. Prints Markdown tables; raw numbers go to
bench/.out/hall.json. --quick (CI): 3 viewers for 10 s on an own server, no reference; exits
non-zero if a viewer never got its first run or saw any error. --profile: the own server
samples its threads' CPU by Python stack (bench/_hall_server), and each hall prints the CPU
per rerun by phase (bench/_hall_phases.py: script, plotly, protobuf, websocket, caches).
--bare 50,200: halls on bench/bare_app.py (one slider, one chart) too, the floor Streamlit
itself sets for a rerun's CPU. --env NAME=VALUE: an environment variable for the own server,
e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=true to measure Streamlit's default against
.streamlit/config.toml.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import _hall_phases  # noqa: E402
from _hall_viewer import Viewer, ViewerLog  # noqa: E402
from tests.e2e.server import streamlit_server  # noqa: E402

OUT = ROOT / "bench" / ".out"
KEY, PARAM, DEFAULT_RHO = "cfg_rho", "rho", 0.9       # ui/config.py: rho's default
# The reference: bench/bare_app.py, one slider (key "rho", not in its URL) and one plotly chart,
# the floor that Streamlit itself sets for a rerun's CPU.
BARE = {"script": "bench/bare_app.py", "link": "/", "key": "rho", "param": None}
RHO_VALUES = [round(0.5 + 0.05 * k, 2) for k in range(21)]
SAMPLE_EVERY = 0.5                                     # s between CPU/memory samples
TICKS = os.sysconf("SC_CLK_TCK")


class Window:
    """The steady window: moves stop at stop_at (inf until every viewer has opened)."""
    start = math.inf
    stop_at = math.inf


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (/proc/<pid>/stat fields 14, 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


async def sample_server(pids: list[int], samples: list[tuple[float, float, float]], stop: asyncio.Event) -> None:
    """Append (time, summed RSS MB, summed CPU s) of `pids` every SAMPLE_EVERY s until `stop`
    (nothing without pids: a server given by --url alone)."""
    while pids:
        try:
            samples.append((time.monotonic(), sum(map(rss_mb, pids)), sum(map(cpu_seconds, pids))))
        except OSError:
            return                                     # a server process has gone
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
            return
        except asyncio.TimeoutError:
            pass


def ws_url(url: str) -> str:
    parts = urlsplit(url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream"


async def run_hall(url: str, pids: list[int], viewers: int, link: str, *, duration: float, think: float,
                   timeout: float, seed: int, key: str = KEY, param: str | None = PARAM) -> dict:
    """One hall: `viewers` viewers on `url` + `link`; returns the raw measurements."""
    path, _, query = link.partition("?")
    window = Window()
    hall = [Viewer(i, ws_url(url), path.strip("/"), query, key=key, param=param, values=RHO_VALUES,
                   default=DEFAULT_RHO, think=think, timeout=timeout, seed=seed * 100_003 + i)
            for i in range(viewers)]
    samples: list[tuple[float, float, float]] = []
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_server(pids, samples, stop_sampling))
    start, client_cpu = time.monotonic(), time.process_time()
    open_deadline = start + max(60.0, 1.0 * viewers)
    tasks = [asyncio.create_task(v.run(window, open_deadline)) for v in hall]
    while time.monotonic() < open_deadline and not all(v.log.opened_at or v.log.errors for v in hall):
        await asyncio.sleep(0.2)
    window.start = time.monotonic()
    window.stop_at = window.start + duration
    logs: list[ViewerLog] = await asyncio.gather(*tasks)
    end = time.monotonic()
    stop_sampling.set()
    await sampler
    return {"viewers": viewers, "link": link, "url": url, "duration": duration, "think": think,
            "timeout": timeout, "start": start, "window": [window.start, window.stop_at], "end": end,
            "client_cpu_s": time.process_time() - client_cpu, "load_average": load_average(),
            "samples": samples, "logs": [asdict(log) for log in logs]}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; inf entries (changes that never ended) count as slowest."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def summarise(raw: dict) -> dict:
    """The table's numbers of one hall."""
    w0, w1 = raw["window"]
    steady = [c for log in raw["logs"] for c in log["changes"] if w0 <= c["sent"] < w1]
    seconds = [math.inf if c["ended"] is None else c["ended"] - c["sent"] for c in steady]
    errors: dict[str, int] = {}
    for log in raw["logs"]:
        for kind, _, _ in log["errors"]:
            errors[kind] = errors.get(kind, 0) + 1
    opens = [log["open_seconds"] for log in raw["logs"] if log["open_seconds"] is not None]
    samples = raw["samples"]
    runs = sum(log["runs"] for log in raw["logs"])
    cpu = samples[-1][2] - samples[0][2] if len(samples) > 1 else math.nan
    return {
        "viewers": raw["viewers"], "link": raw["link"],
        "opened": len(opens), "never_opened": raw["viewers"] - len(opens),
        "changes": len(steady), "ended": sum(math.isfinite(s) for s in seconds),
        "reruns_per_s": sum(math.isfinite(s) for s in seconds) / (w1 - w0),
        "p50": percentile(seconds, 50), "p95": percentile(seconds, 95), "p99": percentile(seconds, 99),
        "open_p50": percentile(opens, 50), "open_p95": percentile(opens, 95),
        "errors": errors, "runs": runs,
        "cpu_ms_per_run": 1000 * cpu / runs if runs else math.nan,
        "server_cpu_share": cpu / (samples[-1][0] - samples[0][0]) if len(samples) > 1 else math.nan,
        "rss_start": samples[0][1] if samples else math.nan,
        "rss_max": max(s[1] for s in samples) if samples else math.nan,
        "client_cpu_s": raw["client_cpu_s"], "load_average": raw["load_average"],
    }


PROFILE_OUT = OUT / f"hall-profile-{os.getpid()}.json"  # one per bench process: halls may run side by side
HOOKS = str(ROOT / "bench" / "_hall_server")          # its sitecustomize.py


@contextmanager
def server_for(args, script: str = "app.py"):
    """(url, pids): the given server, or a fresh `streamlit run <script>` on loopback (sampled
    by bench/_hall_server with --profile)."""
    if args.url:
        yield args.url, args.server_pid
        return
    env = dict(item.split("=", 1) for item in args.env)
    if args.profile:
        env.update(PYTHONPATH=HOOKS, HALL_PROFILE_OUT=str(PROFILE_OUT))
    with streamlit_server(script, log_dir=OUT, name="hall", env=env) as (url, pid):
        yield url, [pid]


def measure(args, viewers: int, link: str, duration: float, think: float, *, bare: bool = False) -> dict:
    PROFILE_OUT.unlink(missing_ok=True)
    app = BARE if bare else {"script": "app.py", "link": link, "key": KEY, "param": PARAM}
    with server_for(args, app["script"]) as (url, pids):
        raw = asyncio.run(run_hall(url, pids, viewers, app["link"], duration=duration, think=think,
                                   timeout=args.timeout, seed=args.seed, key=app["key"], param=app["param"]))
        time.sleep(2.5 if args.profile else 0)           # the profiler's last write
    raw["app"] = app["script"]
    summary = summarise(raw)
    summary["app"] = app["script"]
    if args.profile:
        raw["profile"] = json.loads(PROFILE_OUT.read_text())
        PROFILE_OUT.unlink()
        print_profile(raw["profile"], summary)
    print(f"  {app['script']} {app['link']} x {viewers}: {summary['ended']}/{summary['changes']} changes ended, "
          f"p95 {summary['p95']:.2f} s, errors {summary['errors'] or 0}", file=sys.stderr, flush=True)
    return {"summary": summary, "raw": raw}


def print_profile(totals: dict[str, float], summary: dict) -> None:
    """Where the server's CPU went during one hall, per rerun (bench/_hall_phases.py)."""
    runs = summary["runs"]
    print(f"\nServer CPU by phase, `{summary['link']}` x {summary['viewers']} viewers, {runs} script runs "
          f"(sampled: bench/_hall_server):\n")
    print(_hall_phases.table(totals, runs))
    for thread in ("script thread", "event loop"):
        print(f"\nInnermost frames on the {thread} (ms per rerun, < its caller):\n")
        for frame, seconds in _hall_phases.top_leaves(totals, thread):
            frame = frame.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
            print(f"- {1000 * seconds / runs:6.1f}  {frame}")
    print()


def _s(x: float) -> str:
    return "never" if math.isinf(x) else "-" if math.isnan(x) else f"{x:.2f}"


def _n(x: float, spec: str) -> str:
    """A measured number, or "-" where nothing was sampled (--url without --server-pid)."""
    return "-" if math.isnan(x) else format(x, spec)


def _errors(errors: dict[str, int]) -> str:
    if not errors:
        return "0"
    return f"{sum(errors.values())} (" + ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) + ")"


def table(rows: list[dict], alone: dict[str, float]) -> str:
    head = ("| page link | viewers | changes in window | reruns/s | p50 s | p95 s | p99 s | p50 / alone "
            "| first run p50 / p95 s | errors | server CPU ms per run | server CPU cores | RSS start -> max MB "
            "| bench CPU s | load avg |\n" + "| --- " + "| ---: " * 14 + "|")
    lines = [head]
    for r in rows:
        ref = alone.get(r["link"])
        ratio = f"{r['p50'] / ref:.1f}" if ref and math.isfinite(r["p50"]) else "-"
        page = "bare page (bench/bare_app.py)" if r.get("app") == BARE["script"] else f"`{r['link']}`"
        lines.append(
            f"| {page} | {r['viewers']} | {r['changes']} | {r['reruns_per_s']:.2f} | {_s(r['p50'])} "
            f"| {_s(r['p95'])} | {_s(r['p99'])} | {ratio} | {_s(r['open_p50'])} / {_s(r['open_p95'])} "
            f"| {_errors(r['errors'])} | {_n(r['cpu_ms_per_run'], '.0f')} | {_n(r['server_cpu_share'], '.2f')} "
            f"| {_n(r['rss_start'], '.0f')} -> {_n(r['rss_max'], '.0f')} | {r['client_cpu_s']:.0f} "
            f"| {r['load_average']:.1f} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--viewers", default="10,50,100,200", help="comma-separated viewer counts")
    ap.add_argument("--duration", type=float, default=60.0, help="steady window per hall, s")
    ap.add_argument("--think", type=float, default=4.0, help="mean seconds between a viewer's moves")
    ap.add_argument("--timeout", type=float, default=30.0, help="a change's rerun must end within this, s")
    ap.add_argument("--link", action="append", help="share link(s) to open (default /vanishing)")
    ap.add_argument("--url", help="an existing server or proxy (default: a fresh server per hall)")
    ap.add_argument("--server-pid", type=int, action="append", default=[],
                    help="with --url: a server process to sample for CPU and memory (repeatable)")
    ap.add_argument("--no-reference", action="store_true", help="skip the one-viewer-alone reference")
    ap.add_argument("--bare", default="", help="comma-separated viewer counts for halls on the bare page too "
                                              "(bench/bare_app.py, own server only)")
    ap.add_argument("--quick", action="store_true", help="CI: 3 viewers, 10 s, strict")
    ap.add_argument("--profile", action="store_true",
                    help="sample the own server's CPU by phase (bench/_hall_server) and print where it went")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="own server: an environment variable, e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=false")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT / "hall.json")
    args = ap.parse_args(argv)
    if (args.profile or args.env) and args.url:
        ap.error("--profile and --env change an own server: leave out --url")
    if args.quick:
        args.viewers, args.duration, args.think, args.no_reference = "3", 10.0, 2.0, True
    args.links = args.link or ["/vanishing"]
    args.counts = [int(n) for n in args.viewers.split(",")]
    args.bare_counts = [int(n) for n in args.bare.split(",") if n]
    if args.bare_counts and args.url:
        ap.error("--bare starts its own server: leave out --url")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    alone: dict[str, float] = {}
    for link in args.links:
        if not args.no_reference:
            ref = measure(args, 1, link, duration=min(args.duration, 20.0), think=1.0)
            alone[link] = ref["summary"]["p50"]
            results.append({**ref, "reference": True})
        for count in args.counts:
            results.append(measure(args, count, link, duration=args.duration, think=args.think))
    for count in args.bare_counts:
        results.append(measure(args, count, "/", duration=args.duration, think=args.think, bare=True))
    rows = [r["summary"] for r in results]
    print(f"Halls on {args.url or 'a fresh loopback server each'}; think {args.think} s, window "
          f"{args.duration:.0f} s, timeout {args.timeout:.0f} s; {os.cpu_count()} cores; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n")
    print(table(rows, alone))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}))
    failed = [r for r in rows if r["never_opened"] or r["errors"]]
    return 1 if args.quick and failed else 0


if __name__ == "__main__":
    sys.exit(main())
