"""The derivation page's own compute time: engine + LaTeX + figure, no Streamlit.

Runs what views/derivation.py runs on a first visit (cold caches) for a few configs and prints
the best of several repeats per part, as Markdown rows for bench/RESULTS.md:
exact BPTT; every stage's LaTeX at step t; the double sum's terms (rnn_core.contributions) and
their chart; the live gradient check (rnn_core.gradcheck, sampled for big models); and the
Markdown export. A step change reruns the stages and the double sum only.

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
from ui.config import DEFAULT, build_params  # noqa: E402
from ui.figures.derivation import double_sum_figure  # noqa: E402
from ui.notation import NOTATIONS  # noqa: E402
from ui.state import make_data  # noqa: E402

REPEATS = 3
CASES = [
    ("default (T=12, H=8), t=5", DEFAULT, 5),
    ("T=6, H=4, t=6 (terms written out)", DEFAULT.replace(T=6, H=4), 6),
    ("T=100, H=32, t=50", DEFAULT.replace(T=100, H=32), 50),
    ("T=500, H=32, t=500 (largest double sum)", DEFAULT.replace(T=500, H=32), 500),
    ("T=500, H=256, t=1 (largest model, longest product)", DEFAULT.replace(T=500, H=256), 1),
]


def best_of(fn, repeats: int = REPEATS) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def problem_of(config) -> dv.Problem:
    data = make_data(config)
    return dv.Problem(build_params(config), data.xs, data.ys, data.mask, config.activation,
                      config.loss, config.reduction)


def measure(config, t: int) -> dict[str, float]:
    problem = problem_of(config)
    times = {}
    times["bptt"], result = best_of(problem.solve)
    times["double sum"], terms = best_of(lambda: dv.double_sum_terms(problem, result, t))
    times["stages"], stages = best_of(lambda: dv.build(problem, result, t=t, notation="wxh", lr=0.1,
                                                       double_sum=terms))
    times["chart"] = best_of(lambda: terms and double_sum_figure(
        terms.norms, terms.shares, t=t, notation=NOTATIONS["wxh"]).to_json())[0]
    times["gradcheck"], report = best_of(lambda: dv.gradient_check(problem), repeats=1)
    times["export"] = best_of(lambda: dv.to_markdown(stages, title="t", header=[],
                                                     tables={"check": dv.gradcheck_rows(report, "wxh")}))[0]
    times["page"] = sum(times.values())
    times["step change"] = times["double sum"] + times["stages"] + times["chart"] + times["export"]
    return times


def main() -> None:
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"OpenBLAS threads: {threads}; best of {REPEATS} (gradcheck: one run); "
          f"load average {os.getloadavg()[0]:.1f}\n")
    columns = ["bptt", "stages", "double sum", "chart", "gradcheck", "export", "page", "step change"]
    print("| case | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, config, t in CASES:
        times = measure(config, t)
        print(f"| {name} | " + " | ".join(f"{times[c]:.3f}" for c in columns) + " |", flush=True)


if __name__ == "__main__":
    main()
