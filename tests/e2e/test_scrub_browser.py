"""Issue 17 in Chromium: the Vanishing page's scrubbers move their charts in the browser. A click
on the ρ slider inside the main chart draws that radius's curve, bound and trend (the frame the
server sent) with no rerun (the app's script state never turns "running"); the sidebar's slider
still reruns and its value is the one the link shares and the chart shows first; the all-pairs
row's slider over t does the same. Screenshots at 1280x720, normal and on a projector."""
import re

import pytest

from tests.e2e.conftest import TIMEOUT_MS, assert_no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
NAV = "Vanishing & exploding"
CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'

# Counts the reruns from now on: each time the app's script state turns "running".
COUNT_RERUNS_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__reruns = 0;
  new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'running') window.__reruns += 1; })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

# What chart `index` draws now, and what its frame `name` holds (as the server sent it).
DRAWN_JS = """([index, name]) => {
  // plotly 6 keeps numpy arrays as {dtype, bdata, _inputArray (typed)}
  // (frames keep them encoded, {dtype, bdata})
  const TYPED = {f8: Float64Array, i1: Int8Array, i2: Int16Array, i4: Int32Array, u1: Uint8Array, u2: Uint16Array};
  const decode = v => Array.from(new TYPED[v.dtype](Uint8Array.from(atob(v.bdata), c => c.charCodeAt(0)).buffer));
  const arr = v => (v && v._inputArray ? Array.from(v._inputArray) : v && v.bdata ? decode(v)
                    : ArrayBuffer.isView(v) ? Array.from(v) : Array.isArray(v) ? v : null);
  const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[index];
  const curve = gd.data.findIndex(t => t.meta === 'curve');
  const frame = name === null ? null : gd._transitionData._frameHash[name];
  const factor = gd.data.findIndex(t => t.meta === 'factor');
  const slider = gd._fullLayout.sliders[0];
  return {y: arr(gd.data[curve].y), x: arr(gd.data[curve].x),
          frameY: frame ? arr(frame.data[curve].y) : null, frameX: frame ? arr(frame.data[curve].x) : null,
          factor: factor < 0 ? null : gd.data[factor].text[0],
          frameFactor: frame && factor >= 0 ? frame.data[factor].text[0] : null,
          // what the screen shows: the text element plotly drew for the factor trace
          shown: Array.from(gd.querySelectorAll('.textpoint text')).map(t => t.textContent),
          active: slider.active, label: slider.steps[slider.active].label,
          names: slider.steps.map(s => s.args[0][0])};
}"""


def drawn(page, index: int, name: str | None = None) -> dict:
    return page.evaluate(DRAWN_JS, [index, name])


def click_step(page, index: int, name: str) -> None:
    """Click the slider step of chart `index` that animates to frame `name`, as a user would."""
    steps = drawn(page, index)["names"]
    page.locator(CHART).nth(index).locator(".slider-rail-touch-rect").scroll_into_view_if_needed()
    point = page.evaluate("""([index, step]) => {
      const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[index];
      const rail = gd.querySelector('.slider-rail-touch-rect').getBoundingClientRect();
      const tick = gd.querySelectorAll('.slider-tick-rect')[step].getBoundingClientRect();
      return [tick.x + tick.width / 2, rail.y + rail.height / 2];
    }""", [index, steps.index(name)])
    page.mouse.click(*point)


def scrub_to(page, index: int, name: str) -> dict:
    """Click step `name`; wait until the chart draws it; return what it draws."""
    before = drawn(page, index)["y"]
    click_step(page, index, name)
    page.wait_for_function("""([index, before]) => {
      const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[index];
      const y = gd.data.find(t => t.meta === 'curve').y;
      const now = y && y._inputArray ? Array.from(y._inputArray) : Array.from(y);
      return JSON.stringify(now) !== JSON.stringify(before); }""", arg=[index, before],
                           timeout=TIMEOUT_MS)
    return drawn(page, index, name)


def same(a: list, b: list) -> bool:
    """Equal arrays, nan (a gap on the log axis) equal to nan (JSON turns it into null)."""
    return len(a) == len(b) and all(x == y or (x is None or x != x) and (y is None or y != y) for x, y in zip(a, b))


