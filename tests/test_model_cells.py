"""Model & weights for every cell (issue 14): the page per cell (AppTest), a gated cell's tables
edited into config.edits and reset, uploads that carry the cell (another cell's file is refused
with its cell and can be adopted by switching), and the page's cost model per cell."""
from __future__ import annotations

import json

import numpy as np
import pytest
import streamlit as st

import rnn_core as rc
from apptest_helpers import compiled_once, open_app_page  # noqa: F401  (a fixture)
from ui.config import build_params, parse
from ui.pages import model as service
from ui.state import CONFIG_KEY
from ui.weights_io import MAX_FILE_BYTES, to_json_bytes, to_npz_bytes
from ui.weights_table import editor_key, param_groups

pytestmark = pytest.mark.usefixtures("compiled_once")
CELLS = ("rnn", "lstm", "gru")
UPLOAD_KEY = "weights_upload"


def open_model(query: dict | None = None):
    at = open_app_page("views/model.py", query)
    assert not at.exception, [e.message for e in at.exception]
    return at


def config_of(at):
    return at.session_state[CONFIG_KEY]


def heatmap_names(at) -> list[str]:
    [chart] = [c for c in at.get("plotly_chart")]
    spec = json.loads(chart.proto.spec)
    return [t["name"] for t in spec["data"] if t["type"] == "heatmap"]


def upload(at, filename: str, data: bytes):
    at.file_uploader(key=UPLOAD_KEY).set_value((filename, data, "application/octet-stream"))
    return at.run()


# ---- the page per cell --------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_the_page_shows_the_cells_parameters_grouped_by_gate(cell):
    at = open_model({"cell": cell})
    names = rc.get_cell(cell).param_names
    assert len(heatmap_names(at)) == len(names)                  # every parameter once
    tabs = [t.label for t in at.tabs]
    if cell == "rnn":
        assert tabs == list(names)                               # as before the gated cells
        assert [m.label for m in at.metric] == ["ρ(W_hh)", "σ_max(W_hh)", "edited"]
    else:
        assert tabs == [g.title for g in param_groups(cell)]
        assert (r"\text{(L1)}" if cell == "lstm" else r"\text{(G1)}") in at.latex[0].value
        assert len(at.table) == 1                                # the recurrent blocks' spectra
    count = sum(a.size for _, a in build_params(config_of(at)).items())
    assert any(f"= {count}$ parameters" in m.value for m in at.markdown), [m.value for m in at.markdown]


def test_the_lstm_page_says_where_the_forget_gate_starts():
    at = open_model({"cell": "lstm", "forget_bias": "2"})
    words = " ".join(c.value for c in at.caption)
    assert r"$b_f = 2$" in words and r"\sigma(2) = 0.88" in words


def test_the_gated_spectra_are_the_recurrent_blocks():
    config, _ = parse({"cell": "gru", "H": "5"})
    params = build_params(config)
    spectra = service.spectra(config)
    assert [s.name for s in spectra] == ["W_hr", "W_hz", "W_hh"]
    for s in spectra:
        assert s.largest == pytest.approx(np.linalg.norm(getattr(params, s.name), 2))
        assert s.radius == pytest.approx(max(abs(np.linalg.eigvals(getattr(params, s.name)))))


# ---- edits of a gated cell's tables ----------------------------------------------------------------

