"""The Model & weights page for every cell in headless Chromium (issue 14): choosing the LSTM shows
its gate groups (heatmap rows, tabs, equations), an edit in a gate's table reaches the URL, an
LSTM file uploaded into a vanilla config gets a message naming both cells and an offer to switch,
and screenshots of each cell, normal and in presentation mode, for people to look at."""

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

import rnn_core as rc
from tests.e2e.conftest import (TIMEOUT_MS, assert_no_exception, open_page, plotly_figures, screenshot,
                                wait_idle)
from ui.weights_io import to_npz_bytes
from ui.weights_table import param_groups

pytestmark = pytest.mark.e2e
MODEL = "Model & weights"


def choose_cell(page, title: str) -> None:
    """Pick `title` in the sidebar's Cell selectbox and wait for the rerun it starts."""
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Cell").click()
    page.get_by_role("option", name=title, exact=True).click()
    wait_idle(page)


def heatmap_names(page) -> list[str]:
    return [t["name"] for t in plotly_figures(page)[0]["data"] if t["type"] == "heatmap"]


def wait_for_cell(page, cell: str) -> None:
    page.wait_for_function("c => new URLSearchParams(location.search).get('cell') === c", arg=cell,
                           timeout=TIMEOUT_MS)
    wait_idle(page)


def tab_labels(page) -> list[str]:
    return [t.strip() for t in page.get_by_test_id("stMain").get_by_role("tab").all_inner_texts()]


def upload(page, name: str, data: bytes) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])


def test_choosing_the_lstm_shows_its_gate_groups(page, app_url):
    open_page(page, app_url, MODEL)
    assert len(heatmap_names(page)) == 5
    choose_cell(page, "LSTM")
    wait_for_cell(page, "lstm")
    expect(page.get_by_role("tab", name="Forget gate f")).to_be_visible(timeout=TIMEOUT_MS)
    assert tab_labels(page) == [g.title for g in param_groups("lstm")]
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stPlotlyChart\"] .js-plotly-plot')"
        ".data.filter(t => t.type === 'heatmap').length === 14", timeout=TIMEOUT_MS)
    assert "W<sub>hf</sub>" in heatmap_names(page)
    expect(page.get_by_test_id("stMain").locator(".katex").filter(has_text="(L5)")).to_have_count(1)
    choose_cell(page, "GRU")
    wait_for_cell(page, "gru")
    expect(page.get_by_role("tab", name="Update gate z")).to_be_visible(timeout=TIMEOUT_MS)
    assert_no_exception(page)


def test_an_edit_in_a_gates_table_reaches_the_url_and_the_heatmap(page, app_url):
    open_page(page, app_url, MODEL, query={"cell": "lstm"})
    page.get_by_role("tab", name="Forget gate f").click()
    panel = page.get_by_role("tabpanel", name="Forget gate f")
    expect(panel.get_by_test_id("stDataFrame")).to_have_count(3, timeout=TIMEOUT_MS)   # W_xf, W_hf, b_f
    wait_idle(page)
    editor = page.locator("#portal input, #portal textarea").first
    for _ in range(5):           # a rerun may remount the grid under the click: try again
        grid = panel.get_by_test_id("stDataFrame").first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 130, box["y"] + 35 + 17)     # glide: 35 px header, the first row
        page.keyboard.press("Enter")
        try:
            editor.wait_for(timeout=5000)
            break
        except PlaywrightTimeout:
            continue
    editor.fill("2.5")
    editor.press("Enter")
    page.wait_for_function("() => new URLSearchParams(location.search).get('edits') === 'W_xf.0=2.5'",
                           timeout=TIMEOUT_MS)
    wait_idle(page)
    figure = plotly_figures(page)[0]
    [W_xf] = [np.array(t["z"], dtype=float) for t in figure["data"] if t.get("name") == "W<sub>xf</sub>"]
    assert W_xf[0, 0] == 2.5
    assert_no_exception(page)


def test_an_lstm_file_in_a_vanilla_config_gets_a_message_and_an_offer_to_switch(page, app_url):
    open_page(page, app_url, MODEL)
    weights = rc.init_params(3, 5, 3, seed=9, cell="lstm")
    upload(page, "lstm_weights.npz", to_npz_bytes(weights))
    message = page.get_by_test_id("stAlert").filter(has_text="holds the weights of an LSTM")
    expect(message).to_be_visible(timeout=TIMEOUT_MS)
    assert "vanilla RNN" in message.inner_text() and "previous weights are kept" in message.inner_text()
    wait_idle(page)
    assert len(heatmap_names(page)) == 5 and "cell" not in page.url           # nothing loaded
    page.get_by_test_id("stFileUploader").scroll_into_view_if_needed()
    screenshot(page, "model_upload_other_cell", full_page=False)
    page.get_by_role("button", name="Switch the cell to LSTM and use this file").click()
    expect(page.get_by_test_id("stAlert").filter(has_text="Switched the cell to LSTM")).to_be_visible(
        timeout=TIMEOUT_MS)
    wait_for_cell(page, "lstm")
    figure = plotly_figures(page)[0]
    [W_hf] = [np.array(t["z"], dtype=float) for t in figure["data"] if t.get("name") == "W<sub>hf</sub>"]
    np.testing.assert_array_equal(W_hf, weights.W_hf)
    assert_no_exception(page)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("presentation", [False, True])
def test_screenshots_of_each_cell(page, app_url, cell, presentation):
    query = {"cell": cell} if cell != "rnn" else {}
    open_page(page, app_url, MODEL, query={**query, **({"presentation": "1"} if presentation else {})})
    plotly_figures(page)
    wait_idle(page)
    assert_no_exception(page)
    expect(page.locator(".katex-error")).to_have_count(0)
    screenshot(page, f"model_{cell}{'_presentation' if presentation else ''}")
