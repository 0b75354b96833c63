"""The Model & weights page per cell at the largest sizes: what a visit costs the server.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/model.py [--repeats 3]

For each cell (vanilla RNN, LSTM, GRU) at T = 500, H = 256, D = O = 64, and for each open tab
(the vanilla cell's largest, W_hh; a gated cell's first gate group): the page opened on empty
caches in Streamlit's AppTest (the script runs in this process, so `time.process_time` counts
the CPU the rerun caused; the browser's drawing is not included), then a warm rerun, best of
--repeats; beside them the page's cost model (`ui.pages.model.plan`: numbers drawn and written,
estimated seconds), the heatmaps' figure alone, and the downloads' sizes. Prints a Markdown
table; the page's budget (tests/test_page_budgets.py) is 5 s of CPU for a first visit and a
plan under 1 s.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from ui.config import build_params, parse  # noqa: E402
from ui.figures.model import weight_heatmaps  # noqa: E402
from ui.notation import NOTATIONS  # noqa: E402
from ui.pages import model as service  # noqa: E402
from ui.weights_io import to_json_bytes, to_npz_bytes  # noqa: E402

APP = str(ROOT / "app.py")
BIG = {"T": "500", "H": "256", "D": "64", "O": "64"}
CELLS = ("rnn", "lstm", "gru")


def visit(cell: str, *, cold: bool) -> tuple[float, float]:
    """(CPU s, wall s) of opening the Model page at the largest sizes (caches emptied if cold)."""
    if cold:
        st.cache_data.clear()
        st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update({**BIG, "cell": cell})
    cpu, wall = time.process_time(), time.perf_counter()
    at.switch_page("views/model.py").run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert not at.exception, [e.message for e in at.exception]
    if not cold:     # the same session again: what a rerun of the page costs
        cpu, wall = time.process_time(), time.perf_counter()
        at.run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu, wall


def figure_seconds(cell: str) -> float:
    config, _ = parse({**BIG, "cell": cell})
    params = build_params(config)
    start = time.process_time()
    weight_heatmaps(params, NOTATIONS["wxh"])
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    visit("rnn", cold=True)        # imports and the first compile are nobody's cost
    print("| cell | parameters | plan: drawn + written | plan s | first visit CPU s (wall) | rerun CPU s (wall) "
          "| heatmaps figure CPU s | .npz MB | .json MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for cell in CELLS:
        config, _ = parse({**BIG, "cell": cell})
        plan = service.plan(config)
        cold = min((visit(cell, cold=True) for _ in range(args.repeats)), key=lambda r: r[0])
        warm = min((visit(cell, cold=False) for _ in range(args.repeats)), key=lambda r: r[0])
        figure = min(figure_seconds(cell) for _ in range(args.repeats))
        params = build_params(config)
        npz, json_ = len(to_npz_bytes(params)) / 2**20, len(to_json_bytes(params)) / 2**20
        print(f"| {cell} | {plan.weights:,} | {plan.weights + plan.table:,} + {plan.weights:,} | {plan.seconds:.2f} "
              f"| {cold[0]:.2f} ({cold[1]:.2f}) | {warm[0]:.2f} ({warm[1]:.2f}) | {figure:.2f} | {npz:.2f} | {json_:.2f} |")


if __name__ == "__main__":
    main()
