"""The Derivation page's budget for the gated cells (issue 14, "Speed and limits"): the largest
LSTM and GRU links cost no more server CPU on a first visit than the vanilla budget allows
(tests/test_page_budgets.py: 5 s), and the cost model counts the gates' work."""
import time

import pytest
import streamlit as st

from apptest_helpers import open_app_page
from ui.config import parse
from ui.pages import derivation as service

BUDGET_CPU_S = 5.0
BIG = {"T": 500, "H": 256, "D": 64, "O": 64}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("view", [{"d_all": 1, "d_step": 1}, {"d_stage": "hidden", "d_step": 250}])
def test_the_largest_gated_link_stays_within_the_budget(cell, view):
    st.cache_data.clear()
    st.cache_resource.clear()
    start = time.process_time()
    at = open_app_page("views/derivation.py", {**BIG, "cell": cell, **view})
    seconds = time.process_time() - start
    assert not at.exception and len(at.latex) >= 3
    assert seconds < BUDGET_CPU_S, f"{cell} {view}: {seconds:.2f} s of CPU for the first visit"


@pytest.mark.parametrize("cell, blocks", [("lstm", 4), ("gru", 3)])
def test_the_cost_model_counts_the_gates(cell, blocks):
    config = parse({**{k: str(v) for k, v in BIG.items()}, "cell": cell})[0]
    gated, vanilla = service.plan(config, 250), service.plan(config.replace(cell="rnn"), 250)
    assert gated.solve > vanilla.solve * (blocks - 1)            # the gates' products are counted
    assert not (gated.double_sum or gated.product or gated.unrolled_terms)   # the vanilla walk's parts
    assert gated.gradcheck_entries == service.GATED_MIN_ENTRIES
    assert service.gradcheck_arrays(cell) == {"lstm": 16, "gru": 12}[cell]
    small = service.plan(parse({"cell": cell})[0], 5)
    assert small.gradcheck_entries >= 16 and small.seconds < 0.05
