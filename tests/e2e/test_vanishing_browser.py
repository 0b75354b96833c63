"""Vanishing & exploding page in Chromium: the sidebar's spectral radius, moved with the
keyboard, turns the fitted label from vanishing to exploding; page controls redraw the charts;
the section control shows one part of the page at a time and goes into the link; extreme
settings show notes, never a traceback (screenshots for people to look at)."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (TIMEOUT_MS, assert_no_exception, open_page, plotly_figures, screenshot,
                                wait_idle)

pytestmark = pytest.mark.e2e
NAV = "Vanishing & exploding"


def factor_label(page) -> str:
    """The fitted per-step factor as the main chart prints it, e.g. 'vanishing: x0.62 per step'."""
    main = plotly_figures(page, at_least=3)[0]            # the main curve, then the default section
    return re.sub(r"<[^>]+>", "", main["layout"]["annotations"][0]["text"])


def curve_names(figure: dict) -> list[str]:
    return [t["name"] for t in figure["data"] if t.get("meta") == "curve"]


def test_rho_slider_turns_vanishing_into_exploding(page, app_url):
    open_page(page, app_url, NAV, query={"activation": "relu", "T": "30", "rho": "0.9"})
    before = factor_label(page)
    assert before.startswith("vanishing"), before
    screenshot(page, "vanishing_relu_rho0.9")
    thumb = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(
        has_text="Spectral radius").get_by_role("slider")
    for _ in range(22):                      # 0.9 + 22 x 0.05 = 2.0
        before = thumb.get_attribute("aria-valuenow")
        thumb.focus()
        page.keyboard.press("ArrowRight")
        expect(thumb).not_to_have_attribute("aria-valuenow", before)
    page.wait_for_function("() => new URLSearchParams(location.search).get('rho') === '2.0'", timeout=60_000)
    page.wait_for_function(
        """() => { const el = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
                   return el && el.layout.annotations[0].text.includes('exploding'); }""", timeout=60_000)
    wait_idle(page)
    after = factor_label(page)
    assert after.startswith("exploding"), after
    assert "exploding" in page.get_by_test_id("stMetricValue").first.inner_text()
    assert_no_exception(page)
    screenshot(page, "vanishing_relu_rho2.0")


def test_page_controls_redraw(page, app_url):
    open_page(page, app_url, NAV, query={"T": "40", "H": "16"})
    figures = plotly_figures(page, at_least=3)            # the main curve and the two sweeps
    assert len(curve_names(figures[1])) == 5 and len(curve_names(figures[2])) == 3
    page.get_by_text("Frobenius ‖·‖_F").click()
    page.wait_for_function(
        """() => { const el = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
                   return el && el.data.some(t => t.meta === 'bound' && t.name.includes('√H')); }""",
        timeout=TIMEOUT_MS)
    wait_idle(page)
    # remove one activation from the comparison: its curve leaves the chart
    acts = page.get_by_test_id("stMultiSelect").filter(has_text="Activations to compare")
    acts.get_by_role("button", name=re.compile("Remove.*identity", re.I)).first.click()
    page.wait_for_function(
        """() => { const els = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
                   return els.length >= 3 && els[2].data.filter(t => t.meta === 'curve').length === 2; }""",
        timeout=TIMEOUT_MS)
    wait_idle(page)
    assert "v_acts=tanh%2Crelu" in page.url or "v_acts=tanh,relu" in page.url
    assert_no_exception(page)
    screenshot(page, "vanishing_controls")


def test_section_control_shows_one_part_and_keeps_it_in_the_link(page, app_url):
    open_page(page, app_url, NAV, query={"T": "30", "rho": "1.2"})
    assert len(plotly_figures(page, at_least=3)) == 3
    page.get_by_test_id("stMain").get_by_role("radio", name="Spectrum").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('v_section') === 'spectrum'",
                           timeout=TIMEOUT_MS)
    page.wait_for_function(
        """() => { const els = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
                   return els.length === 2 && els[1].data.some(t => t.meta === 'eigenvalues'); }""",
        timeout=TIMEOUT_MS)
    wait_idle(page)
    expect(page.get_by_role("heading", name="The spectrum of")).to_be_visible()
    assert "rho=1.2" in page.url
    page.get_by_test_id("stMain").get_by_role("radio", name="Everything").click()
    assert len(plotly_figures(page, at_least=8)) == 8
    assert_no_exception(page)
    screenshot(page, "vanishing_section_everything")


@pytest.mark.parametrize("name, query", [
    ("vanishing_default", {}),
    ("vanishing_presentation", {"presentation": "1", "T": "40", "activation": "tanh", "rho": "1.2"}),
    ("vanishing_overflow", {"activation": "relu", "rho": "5", "T": "500", "H": "16"}),
    ("vanishing_identity", {"activation": "identity", "rho": "1.05", "T": "50", "notation": "dlbook"}),
])
def test_views_render_for_screenshots(page, app_url, name, query):
    open_page(page, app_url, NAV, query={**query, "v_section": "all"})
    figures = plotly_figures(page, at_least=8)
    assert all(f["data"] for f in figures)                         # no empty chart
    if name == "vanishing_presentation":       # values stay large on a projector, labels are not cut
        value = page.get_by_test_id("stMetricValue").first.locator("p")
        assert value.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 40
        label = page.get_by_test_id("stMetricLabel").first.locator("p")
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth")
    if name == "vanishing_overflow":
        page.get_by_text("overflowed").first.wait_for(timeout=TIMEOUT_MS)
    if name == "vanishing_identity":
        page.get_by_text("the curve is the norms of the matrix powers", exact=False).wait_for(timeout=TIMEOUT_MS)
    assert_no_exception(page)
    screenshot(page, name)
