"""Why the engine's BPTT time moves between machines of one kind while PyTorch's hardly does.

    .venv/bin/python bench/variance.py                 # every section, about 2 minutes
    .venv/bin/python bench/variance.py --only memory   # one section: machine, gemm, memory, bptt, profile

Issue 18 reports `engine.py --only bptt` at 1.20 on one machine and 0.76 on another. This script
measures the suspects one by one, each side in its own process with one thread:
- machine: CPU, BLAS (threadpoolctl), NumPy, transparent huge pages, the guest's free page
  reporting (virtio-balloon: freed guest memory handed back to the host);
- gemm: the per-step products of the largest case ((B, H) by (H, H) and (H, 4H)) in both
  layouts of the weight, NumPy's OpenBLAS against PyTorch's MKL, and the long-K products of the
  parameter sums;
- memory: the time to touch a fresh 213 MB array (bptt's working block at the largest size)
  right after freeing one, and after an idle pause (when the host may have taken the freed
  pages back);
- profile: cProfile of the largest vanilla call, rnn_core's functions by cumulative time;
- bptt: one call of the largest vanilla case, back to back and after an idle pause, for ours
  (as it is: its working blocks reused since commit 678700a; with a fresh block every call, as
  before; and so without huge pages, refused with prctl) and PyTorch's two variants, with the
  page faults per call. `--engine DIR` times the rnn_core in DIR.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LARGEST = dict(kind="bptt", T=1000, H=128, B=32, D=32, O=32, target=1.0)
PAUSES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)
IDLE = 4.0          # s: an idle pause long enough for the guest to report freed pages


def minflt() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "n/a"


# -- sections run in a child process (one library each) -------------------------------------

def child_gemm(lib: str) -> list[str]:
    import numpy as np
    rng = np.random.default_rng(0)
    T, B, H, D = LARGEST["T"], LARGEST["B"], LARGEST["H"], LARGEST["D"]

    def rate(f, flop: float, n: int) -> tuple[float, float]:
        f()
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            best = min(best, (time.perf_counter() - t0) / n)
        return best * 1e6, flop / best / 1e9

    lines = []
    per_step = [(B, H, H), (B, H, 4 * H), (16, 64, 64), (16, 64, 4 * 64)]
    long_k = [(H, T * B, H), (H, T * B, D)]
    if lib == "numpy":
        for m, k, n in per_step:
            h, W = rng.standard_normal((m, k)), rng.standard_normal((n, k))
            out = np.empty((m, n))
            for name, right in (("W.T (F order)", W.T), ("C order", np.ascontiguousarray(W.T))):
                us, gf = rate(lambda: np.dot(h, right, out=out), 2 * m * k * n, 2000)
                lines.append(f"| NumPy (OpenBLAS) | ({m}x{k}) @ ({k}x{n}), weight {name} | {us:.2f} us | {gf:.0f} |")
        for m, k, n in long_k:
            a, b = rng.standard_normal((k, m)), rng.standard_normal((k, n))
            us, gf = rate(lambda: a.T @ b, 2 * m * k * n, 3)
            lines.append(f"| NumPy (OpenBLAS) | ({m}x{k}) @ ({k}x{n}), A.T of a C array | {us / 1e3:.2f} ms | {gf:.0f} |")
    else:
        import torch
        torch.set_num_threads(1)
        for m, k, n in per_step:
            h, W = (torch.from_numpy(rng.standard_normal(s)) for s in ((m, k), (n, k)))
            out = torch.empty(m, n, dtype=torch.float64)
            us, gf = rate(lambda: torch.mm(h, W.t(), out=out), 2 * m * k * n, 2000)
            lines.append(f"| PyTorch (MKL) | ({m}x{k}) @ ({k}x{n}), weight.t() | {us:.2f} us | {gf:.0f} |")
        for m, k, n in long_k:
            a, b = (torch.from_numpy(rng.standard_normal(s)) for s in ((k, m), (k, n)))
            us, gf = rate(lambda: a.t() @ b, 2 * m * k * n, 3)
            lines.append(f"| PyTorch (MKL) | ({m}x{k}) @ ({k}x{n}), a.t() | {us / 1e3:.2f} ms | {gf:.0f} |")
    return lines


def child_memory(trials: int = 3) -> list[str]:
    import numpy as np
    n = 213 * 2**20 // 8
    lines = []
    for pause in PAUSES:
        times, faults = [], 0
        for _ in range(trials):
            np.empty(n)[::512] = 1.0                # a fresh block, freed again: the pause follows a free
            time.sleep(pause)
            t0, f0 = time.perf_counter(), minflt()
            np.empty(n)[::512] = 1.0                # one write per 4 KB page
            times.append(time.perf_counter() - t0)
            faults = minflt() - f0
        times.sort()
        lines.append(f"| {pause:.1f} s | {times[0] * 1e3:.0f} / {times[len(times) // 2] * 1e3:.0f} / "
                     f"{times[-1] * 1e3:.0f} ms | {faults} | {213 / 1024 / times[len(times) // 2]:.1f} GB/s |")
    return lines


def child_bptt(side: str, pause: float, calls: int) -> dict:
    """Time `calls` calls of the largest vanilla case, each after `pause` s; best, median, faults."""
    if side == "ours, fresh blocks, no huge pages":
        assert ctypes.CDLL(None).prctl(41, 1, 0, 0, 0) == 0       # PR_SET_THP_DISABLE
    if side.startswith("ours"):
        import rnn_core as rc
        from rnn_core import _arrays
        from _engine_cases import model_inputs
        if "fresh" in side and hasattr(_arrays, "_POOLING"):
            _arrays._POOLING = False        # the engine's block pool off: a fresh block every call
        a = model_inputs(LARGEST)
        params = rc.Params(**{name: a[name] for name in rc.PARAM_NAMES})

        def run():
            return rc.bptt(params, a["xs"], a["ys"], activation="tanh", loss="softmax_ce", reduction="sum")
    else:
        import torch
        torch.set_num_threads(1)
        from _torch_side import PREPARE
        run, _ = PREPARE["loop" if side == "torch loop" else "fused"](LARGEST)
    run()
    wall, f0 = [], minflt()
    for _ in range(calls):
        time.sleep(pause)
        t0 = time.perf_counter()
        run()
        wall.append(time.perf_counter() - t0)
    wall.sort()
    return {"best": wall[0], "median": wall[len(wall) // 2], "faults": (minflt() - f0) / calls}


def child_profile(calls: int) -> list[str]:
    """cProfile of the largest vanilla bptt (the fastest of `calls`): rnn_core's functions by
    cumulative time, the phases issue 18 compared (forward, backward, parameter sums, ...)."""
    import cProfile
    import pstats
    import rnn_core as rc
    from _engine_cases import model_inputs
    a = model_inputs(LARGEST)
    params = rc.Params(**{name: a[name] for name in rc.PARAM_NAMES})

    def run():
        return rc.bptt(params, a["xs"], a["ys"], activation="tanh", loss="softmax_ce", reduction="sum")

    run()
    best = None
    for _ in range(calls):
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        run()
        prof.disable()
        wall = time.perf_counter() - t0
        if best is None or wall < best[0]:
            best = (wall, prof)
    stats = pstats.Stats(best[1]).stats
    rows = sorted(((ct, f"{Path(file).parent.name}/{Path(file).name}:{name}")
                   for (file, _, name), (_, _, _, ct, _) in stats.items()
                   if "rnn_core" in file and name not in ("bptt", "<listcomp>", "<genexpr>")), reverse=True)
    lines = [f"| whole call (profiled) | {best[0] * 1e3:.1f} ms |"]
    lines += [f"| {where} | {ct * 1e3:.1f} ms |" for ct, where in rows[:10]]
    return lines


# -- the parent ------------------------------------------------------------------------------

def spawn(*args: str, env: dict | None = None) -> str:
    paths = os.pathsep.join([*ENGINE_PATH, str(ROOT), str(BENCH)])
    full = {**os.environ, "PYTHONPATH": paths, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    done = subprocess.run([sys.executable, __file__, "--child", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, check=True)
    return done.stdout


ENGINE_PATH: list[str] = []


def machine() -> list[str]:
    info = json.loads(spawn("machine"))
    cpu = next((line.split(":", 1)[1].strip() for line in read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor())
    reporting = {name: read(f"/sys/module/page_reporting/parameters/{name}")
                 for name in ("page_reporting_order", "reported_kib")}
    return [f"- CPU: {cpu}, {os.cpu_count()} cores, {platform.machine()}; kernel {platform.release()}",
            f"- NumPy {info['numpy']}, BLAS {info['blas']}; PyTorch {info['torch']}",
            f"- transparent huge pages: {read('/sys/kernel/mm/transparent_hugepage/enabled')}; "
            f"free page reporting (virtio-balloon): "
            + ("on, order " + reporting["page_reporting_order"] + f" ({2 ** int(reporting['page_reporting_order']) * 4} kB "
               f"blocks), {int(reporting['reported_kib']) / 2**20:.1f} GB reported since boot"
               if reporting["reported_kib"] != "n/a" else "not seen"),
            f"- load average {os.getloadavg()[0]:.1f} at {time.strftime('%Y-%m-%d %H:%M')}"]


def child_machine() -> dict:
    import numpy as np
    from threadpoolctl import threadpool_info
    try:
        from importlib.metadata import version
        torch_version = version("torch")
    except Exception:
        torch_version = "not installed"
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernels, "
            f"{i.get('num_threads')} threads)" for i in threadpool_info() if i.get("user_api") == "blas"]
    return {"numpy": np.__version__, "blas": "; ".join(blas), "torch": torch_version}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=["machine", "gemm", "memory", "bptt", "profile"])
    parser.add_argument("--calls", type=int, default=5, help="calls per side and pause (default 5)")
    parser.add_argument("--engine", metavar="DIR", help="import rnn_core from DIR first")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what = args.child[0]
        if what == "machine":
            print(json.dumps(child_machine()))
        elif what == "gemm":
            print("\n".join(child_gemm(args.child[1])))
        elif what == "memory":
            print("\n".join(child_memory()))
        elif what == "profile":
            print("\n".join(child_profile(int(args.child[1]))))
        else:
            print(json.dumps(child_bptt(args.child[1], float(args.child[2]), int(args.child[3]))))
        return 0
    if args.engine:
        ENGINE_PATH.append(str(Path(args.engine).resolve()))
    only = set(args.only or ["machine", "gemm", "memory", "bptt", "profile"])
    out = []
    if "machine" in only:
        out += ["Machine:", ""] + machine() + [""]
    if "gemm" in only:
        out += ["Matrix products of the largest case, one thread, best of 5 batches:", "",
                "| library | product | time | GFLOP/s |", "|---|---|---|---|"]
        out += spawn("gemm", "numpy").splitlines() + spawn("gemm", "torch").splitlines() + [""]
    if "memory" in only:
        out += ["A fresh 213 MB np.empty (bptt's working block at the largest size) touched once per "
                "4 kB page, right after one was freed and after an idle pause (3 trials each):", "",
                "| pause | time best / median / worst | page faults | rate (median) |", "|---|---|---|---|"]
        out += spawn("memory").splitlines() + [""]
    if "bptt" in only:
        out += [f"Largest vanilla BPTT {tuple(LARGEST[k] for k in 'THBDO')}, one thread, {args.calls} calls "
                f"per row, back to back and each after an idle pause of {IDLE:.0f} s:", "",
                "| side | pause | best ms | median ms | page faults per call |", "|---|---|---|---|---|"]
        for side in ("ours", "ours, fresh blocks", "ours, fresh blocks, no huge pages", "torch loop",
                     "torch nn.RNN"):
            for pause in (0.0, IDLE):
                r = json.loads(spawn("bptt", side, str(pause), str(args.calls)))
                out.append(f"| {side} | {pause:.0f} s | {r['best'] * 1e3:.1f} | {r['median'] * 1e3:.1f} "
                           f"| {r['faults']:.0f} |")
        out.append("")
    if "profile" in only:
        out += [f"cProfile of the largest vanilla bptt (fastest of {args.calls} calls): rnn_core's functions "
                "by cumulative time (nested: a caller includes its callees):", "",
                "| function | cumulative |", "|---|---|"]
        out += spawn("profile", str(args.calls)).splitlines() + [""]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
