"""Hostile input in a real browser: a link written to deceive shows its values as plain text,
uploads with a wrong extension are refused without a traceback, the largest and most explosive
settings render on every page, and a share link to a page works as the first visit to a
freshly started server (as on Community Cloud after the app slept)."""
from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

import rnn_core as rc
from ui.weights_io import MAX_FILE_BYTES, to_json_bytes

from tests.e2e.conftest import (TIMEOUT_MS, assert_no_exception, nav_to, open_page, plotly_figures,
                                screenshot, wait_idle)
from tests.e2e.server import streamlit_server

pytestmark = pytest.mark.e2e
NAV = ("Home", "Unrolled graph", "Vanishing & exploding", "Model & weights", "Derivation", "Training & truncation")
MAX_WARNINGS = 6          # ui.state.MAX_WARNINGS


def main_alerts(page) -> list[str]:
    return page.get_by_test_id("stMain").get_by_test_id("stAlert").all_inner_texts()


# ---- a deceptive link ----------------------------------------------------------------------------

DECEPTIVE = {
    "activation": "[Log in again](https://evil.example/login)",
    "notation": "<img src=x onerror=\"document.title='pwned'\">",
    "loss": ":red[URGENT] www.evil.example",
    "init": "$\\href{https://evil.example}{click}$",
    "seed": "**1**",
    **{f"junk{i}": str(i) for i in range(40)},
}


def test_a_deceptive_link_shows_its_values_as_plain_text(page, app_url):
    open_page(page, app_url, None, query=DECEPTIVE)
    alerts = page.get_by_test_id("stMain").get_by_test_id("stAlert")
    expect(alerts.first).to_be_visible(timeout=TIMEOUT_MS)
    texts = main_alerts(page)
    assert 1 <= len(texts) <= MAX_WARNINGS, texts
    shown = "\n".join(texts).replace("\u2060", "")                  # word joiners that break URLs
    assert "[Log in again](https://evil.example/logi" in shown          # literally (cut at 40 characters)
    assert "more settings were ignored or replaced" in shown
    assert alerts.locator("a").count() == 0                            # no link, not even www.
    assert alerts.locator("img, .katex, [style*='color']").count() == 0
    assert page.title() != "pwned"
    assert_no_exception(page)
    screenshot(page, "hostile_link", full_page=False)


# ---- uploads the widget must refuse by name --------------------------------------------------------

@pytest.mark.parametrize("nav, query, filename", [
    ("Model & weights", {"edits": "W_hh.0=0.25"}, "weights.json.exe"),
    ("Model & weights", {"edits": "W_hh.0=0.25"}, "weights.pkl"),
    ("Training & truncation", {"tr_text": "upload"}, "notes.pdf"),
])
def test_an_upload_with_a_wrong_extension_is_refused_without_a_traceback(page, app_url, nav, query, filename):
    open_page(page, app_url, nav, query=query)
    url_before = page.url
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": filename, "mimeType": "application/octet-stream", "buffer": b'{"W_hh": [[1]]}'}])
    page.wait_for_timeout(1500)
    wait_idle(page)
    assert_no_exception(page)
    # Streamlit's own refusal on the file chip ("... files are not allowed"); the app never sees it
    expect(page.get_by_test_id("stFileUploader").get_by_text("not allowed", exact=False)).to_be_visible()
    assert page.url == url_before                     # the config (and its weight edit) is unchanged
    screenshot(page, f"hostile_extension_{filename.replace('.', '_')}", full_page=False)


def test_an_over_limit_upload_hides_the_message_about_the_previous_file(page, app_url):
    """The browser refuses the big file without a rerun: the last message must not sit beside
    the refusal as if it were about the new file; removing the refused file shows it again."""
    open_page(page, app_url, "Model & weights")
    dropzone = page.get_by_test_id("stFileUploaderDropzoneInput")
    good = rc.init_params(3, 5, 3, seed=1)
    dropzone.set_input_files(files=[{"name": "good.json", "mimeType": "application/json",
                                     "buffer": to_json_bytes(good)}])
    loaded = page.get_by_test_id("stAlert").filter(has_text="Loaded the weights")
    expect(loaded).to_be_visible(timeout=TIMEOUT_MS)
    wait_idle(page)
    dropzone.set_input_files(files=[{"name": "huge.npz", "mimeType": "application/octet-stream",
                                     "buffer": bytes(MAX_FILE_BYTES + 2**20)}])
    refused = page.get_by_test_id("stFileChip").filter(has_text="huge.npz")
    expect(refused).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT_MS)
    expect(loaded).to_be_hidden()
    screenshot(page, "hostile_upload_over_limit", full_page=False)
    refused.get_by_role("button").click()
    expect(loaded).to_be_visible(timeout=TIMEOUT_MS)
    assert_no_exception(page)


# ---- the extremes, in the browser -------------------------------------------------------------------

EXTREME = {"T": "500", "H": "256", "rho": "5.0", "activation": "relu"}


def test_the_largest_most_explosive_model_renders_on_every_page(page, app_url):
    open_page(page, app_url, None, query=EXTREME)
    seconds = {}
    for nav in NAV:
        start = time.monotonic()
        nav_to(page, nav)
        wait_idle(page)
        seconds[nav] = time.monotonic() - start
        assert_no_exception(page)
        assert page.get_by_test_id("stMain").get_by_role("heading").count() >= 1, nav
        if nav in ("Unrolled graph", "Vanishing & exploding", "Model & weights"):
            assert plotly_figures(page), nav
        screenshot(page, f"hostile_extreme_{nav.split()[0].lower()}", full_page=False)
    print("seconds per page at T = 500, H = 256:", {k: round(v, 1) for k, v in seconds.items()})


# ---- a share link as the first visit of a fresh server ----------------------------------------------

@pytest.fixture
def fresh_server():
    """A `streamlit run app.py` that no browser has visited yet."""
    with streamlit_server("app.py") as (url, _):
        yield url


def test_a_share_link_to_a_page_works_as_the_first_visit_of_a_fresh_server(page, fresh_server):
    page.goto(f"{fresh_server}/vanishing?{urlencode({'T': '20', 'rho': '1.1'})}")
    page.get_by_test_id("stSidebar").wait_for(timeout=TIMEOUT_MS)
    page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_test_id("stSlider").filter(has_text="Spectral radius").count() == 1, \
        "the page ran without app.py: no settings in the sidebar"
    assert sidebar.get_by_test_id("stSidebarNav").get_by_role("link", name="Vanishing & exploding").count() == 1
    assert_no_exception(page)
