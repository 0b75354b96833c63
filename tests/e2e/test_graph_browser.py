"""End to end: the Unrolled graph page in Chromium. The animation runs, steps can be chosen by
slider and by clicking a node, overflow is named; screenshots at T = 5, 20 and 100."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, assert_no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
NAV = "Unrolled graph"

# The animated chart (the one with a frame slider) as plain data.
GRAPH_JS = """
() => {
  const el = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
    .find(e => e.layout && e.layout.sliders && e.layout.sliders.length);
  if (!el) return null;
  const plain = v => (ArrayBuffer.isView(v) ? Array.from(v) : Array.isArray(v) ? v.map(plain) : v);
  const veil = el.data.find(t => t.meta === 'veil');
  return {
    frames: el._transitionData._frames.map(f => f.name),
    active: el._fullLayout.sliders[0].active,
    veilEnd: Math.max(...plain(veil.x)),
    metas: el.data.map(t => t.meta),
    nodeSteps: el.data.filter(t => String(t.meta).startsWith('nodes:')).flatMap(t => plain(t.customdata)),
  };
}
"""
LATEX_JS = """() => Array.from(document.querySelectorAll('annotation[encoding="application/x-tex"]'))
                     .map(a => a.textContent).join('\\n')"""


def open_graph(page, app_url, query: dict) -> dict:
    open_page(page, app_url, NAV, query=query)
    page.wait_for_function(f"() => ({GRAPH_JS})() !== null", timeout=TIMEOUT_MS)
    assert_no_exception(page)
    return page.evaluate(GRAPH_JS)


@pytest.mark.parametrize("T", [5, 20, 100])
def test_graph_renders_readably(page, app_url, T):
    graph = open_graph(page, app_url, {"T": T})
    assert len(graph["frames"]) == T and graph["frames"][0] == str(T) and graph["frames"][-1] == "1"
    assert set(graph["nodeSteps"]) == {0, T + 1, *range(1, min(T, 16) + 1)}   # h_0, L, the window
    assert graph["veilEnd"] < 0                       # the static view: every step reached
    expect(page.get_by_text("backward pass has reached t = 1")).to_be_visible()
    screenshot(page, f"graph_T{T}")


def test_play_advances_the_frames_and_pause_stops_them(page, app_url):
    graph = open_graph(page, app_url, {"T": 20})
    assert graph["active"] == 19
    page.locator("g.updatemenu-button").filter(has_text="slow").click()
    # the pass restarts at t = T: the veil covers the early steps, and the slider moves
    page.wait_for_function(f"() => {{ const g = ({GRAPH_JS})(); return g.veilEnd > 5 && g.active < 19; }}",
                           timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => ({GRAPH_JS})().veilEnd < 15", timeout=TIMEOUT_MS)   # and moves on
    screenshot(page, "graph_playing", full_page=False)
    page.locator("g.updatemenu-button").filter(has_text="Pause").click()
    page.wait_for_timeout(300)
    paused = page.evaluate(GRAPH_JS)
    page.wait_for_timeout(1500)
    assert page.evaluate(GRAPH_JS)["active"] == paused["active"]
    assert_no_exception(page)


def test_choosing_a_step_shows_its_details(page, app_url):
    open_graph(page, app_url, {"T": 12})
    assert r"\partial h_{1}}" in page.evaluate(LATEX_JS)
    slider = page.get_by_test_id("stSlider").filter(has_text="Step t in detail").locator('input[type="range"]')
    if slider.count() == 0:
        slider = page.get_by_role("slider", name="Step t in detail")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => ({LATEX_JS})().includes('\\\\partial h_{{3}}}}')", timeout=TIMEOUT_MS)
    wait_idle(page)
    # clicking the node h_7 selects step 7
    point = page.evaluate("""() => {
      const el = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
        .find(e => e.layout && e.layout.sliders && e.layout.sliders.length);
      el.scrollIntoView({block: 'center'});
      const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis, box = el.getBoundingClientRect();
      return {x: box.left + xa._offset + xa.l2p(7), y: box.top + ya._offset + ya.l2p(1)};
    }""")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function(f"() => ({LATEX_JS})().includes('\\\\partial h_{{7}}}}')", timeout=TIMEOUT_MS)
    wait_idle(page)
    assert "g_step=7" in page.url
    screenshot(page, "graph_step_details")
    assert_no_exception(page)


def test_exploding_gradients_are_drawn_and_named(page, app_url):
    graph = open_graph(page, app_url, {"T": 500, "activation": "relu", "rho": 5.0, "g_start": 485})
    assert "nodes:overflow (inf/nan)" in graph["metas"]
    expect(page.get_by_text("The gradient overflowed").first).to_be_visible()
    screenshot(page, "graph_overflow")
