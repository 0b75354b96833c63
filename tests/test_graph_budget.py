"""Work budget of the Unrolled graph page (issue 12): no link costs more than a few seconds of
server CPU per rerun, whatever it asks for (T = 500, H = 256, D = O = 64, any followed term,
window, split, truncation, notation, presentation).

Each link is opened with empty caches (the worst case: nothing computed yet) and its CPU time
measured, both runs of AppTest included (the app's entry page, then the graph page); then one
rerun with a moved control. The charts' data sent to the browser is bounded too (a link asked for
2 MB of animation frames before the frames were cut to the steps in view).
`python tests/test_graph_budget.py` prints the table.
"""
import time

import pytest
import streamlit as st

from apptest_helpers import open_app_page
from ui.config import DEFAULT, parse
from ui.pages import graph as graph_service

PAGE = "views/graph.py"
BUDGET_CPU_S = 5.0
BUDGET_CHART_BYTES = 1_500_000     # every chart of the page, as sent to the browser (most: 1.33 MB, an
                                   # overflowed H = 256 sheet kept in float64)
BIG = {"T": 500, "H": 256, "D": 64, "O": 64}
HOSTILE_LINKS = {
    "largest model": BIG,
    "followed term mid-way, widest window": {**BIG, "g_source": 250, "g_window": 30, "g_start": 240},
    "last term, window at the end, split": {**BIG, "g_source": 500, "g_window": 30, "g_start": 471, "g_split": 1},
    "presentation, dlbook, step 500": {**BIG, "presentation": 1, "notation": "dlbook", "g_step": 500},
    "k-step k = 499": {**BIG, "truncation": "k_step", "trunc_k": 499, "g_source": 499},
    "randomized truncation": {**BIG, "truncation": "randomized", "trunc_p": 0.05, "g_source": 400},
    "overflow (relu, rho = 5)": {**BIG, "activation": "relu", "rho": 5.0, "g_start": 485},
    "loss at the last step only": {**BIG, "loss_at": "last", "g_source": 500},
    "largest animated sheet (T x its size at the limit)": {"T": 500, "H": 21, "D": 1, "O": 1, "g_start": 300},
    "animated sheet, presentation, split": {"T": 400, "H": 16, "D": 8, "O": 8, "presentation": 1, "g_split": 1},
    "LSTM, largest model": {**BIG, "cell": "lstm"},
    "LSTM, followed term mid-way, split": {**BIG, "cell": "lstm", "g_source": 250, "g_start": 240, "g_split": 1},
    "LSTM, chunked truncation, presentation": {**BIG, "cell": "lstm", "truncation": "chunked", "trunc_k": 7,
                                               "presentation": 1, "g_source": 400},
    "GRU, largest model, last term": {**BIG, "cell": "gru", "g_source": 500},
    "GRU, k-step k = 100": {**BIG, "cell": "gru", "truncation": "k_step", "trunc_k": 100, "g_source": 300},
}


def cpu_of(run) -> tuple[float, object]:
    start = time.process_time()
    value = run()
    return time.process_time() - start, value


def measure(query: dict) -> tuple[float, float, int]:
    """(CPU s of the first visit with empty caches, CPU s of a rerun after moving the window,
    bytes of the charts' specs of the first visit)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    first, at = cpu_of(lambda: open_app_page(PAGE, query))
    config = at.session_state["_config"]
    assert all(getattr(config, k) == type(getattr(config, k))(v) for k, v in query.items()), "the link was not taken"
    chart_bytes = sum(len(el.proto.spec) for el in at.get("plotly_chart"))
    assert chart_bytes, "no chart drawn"
    slider = at.slider(key="cfg_g_start")
    rerun, _ = cpu_of(lambda: slider.set_value(max(1, slider.value - 1)).run())
    assert not at.exception
    return first, rerun, chart_bytes


@pytest.mark.parametrize("name", list(HOSTILE_LINKS))
def test_no_link_costs_more_than_the_budget(name):
    first, rerun, chart_bytes = measure(HOSTILE_LINKS[name])
    assert first < BUDGET_CPU_S, f"{name}: {first:.2f} s of CPU for the first visit"
    assert rerun < BUDGET_CPU_S, f"{name}: {rerun:.2f} s of CPU for a rerun"
    assert chart_bytes < BUDGET_CHART_BYTES, f"{name}: {chart_bytes / 1e6:.2f} MB of charts"


ESTIMATE_BUDGET_S = 3.0       # the cost model's estimate of the worst link (measured: 1.9 s of CPU)


@pytest.mark.parametrize("name", list(HOSTILE_LINKS))
def test_the_cost_model_counts_what_every_link_asks_for(name):
    config, _ = parse({k: str(v) for k, v in HOSTILE_LINKS[name].items()})
    plan = graph_service.plan(config, config.g_source)
    assert 0 < plan.total < ESTIMATE_BUDGET_S, f"{name}: estimated {plan.total:.2f} s"
    if config.truncation == "k_step":            # T k H^2: the engine is the part that costs
        assert plan.engine > 1.0 and plan.engine == max(plan.engine, plan.flow, plan.sums, plan.figures)
    assert plan.linked == ("animated" in name)   # the sheet animates only where its frames fit


def test_the_estimate_grows_with_what_a_link_asks_for():
    small, plan = DEFAULT, graph_service.plan
    assert plan(small).total < plan(small.replace(T=500)).total < plan(small.replace(T=500, H=256)).total
    assert plan(small.replace(T=500, H=256)).engine < plan(small.replace(T=500, H=256, truncation="k_step",
                                                                         trunc_k=499)).engine
    assert plan(small).flow == 0 < plan(small, 12).flow


def test_past_its_guard_the_page_leaves_optional_parts_out_and_says_so(monkeypatch):
    monkeypatch.setattr(graph_service, "GUARD_SECONDS", 0.0)     # as if the server were very busy
    at = open_app_page(PAGE, {"T": 20})
    charts = at.get("plotly_chart")
    assert len(charts) == 1, "only the wide graph: the phone layout and the step's chart are left out"
    notes = [i.value for i in at.info if "too busy" in i.value]
    assert notes and "the phone layout" in notes[0] and "the step's numbers as a chart" in notes[0]


if __name__ == "__main__":
    print(f"{'link':52s} {'first visit':>11s} {'rerun':>6s} (CPU s) {'charts':>8s} (MB)")
    for name, query in HOSTILE_LINKS.items():
        first, rerun, chart_bytes = measure(query)
        print(f"{name:52s} {first:11.2f} {rerun:6.2f} {chart_bytes / 1e6:16.2f}")
