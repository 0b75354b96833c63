"""The cell choice across the app in headless Chromium: the sidebar's Cell shows what applies to
the cell, a link with an LSTM view reproduces it in a fresh browser, and hostile cell links get a
message and a working page."""
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, VIEWPORT, assert_no_exception, nav_to, open_page, plotly_figures, wait_idle

pytestmark = pytest.mark.e2e
PAGES = ("Unrolled graph", "Vanishing & exploding", "Model & weights", "Derivation", "Training & truncation")
LSTM_VIEW = {"cell": "lstm", "T": "30", "H": "6", "forget_bias": "2.0"}


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def choose_cell(page, title: str) -> None:
    """Pick `title` in the sidebar's Cell selectbox and wait for the rerun it starts."""
    sidebar(page).get_by_test_id("stSelectbox").filter(has_text="Cell").click()
    page.get_by_role("option", name=title, exact=True).click()
    wait_idle(page)


def warnings(page) -> str:
    return " ".join(page.get_by_test_id("stAlertContentWarning").all_inner_texts())


def chart_numbers(page) -> list[np.ndarray]:
    """The y values of every trace of the page's first chart (what the reader sees plotted)."""
    figure = plotly_figures(page)[0]
    return [np.array(trace.get("y", []), dtype=float) for trace in figure["data"] if "y" in trace]


def test_the_cell_choice_shows_what_applies_to_the_cell(page, app_url):
    open_page(page, app_url)
    expect(sidebar(page).get_by_text("Activation f", exact=True)).to_be_visible()
    choose_cell(page, "LSTM")
    page.wait_for_function("() => new URLSearchParams(location.search).get('cell') === 'lstm'", timeout=TIMEOUT_MS)
    expect(sidebar(page).get_by_text("Forget-gate bias b_f")).to_be_visible()
    expect(sidebar(page).get_by_role("radio", name="ReLU", exact=True)).to_have_count(0)
    expect(sidebar(page).get_by_text("gates are sigmoids")).to_be_visible()     # said, not drawn
    choose_cell(page, "GRU")
    page.wait_for_function("() => new URLSearchParams(location.search).get('cell') === 'gru'", timeout=TIMEOUT_MS)
    expect(sidebar(page).get_by_text("Forget-gate bias b_f")).to_have_count(0)
    choose_cell(page, "vanilla RNN")
    page.wait_for_function("() => !new URLSearchParams(location.search).has('cell')", timeout=TIMEOUT_MS)
    expect(sidebar(page).get_by_role("radio", name="ReLU", exact=True)).to_be_visible()
    assert_no_exception(page)


def test_an_lstm_link_reproduces_the_view_in_a_fresh_browser(page, app_url, browser):
    open_page(page, app_url, "Vanishing & exploding", query=LSTM_VIEW)
    numbers = chart_numbers(page)
    assert numbers and all(len(y) for y in numbers)
    sidebar(page).get_by_text("Share this view").click()
    link = sidebar(page).get_by_test_id("stCode").inner_text().strip()
    assert all(f"{key}={value}" in link for key, value in LSTM_VIEW.items()), link
    context = browser.new_context(viewport=VIEWPORT)
    try:
        fresh = context.new_page()
        fresh.goto(link)
        fresh.get_by_test_id("stPlotlyChart").first.wait_for(timeout=TIMEOUT_MS)
        wait_idle(fresh)
        assert query(fresh) == LSTM_VIEW
        shown = chart_numbers(fresh)
        assert len(shown) == len(numbers)
        for a, b in zip(shown, numbers):
            np.testing.assert_array_equal(a, b)
        assert_no_exception(fresh)
    finally:
        context.close()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_every_page_works_for_a_gated_cell(page, app_url, cell):
    for label in PAGES:
        open_page(page, app_url, label, query={"cell": cell, "T": "20"})
        wait_idle(page)
        assert_no_exception(page)
        assert query(page).get("cell") == cell, label


# Regression: Streamlit's frontend can drop the sidebar widgets' state on a page switch and draw
# them at the default they were sent; before ui/state.py made that default the config's value, the
# URL became T=1&H=1&D=1&O=1 here (on a fresh clone, every time).
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_page_switches_keep_a_gated_cell(page, app_url, cell):
    open_page(page, app_url, query={"cell": cell, "T": "20"})
    for label in PAGES:
        nav_to(page, label)
        wait_idle(page)
        assert_no_exception(page)
        assert query(page).get("cell") == cell, label


@pytest.mark.parametrize("link, expected", [
    ({"cell": "transformer"}, "Cell"),
    ({"edits": "W_hf.0=1.0"}, "does not have"),
    ({"cell": "gru", "activation": "relu", "rho": "0.5"}, "applies to the vanilla RNN only"),
])
def test_a_hostile_cell_link_gets_a_message_and_a_working_page(page, app_url, link, expected):
    open_page(page, app_url, query=link)
    expect(page.get_by_test_id("stAlertContentWarning").first).to_be_visible()   # said on the first run
    assert expected in warnings(page)
    nav_to(page, "Vanishing & exploding")
    page.get_by_test_id("stPlotlyChart").first.wait_for(timeout=TIMEOUT_MS)
    assert_no_exception(page)
