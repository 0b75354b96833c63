"""Speed of rnn_core against PyTorch on CPU (float64): prints Markdown tables of time ratios.

    .venv/bin/python bench/engine.py            # after: pip install -r requirements-bench.txt

Each side runs in its own worker process (bench/_numpy_side.py, bench/_torch_side.py), asked
in turn, round after round, so both see the same machine load; a contender's time is its best
call over all rounds. Both sides run on one thread (OPENBLAS_NUM_THREADS=1 for NumPy,
torch.set_num_threads(1)): PyTorch is fastest so here, and on this shared 2-core machine
multithreaded BLAS slows small products down many times over when the other core is busy.
`--default-threads` adds both libraries with their default thread counts, for reference.
PyTorch's time is the faster of a step loop under autograd and the fused module: torch.nn.RNN
for the vanilla cell, torch.nn.LSTM and torch.nn.GRU for the gated cells (issue 18). nn.GRU is
the reset-after form (r_t * (W_hh h_{t-1}), cuDNN's), not DESIGN.md's (W_hh (r_t * h_{t-1})):
the same matrix products, a different function; it is timed, and our GRU is checked against
the loop, which is written from DESIGN.md's equations.
Every case first checks once that both sides computed the same loss and gradients (or norms;
for the gated cells also dL/dh0 and dL/dc0), so a ratio compares equal work. Besides wall-clock time the workers record CPU time, which
hardly moves when other processes load the machine: its ratio is the load-robust cross-check.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from _engine_cases import BPTT_SIZES, all_cases, case_name, flops

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NOMINAL_PEAK = 75.0        # GFLOP/s: float64 matmul peak of this machine's 2 cores
FLOP_TARGET = 2.5          # our largest BPTT should take at most this multiple of its peak time
PEAK_N = 3000              # size of the np.matmul that measures the actual peak
PAUSE = 0.1                # s between requests: lets the last worker's BLAS threads go to sleep
CASE_BUDGET = 40.0         # s: fewer rounds (at least 2) for a case whose round takes long
CHECK_RTOL = {"bptt": 1e-9, "lstm": 1e-9, "gru": 1e-9, "jac": 1e-8}
CELLS = {"bptt": "vanilla (tanh)", "lstm": "LSTM", "gru": "GRU"}
# One-thread torch contenders per kind: (label, variant, compared with our numbers).
TORCH_VARIANTS = {
    "bptt": [("torch loop", "loop", True), ("torch nn.RNN", "fused", True)],
    "lstm": [("torch loop", "lstm_loop", True), ("torch nn.LSTM", "lstm_fused", True)],
    "gru": [("torch loop", "gru_loop", True), ("torch nn.GRU", "gru_fused", False)],   # reset-after
    "jac": [("torch", "cumprod", True)],
}
OURS = {"bptt": "bptt", "lstm": "lstm", "gru": "gru", "jac": "norms"}
# glibc settings that keep freed memory in the process: no fresh pages to fault in and zero on
# every call (bptt returns ~240 MB of arrays at the largest size). Given to every worker alike.
ENGINE_PATH: list[str] = []  # set by --engine: where the NumPy worker finds rnn_core first
KEEP_FREED_MEMORY = {"MALLOC_TRIM_THRESHOLD_": str(4 << 30), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}


class Worker:
    """One worker process, spoken to in JSON lines."""

    def __init__(self, label: str, script: str, *args: str, env: dict[str, str]):
        # --engine DIR puts DIR first, so the NumPy worker imports the rnn_core found there
        paths = os.pathsep.join([*ENGINE_PATH, str(ROOT), str(BENCH)])
        self.label = label
        env = {**os.environ, "PYTHONPATH": paths, **env}
        self.proc = subprocess.Popen([sys.executable, str(BENCH / script), *args], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.label} died (see its traceback above)")
        time.sleep(PAUSE)
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def start_workers(default_threads: bool, env: dict[str, str]) -> dict[str, Worker]:
    """The one-thread workers (and the default-thread ones); env is given to all of them."""
    one_thread = {**env, "OPENBLAS_NUM_THREADS": "1"}
    workers = {"numpy1": Worker("numpy1", "_numpy_side.py", env=one_thread),
               "torch1": Worker("torch1", "_torch_side.py", "1", env=env)}
    if default_threads:
        workers["numpyN"] = Worker("numpyN", "_numpy_side.py", env=env)
        workers["torchN"] = Worker("torchN", "_torch_side.py", "default", env=env)
    return workers


@dataclass
class Contender:
    label: str
    worker: str
    variant: str
    checked: bool = True          # False: computes another function (nn.GRU), timed only
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def contenders(kind: str, default_threads: bool) -> list[Contender]:
    """ours first; labels without "*" are the one-thread contenders the ratios use."""
    ours, torch_variants = OURS[kind], TORCH_VARIANTS[kind]
    found = [Contender("ours", "numpy1", ours)]
    found += [Contender(label, "torch1", variant, checked) for label, variant, checked in torch_variants]
    if default_threads:
        found.append(Contender("ours*", "numpyN", ours))
        found += [Contender(label + "*", "torchN", variant, checked)
                  for label, variant, checked in torch_variants]
    return found


def max_relative_difference(ours: dict, theirs: dict, kind: str) -> float:
    """bptt: max over arrays of max|a - b| / max|b|; jac: max over k of |a_k - b_k| / |b_k|."""
    worst = 0.0
    for name, ref in theirs.items():
        diff = np.abs(ours[name] - ref)
        scale = np.abs(ref) if kind == "jac" else np.max(np.abs(ref))
        worst = max(worst, float(np.max(diff / np.maximum(scale, np.finfo(float).tiny))))
    return worst


def check_equal_work(case: dict, cons: list[Contender], workers: dict[str, Worker], tmp: Path) -> float:
    """Every contender that computes our function does the case once; the largest difference of
    any from ours, over every array it returns (loss, parameter gradients, dL/dh0, dL/dc0)."""
    results = []
    for i, con in enumerate(c for c in cons if c.checked):
        path = tmp / f"{i}.npz"
        workers[con.worker].ask(op="check", case=case, variant=con.variant, path=str(path))
        with np.load(path) as data:
            results.append(dict(data))
    return max(max_relative_difference(results[0], theirs, case["kind"]) for theirs in results[1:])


def time_case(case: dict, cons: list[Contender], workers: dict[str, Worker], rounds: int,
              seconds: float) -> int:
    """Round after round, every contender in turn (order reversed every other round).

    Returns the number of rounds run: fewer than asked (at least 2) if they would exceed CASE_BUDGET.
    """
    r = 0
    while r < rounds:
        started = time.perf_counter()
        for con in (cons if r % 2 == 0 else cons[::-1]):
            reply = workers[con.worker].ask(op="time", case=case, variant=con.variant,
                                            seconds=seconds, max_calls=200)
            con.wall += reply["wall"]
            con.cpu += reply["cpu"]
        r += 1
        if r == 1:
            rounds = max(2, min(rounds, int(CASE_BUDGET / (time.perf_counter() - started))))
    return rounds


@dataclass
class Row:
    case: dict
    cons: list[Contender]
    difference: float
    rounds: int

    def best(self, label: str, clock: str = "wall") -> float:
        return min(getattr(next(c for c in self.cons if c.label == label), clock))

    def torch_best(self, clock: str = "wall", default_threads: bool = False) -> float:
        """The faster torch variant, one-thread (or default-thread, labels ending in "*")."""
        return min(self.best(c.label, clock) for c in self.cons
                   if c.label.startswith("torch") and c.label.endswith("*") == default_threads)

    def ratio(self, clock: str = "wall") -> float:
        return self.best("ours", clock) / self.torch_best(clock)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}" if seconds < 1 else f"{seconds * 1e3:.0f}"


def verdict(value: float, target: float) -> str:
    return "yes" if value <= target else "**NO**"


def shape(case: dict) -> str:
    return "({T}, {H}, {B}, {D}, {O})".format(**case)


def bptt_table(rows: list[Row]) -> list[str]:
    lines = ["| (T, H, B, D, O) | ours ms | torch loop ms | torch nn.RNN ms | **ours / torch** | target "
             "| met | CPU-time ratio | max rel. diff | rounds |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        c = row.case
        lines.append(f"| ({c['T']}, {c['H']}, {c['B']}, {c['D']}, {c['O']}) | {ms(row.best('ours'))} "
                     f"| {ms(row.best('torch loop'))} | {ms(row.best('torch nn.RNN'))} "
                     f"| **{row.ratio():.2f}** | <= {c['target']} | {verdict(row.ratio(), c['target'])} "
                     f"| {row.ratio('cpu'):.2f} | {row.difference:.0e} | {row.rounds} |")
    return lines


def gated_table(rows: list[Row]) -> list[str]:
    """LSTM and GRU rows: ours against the faster of the autograd loop and the fused module."""
    lines = ["| cell | (T, H, B, D, O) | ours ms | torch loop ms | torch fused ms | **ours / torch** | target "
             "| met | CPU-time ratio | max rel. diff (vs) | rounds |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        c = row.case
        fused = next(con for con in row.cons if con.label.startswith("torch nn."))
        mark = "" if fused.checked else " (reset-after)"
        against = ", ".join(con.label.removeprefix("torch ") for con in row.cons[1:]
                            if con.checked and not con.label.endswith("*"))
        lines.append(f"| {CELLS[c['kind']]} | {shape(c)} | {ms(row.best('ours'))} | {ms(row.best('torch loop'))} "
                     f"| {ms(row.best(fused.label))} {fused.label.removeprefix('torch ')}{mark} "
                     f"| **{row.ratio():.2f}** | <= {c['target']} | {verdict(row.ratio(), c['target'])} "
                     f"| {row.ratio('cpu'):.2f} | {row.difference:.0e} ({against}) | {row.rounds} |")
    return lines


def jac_table(rows: list[Row]) -> list[str]:
    lines = ["| norm | (T, H) | ours ms | torch ms | **ours / torch** | target | met | CPU-time ratio "
             "| max rel. diff | rounds |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        c = row.case
        norm = "Frobenius" if c["ord"] == "fro" else "spectral"
        lines.append(f"| {norm} | ({c['T']}, {c['H']}) | {ms(row.best('ours'))} | {ms(row.best('torch'))} "
                     f"| **{row.ratio():.2f}** | <= {c['target']} | {verdict(row.ratio(), c['target'])} "
                     f"| {row.ratio('cpu'):.2f} | {row.difference:.0e} | {row.rounds} |")
    return lines


def default_threads_table(rows: list[Row]) -> list[str]:
    lines = ["| case | ours ms | torch ms (faster variant) | ours / torch |", "|---|---|---|---|"]
    for row in rows:
        ours, torch = row.best("ours*"), row.torch_best(default_threads=True)
        lines.append(f"| {case_name(row.case)} | {ms(ours)} | {ms(torch)} | {ours / torch:.2f} |")
    return lines


ONE_THREAD_PEAKS = ("NumPy, 1 thread", "PyTorch, 1 thread")


def flop_lines(row: Row, peaks: dict[str, float]) -> list[str]:
    """The largest case's time against its FLOP time at the machine's one-thread matmul peak.

    The target is judged at the higher of the two one-thread peaks measured in this run (both
    contenders run on one thread): a machine-independent yardstick, unlike the nominal 75
    GFLOP/s the first figures used (still printed, for comparison with them).
    """
    c, n = row.case, flops(row.case)
    ours, torch = row.best("ours"), row.torch_best()
    one_thread = {k: v for k, v in peaks.items() if k in ONE_THREAD_PEAKS}
    peak_label, peak = max(one_thread.items(), key=lambda kv: kv[1])
    at_peak = n / (peak * 1e9)
    multiple = ours / at_peak
    at_nominal = n / (NOMINAL_PEAK * 1e9)
    lines = [f"Largest {CELLS[c['kind']]} BPTT, (T, H, B, D, O) = {shape(c)}: {n / 1e9:.2f} GFLOP of matrix "
             f"products (forward + backward; elementwise work not counted).",
             f"- at the machine's one-thread matmul peak, {peak:.1f} GFLOP/s ({peak_label}, measured in this "
             f"run): {ms(at_peak)} ms; ours ({ms(ours)} ms) is **{multiple:.2f}x** that (target <= "
             f"{FLOP_TARGET}x: {verdict(multiple, FLOP_TARGET)}); the faster torch ({ms(torch)} ms) "
             f"{torch / at_peak:.2f}x",
             f"- at the nominal {NOMINAL_PEAK:.0f} GFLOP/s of the first figures: {ms(at_nominal)} ms; ours is "
             f"{ours / at_nominal:.2f}x that"]
    others = ", ".join(f"{label} {gflops:.1f}" for label, gflops in peaks.items())
    lines.append(f"- peaks measured ({PEAK_N}x{PEAK_N} float64 product, best of 3), GFLOP/s: {others}")
    return lines


def measure_peaks(env: dict[str, str]) -> dict[str, float]:
    """The float64 matmul rate: NumPy with its default threads and with one, PyTorch with one."""
    peaks = {}
    for label, script, args, extra in (("NumPy, default threads", "_numpy_side.py", (), {}),
                                       ("NumPy, 1 thread", "_numpy_side.py", (), {"OPENBLAS_NUM_THREADS": "1"}),
                                       ("PyTorch, 1 thread", "_torch_side.py", ("1",), {})):
        worker = Worker("peak", script, *args, env={**env, **extra})
        try:
            peaks[label] = worker.ask(op="peak", n=PEAK_N, repeats=3)["gflops"]
        finally:
            worker.close()
    return peaks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per case (default 5)")
    parser.add_argument("--seconds", type=float, default=0.2,
                        help="time budget of one request: calls repeat until it is spent (default 0.2)")
    parser.add_argument("--only", nargs="+", choices=["bptt", "lstm", "gru", "jac"],
                        help="run these kinds of case only (bptt: the vanilla cell)")
    parser.add_argument("--default-threads", action="store_true",
                        help="also time both libraries with their default thread counts")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="run every worker with glibc keeping freed memory (%s)" %
                        " ".join(f"{k}={v}" for k, v in KEEP_FREED_MEMORY.items()))
    parser.add_argument("--engine", metavar="DIR",
                        help="import rnn_core from DIR/rnn_core (e.g. an exported older commit, "
                             "`git archive COMMIT rnn_core | tar -x -C DIR`) instead of the work tree's")
    args = parser.parse_args()
    if args.engine:
        ENGINE_PATH.append(str(Path(args.engine).resolve()))
    env = KEEP_FREED_MEMORY if args.keep_freed_memory else {}

    started, load_before = time.time(), os.getloadavg()
    peaks = measure_peaks(env)
    workers = start_workers(args.default_threads, env)
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for case in all_cases():
                if args.only and case["kind"] not in args.only:
                    continue
                print(f"{case_name(case)} ...", file=sys.stderr, flush=True)
                cons = contenders(case["kind"], args.default_threads)
                difference = check_equal_work(case, cons, workers, Path(tmp))
                rounds = time_case(case, cons, workers, args.rounds, args.seconds)
                rows.append(Row(case, cons, difference, rounds))
    finally:
        for worker in workers.values():
            worker.close()

    bptt_rows = [r for r in rows if r.case["kind"] == "bptt"]
    gated_rows = [r for r in rows if r.case["kind"] in ("lstm", "gru")]
    jac_rows = [r for r in rows if r.case["kind"] == "jac"]
    failed = [r for r in rows if r.difference > CHECK_RTOL[r.case["kind"]]]
    out = [f"{time.strftime('%Y-%m-%d %H:%M')}, {time.time() - started:.0f} s; {os.cpu_count()} cores "
           f"({platform.machine()}); load average (1 min) before/after {load_before[0]:.1f}/"
           f"{os.getloadavg()[0]:.1f}; Python {platform.python_version()}, numpy {np.__version__}, "
           f"torch {version('torch')}; best call of each contender over the rounds"
           f"{'; glibc keeping freed memory' if args.keep_freed_memory else ''}"
           f"{f'; rnn_core from {args.engine}' if args.engine else ''}.", ""]
    if bptt_rows:
        out += ["Full BPTT forward + backward (tanh, softmax_ce, reduction 'sum'), one thread each; "
                "ratio against the faster torch variant:", ""] + bptt_table(bptt_rows) + [""]
        if bptt_rows[-1].case["T"] == max(r.case["T"] for r in bptt_rows):
            out += flop_lines(bptt_rows[-1], peaks) + [""]
    if gated_rows:
        out += ["LSTM and GRU full BPTT (softmax_ce, reduction 'sum', h0 given and for the LSTM c0), one "
                "thread each; ratio against the faster torch variant. The loops are autograd over "
                "DESIGN.md's equations; nn.GRU is PyTorch's reset-after GRU (r_t * (W_hh h_{t-1}) "
                "instead of W_hh (r_t * h_{t-1})): the same matrix products, another function, so it "
                "is timed but our GRU is checked against the loop only.", ""]
        out += gated_table(gated_rows) + [""]
        for kind in ("lstm", "gru"):
            largest = [r for r in gated_rows if r.case["kind"] == kind and r.case["T"] == max(BPTT_SIZES)[0]]
            out += (flop_lines(largest[0], peaks) + [""]) if largest else []
    if jac_rows:
        out += [f"All-k ||dh_T/dh_k|| (tanh, one sequence, D = {jac_rows[0].case['D']}), one thread each:", ""]
        out += jac_table(jac_rows) + [""]
    if args.default_threads:
        out += ["With each library's default thread count (for reference):", ""]
        out += default_threads_table(rows) + [""]
    for row in failed:
        out.append(f"**EQUAL-WORK CHECK FAILED** for {case_name(row.case)}: max relative difference "
                   f"{row.difference:.1e} > {CHECK_RTOL[row.case['kind']]:.0e}")
    print("\n".join(out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
