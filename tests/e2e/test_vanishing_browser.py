"""Vanishing & exploding page in Chromium: the sidebar's spectral radius, moved with the
keyboard, turns the fitted label from vanishing to exploding; page controls redraw the charts;
choosing the LSTM or the GRU redraws the page for that cell (its memory path beside the curve),
and the comparison chart shows the three cells (issue 14);
the section control shows one part of the page at a time and goes into the link; extreme
settings show notes, never a traceback; at lecture viewports (presentation mode at 1280x720 and
1920x1080, 1440x900 normally) no metric is cut, no chart text is under the toolbar, the fitted
factor's label is off the curve, and no notation has a KaTeX error (screenshots for people to
look at)."""
import csv
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (TIMEOUT_MS, assert_no_exception, open_page, plotly_figures, screenshot,
                                wait_idle)
from ui.notation import NOTATIONS

pytestmark = pytest.mark.e2e
NAV = "Vanishing & exploding"


def factor_label(page) -> str:
    """The fitted per-step factor as the main chart prints it, e.g. 'vanishing: x0.62 per step'."""
    main = plotly_figures(page, at_least=3)[0]            # the main curve, then the default section
    # an annotation, or the ρ scrubber's text trace (which its frames move)
    [label] = [a["text"] for a in main["layout"].get("annotations", []) if a.get("name") == "factor"] + \
        [t["text"][0] for t in main["data"] if t.get("meta") == "factor"]
    return re.sub(r"<[^>]+>", "", label)


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
                   const said = (el ? (el.layout.annotations || []).filter(a => a.name === 'factor').map(a => a.text)
                     .concat(el.data.filter(t => t.meta === 'factor').map(t => t.text[0])) : []);
                   return said.some(text => text.includes('exploding')); }""",
        timeout=60_000)
    wait_idle(page)
    after = factor_label(page)
    assert after.startswith("exploding"), after
    assert "exploding" in page.get_by_test_id("stMetric").first.inner_text()
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
    assert len(plotly_figures(page, at_least=10)) == 10        # with the three cells compared and the all-pairs row
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


# ---- issue 16: readable on a projector, in every notation --------------------------------------

_LAYOUT_PROBLEMS_JS = """
() => {
  const box = e => e.getBoundingClientRect();
  const overlap = (a, b) => a.width > 0 && b.width > 0 && a.left < b.right && b.left < a.right
                            && a.top < b.bottom && b.top < a.bottom;
  const problems = [];
  // a metric's value or its note cut (the browser hides what does not fit)
  for (const e of document.querySelectorAll(
      '[data-testid="stMetricValue"], [data-testid="stMetricValue"] *, [data-testid="stMetricDelta"] *')) {
    if (e.scrollWidth > e.clientWidth + 1) problems.push('metric cut: ' + e.textContent);
  }
  for (const e of document.querySelectorAll('.katex-error')) problems.push('katex error: ' + e.textContent);
  for (const plot of document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')) {
    const bar = plot.querySelector('.modebar');
    const texts = [...plot.querySelectorAll('.gtitle, .annotation')];
    if (bar) for (const t of texts)
      if (overlap(box(bar), box(t))) problems.push('toolbar covers: ' + t.textContent);
    for (const t of texts)             // text running off the figure is cut by it
      if (box(t).width > 0 && (box(t).right > box(plot).right + 1 || box(t).left < box(plot).left - 1))
        problems.push('text off the figure: ' + t.textContent);
    // the fitted-factor label sits above the plot area, never over the curve
    const area = plot.querySelector('.nsewdrag');
    for (const t of plot.querySelectorAll('.annotation')) {
      if (/per step/.test(t.textContent) && box(t).bottom > box(area).top + 1)
        problems.push('label over the plot: ' + t.textContent);
    }
  }
  return problems;
}
"""


def layout_problems(page) -> list[str]:
    """Cut metric values, KaTeX errors, chart text under the toolbar, a label over the curve."""
    page.get_by_test_id("stPlotlyChart").first.hover()        # the toolbar is drawn on hover
    return page.evaluate(_LAYOUT_PROBLEMS_JS)


VIEWPORTS = [("p1280", {"width": 1280, "height": 720}, {"presentation": "1"}),
             ("p1920", {"width": 1920, "height": 1080}, {"presentation": "1"}),
             ("n1440", {"width": 1440, "height": 900}, {})]
PRESET_QUERIES = {"default": {}, "exploding": {"activation": "relu", "rho": "1.5", "T": "30"},
                  "irnn": {"activation": "relu", "init": "identity", "rho": "1.0", "T": "30"}}


@pytest.mark.parametrize("preset", list(PRESET_QUERIES))
@pytest.mark.parametrize("name, viewport, query", VIEWPORTS, ids=[v[0] for v in VIEWPORTS])
def test_nothing_cut_or_covered_at_lecture_viewports(page, app_url, name, viewport, query, preset):
    page.set_viewport_size(viewport)
    open_page(page, app_url, NAV, query={**query, **PRESET_QUERIES[preset], "v_section": "all"})
    plotly_figures(page, at_least=8)
    wait_idle(page)
    assert layout_problems(page) == []
    assert_no_exception(page)
    screenshot(page, f"vanishing_{preset}_{name}", full_page=False)


@pytest.mark.parametrize("notation", list(NOTATIONS))
def test_no_katex_error_in_any_notation(page, app_url, notation):
    open_page(page, app_url, NAV, query={"notation": notation, "v_section": "all", "activation": "identity"})
    plotly_figures(page, at_least=8)
    wait_idle(page)
    # the equations and the captions' maths, typeset (KaTeX may finish after the script run)
    page.wait_for_function("() => document.querySelectorAll('.katex').length >= 3", timeout=TIMEOUT_MS)
    assert page.locator(".katex-error").count() == 0


# ---- issue 14: the cells ------------------------------------------------------------------------

LSTM_CARRIES = {"cell": "lstm", "forget_bias": "1.0", "init": "orthogonal", "T": "100", "v_section": "cells"}


def sidebar_cell(page, title: str) -> None:
    """Pick `title` in the sidebar's Cell selectbox."""
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Cell").click()
    page.get_by_role("option", name=title, exact=True).click()


