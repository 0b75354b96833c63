"""End to end: the Derivation page in Chromium. KaTeX renders every equation (no .katex-error),
switching the notation and the step changes the equations, the walk's buttons move through the
stages, nothing overflows the page sideways, and the export downloads the Markdown."""
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, open_page, plotly_figures, screenshot, wait_idle
from ui import derivation
from ui.notation import NOTATIONS

pytestmark = pytest.mark.e2e

NAV = "Derivation"

_LAYOUT_JS = """
() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const right = main.getBoundingClientRect().right;
  const out = {beyond: [], unscrollable: [], displays: 0};
  for (const el of document.querySelectorAll('.katex-display')) {
    out.displays += 1;
    const r = el.getBoundingClientRect();
    if (r.right > right + 1) out.beyond.push(Math.round(r.right));
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'auto')
      out.unscrollable.push(el.scrollWidth);
  }
  out.pageScroll = document.documentElement.scrollWidth - window.innerWidth;
  return out;
}
"""


def tex_sources(page, selector: str = ".katex-display") -> list[str]:
    """The LaTeX source of every rendered formula (KaTeX keeps it in a MathML annotation)."""
    return page.locator(f"{selector} .katex-mathml annotation").all_text_contents()


def wait_for_tex(page, fragment: str) -> None:
    page.wait_for_function(
        "f => Array.from(document.querySelectorAll('.katex-display annotation'))"
        ".some(a => a.textContent.includes(f))", arg=fragment, timeout=30_000)
    wait_idle(page)


def assert_katex_ok(page) -> None:
    assert page.locator(".katex-display").count() >= 1
    assert page.locator(".katex-error").count() == 0, page.locator(".katex-error").first.get_attribute("title")
    assert_no_exception(page)


def assert_nothing_overflows(page) -> None:
    layout = page.evaluate(_LAYOUT_JS)
    assert layout["beyond"] == [] and layout["unscrollable"] == [], layout
    assert layout["pageScroll"] <= 0, layout


def choose_in_sidebar(page, box_text: str, option) -> None:
    """Open the sidebar's select box that shows `box_text` and click `option` (a locator) in it."""
    box = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text=box_text)
    for _ in range(3):           # the list may close again if a rerun redraws the sidebar
        box.get_by_role("button", name="Open").click()
        try:
            option.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            wait_idle(page)
    option.click()


def choose_notation(page, key: str) -> None:
    n = NOTATIONS[key]
    choose_in_sidebar(page, "Notation", page.get_by_role("option").filter(has_text=f"{n.title} ({n.source})"))


def test_notation_and_step_change_the_equations(page, app_url):
    open_page(page, app_url, NAV, query="T=6&H=4&d_step=3")
    wait_for_tex(page, "a_{3} &= W_{xh} x_{3}")
    assert_katex_ok(page)
    screenshot(page, "derivation_wxh")

    choose_notation(page, "row")
    wait_for_tex(page, "a_{3} &= x_{3} W_x + h_{2} W_h + b_h")
    assert_katex_ok(page)
    assert any("W_x = W_{xh}^{\\top}" in s for s in tex_sources(page, ".katex"))   # the mapping line
    screenshot(page, "derivation_row")

    choose_notation(page, "dlbook")
    wait_for_tex(page, "a^{(3)} &= b + W h^{(2)} + U x^{(3)}")
    assert_katex_ok(page)

    slider = page.get_by_test_id("stSlider").filter(has_text="Step t").get_by_role("slider")
    slider.focus()
    page.keyboard.press("ArrowRight")
    wait_for_tex(page, "a^{(4)} &= b + W h^{(3)} + U x^{(4)}")
    assert not any("a^{(3)} &=" in s for s in tex_sources(page))
    assert_katex_ok(page)


def test_previous_and_next_walk_the_stages(page, app_url):
    open_page(page, app_url, NAV, query="T=5&H=3&notation=d2l")
    wait_for_tex(page, "W_{hx}")
    headings = []
    for number, info in enumerate(derivation.STAGES, start=1):
        heading = page.get_by_test_id("stHeading").filter(has_text=f"{number}. ")
        expect(heading.first).to_be_visible()
        headings.append(heading.first.inner_text())
        assert_katex_ok(page)
        if info.key == "double_sum":
            [chart] = plotly_figures(page)
            # t = 5: one bar per k, and a "0" marker for k = 1, where W_hh multiplies h_0 = 0
            assert sorted(k for trace in chart["data"] for k in trace["x"]) == [1, 2, 3, 4, 5]
            screenshot(page, "derivation_double_sum")
        if number < len(derivation.STAGES):
            page.get_by_role("button", name="Next ▶").click()
            page.get_by_test_id("stHeading").filter(has_text=f"{number + 1}. ").first.wait_for()
            wait_idle(page)
    assert page.get_by_role("button", name="Next ▶").is_disabled()
    page.get_by_role("button", name="◀ Previous").click()
    page.get_by_test_id("stHeading").filter(has_text=f"{len(derivation.STAGES) - 1}. ").first.wait_for()
    assert "d_stage=params" in page.url


