"""The shell in a real browser: every page loads, controls redraw, settings survive page
switches, weight edits show, a share link reproduces the view, hostile uploads are refused.
Screenshots of every page land in <repo>/screenshots/ for people to look at."""
import io
import pickle
import re
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

import rnn_core as rc
from ui.weights_io import MAX_FILE_BYTES
from tests.e2e.conftest import (TIMEOUT_MS, VIEWPORT, assert_no_exception, nav_to, open_page, plotly_figures,
                                screenshot, wait_idle)

pytestmark = pytest.mark.e2e
MODEL = "Model & weights"
HEATMAP_NAMES = {"W_xh": "W<sub>xh</sub>", "W_hh": "W<sub>hh</sub>", "b_h": "b<sub>h</sub>",
                 "W_hy": "W<sub>hy</sub>", "b_y": "b<sub>y</sub>"}   # trace names in wxh notation


# ---- helpers -----------------------------------------------------------------------------------

def heatmaps(page) -> dict[str, np.ndarray]:
    """The five weight heatmaps of the model page as arrays, by engine name."""
    figure = plotly_figures(page)[0]
    by_name = {t["name"]: np.array(t["z"], dtype=float) for t in figure["data"] if t["type"] == "heatmap"}
    return {name: by_name[html] for name, html in HEATMAP_NAMES.items()}


def metric(page, label: str) -> str:
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue").inner_text()


def sizes_line(page) -> str:
    """The model page's 'T = .. steps, D = .. inputs, ...' line, spaces removed."""
    line = page.get_by_test_id("stMain").get_by_test_id("stMarkdownContainer").filter(has_text="hidden units") \
        .first.inner_text()
    return re.sub(r"\s+", "", line)


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def wait_for_query(page, key: str, value: str | None = None) -> None:
    """Wait until the URL has `key` (with `value`, if given): the rerun that set it finished."""
    page.wait_for_function(
        "([k, v]) => { const q = new URLSearchParams(location.search);"
        " return q.has(k) && (v === null || q.get(k) === v); }", arg=[key, value], timeout=TIMEOUT_MS)
    wait_idle(page)


def slider_input(page, label: str):
    return page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(has_text=label) \
        .locator('input[type="range"]')


def press_slider(page, label: str, key: str, times: int = 1) -> None:
    """ArrowRight on the sidebar slider `label`, `times` times; wait for the URL to follow."""
    thumb = slider_input(page, label)
    for _ in range(times):
        before = thumb.input_value()
        thumb.focus()
        page.keyboard.press("ArrowRight")
        expect(thumb).not_to_have_value(before, timeout=TIMEOUT_MS)
    wait_for_query(page, key, thumb.input_value())


def edit_first_weight(page, value: str) -> tuple[str, int, float]:
    """Type `value` into the first cell of the W_xh table; return the edit the URL then holds."""
    wait_idle(page)
    grid = page.get_by_test_id("stDataFrame").first
    editor = page.locator("#portal input, #portal textarea").first
    for _ in range(5):       # a rerun may remount the grid under the click: try again
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        # glide's canvas: a 35 px header row, then rows of 35 px; the row labels take < 100 px
        page.mouse.click(box["x"] + 130, box["y"] + 35 + 17)
        page.keyboard.press("Enter")                         # open the cell's editor
        try:
            editor.wait_for(timeout=5000)
            break
        except PlaywrightTimeout:
            continue
    editor.fill(value)
    editor.press("Enter")
    wait_for_query(page, "edits")
    name_index, edited = query(page)["edits"].split("=")
    name, index = name_index.split(".")
    return name, int(index), float(edited)


def wait_until(check, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Poll `check()` (a redraw may come after the script finished) until true or time out."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {check.__doc__ or check}"
        time.sleep(0.2)


def share_link(page) -> str:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Share this view").click()
    code = sidebar.get_by_test_id("stCode")
    expect(code).to_be_visible()
    return code.inner_text().strip()


def upload(page, name: str, data: bytes) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}])


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def default_arrays(**overrides) -> dict:
    return {**rc.init_params(3, 8, 3, seed=7).to_dict(), **overrides}