def test_scrubbing_rho_redraws_the_curve_without_a_rerun_and_the_link_keeps_the_sidebars(page, app_url):
    open_page(page, app_url, NAV, query={"T": "40", "rho": "0.9"})
    page.wait_for_selector(CHART, timeout=TIMEOUT_MS)
    wait_idle(page)
    first = drawn(page, 0, "0.9")
    assert first["label"] == "0.9 (the sidebar's)" and same(first["y"], first["frameY"])
    page.evaluate(COUNT_RERUNS_JS)
    for name in ("1.5", "0.3", "2"):
        now = scrub_to(page, 0, name)
        assert same(now["y"], now["frameY"]) and not same(now["y"], first["y"])
        assert now["factor"] == now["frameFactor"] and now["label"] == name
        assert re.sub(r"<[^>]+>", "", now["frameFactor"]) in now["shown"]      # drawn, not only in the data
    assert drawn(page, 0, "1.5")["frameFactor"] != first["factor"]       # the trend above the plot moves too
    page.wait_for_timeout(1500)                        # a rerun, had one started, would show by now
    assert page.evaluate("() => window.__reruns") == 0
    screenshot(page, "scrub_rho_2", full_page=False)
    # the sidebar's slider is the server's: it reruns, and the chart then starts at its new value
    thumb = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(
        has_text="Spectral radius").get_by_role("slider")
    thumb.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__reruns > 0", timeout=TIMEOUT_MS)
    page.wait_for_function(f"""() => {{ const gd = document.querySelector('{CHART}');
        const s = gd._fullLayout.sliders[0]; return s.steps[s.active].label.endsWith("(the sidebar's)")
          && s.steps[s.active].label !== "0.9 (the sidebar's)"; }}""", timeout=TIMEOUT_MS)
    wait_idle(page)
    moved = drawn(page, 0)
    assert "rho=" in page.url
    # the share link opens at the sidebar's value, whatever frame the scrubber was left on
    other = page.context.new_page()
    other.goto(page.url)
    other.wait_for_selector(CHART, timeout=TIMEOUT_MS)
    wait_idle(other)
    shared = drawn(other, 0)
    assert shared["label"] == moved["label"] and same(shared["y"], moved["y"])
    assert_no_exception(other)
    other.close()


def test_scrubbing_t_on_the_all_pairs_row_without_a_rerun(page, app_url):
    open_page(page, app_url, NAV, query={"T": "30", "v_section": "pairs"})
    page.wait_for_function(f"() => document.querySelectorAll('{CHART}').length >= 4", timeout=TIMEOUT_MS)
    wait_idle(page)
    index = page.evaluate(f"""() => Array.from(document.querySelectorAll('{CHART}'))
        .findIndex(gd => (gd.layout.sliders || []).some(s => (s.currentvalue || {{}}).prefix?.includes('t =')))""")
    assert index > 0
    start = drawn(page, index)
    assert start["label"] == "30" and len(start["x"]) == 30
    page.evaluate(COUNT_RERUNS_JS)
    now = scrub_to(page, index, "12")
    assert now["x"] == list(range(1, 13)) and same(now["y"], now["frameY"])
    page.wait_for_timeout(1500)
    assert page.evaluate("() => window.__reruns") == 0
    assert_no_exception(page)


@pytest.mark.parametrize("presentation", [False, True], ids=["normal", "presentation"])
def test_scrubber_screenshots_at_a_lecture_viewport(page, app_url, presentation):
    page.set_viewport_size({"width": 1280, "height": 720})
    query = {"T": "200", "H": "64"} | ({"presentation": "1"} if presentation else {})
    open_page(page, app_url, NAV, query=query)
    page.wait_for_selector(CHART, timeout=TIMEOUT_MS)
    wait_idle(page)
    chart = page.locator(CHART).first
    chart.scroll_into_view_if_needed()
    scrub_to(page, 0, "1.2")
    box = chart.bounding_box()
    assert box["width"] > 500
    # the slider and the legend stay inside the chart, under the plot
    inside = page.evaluate(f"""() => {{ const gd = document.querySelector('{CHART}');
        const outer = gd.getBoundingClientRect();
        return ['.slider-container', '.legend'].every(sel => {{ const r = gd.querySelector(sel).getBoundingClientRect();
          return r.bottom <= outer.bottom + 1 && r.top >= outer.top; }}); }}""")
    assert inside
    screenshot(page, f"scrub_rho_1280x720{'_presentation' if presentation else ''}", full_page=False)
    assert_no_exception(page)