def metric_labels(page) -> list[str]:
    return [t.strip() for t in page.get_by_test_id("stMetricLabel").all_inner_texts()]


@pytest.mark.parametrize("presentation", [False, True], ids=["normal", "presentation"])
def test_the_comparison_chart_shows_three_curves(page, app_url, presentation):
    query = {**LSTM_CARRIES, **({"presentation": "1"} if presentation else {})}
    open_page(page, app_url, NAV, query=query)
    figures = plotly_figures(page, at_least=2)
    assert curve_names(figures[1])[0].startswith("vanilla RNN")
    assert [n.split(" ·")[0] for n in curve_names(figures[1])] == ["vanilla RNN", "LSTM", "GRU"]
    assert all(len(t["y"]) == 100 for t in figures[1]["data"] if t.get("meta") == "curve")
    expect(page.get_by_text("At T = 100, 99 steps back").first).to_be_visible()
    expect(page.get_by_text("times as much as the vanilla RNN").first).to_be_visible()
    assert layout_problems(page) == []
    assert_no_exception(page)
    screenshot(page, f"vanishing_compare_cells{'_presentation' if presentation else ''}")


def test_choosing_a_gated_cell_changes_the_page(page, app_url):
    open_page(page, app_url, NAV, query={"T": "40"})
    plotly_figures(page, at_least=3)
    assert metric_labels(page)[2].startswith("Spectral radius")
    for title, cell, label in (("LSTM", "lstm", "Mean forget gate f"), ("GRU", "gru", "Mean update gate z")):
        sidebar_cell(page, title)
        page.wait_for_function(f"() => new URLSearchParams(location.search).get('cell') === '{cell}'",
                               timeout=TIMEOUT_MS)
        page.wait_for_function(
            """() => { const el = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
                       return el && el.data.some(t => t.meta === 'gate')
                                 && !el.data.some(t => t.meta === 'bound'); }""",
            timeout=TIMEOUT_MS)
        wait_idle(page)
        assert metric_labels(page)[2] == label
        expect(page.get_by_text("The sweeps vary the vanilla RNN").first).to_be_visible()
        assert_no_exception(page)
        screenshot(page, f"vanishing_{cell}")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("name, viewport, query", VIEWPORTS[::2], ids=[v[0] for v in VIEWPORTS[::2]])
def test_gated_cells_nothing_cut_or_covered(page, app_url, name, viewport, query, cell):
    page.set_viewport_size(viewport)
    open_page(page, app_url, NAV, query={**query, "cell": cell, "init": "orthogonal", "T": "40", "v_section": "all"})
    plotly_figures(page, at_least=6)
    wait_idle(page)
    assert layout_problems(page) == []
    assert page.locator(".katex-error").count() == 0
    assert_no_exception(page)
    screenshot(page, f"vanishing_{cell}_all_{name}")


@pytest.mark.parametrize("notation", list(NOTATIONS))
def test_no_katex_error_for_the_lstm_in_any_notation(page, app_url, notation):
    open_page(page, app_url, NAV, query={"notation": notation, "v_section": "all", "cell": "lstm", "T": "20"})
    plotly_figures(page, at_least=6)
    wait_idle(page)
    page.wait_for_function("() => document.querySelectorAll('.katex').length >= 4", timeout=TIMEOUT_MS)
    assert page.locator(".katex-error").count() == 0


def test_the_curves_download_is_the_pages_curves(page, app_url):
    """The CSV, made only when clicked, holds a row per step with the main curve the chart draws."""
    open_page(page, app_url, NAV, query={"T": "30", "rho": "1.2"})
    main = plotly_figures(page, at_least=3)[0]
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="Download the curves").click()
    download = info.value
    assert download.suggested_filename == "vanishing_curves.csv"
    with open(download.path()) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 31))
    [drawn] = [t for t in main["data"] if t.get("meta") == "curve"]
    norms = [float(r["norm_dhT_dhk"]) for r in rows]
    assert all(n > 0 for n in norms) and any(k.startswith("sweep ") for k in rows[0])
    assert norms[-len(drawn["y"]):] == pytest.approx(drawn["y"], rel=1e-12)
    assert_no_exception(page)
