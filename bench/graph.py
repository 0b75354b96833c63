"""Speed of the Unrolled graph page's own compute: engine + figure building, no Streamlit.

    .venv/bin/python bench/graph.py [--rounds 7] [--write]   # --write appends to bench/RESULTS.md

For each cell (vanilla RNN, LSTM, GRU) and case the page's work is timed as the page does it on a cache miss: the model and the
sequence from the Config, rnn_core.bptt, the flow on the graph (all terms or one), the running
parameter-gradient sums, and the plotly figure with its T frames. Each time is the best of the
rounds, as wall clock and as this process's CPU time (on a shared, loaded machine the wall clock
mostly measures the other processes; the CPU time is what the page costs). Streamlit's own
serialisation of the figure (plotly.io.to_json) is reported beside it but is not part of the
budget: 150 ms at T = 100, H = 32, for every cell.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import plotly.io as pio  # noqa: E402

import rnn_core as rc  # noqa: E402
from rnn_core import flow as gf  # noqa: E402
from ui.config import DEFAULT, build_params, parse  # noqa: E402
from ui.figures import graph as fg  # noqa: E402
from ui.figures import graph_sheet as gs  # noqa: E402
from ui.notation import NOTATIONS  # noqa: E402
from ui.state import make_data  # noqa: E402

BUDGET_MS = 150.0
HEADLINE = "T=100 H=32"
CASES = [  # (label, config changes, source, view); each for every cell (rnn-only changes for the vanilla one)
    ("default T=12 H=8", {}, 0, fg.GraphView()),
    (HEADLINE, dict(T=100, H=32), 0, fg.GraphView()),
    ("T=100 H=32, one loss term (L_50)", dict(T=100, H=32), 50, fg.GraphView()),
    ("T=100 H=32, split colours, window at 60", dict(T=100, H=32), 0, fg.GraphView(start=60, split=True)),
    ("T=100 H=32, k-step k=99, one term (L_100)", dict(T=100, H=32, truncation="k_step", trunc_k=99), 100,
     fg.GraphView()),
    ("T=500 H=32 (sums static)", dict(T=500, H=32), 0, fg.GraphView()),
    ("T=500 H=256 relu rho=5 (overflow)", dict(T=500, H=256, activation="relu", rho=5.0), 0, fg.GraphView()),
    ("T=500 H=256", dict(T=500, H=256), 0, fg.GraphView()),
]
CELLS = ("rnn", "lstm", "gru")


def case_config(cell: str, changes: dict):
    """The config a link with these settings gets (parse forces what a gated cell does not read),
    or None where the case is the vanilla cell's only (its activation and rho)."""
    if cell != "rnn" and ("activation" in changes or "rho" in changes):
        return None
    config, _ = parse({"cell": cell, **{k: str(v) for k, v in changes.items()}})
    return config


def page_compute(config, source: int, view: fg.GraphView) -> tuple[float, float, float, float, object]:
    """(engine s, flow + sums s, figure s, CPU s of the three, figure) for one cache miss of the page."""
    cpu = time.process_time()
    t0 = time.perf_counter()
    params, data = build_params(config), make_data(config)
    result = rc.bptt(params, data.xs, data.ys, activation=config.activation, loss=config.loss,
                     reduction=config.reduction, mask=data.mask, truncation=config.truncation_spec)
    t1 = time.perf_counter()
    flow = gf.full_flow(result, params) if source == 0 else gf.single_source(result, params, source)
    D, H, O = config.D, config.H, config.O
    linked = gs.sheet_is_linked(config.T, D, H, O, rc.get_cell(config.cell).gate_letters)
    sums = gf.running_param_grads(flow, result.trace) if linked else gf.full_param_grads(flow, result.trace)
    t2 = time.perf_counter()
    fig = fg.graph_figure(flow, result.trace, result.step_losses, result.loss, sums, NOTATIONS["wxh"], view)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, time.process_time() - cpu, fig


def run(rounds: int) -> list[dict]:
    rows = []
    page_compute(DEFAULT, 0, fg.GraphView())          # warm up imports and plotly's validators
    for cell in CELLS:
        for label, changes, source, view in CASES:
            config = case_config(cell, changes)
            if config is not None:
                rows.append(dict(cell=cell, **measure(label, config, source, view, rounds)))
    return rows


def measure(label: str, config, source: int, view: fg.GraphView, rounds: int) -> dict:
    """The best of `rounds` cache misses of one case: times in ms, frames, the figure's JSON."""
    best = None
    for _ in range(rounds):
        times = page_compute(config, source, view)
        if best is None or sum(times[:3]) < sum(best[:3]):
            best = times
    cpu = min(page_compute(config, source, view)[3] for _ in range(rounds))
    fig = best[4]
    t = time.perf_counter()
    spec = pio.to_json(fig.to_dict(), validate=False)
    to_json = time.perf_counter() - t
    return dict(case=label, engine=best[0] * 1e3, flow=best[1] * 1e3, figure=best[2] * 1e3,
                total=sum(best[:3]) * 1e3, cpu=cpu * 1e3, frames=len(fig.frames), json_mb=len(spec) / 1e6,
                to_json=to_json * 1e3)


def table(rows: list[dict]) -> str:
    lines = ["| cell | case | engine | flow + sums | figure | total (wall) | **total (CPU)** | frames | JSON | "
             "to_json (Streamlit's, not counted) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['cell']} | {r['case']} | {r['engine']:.1f} ms | {r['flow']:.1f} ms | {r['figure']:.1f} ms | "
                     f"{r['total']:.1f} ms | **{r['cpu']:.1f} ms** | {r['frames']} | {r['json_mb']:.2f} MB | "
                     f"{r['to_json']:.0f} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md")
    args = parser.parse_args()
    rows = run(args.rounds)
    headlines = {r["cell"]: r for r in rows if r["case"] == HEADLINE}
    verdict = ", ".join(f"{cell} {r['cpu']:.0f} ms of CPU ({r['total']:.0f} ms wall)" for cell, r in headlines.items())
    within = "all within" if all(r["cpu"] <= BUDGET_MS for r in headlines.values()) else "NOT all within"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import numpy as np
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    text = (f"## Unrolled graph\n\n`bench/graph.py --rounds {args.rounds}`, best of the rounds; "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
            f"{load:.1f} during the run, numpy {np.__version__}, OPENBLAS_NUM_THREADS={threads}, "
            f"{time.strftime('%Y-%m-%d %H:%M')}. Budget: {BUDGET_MS:.0f} ms at T = 100, H = 32 "
            f"(engine + figure), every cell: {verdict}; {within} budget.\n\n{table(rows)}\n")
    print(text)
    if args.write:
        path = ROOT / "bench" / "RESULTS.md"
        with open(path, "a") as f:
            f.write(("\n" if path.exists() and path.stat().st_size else "") + text)


if __name__ == "__main__":
    main()
