"""End to end: a lecture preset clicked on Home opens the page it is about, drawn with the
preset's view (issue 16), and Home then marks the preset in use. Screenshots of Home and of each
preset's page land in <repo>/screenshots/."""
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, assert_no_exception, nav_to, open_page, screenshot, wait_idle
from ui.presets import PRESETS

pytestmark = pytest.mark.e2e
NAV = {"views/graph.py": "Unrolled graph", "views/vanishing.py": "Vanishing & exploding",
       "views/derivation.py": "Derivation"}
KATEX_ERRORS = ".katex-error"
PRESET_BOXES = "[class*='st-key-preset_']"


def click_preset(page, key: str) -> None:
    page.locator(f".st-key-preset_{key} button").click()
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=NAV[PRESETS[key].page], exact=True)
    expect(link).to_have_attribute("aria-current", "page", timeout=TIMEOUT_MS)


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_the_vanishing_preset_opens_the_graph_following_the_last_term(page, app_url):
    open_page(page, app_url)
    click_preset(page, "vanishing")
    T = PRESETS["vanishing"].config().T
    page.wait_for_function(
        """t => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
             .some(e => e.offsetParent !== null && e.layout && e.layout.title
                        && String(e.layout.title.text).includes('single loss term L<sub>' + t + '</sub>'))""",
        arg=T, timeout=TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    assert query(page) == {"T": str(T), "rho": "0.5", "g_start": "15", "g_source": str(T)}
    expect(page.get_by_test_id("stMain").get_by_text("Loss term followed, s")).to_be_visible()
    screenshot(page, "preset_vanishing_graph", full_page=False)

    nav_to(page, "Home")
    in_use = page.locator(".st-key-preset_vanishing").get_by_test_id("stBaseButton-primary")
    expect(in_use).to_be_visible()
    assert page.locator(f"{PRESET_BOXES} [data-testid='stBaseButton-primary']").count() == 1   # no other
    screenshot(page, "home_presets")


def test_the_exploding_preset_opens_the_vanishing_page_against_the_distance(page, app_url):
    open_page(page, app_url)
    click_preset(page, "exploding")
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
             .some(e => e.layout && e.layout.xaxis && String(e.layout.xaxis.title.text).startsWith('distance'))""",
        timeout=TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    expect(page.get_by_role("heading", name="Sweeps: the same seed, one factor changed")).to_be_visible()
    assert query(page)["v_axis"] == "distance"
    screenshot(page, "preset_exploding_vanishing", full_page=False)


def test_the_deep_learning_book_preset_opens_the_derivation_at_the_output_gradient(page, app_url):
    open_page(page, app_url)
    click_preset(page, "dlbook")
    expect(page.get_by_role("heading", name="2. Output gradient (6)")).to_be_visible(timeout=TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)
    assert page.locator(KATEX_ERRORS).count() == 0
    assert query(page)["d_stage"] == "output" and query(page)["notation"] == "dlbook"
    screenshot(page, "preset_dlbook_derivation", full_page=False)