def test_an_edit_in_the_forget_gates_table_becomes_an_edit_every_page_sees_and_reset_removes_it():
    at = open_model({"cell": "lstm", "H": "4"})
    at.session_state["m_editor_tab_lstm"] = "Forget gate f"          # only the open tab's tables are drawn
    at.run()
    assert len(at.dataframe) == 3                                    # W_xf, W_hf, b_f: one gate's tables
    at.session_state[editor_key(config_of(at), "W_hf")] = {
        "edited_rows": {1: {"h3": 0.75}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    config = config_of(at)
    assert config.edits == (("W_hf", 1 * 4 + 2, 0.75),)
    assert at.query_params["edits"] == "W_hf.6=0.75"
    assert build_params(config).W_hf[1, 2] == 0.75
    at.switch_page("views/vanishing.py").run()                       # another page uses the edited weights
    assert not at.exception and config_of(at).edits == config.edits
    at.switch_page("views/model.py").run()
    [reset] = [b for b in at.button if b.label == "Reset to the initialiser"]
    reset.click().run()
    assert config_of(at).edits == () and "edits" not in at.query_params


# ---- uploads carry the cell ----------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_a_gated_file_loads_into_its_own_cell(cell, fmt):
    at = open_model({"cell": cell})
    weights = rc.init_params(3, 5, 3, seed=11, cell=cell)
    upload(at, f"w.{fmt}", to_npz_bytes(weights) if fmt == "npz" else to_json_bytes(weights))
    assert at.success and not at.error, [e.value for e in at.error]
    config = config_of(at)
    assert config.cell == cell and config.H == 5 and build_params(config) == weights


def test_an_lstm_file_in_a_vanilla_config_is_refused_with_its_cell_then_adopted_by_switching():
    at = open_model({"H": "6", "edits": "W_hh.0=0.25"})
    before = config_of(at)
    weights = rc.init_params(3, 5, 3, seed=3, cell="lstm")
    upload(at, "mine.npz", to_npz_bytes(weights))
    [error] = at.error
    assert "LSTM" in error.value and "vanilla RNN" in error.value and "previous weights are kept" in error.value
    assert config_of(at) == before                                   # never silently loaded
    [switch] = [b for b in at.button if "Switch the cell to LSTM" in b.label]
    switch.click().run()
    assert not at.exception and at.success
    config = config_of(at)
    assert config.cell == "lstm" and config.H == 5 and build_params(config) == weights
    assert "Switched the cell to LSTM" in at.success[0].value


def test_a_vanilla_file_in_a_gru_config_is_refused():
    at = open_model({"cell": "gru"})
    before = config_of(at)
    upload(at, "old.json", to_json_bytes(rc.init_params(3, 4, 3, seed=1)))
    [error] = at.error
    assert "vanilla RNN" in error.value and "GRU" in error.value
    assert config_of(at) == before


# ---- the cost model per cell -------------------------------------------------------------------------

BIG = {"T": "500", "H": "256", "D": "64", "O": "64"}


@pytest.mark.parametrize("cell, blocks", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_the_cost_model_counts_each_cells_parameters(cell, blocks):
    config, _ = parse({**BIG, "cell": cell})
    plan = service.plan(config)
    H, D, O = 256, 64, 64
    assert plan.weights == blocks * (H * D + H * H + H) + O * H + O
    assert plan.table == (H * H if cell == "rnn" else H * D + H * H + H)   # one tab: a parameter or a gate
    assert plan.seconds < 1.0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_largest_gated_model_stays_within_the_pages_cpu_budget(cell):
    import time
    st.cache_data.clear()
    st.cache_resource.clear()
    start = time.process_time()
    at = open_app_page("views/model.py", {**BIG, "cell": cell})
    seconds = time.process_time() - start
    assert not at.exception
    assert seconds < 5.0, f"{cell}: {seconds:.2f} s of CPU for the first visit"


def test_a_download_too_big_to_upload_again_is_announced():
    assert service.too_big_to_upload(bytes(100)) is None
    note = service.too_big_to_upload(bytes(MAX_FILE_BYTES + 1))
    assert note is not None and f"{MAX_FILE_BYTES // 2**20} MB" in note and "NumPy" in note


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_largest_model_of_every_cell_can_be_uploaded_again(cell):
    config, _ = parse({**BIG, "cell": cell})
    npz, _ = service.weight_files(config)
    assert service.too_big_to_upload(npz) is None, f"{cell}: {len(npz) / 2**20:.2f} MB"


def test_the_heatmaps_are_drawn_once_per_model(monkeypatch):
    """Issue 17: a rerun with the same weights (e.g. the page's own controls) sends the cached
    heatmaps; a new ρ draws them again, from its weights."""
    from apptest_helpers import count_calls
    st.cache_resource.clear()
    at = open_model()
    calls = count_calls(monkeypatch, [(service, "weight_heatmaps")])
    before = json.loads(at.get("plotly_chart")[0].proto.spec)
    at.run()
    assert calls == {}
    at.slider(key="cfg_rho").set_value(1.3).run()
    assert calls == {"weight_heatmaps": 1}
    after = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert after["data"] != before["data"]          # W_hh rescaled to the new ρ