def test_every_stage_at_once_fits_the_page_and_exports(page, app_url):
    open_page(page, app_url, NAV, query="T=6&H=6&D=6&O=6&d_all=1&d_step=4")
    wait_for_tex(page, r"\theta")
    assert_katex_ok(page)
    assert page.locator(".katex-display").count() > 25
    assert_nothing_overflows(page)
    screenshot(page, "derivation_all_h6")
    table = page.get_by_test_id("stDataFrame").last
    expect(table).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the derivation (Markdown with LaTeX)").click()
    text = open(info.value.path(), encoding="utf-8").read()
    assert text.startswith("# Backpropagation through time, step by step (t = 4)")
    assert text.count("$$") >= 2 * 25 and "## Gradient check" in text
    assert "d_step=4" in text and "H=6" in text                # the link back to this view


def test_a_large_model_shows_first_entries_and_norms(page, app_url):
    open_page(page, app_url, NAV, query="T=200&H=64&D=16&O=10&d_all=1&d_step=150&notation=row")
    wait_for_tex(page, r"\lVert\cdot\rVert")
    assert_katex_ok(page)
    assert_nothing_overflows(page)
    screenshot(page, "derivation_large_row")


def test_presentation_mode_fits_too(page, app_url):
    open_page(page, app_url, NAV, query="T=6&H=5&presentation=1&d_stage=recursion&d_step=2")
    wait_for_tex(page, r"\underbrace")
    assert_katex_ok(page)
    assert_nothing_overflows(page)
    screenshot(page, "derivation_presentation", full_page=False)


# ---- the gated cells -----------------------------------------------------------------------------

def choose_cell(page, title: str) -> None:
    """Pick `title` in the sidebar's Cell selectbox (again if a rerun closed its list)."""
    wait_idle(page)
    choose_in_sidebar(page, "Cell", page.get_by_role("option", name=title, exact=True))


def test_the_cell_choice_changes_the_equations_and_the_loop(page, app_url):
    open_page(page, app_url, NAV, query="T=6&H=4&d_step=3&d_all=1")
    wait_for_tex(page, "a_{3} &= W_{xh} x_{3}")
    assert not any("f_{3} &= " in s for s in tex_sources(page))
    choose_cell(page, "LSTM")
    wait_for_tex(page, r"f_{3} &= \sigma\big(W_{xf} x_{3} + W_{hf} h_{2} + b_f\big)")
    wait_for_tex(page, r"\frac{\partial L}{\partial c_{3}} &= ")          # the carousel's stage
    assert not any("a_{3} &= " in s for s in tex_sources(page))
    assert_katex_ok(page)
    assert "cell=lstm" in page.url
    code = page.get_by_test_id("stCode").filter(has_text="dc_next = f[t] * dc")
    expect(code.first).to_be_visible()
    assert_nothing_overflows(page)
    screenshot(page, "derivation_lstm_all")

    choose_notation(page, "d2l")
    wait_for_tex(page, r"F_{3} &= \sigma\big(W_{xf} X_{3} + W_{hf} H_{2} + b_f\big)")
    assert_katex_ok(page)

    choose_cell(page, "GRU")
    wait_for_tex(page, r"Z_{3} &= \sigma\big(W_{xz} X_{3} + W_{hz} H_{2} + b_z\big)")
    assert not any(r"\partial C_{3}" in s for s in tex_sources(page))    # no memory cell
    expect(page.get_by_test_id("stCode").filter(has_text="g_rh = p.W_hh.T @ d_h").first).to_be_visible()
    assert_katex_ok(page)
    assert_nothing_overflows(page)
    screenshot(page, "derivation_gru_d2l_all")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_gated_walk_in_presentation_mode_fits(page, app_url, cell):
    open_page(page, app_url, NAV, query=f"cell={cell}&T=6&H=5&presentation=1&d_stage=hidden&d_step=2")
    wait_for_tex(page, r"\underbrace")
    assert_katex_ok(page)
    assert_nothing_overflows(page)
    screenshot(page, f"derivation_{cell}_presentation", full_page=False)
