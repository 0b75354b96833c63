"""End to end, every notation in the real browser (one browser, one server): no page shows a
KaTeX error in any notation, the derivation's and the Model page's equations fit their column
on a projector, PageUp/PageDown walk the derivation, a new notation keeps the sidebar's
values. Screenshots of the Model and Derivation pages in the Deep Learning book's, the
row-vector and D2L's notations are saved for people to look at."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, nav_to, open_page, screenshot, wait_idle
from tests.e2e.test_derivation_browser import choose_notation, wait_for_tex
from ui.notation import NOTATIONS

pytestmark = pytest.mark.e2e

PAGES = ("Home", "Lessons", "Unrolled graph", "Vanishing & exploding", "Model & weights", "Derivation",
         "Training & truncation")

# every display equation no wider than its column (st.latex centres a content-sized box inside
# the markdown element, which spans the column)
_TOO_WIDE_JS = """
() => Array.from(document.querySelectorAll('.katex-display'))
  .map(el => ({width: el.getBoundingClientRect().width, column: el.closest('.stMarkdown').clientWidth,
               tex: (el.querySelector('annotation') || {}).textContent?.slice(0, 60)}))
  .filter(x => x.width > x.column + 1)
"""


def katex_errors(page) -> list[str]:
    return [e.get_attribute("title") or e.inner_text()[:80] for e in page.locator(".katex-error").all()]


def test_no_page_shows_a_katex_error_in_any_notation(page, app_url):
    found, seen = {}, set()
    for key in NOTATIONS:
        open_page(page, app_url, query={"notation": key, "T": 8, "H": 4})
        for label in PAGES:
            if label != "Home":
                nav_to(page, label)
            page.get_by_test_id("stHeading").first.wait_for()
            wait_idle(page)
            if page.locator(".katex").count():
                seen.add(label)
            assert_no_exception(page)
            if errors := katex_errors(page):
                found[(key, label)] = errors
    assert found == {}
    assert {"Home", "Model & weights", "Derivation", "Vanishing & exploding"} <= seen   # maths was drawn


@pytest.mark.parametrize("viewport", [(1280, 720), (1920, 1080)], ids=lambda v: f"{v[0]}x{v[1]}")
def test_equations_fit_their_column_in_presentation_mode(page, app_url, viewport):
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    for key in ("wxh", "row", "dlbook"):
        open_page(page, app_url, "Derivation", query={"notation": key, "presentation": 1, "d_all": 1,
                                                      "d_step": 5})
        wait_for_tex(page, r"\theta")
        page.wait_for_function(f"() => ({_TOO_WIDE_JS})().length === 0", timeout=10_000)
        nav_to(page, "Model & weights")
        page.locator(".katex-display").first.wait_for()
        page.wait_for_function(f"() => ({_TOO_WIDE_JS})().length === 0", timeout=10_000)
        assert page.evaluate(_TOO_WIDE_JS) == []


def test_page_down_and_up_walk_the_derivation(page, app_url):
    open_page(page, app_url, "Derivation", query={"T": 5, "H": 3, "presentation": 1})
    heading = page.get_by_test_id("stHeading")
    expect(heading.filter(has_text="1. Forward pass").first).to_be_visible()
    page.get_by_test_id("stHeading").first.click()       # focus the page, not a widget
    page.keyboard.press("PageDown")
    expect(heading.filter(has_text="2. Output gradient").first).to_be_visible()
    page.keyboard.press("PageDown")
    expect(heading.filter(has_text="3. Where the recursion starts").first).to_be_visible()
    page.keyboard.press("PageUp")
    expect(heading.filter(has_text="2. Output gradient").first).to_be_visible()
    wait_idle(page)
    assert "d_stage=output" in page.url


def test_a_new_notation_keeps_the_sidebars_values(page, app_url):
    open_page(page, app_url, "Derivation", query={"rho": 1.3, "init": "orthogonal", "T": 6, "H": 3})
    choose_notation(page, "dlbook")
    wait_for_tex(page, "a^{(")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Spectral radius of W", exact=True)).to_be_visible()
    expect(sidebar.get_by_role("combobox", name="Initialiser")).to_have_value("orthogonal W")
    assert "rho=1.3" in page.url and "init=orthogonal" in page.url


@pytest.mark.parametrize("key", ["dlbook", "row", "d2l"])
def test_screenshots_of_the_model_and_derivation_pages(page, app_url, key):
    query = {"notation": key, "d_all": 1, "d_step": 3, "T": 6, "H": 4}
    if key == "d2l":     # the D2L preset's model: linear, no biases, mean
        query.update(activation="identity", loss="mse", reduction="mean", rho=0.9)
    open_page(page, app_url, "Model & weights", query=query)
    page.locator(".katex-display").first.wait_for()
    wait_idle(page)
    assert katex_errors(page) == []
    screenshot(page, f"notation_model_{key}")
    nav_to(page, "Derivation")
    wait_for_tex(page, r"\theta")
    assert katex_errors(page) == []
    screenshot(page, f"notation_derivation_{key}")
