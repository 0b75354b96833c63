"""AppTest of the Unrolled graph page for each cell (vanilla RNN, LSTM, GRU) and the gated
presets: the chart's nodes are the engine's gradients (dL/dh_t, and dL/dc_t for the LSTM), the
step's equation is the cell's, following one term and the split colours work for every cell."""
import json

import numpy as np
import pytest

import rnn_core as rc
from apptest_helpers import fresh_caches, open_app_page  # noqa: F401 (fresh_caches is a fixture)
from test_page_graph import engine, graph, nodes
from ui.config import DEFAULT, build_params, to_query
from ui.figures import graph as graph_figures
from ui.presets import PRESETS
from ui.state import make_data

PAGE = "views/graph.py"
pytestmark = pytest.mark.usefixtures("fresh_caches")


def rows(cell: str) -> dict:
    return graph_figures.MEMORY_ROWS if cell == "lstm" else graph_figures.ROWS


@pytest.mark.parametrize("cell", list(rc.CELLS))
def test_each_cell_draws_its_own_gradients(cell):
    at = open_app_page(PAGE, {"cell": cell})
    config = at.session_state["_config"]
    assert config.cell == cell
    spec, r = graph(at), engine(config)
    drawn, where = nodes(spec), rows(cell)
    for t in range(1, config.T + 1):
        assert drawn[(where["h"], t)] == pytest.approx(np.log10(np.linalg.norm(r.dL_dh[t - 1])), abs=1e-9)
        if cell == "lstm":
            assert drawn[(where["c"], t)] == pytest.approx(np.log10(np.linalg.norm(r.dL_dc[t - 1])), abs=1e-9)
    assert ("memory" in spec["layout"]["yaxis"]["ticktext"]) == (cell == "lstm")
    latex = at.latex[0].value
    assert (r"\tag{7}" in latex) == (cell == "rnn")
    assert (r"\tanh'" in latex) == (cell == "lstm")
    assert (r"z_{2} \odot" in latex) == (cell == "gru")
    captions = " ".join(c.value for c in at.caption)
    assert ("memory path" in captions) == (cell == "lstm") and ("update gate" in captions) == (cell == "gru")
    details = [json.loads(el.proto.spec) for el in at.get("plotly_chart") if "forward values" in el.proto.spec]
    assert details, "the step's details chart"
    forward_rows = details[0]["data"][0]["y"]
    assert len(forward_rows) == {"rnn": 2, "lstm": 6, "gru": 4}[cell]
    assert not at.warning and not at.exception


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_following_one_term_and_split_colours_work_for_gated_cells(cell):
    at = open_app_page(PAGE, {"cell": cell, "T": 20, "g_source": 12, "g_split": 1, "g_step": 5})
    config = at.session_state["_config"]
    assert (config.g_source, config.g_split, config.g_step) == (12, True, 5)
    spec = graph(at)
    assert spec["frames"][0]["name"] == "12"
    drawn, where = nodes(spec), rows(cell)
    assert drawn[(where["h"], 13)] == "zero gradient"          # nothing after the followed term
    # one term alone: the engine with a mask that keeps only that term
    r = engine(config)
    alone = np.zeros(config.T)
    alone[11] = r.weights[11]
    data = make_data(config)
    reference = rc.bptt(build_params(config), data.xs, data.ys, loss=config.loss, reduction="sum", mask=alone)
    assert drawn[(where["h"], 5)] == pytest.approx(np.log10(np.linalg.norm(reference.dL_dh[4])), abs=1e-9)
    if cell == "lstm":
        assert drawn[(where["c"], 5)] == pytest.approx(np.log10(np.linalg.norm(reference.dL_dc[4])), abs=1e-9)
    legend = {t.get("name") for t in spec["data"] if t.get("meta") == "legend"}
    assert {"direct part", "indirect part"} <= legend
    assert "w_{12}" in at.latex[0].value


@pytest.mark.parametrize("key", ["lstm_carries", "gru_adding"])
def test_the_gated_presets_open_the_graph_page(key):
    config = PRESETS[key].apply(DEFAULT)
    at = open_app_page(PAGE, to_query(config))
    spec = graph(at)
    assert graph_figures.CELL_TITLES[config.cell] in spec["layout"]["title"]["text"]
    assert not at.exception


def test_switching_the_cell_in_the_sidebar_redraws_the_graph():
    at = open_app_page(PAGE, {"T": 10})
    assert "memory" not in graph(at)["layout"]["yaxis"]["ticktext"]
    at.sidebar.selectbox(key="cfg_cell").set_value("lstm").run()
    assert not at.exception
    assert "memory" in graph(at)["layout"]["yaxis"]["ticktext"]


@pytest.mark.parametrize("cell, stage", [("lstm", "memory"), ("gru", "hidden")])
def test_a_step_opens_the_derivation_at_the_cells_recursion(cell, stage):
    at = open_app_page(PAGE, {"cell": cell, "T": 20, "g_step": 7})
    [button] = [b for b in at.button if b.label.startswith("Derive it") and "t = 7" in b.label]
    button.click().run()
    assert not at.exception
    config = at.session_state["_config"]
    assert (config.cell, config.d_step, config.d_stage) == (cell, 7, stage)
    assert at.query_params["d_stage"] == stage
