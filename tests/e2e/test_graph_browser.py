"""End to end: the Unrolled graph page in Chromium. The animation runs, steps can be chosen by
slider and by clicking a node, overflow is named; screenshots at T = 5, 20 and 100. Readable on
a projector and a phone (issue 16): no two texts of the chart overlap, nothing is cut, at the
viewports a lecture and a student use."""
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, assert_no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
NAV = "Unrolled graph"

# The animated chart in view (the page draws one for a phone and one for a wider screen, and
# hides the other) as plain data.
VISIBLE_GRAPH = """Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
    .find(e => e.layout && e.layout.sliders && e.layout.sliders.length && e.offsetParent !== null)"""
GRAPH_JS = """
() => {
  const el = """ + VISIBLE_GRAPH + """;
  if (!el) return null;
  const plain = v => (ArrayBuffer.isView(v) ? Array.from(v) : Array.isArray(v) ? v.map(plain) : v);
  const veil = el.data.find(t => t.meta === 'veil');
  return {
    frames: el._transitionData._frames.map(f => f.name),
    active: el._fullLayout.sliders[0].active,
    veilEnd: Math.max(...plain(veil.x)),
    metas: el.data.map(t => t.meta),
    mode: el.layout.meta,
    nodeSteps: el.data.filter(t => String(t.meta).startsWith('nodes:')).flatMap(t => plain(t.customdata)),
  };
}
"""
WIDE_BUTTONS = ".st-key-g_wide g.updatemenu-button"     # the chart a wide screen shows
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
    assert set(graph["nodeSteps"]) == {0, T + 1, *range(1, min(T, 16) + 1)}   # h_0, L, the window
    assert graph["frames"] == [str(t) for t in range(min(T, 16), 0, -1)]      # the steps in view
    assert graph["veilEnd"] < 0                       # the static view: every step reached
    expect(page.locator(".st-key-g_wide").get_by_text("backward pass has reached t = 1")).to_be_visible()
    screenshot(page, f"graph_T{T}")


