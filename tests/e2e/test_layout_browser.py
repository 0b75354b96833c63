"""Readable on a projector and a laptop: no metric value cut on any page (issue 16).

A value cut by an ellipsis ('0.…') has an element, the value box or one inside it, whose
scrollWidth exceeds its clientWidth. Checked on every page at 1280x720 and 1920x1080 in
presentation mode and at 1440x900 without it."""
from __future__ import annotations

import pytest

from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, assert_no_exception, nav_to, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
PAGES = ("Home", "Lessons", "Unrolled graph", "Vanishing & exploding", "Model & weights", "Derivation",
         "Training & truncation")
VIEWPORTS = [(1280, 720, 1), (1920, 1080, 1), (1440, 900, 0)]
METRICS = {"Vanishing & exploding": 4, "Model & weights": 3}     # pages that show metrics, how many

CUT_METRICS_JS = """
() => Array.from(document.querySelectorAll('[data-testid="stMetricValue"]'))
  .filter(box => [box, ...box.querySelectorAll('*')].some(el => el.scrollWidth > el.clientWidth + 1))
  .map(box => box.innerText)
"""


@pytest.mark.parametrize("width, height, presentation", VIEWPORTS, ids=lambda v: str(v))
def test_no_metric_value_is_cut_on_any_page(page, app_url, width, height, presentation):
    page.set_viewport_size({"width": width, "height": height})
    open_page(page, app_url, query={"presentation": presentation, "notation": "dlbook"} if presentation else {})
    cut = {}
    for label in PAGES:
        if label != "Home":
            nav_to(page, label)
        page.get_by_test_id("stHeading").first.wait_for()
        if label in METRICS:        # the metrics themselves, not only the idle app (a fast run races)
            expect(page.get_by_test_id("stMetricValue")).to_have_count(METRICS[label], timeout=TIMEOUT_MS)
        wait_idle(page)
        assert_no_exception(page)
        if values := page.evaluate(CUT_METRICS_JS):
            cut[label] = values
            screenshot(page, f"cut_metric_{label.split()[0]}_{width}", full_page=False)
    assert cut == {}
