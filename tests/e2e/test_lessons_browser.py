"""End to end: a lesson walked from start to end with the keyboard (predict, reveal, ArrowRight),
a shared step link opening at that step on its page in a fresh browser, the keys left alone
while typing, a clicker's PageDown in presentation mode; screenshots of every step of lesson 2 in
normal and presentation mode under /tmp/shots_lessons/ (and <repo>/screenshots/)."""
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, assert_no_exception, open_page, screenshot, wait_idle
from ui.lessons.format import Lesson, shipped

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots_lessons")
BAR = ".st-key-lesson_bar, .st-key-lesson_bar_presenting"
LESSON = "2-vanishing"


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def at_step(page, n: int, total: int) -> None:
    expect(page.locator(BAR).get_by_text(f"step {n} of {total}")).to_be_visible(timeout=TIMEOUT_MS)
    wait_idle(page)


def predict_and_reveal(page) -> None:
    """A prediction in the bar (the first choice, 1e-3, or step 3), then Reveal."""
    bar = page.locator(BAR)
    # the step's page may still be opening (a step switches pages in the run after the click):
    # read which kind of prediction the bar asks for only once it is drawn
    bar.locator('[data-testid="stRadio"], input[type="text"], input[type="number"]').first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    choices = bar.locator('[data-testid="stRadio"] [role="radiogroup"] label')
    if choices.count():
        choices.first.click()
    elif bar.locator('input[type="text"]').count():
        bar.locator('input[type="text"]').fill("1e-3")
        bar.locator('input[type="text"]').press("Enter")
    else:
        bar.locator('input[type="number"]').fill("3")
        bar.locator('input[type="number"]').press("Enter")
    wait_idle(page)
    bar.locator(".st-key-lesson_reveal button").click()
    expect(bar.get_by_text("the answer is")).to_be_visible(timeout=TIMEOUT_MS)
    wait_idle(page)


def press_outside_fields(page, key: str) -> None:
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press(key)


@pytest.mark.parametrize("presentation", [False, True], ids=["normal", "presentation"])
def test_a_lesson_walked_with_the_keyboard(page, app_url, presentation):
    lesson = shipped()[LESSON]
    assert isinstance(lesson, Lesson)
    total = len(lesson.steps)
    SHOTS.mkdir(exist_ok=True)
    mode = "presentation" if presentation else "normal"
    open_page(page, app_url, query={"lesson": LESSON, "step": 1, **({"presentation": 1} if presentation else {})})
    for n in range(1, total + 1):
        at_step(page, n, total)
        assert query(page).get("step", "1") == str(n)              # the step is in the URL (1: the default)
        predict_and_reveal(page)
        assert_no_exception(page)
        page.wait_for_timeout(600)                                # equations and charts settle
        page.screenshot(path=str(SHOTS / f"{LESSON}_{mode}_step{n}.png"))
        press_outside_fields(page, "ArrowRight")
    bar = page.locator(BAR)
    # the summary's own line: the last step's feedback ("Right. You predicted ...") may still be
    # drawn, fading, while the summary's run replaces it
    expect(bar.get_by_text(re.compile(r"^You predicted \d+ of \d+ right"))).to_be_visible(timeout=TIMEOUT_MS)
    wait_idle(page)
    page.screenshot(path=str(SHOTS / f"{LESSON}_{mode}_summary.png"))
    screenshot(page, f"lessons_{mode}_summary", full_page=False)
    press_outside_fields(page, "ArrowLeft")                       # back from the summary to the last step
    at_step(page, total, total)
    press_outside_fields(page, "ArrowLeft")
    at_step(page, total - 1, total)


def test_a_shared_step_link_opens_that_step_in_a_fresh_browser(browser, app_url):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{app_url}/?lesson=4-truncation&step=3")
        at_step(page, 3, 5)
        link = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Unrolled graph", exact=True)
        expect(link).to_have_attribute("aria-current", "page", timeout=TIMEOUT_MS)
        settings = query(page)
        assert settings["lesson"] == "4-truncation" and settings["step"] == "3"
        assert settings["truncation"] == "k_step" and settings["trunc_k"] == "4" and settings["T"] == "14"
        assert_no_exception(page)
    finally:
        context.close()


def test_arrows_are_left_to_a_field_being_typed_in(page, app_url):
    open_page(page, app_url, query={"lesson": LESSON, "step": 2})
    at_step(page, 2, 6)
    field = page.locator(BAR).locator('input[type="text"]')
    field.click()
    field.type("0.4")
    page.keyboard.press("ArrowLeft")                              # moves the caret, not the lesson
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(800)
    wait_idle(page)
    assert query(page)["step"] == "2"
    press_outside_fields(page, "ArrowLeft")
    at_step(page, 1, 6)