def test_play_advances_the_frames_and_pause_stops_them(page, app_url):
    graph = open_graph(page, app_url, {"T": 20})
    assert graph["active"] == 15                      # frames 16..1: the last one is shown
    page.locator(WIDE_BUTTONS).filter(has_text="slow").click()
    # the pass restarts at the window's end: the veil covers the early steps, and the slider moves
    page.wait_for_function(f"() => {{ const g = ({GRAPH_JS})(); return g.veilEnd > 5 && g.active < 15; }}",
                           timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => ({GRAPH_JS})().veilEnd < 15", timeout=TIMEOUT_MS)   # and moves on
    screenshot(page, "graph_playing", full_page=False)
    page.locator(WIDE_BUTTONS).filter(has_text="Pause").click()
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
      const el = """ + VISIBLE_GRAPH + """;
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


# ---- issue 16: the animation shows change at once; readable on a projector and a phone ----------

def test_play_changes_what_is_in_view_from_its_first_frame(page, app_url):
    """T = 30 with the window at 1..16: the first frame already lights step 16 (the old pass spent
    its first 14 frames, half the animation, on steps out of view, with the whole window grey)."""
    open_graph(page, app_url, {"T": 30})
    page.locator(WIDE_BUTTONS).filter(has_text="slow").click()
    page.wait_for_function(f"() => {{ const g = ({GRAPH_JS})(); return g.veilEnd > 5 && g.veilEnd < 16; }}",
                           timeout=3000, polling=50)


def texts_js(chart: str) -> str:
    """JS giving every visible text of `chart` (a JS expression for a plotly element) with its
    box, and the chart's box; null until the chart is drawn. Texts drawn transparent (the
    slider's per-frame labels) or empty do not count."""
    return """
() => {
  const el = """ + chart + """;
  if (!el || !el.querySelector('svg text')) return null;
  const seen = [];
  for (const t of el.querySelectorAll('svg text')) {
    const r = t.getBoundingClientRect(), cs = getComputedStyle(t);
    const fill = cs.fill.replace(/\\s/g, '');
    if (r.width < 1 || r.height < 1 || !t.textContent.trim() || cs.visibility === 'hidden'
        || fill.endsWith(',0)') || fill === 'none' || Number(cs.opacity) === 0) continue;
    seen.push({text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom});
  }
  const box = el.getBoundingClientRect();
  return {texts: seen, chart: {left: box.left, right: box.right, top: box.top, bottom: box.bottom}};
}
"""


TEXT_BOXES_JS = texts_js(VISIBLE_GRAPH)
DETAILS_TEXT_JS = texts_js("""Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
    .find(e => e.layout && !(e.layout.sliders || []).length)""")
CUT_JS = """
() => ({
  metrics: Array.from(document.querySelectorAll('[data-testid="stMetricValue"]'))
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent),
  // an equation is cut when a drawn part of it lies outside its block (KaTeX's vlists overhang
  // it by up to 2 px, and make scrollWidth exceed clientWidth, even when everything shows)
  equations: Array.from(document.querySelectorAll('.katex-display')).filter(e => e.offsetParent !== null)
    .filter(e => {
      const box = e.getBoundingClientRect();
      return Array.from(e.querySelectorAll('.katex-html span')).some(s => {
        const r = s.getBoundingClientRect();
        return r.width > 0 && (r.right > box.right + 3 || r.left < box.left - 3);
      });
    }).map(e => e.textContent.slice(0, 60)),
  katexErrors: document.querySelectorAll('.katex-error').length,
})
"""
TOLERANCE_PX = 1.5          # anti-aliasing: boxes that only touch do not overlap


def overlapping(texts: list[dict]) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes overlap by more than TOLERANCE_PX both ways."""
    pairs = []
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            width = min(a["right"], b["right"]) - max(a["left"], b["left"])
            height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if width > TOLERANCE_PX and height > TOLERANCE_PX:
                pairs.append((a["text"], b["text"]))
    return pairs


VANISHING = {"T": 30, "rho": 0.5, "g_source": 30, "g_start": 15}     # the preset's lesson
VIEWPORTS = [  # (name, width, height, query): a projector, a laptop, a phone
    ("p1280", 1280, 720, {"presentation": 1}),
    ("p1920", 1920, 1080, {"presentation": 1}),
    ("n1440", 1440, 900, {}),
    ("phone", 390, 844, {}),
]
VIEWS = [("default", {}), ("vanishing", VANISHING), ("dlbook_T100", {"T": 100, "notation": "dlbook", "g_start": 85}),
         ("lstm", {"cell": "lstm"}), ("gru_T100_term", {"cell": "gru", "T": 100, "g_source": 100, "g_start": 91}),
         ("lstm_T100_split", {"cell": "lstm", "T": 100, "g_start": 85, "g_split": 1, "g_window": 30})]


@pytest.mark.parametrize("view, view_query", VIEWS, ids=[v[0] for v in VIEWS])
@pytest.mark.parametrize("name, width, height, query", VIEWPORTS, ids=[v[0] for v in VIEWPORTS])
def test_readable_at_every_viewport(page, app_url, name, width, height, query, view, view_query):
    page.set_viewport_size({"width": width, "height": height})
    # by its URL: on a phone the sidebar with the page list is folded away
    page.goto(f"{app_url}/graph?{urlencode({**query, **view_query})}")
    page.wait_for_function(f"() => ({GRAPH_JS})() !== null", timeout=TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    graph = page.evaluate(GRAPH_JS)
    assert graph["mode"] == ("compact" if width < 640 else "presentation" if query else "normal")
    page.evaluate(f"() => ({VISIBLE_GRAPH}).scrollIntoView()")
    screenshot(page, f"graph_{name}_{view}")
    boxes = page.evaluate(TEXT_BOXES_JS)
    assert len(boxes["texts"]) > 20, "the chart's texts were not found"
    assert overlapping(boxes["texts"]) == []
    page.wait_for_function(f"() => ({DETAILS_TEXT_JS})() !== null", timeout=TIMEOUT_MS)
    assert overlapping(page.evaluate(DETAILS_TEXT_JS)["texts"]) == [], "the step's details chart"
    chart = boxes["chart"]
    outside = [t["text"] for t in boxes["texts"]
               if t["left"] < chart["left"] - 1 or t["right"] > chart["right"] + 1]
    assert outside == [], "text cut at the chart's edge"
    cut = page.evaluate(CUT_JS)
    if width < 640:
        # a phone: eq. (7) of one loss term may scroll inside its own block, never the page
        cut["equations"] = []
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert cut == {"metrics": [], "equations": [], "katexErrors": 0}


CELL_JS = """() => {
  const el = """ + VISIBLE_GRAPH + """;
  if (!el) return null;
  return {rows: Array.from(el.layout.yaxis.ticktext), title: el.layout.title.text,
          memoryEdges: el.data.filter(t => t.meta === 'edges' && t.line.color === '#009E73').length,
          cNodes: el.data.filter(t => String(t.meta).startsWith('nodes:'))
                         .flatMap(t => Array.from(t.hovertext)).filter(h => h.includes('memory cell')).length};
}"""


def test_the_cell_choice_changes_the_graph(page, app_url):
    """Vanilla: four rows and no memory; the LSTM chosen in the sidebar: a memory row c with the
    green memory path; the GRU: its title, no memory row; the step's equation follows the cell."""
    open_graph(page, app_url, {"T": 12})
    vanilla = page.evaluate(CELL_JS)
    assert "memory" not in vanilla["rows"] and vanilla["cNodes"] == 0 and "RNN" in vanilla["title"]
    for title, cell in (("LSTM", "lstm"), ("GRU", "gru")):
        page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Cell").click()
        page.get_by_role("option", name=title, exact=True).click()
        page.wait_for_function(f"() => {{ const g = ({CELL_JS})(); return g && g.title.includes('{title}'); }}",
                               timeout=TIMEOUT_MS)
        wait_idle(page)
        assert_no_exception(page)
        drawn = page.evaluate(CELL_JS)
        latex = page.evaluate(LATEX_JS)
        if cell == "lstm":
            assert "memory" in drawn["rows"] and drawn["cNodes"] == 12 and drawn["memoryEdges"] >= 1
            assert r"\tanh'" in latex and "f_{2}" in latex
        else:
            assert "memory" not in drawn["rows"] and drawn["cNodes"] == 0
            assert r"z_{2} \odot" in latex
        expect(page.get_by_text("forward values at t = 1")).to_be_visible()
        screenshot(page, f"graph_cell_{cell}")