# ---- every page --------------------------------------------------------------------------------

def test_every_page_loads_without_an_exception(page, app_url):
    open_page(page, app_url)
    labels = [link.inner_text().split("\n")[-1].strip()
              for link in page.get_by_test_id("stSidebarNavLink").all()]
    assert {"Home", MODEL} <= set(labels)
    for label in labels:
        nav_to(page, label)
        if page.get_by_test_id("stPlotlyChart").count():
            plotly_figures(page)
        assert_no_exception(page)
        screenshot(page, "page_" + re.sub(r"\W+", "_", label.lower()).strip("_"))


def test_presentation_mode_screenshots(page, app_url):
    open_page(page, app_url, query="presentation=1&activation=relu&rho=1.5&T=30")
    assert_no_exception(page)
    screenshot(page, "presentation_home")
    nav_to(page, MODEL)
    plotly_figures(page)
    screenshot(page, "presentation_model")


# ---- controls redraw and settings persist --------------------------------------------------------

def test_a_sidebar_slider_redraws_the_heatmaps(page, app_url):
    open_page(page, app_url, MODEL)
    assert heatmaps(page)["W_hh"].shape == (8, 8)
    press_slider(page, "Hidden units H", "H")
    wait_until(lambda: heatmaps(page)["W_hh"].shape == (9, 9))
    assert "H=9" in sizes_line(page)
    assert_no_exception(page)


def test_the_weight_tabs_draw_the_open_table_only(page, app_url):
    open_page(page, app_url, MODEL)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)
    page.get_by_role("tab", name="W_hh").click()
    expect(page.get_by_role("tab", name="W_hh")).to_have_attribute("aria-selected", "true")
    # The rerun adds W_hh's table before it removes W_xh's: wait for the new one, then for one.
    expect(page.get_by_role("tabpanel", name="W_hh").get_by_test_id("stDataFrame")).to_be_visible()
    wait_idle(page)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)
    assert_no_exception(page)


def test_page_switches_keep_non_default_settings(page, app_url):
    open_page(page, app_url)
    press_slider(page, "Sequence length T", "T", times=2)
    page.get_by_test_id("stSidebar").get_by_role("radio", name="ReLU", exact=True).click()
    wait_for_query(page, "activation", "relu")
    labels = [link.inner_text().split("\n")[-1].strip() for link in page.get_by_test_id("stSidebarNavLink").all()]
    for label in labels[1:] + ["Home"]:
        nav_to(page, label)
        assert_no_exception(page)
        assert query(page).get("T") == "14" and query(page).get("activation") == "relu", label
    assert slider_input(page, "Sequence length T").input_value() == "14"
    nav_to(page, MODEL)
    assert "T=14" in sizes_line(page)
    assert page.locator(".katex").filter(has_text="ReLU").count() > 0     # h_t = ReLU(a_t)


def test_editing_a_weight_changes_what_the_model_page_shows(page, app_url):
    open_page(page, app_url, MODEL)
    before = heatmaps(page)
    name, index, value = edit_first_weight(page, "2.5")
    assert (name, value) == ("W_xh", 2.5)
    expect(page.get_by_test_id("stMetric").filter(has_text="edited")
           .get_by_test_id("stMetricValue")).to_have_text("1", timeout=TIMEOUT_MS)
    after = heatmaps(page)
    row, col = divmod(index, before["W_xh"].shape[1])
    assert after["W_xh"][row, col] == 2.5 and before["W_xh"][row, col] != 2.5
    changed = np.argwhere(after["W_xh"] != before["W_xh"])
    assert changed.tolist() == [[row, col]]
    assert metric(page, "edited") == "1"
    nav_to(page, "Home")
    nav_to(page, MODEL)
    assert heatmaps(page)["W_xh"][row, col] == 2.5            # the edit is kept across pages
    assert_no_exception(page)


