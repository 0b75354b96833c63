"""Work budgets of the Derivation and Model pages (issue 12): each page's cost model counts what a
link can ask for (T = 500, H = 256, D = O = 64, any step, every stage, edits), no link costs more
than a few seconds of server CPU per visit with cold caches, and past the page's wall-clock guard
the optional parts are left out with a note. (The Unrolled graph's: tests/test_graph_budget.py.)"""
import time

import pytest
import streamlit as st

from apptest_helpers import open_app_page
from ui.config import DEFAULT, parse
from ui.pages import derivation as derivation_service
from ui.pages import model as model_service

BUDGET_CPU_S = 5.0
BIG = {"T": 500, "H": 256, "D": 64, "O": 64}
HOSTILE_LINKS = {
    "views/derivation.py": {
        "every stage at t = 1": {**BIG, "d_all": 1, "d_step": 1},
        "double sum at t = 500": {**BIG, "d_stage": "double_sum", "d_step": 500},
        "overflow, every stage": {**BIG, "loss": "mse", "reduction": "mean", "d_all": 1, "activation": "relu",
                                  "rho": 5},
    },
    "views/model.py": {
        "largest model": BIG,
        "overflow, presentation": {**BIG, "activation": "relu", "rho": 5, "presentation": 1},
        "an edited largest model": {**BIG, "edits": "~".join(f"W_hh.{i}=0.5" for i in range(0, 65536, 331))},
    },
}
CASES = [(page, name) for page, links in HOSTILE_LINKS.items() for name in links]


def cpu_of(run) -> tuple[float, object]:
    start = time.process_time()
    value = run()
    return time.process_time() - start, value


@pytest.mark.parametrize("page, name", CASES)
def test_no_link_costs_more_than_the_budget(page, name):
    st.cache_data.clear()
    st.cache_resource.clear()
    seconds, at = cpu_of(lambda: open_app_page(page, HOSTILE_LINKS[page][name]))
    assert not at.exception
    assert seconds < BUDGET_CPU_S, f"{page} {name}: {seconds:.2f} s of CPU for the first visit"


@pytest.mark.parametrize("t", [1, 250, 500])
def test_the_derivations_cost_model_keeps_each_part_within_its_budget(t):
    config, _ = parse({k: str(v) for k, v in BIG.items()})
    plan = derivation_service.plan(config, t)
    assert plan.seconds < 2.0, plan
    assert plan.gradcheck_entries == derivation_service.GRADCHECK_MIN_ENTRIES     # a sample of a big model
    assert plan.double_sum == (t == 1)          # t^2 H^2 at H = 256: beyond t = 64 left out, with a note
    assert plan.product == (t == 500) and plan.unrolled_terms == (t == 500)
    small = derivation_service.plan(DEFAULT, 5)
    assert small.double_sum and small.product and small.unrolled_terms and small.gradcheck_entries >= 64


def test_the_model_pages_cost_model_counts_every_weight():
    config, _ = parse({k: str(v) for k, v in BIG.items()})
    plan = model_service.plan(config)
    assert plan.weights == 256 * 64 + 256 * 256 + 256 + 64 * 256 + 64 and plan.table == 256 * 256
    assert plan.seconds < 1.0
    assert model_service.plan(DEFAULT).seconds < plan.seconds


@pytest.mark.parametrize("page, service, left_out", [
    ("views/derivation.py", derivation_service, "the gradient check"),
    ("views/model.py", model_service, "the weights files"),
])
def test_past_its_guard_a_page_leaves_optional_parts_out_and_says_so(monkeypatch, page, service, left_out):
    monkeypatch.setattr(service, "GUARD_SECONDS", 0.0)      # as if the server were very busy
    st.cache_data.clear()
    at = open_app_page(page, {"T": 6})
    notes = [i.value for i in at.info if "too busy" in i.value]
    assert notes and left_out in notes[0], [i.value for i in at.info]
