"""The derivation page's own compute time: engine + LaTeX + figure, no Streamlit.

Runs what views/derivation.py runs on a first visit (cold caches) for a few configs of every
cell and prints the best of several repeats per part, as Markdown rows for bench/RESULTS.md:
exact BPTT; every stage's LaTeX at step t (the vanilla walk's numbers, or a gated cell's update);
the double sum's terms (rnn_core.contributions, vanilla only) and their chart; the live gradient
check (rnn_core.gradcheck, `gradcheck_entries` of each array for big models); the engine's loop
beside its equations; and the Markdown export. A step change reruns the stages and the double
sum only. The last column is the page's own estimate (`plan(config, t).seconds`).

    .venv/bin/python bench/derivation.py
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/derivation.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ui import derivation as dv  # noqa: E402
from ui import derivation_code, derivation_gated  # noqa: E402
from ui.config import DEFAULT, build_params, parse  # noqa: E402
from ui.figures.derivation import double_sum_figure  # noqa: E402
from ui.notation import NOTATIONS  # noqa: E402
from ui.pages.derivation import gradcheck_entries, plan  # noqa: E402
from ui.state import make_data  # noqa: E402

REPEATS = 3
BIG = {"T": 500, "H": 256, "D": 64, "O": 64}
VANILLA = [
    ("default (T=12, H=8), t=5", DEFAULT, 5),
    ("T=6, H=4, t=6 (terms written out)", DEFAULT.replace(T=6, H=4), 6),
    ("T=100, H=32, t=50", DEFAULT.replace(T=100, H=32), 50),
    ("T=500, H=32, t=500 (largest double sum)", DEFAULT.replace(T=500, H=32), 500),
    ("T=500, H=256, t=1 (largest model, longest product)", DEFAULT.replace(T=500, H=256), 1),
]
GATED = [(f"{cell.upper()} {name}", parse({"cell": cell, **query})[0], t)
         for cell in ("lstm", "gru")
         for name, query, t in (("default (T=12, H=8), t=5", {}, 5),
                                ("T=100, H=32, t=50", {"T": 100, "H": 32}, 50),
                                ("T=500, H=256, t=1", {"T": 500, "H": 256}, 1),
                                ("T=500, H=256, D=O=64, t=250 (largest)", BIG, 250))]
CASES = VANILLA + [("RNN T=500, H=256, D=O=64, t=250 (largest)", parse(BIG)[0], 250)] + GATED


def best_of(fn, repeats: int = REPEATS) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def example_of(config) -> dv.Example:
    data = make_data(config)
    return dv.Example(build_params(config), data.xs, data.ys, data.mask, config.activation,
                      config.loss, config.reduction)


def measure(config, t: int) -> dict[str, float]:
    example = example_of(config)
    gated = config.cell != "rnn"
    times = {}
    times["bptt"], result = best_of(example.solve)
    if gated:
        times["double sum"], terms = 0.0, None
        times["stages"], stages = best_of(lambda: derivation_gated.build(example, result, t=t, notation="wxh",
                                                                         lr=0.1))
    else:
        times["double sum"], terms = best_of(lambda: dv.double_sum_terms(example, result, t)
                                             if plan(config, t).double_sum else None)
        times["stages"], stages = best_of(lambda: dv.build(example, result, t=t, notation="wxh", lr=0.1,
                                                           double_sum=terms))
    times["chart"] = best_of(lambda: terms and double_sum_figure(
        terms.norms, terms.shares, t=t, notation=NOTATIONS["wxh"]).to_json())[0]
    entries = gradcheck_entries(config.T, config.H, config.cell)
    times["gradcheck"], report = best_of(lambda: dv.gradient_check(example, max_entries=entries), repeats=1)
    times["loop"] = best_of(lambda: [derivation_code.block_latex(b, derivation_code.equations(config.cell, "wxh"))
                                     for b in derivation_code.blocks(derivation_code.loop(config.cell))])[0]
    times["export"] = best_of(lambda: dv.to_markdown(stages, title="t", header=[],
                                                     tables={"check": dv.gradcheck_rows(report, "wxh", config.cell)}))[0]
    times["page"] = sum(times.values())
    times["step change"] = times["double sum"] + times["stages"] + times["chart"] + times["export"]
    times["plan"] = plan(config, t).seconds
    return times


def main() -> None:
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"OpenBLAS threads: {threads}; best of {REPEATS} (gradcheck: one run); "
          f"load average {os.getloadavg()[0]:.1f}\n")
    only = sys.argv[1] if len(sys.argv) > 1 else ""      # e.g. LSTM: the cases whose name starts so
    columns = ["bptt", "stages", "double sum", "chart", "gradcheck", "loop", "export", "page", "step change", "plan"]
    print("| case | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, config, t in CASES:
        if not name.startswith(only):
            continue
        times = measure(config, t)
        print(f"| {name} | " + " | ".join(f"{times[c]:.3f}" for c in columns) + " |", flush=True)


if __name__ == "__main__":
    main()
