"""End-to-end fixtures: `streamlit run app.py` on a free port, driven by headless Chromium.

Importable helpers for every e2e module (`from tests.e2e.conftest import ...` or, with
pytest's rootdir on sys.path, `from conftest import ...`):
    wait_idle(page)                         the script finished and the app is connected
    open_page(page, app_url, nav_label, query="")   load the app, then nav_to(page, nav_label)
    nav_to(page, nav_label)                  click a page in the sidebar nav (settings kept)
    plotly_figures(page) -> list[dict]      data and layout of every drawn plotly chart
    screenshot(page, name) -> Path          PNG under <repo>/screenshots/ (git-ignored)
    assert_no_exception(page)
Mark e2e tests with `pytestmark = pytest.mark.e2e`.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, IDLE, REPO, streamlit_server

SCREENSHOTS = REPO / "screenshots"
VIEWPORT = {"width": 1600, "height": 1000}
TIMEOUT_MS = 60_000           # generous: the machine is shared and some pages draw heavy figures


@pytest.fixture(scope="session")
def app_url():
    """The base URL of a fresh `streamlit run app.py` for the whole session (its output in
    screenshots/streamlit-<port>.log, for a failing test)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    with streamlit_server("app.py", log_dir=SCREENSHOTS) as (url, _):
        yield url


CHROMIUM_ENV = "BPTT_CHROMIUM"   # names a Chromium binary to drive instead of the default


def chromium_executable() -> str | None:
    """The Chromium to drive: the binary $BPTT_CHROMIUM names, else the system's (Debian's
    /usr/bin/chromium, or `chromium` on the PATH), else None: Playwright's own browser, as
    `playwright install chromium` puts it on a contributor's machine."""
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        found = shutil.which(named)
        if not found:
            raise pytest.UsageError(f"${CHROMIUM_ENV} = {named!r} is not an executable")
        return found
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """The system Chromium when there is one (here Playwright's downloads are blocked)."""
    executable = chromium_executable()
    return {**browser_type_launch_args, "args": CHROMIUM_ARGS,
            **({"executable_path": executable} if executable else {})}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT}


# ---- helpers ------------------------------------------------------------------------------------

def wait_idle(page, timeout: float = TIMEOUT_MS) -> None:
    """Wait until the script run finished and no status widget ('Running...') is shown.

    A fast rerun may never show 'running': wait for the expected content first, then this.
    """
    page.wait_for_selector(IDLE, timeout=timeout)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout)


def open_page(page, app_url: str, nav_label: str | None = None, query: str | dict = "") -> None:
    """Load the app (with `query`, a string 'a=1&b=2' or a dict) and click `nav_label` in the nav.

    Clicking the sidebar link, as a user does, keeps the session (and its settings); with
    nav_label None the app's home page is shown.
    """
    if isinstance(query, dict):
        query = urlencode(query)
    page.goto(f"{app_url}/?{query}" if query else app_url)
    page.get_by_test_id("stSidebar").wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    if nav_label is not None:
        nav_to(page, nav_label)


def nav_to(page, nav_label: str) -> None:
    """Click `nav_label` in the sidebar's page list (same session, settings kept) and wait."""
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=nav_label, exact=True)
    link.click()
    expect(link).to_have_attribute("aria-current", "page", timeout=TIMEOUT_MS)
    wait_idle(page)


_PLOTLY_JS = """
() => {
  // plotly 6+ ships arrays as {dtype, bdata (base64), shape}; typed arrays become plain lists
  const TYPED = {f8: Float64Array, f4: Float32Array, i1: Int8Array, i2: Int16Array, i4: Int32Array,
                 u1: Uint8Array, u2: Uint16Array, u4: Uint32Array};
  const decode = v => {
    const bytes = Uint8Array.from(atob(v.bdata), c => c.charCodeAt(0));
    const flat = Array.from(new TYPED[v.dtype](bytes.buffer));
    const shape = String(v.shape || flat.length).split(',').map(Number);
    if (shape.length < 2) return flat;
    const cols = shape[1];
    return Array.from({length: shape[0]}, (_, r) => flat.slice(r * cols, (r + 1) * cols));
  };
  const plain = v => (ArrayBuffer.isView(v) ? Array.from(v)
                      : Array.isArray(v) ? v.map(plain)
                      : (v && typeof v === 'object' && 'bdata' in v && 'dtype' in v) ? decode(v)
                      : (v && typeof v === 'object') ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
                      : v);
  return Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))
    .map(el => ({data: plain(el.data || []), layout: plain(el.layout || {})}));
}
"""


def plotly_figures(page, *, at_least: int = 1) -> list[dict]:
    """[{'data': [...traces], 'layout': {...}}] of every plotly chart on the page, plain lists."""
    if at_least:
        page.wait_for_function(
            "n => document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .js-plotly-plot').length >= n",
            arg=at_least, timeout=TIMEOUT_MS)
    return page.evaluate(_PLOTLY_JS)


def screenshot(page, name: str, *, full_page: bool = True, max_height: int = 6000) -> Path:
    """Save <repo>/screenshots/<name>.png. Streamlit scrolls inside its main block, not the
    document, so for the full page the viewport is stretched to the content's height first."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    if full_page:
        height = page.evaluate(
            "() => Math.max(...['stMain', 'stMainBlockContainer', 'stSidebarContent']"
            ".map(id => document.querySelector(`[data-testid=\"${id}\"]`)?.scrollHeight || 0))")
        page.set_viewport_size({"width": size["width"], "height": min(max(height + 40, size["height"]), max_height)})
        page.wait_for_timeout(400)   # let plotly re-layout to the new size
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def assert_no_exception(page) -> None:
    errors = page.get_by_test_id("stException")
    assert errors.count() == 0, "the page shows an exception:\n" + "\n".join(errors.all_inner_texts())


@pytest.fixture(autouse=True)
def _patient_page(request):
    """Give every Playwright action the same generous timeout as the waits above."""
    if "page" in request.fixturenames:
        request.getfixturevalue("page").set_default_timeout(TIMEOUT_MS)
    yield