def test_page_down_moves_in_presentation_mode_only(page, app_url):
    open_page(page, app_url, query={"lesson": LESSON, "step": 2})
    at_step(page, 2, 6)
    press_outside_fields(page, "PageDown")                        # a reader scrolls with it
    page.wait_for_timeout(800)
    wait_idle(page)
    assert query(page)["step"] == "2"
    open_page(page, app_url, query={"lesson": LESSON, "step": 2, "presentation": 1})
    at_step(page, 2, 6)
    press_outside_fields(page, "PageDown")                        # a clicker's "next"
    at_step(page, 3, 6)
    press_outside_fields(page, "PageUp")
    at_step(page, 2, 6)


BAD_LESSON = b'''title = "Mine"
teaches = "x"

[[step]]
page = "vanishing"
look = "the curve"
question = "how small?"
kind = "number"
answer = "jacobian_first"
factor = 10
reveal = "{answer.__class__}"
[step.settings]
rho = 7.5
'''


def upload_lesson(page, name: str, data: bytes) -> None:
    page.get_by_test_id("stFileUploader").locator('input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "application/toml", "buffer": data}])


def test_an_uploaded_lesson_is_checked_then_runs_in_the_session(page, app_url):
    open_page(page, app_url, "Lessons")
    upload_lesson(page, "mine.toml", BAD_LESSON)
    problems = page.get_by_test_id("stAlert").filter(has_text="mine.toml cannot be used")
    expect(problems).to_be_visible(timeout=TIMEOUT_MS)
    text = problems.inner_text().replace("\u2060", "")             # word joiners after ":" (literal text)
    assert "Line 11: step 1: in the reveal: {answer.__class__} is not a placeholder" in text
    assert "Line 13: step 1: rho = 7.5: outside the range [0.0, 5.0]" in text
    upload_lesson(page, "mine.toml", BAD_LESSON.replace(b"{answer.__class__}", b"It is {answer:.1e}.")
                  .replace(b"rho = 7.5", b"rho = 0.5"))
    start = page.locator(".st-key-lesson_start_upload button")
    expect(start).to_be_visible(timeout=TIMEOUT_MS)
    wait_idle(page)
    start.click()
    expect(page).to_have_url(re.compile(r"/vanishing\?"), timeout=TIMEOUT_MS)   # the step's page
    at_step(page, 1, 1)
    assert "lesson" not in query(page) and query(page)["rho"] == "0.5"   # its steps cannot go in a link
    predict_and_reveal(page)
    expect(page.locator(BAR).get_by_text("It is")).to_be_visible()
    assert_no_exception(page)


def test_on_the_derivation_a_clicker_moves_its_stages_not_the_lesson(page, app_url):
    """The Derivation's stage buttons take PageUp / PageDown in presentation mode: one action a key."""
    open_page(page, app_url, query={"lesson": "5-derivation", "step": 1, "presentation": 1})
    at_step(page, 1, 5)
    assert query(page)["d_stage"] == "output"
    press_outside_fields(page, "PageDown")
    expect(page).to_have_url(re.compile(r"d_stage=last"), timeout=TIMEOUT_MS)
    wait_idle(page)
    assert query(page).get("step", "1") == "1"
    press_outside_fields(page, "ArrowRight")                      # the arrows still move the lesson
    at_step(page, 2, 5)


VISIBLE_GRAPH = """Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
    .find(e => e.layout && e.layout.sliders && e.layout.sliders.length && e.offsetParent !== null)"""


def test_a_click_on_a_node_of_the_graph_is_the_prediction(page, app_url):
    open_page(page, app_url, query={"lesson": "1-chain-rule", "step": "1"})
    at_step(page, 1, len(shipped()["1-chain-rule"].steps))
    point = page.evaluate("""() => {
      const el = """ + VISIBLE_GRAPH + """;
      el.scrollIntoView({block: 'center'});
      const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis, box = el.getBoundingClientRect();
      return {x: box.left + xa._offset + xa.l2p(4), y: box.top + ya._offset + ya.l2p(1)};
    }""")      # the node h_4 (x: its step, y: the hidden row)
    page.mouse.click(point["x"], point["y"])
    expect(page.locator(BAR).locator('input[type="number"]')).to_have_value("4", timeout=TIMEOUT_MS)
    wait_idle(page)
    assert "g_step" not in query(page)         # taken as the prediction, not as the step in detail
    page.locator(BAR).locator(".st-key-lesson_reveal button").click()
    expect(page.locator(BAR).get_by_text("You predicted t = 4")).to_be_visible(timeout=TIMEOUT_MS)
    assert_no_exception(page)