def test_the_share_link_shows_the_same_numbers_in_a_fresh_browser(page, app_url, browser):
    open_page(page, app_url, MODEL)
    press_slider(page, "Hidden units H", "H")
    page.get_by_test_id("stSidebar").get_by_role("radio", name="sigmoid", exact=True).click()
    wait_for_query(page, "activation", "sigmoid")
    edit_first_weight(page, "-1.75")
    numbers = heatmaps(page)
    metrics = {label: metric(page, label) for label in ("ρ(W_hh)", "σ_max(W_hh)", "edited")}
    link = share_link(page)
    assert link.startswith(app_url) and "edits=" in link and "activation=sigmoid" in link

    context = browser.new_context(viewport=VIEWPORT)
    try:
        fresh = context.new_page()
        fresh.goto(link)
        fresh.get_by_test_id("stMetric").first.wait_for(timeout=TIMEOUT_MS)
        wait_idle(fresh)
        shown = heatmaps(fresh)
        for name in HEATMAP_NAMES:
            np.testing.assert_array_equal(shown[name], numbers[name], err_msg=name)
        assert {label: metric(fresh, label) for label in metrics} == metrics
        assert_no_exception(fresh)
    finally:
        context.close()


# ---- uploads -----------------------------------------------------------------------------------

def test_a_good_upload_replaces_the_weights_and_adopts_its_sizes(page, app_url):
    open_page(page, app_url, MODEL)
    arrays = rc.init_params(3, 5, 3, seed=42).to_dict()
    upload(page, "five_hidden.npz", npz(**arrays))
    expect(page.get_by_test_id("stAlert").filter(has_text="Loaded the weights")).to_be_visible(timeout=TIMEOUT_MS)
    wait_idle(page)
    assert "H = 5" in page.get_by_test_id("stAlert").filter(has_text="Loaded").inner_text()
    np.testing.assert_array_equal(heatmaps(page)["W_hh"], arrays["W_hh"])
    assert query(page)["H"] == "5"


HOSTILE = {
    "pickle": ("evil.npz", lambda: npz(**default_arrays(W_hh=np.array([{"x": 1}], dtype=object))), "pickle"),
    "shapes": ("shapes.npz", lambda: npz(**default_arrays(W_hh=np.zeros((8, 9)))), "do not fit together"),
    "nan": ("nan.npz", lambda: npz(**default_arrays(b_h=np.full(8, np.nan))), "NaN or infinite"),
    "text": ("notes.npz", lambda: b"W_xh,W_hh\n1,2\n" * 20, "not a NumPy archive"),
    "pickle_file": ("weights.npz", lambda: pickle.dumps(default_arrays()), "not a NumPy archive"),
    "huge": ("huge.npz", lambda: bytes(MAX_FILE_BYTES + 2**20),
             rf"File must be {MAX_FILE_BYTES // 2**20}(\.0)?MB or smaller"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_uploads_get_a_message_and_the_old_weights_stay(page, app_url, case):
    filename, make, expected = HOSTILE[case]
    open_page(page, app_url, MODEL, query="edits=W_hh.0=0.25")
    before, url_before = heatmaps(page), page.url
    upload(page, filename, make())
    if case == "huge":
        # Streamlit refuses it in the browser (server.maxUploadSize): a red file chip whose alert
        # says why; the app never receives the file
        message = page.get_by_test_id("stFileUploader").get_by_role("alert").filter(has_text=re.compile(expected))
        expect(message).to_have_count(1, timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("stFileChip")).to_have_attribute("aria-invalid", "true")
    else:
        message = page.get_by_test_id("stAlert").filter(has_text=re.compile(expected))
        expect(message).to_be_visible(timeout=TIMEOUT_MS)
        assert "previous weights are kept" in message.inner_text()
    wait_idle(page)
    after = heatmaps(page)
    for name in HEATMAP_NAMES:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    assert after["W_hh"][0, 0] == 0.25 and page.url == url_before
    assert_no_exception(page)
    page.get_by_test_id("stFileUploader").scroll_into_view_if_needed()
    screenshot(page, f"upload_{case}", full_page=False)
