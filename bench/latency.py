"""Latency of a sidebar change: key press on a slider -> the page's charts redrawn, per page.

    .venv/bin/python bench/latency.py [--changes 20] [--pages "Unrolled graph" ...]

Starts `streamlit run app.py` and `streamlit run bench/bare_app.py` (one slider, one plotly
chart) on loopback, opens every page at its default config in its own browser context, and
then, round after round, presses ArrowRight once on the "Spectral radius" slider of each tab in
turn (the bare page included), so every page sees the same machine load. A change is timed in
the browser (bench/_probe.py): from the keydown to the last chart holding new data ("redraw"),
and to the app being idle again ("idle"); the first chart redrawn (the one at the top of every
page) is reported too. Pages without a chart that depends on the slider are
timed on their text, or to the rerun's end. Prints a Markdown table with the median
and p95 over the changes and each page's ratio to the bare page; raw numbers go to
bench/.out/latency.json. Target (issue 17): every page's median redraw within 2.0x of the bare
page's for a page with an animated figure (ANIMATED), 1.5x for the others. A change that is not
complete within STEP_TIMEOUT_MS is counted as lost (the "lost" column) and its tab reloaded, so
one stuck change does not end the run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probe import Timing, arm, collect, wait_idle  # noqa: E402
from _serve import CHROMIUM, CHROMIUM_ARGS, LOGS, streamlit_server  # noqa: E402

PAGES = ("Home", "Unrolled graph", "Vanishing & exploding", "Model & weights", "Derivation",
         "Training & truncation")
BARE = "bare page"
SLIDER_LABEL = "Spectral radius"
WARMUP = 2                    # first changes: imports and code paths warming up
ANIMATED = {"Unrolled graph", "Vanishing & exploding"}    # pages whose main chart has plotly frames
TARGET, ANIMATED_TARGET = 1.5, 2.0                       # median redraw / the bare page's
STEP_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1600, "height": 1000}


def rho_slider(page):
    return (page.get_by_test_id("stSidebar").get_by_test_id("stSlider")
            .filter(has_text=SLIDER_LABEL).locator('input[type="range"]'))


def open_tab(browser, url: str, nav_label: str | None):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url)
    page.get_by_test_id("stSidebar").wait_for(timeout=60_000)
    wait_idle(page)
    if nav_label not in (None, "Home"):
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=nav_label, exact=True).click()
        page.wait_for_timeout(300)
        wait_idle(page)
    page.wait_for_timeout(1000)
    wait_idle(page)
    return page


def timed_change(page) -> Timing:
    """bench/_probe.timed_step on the ρ slider, given up after STEP_TIMEOUT_MS."""
    wait_idle(page, timeout=STEP_TIMEOUT_MS)
    arm(page)
    rho_slider(page).press("ArrowRight")
    return collect(page, timeout=STEP_TIMEOUT_MS)


def guarded_change(name: str, page) -> Timing | None:
    """timed_change, or None (the tab reloaded) if the change was not complete in time."""
    try:
        return timed_change(page)
    except PlaywrightTimeout:
        print(f"{name}: a change was not complete within {STEP_TIMEOUT_MS} ms; reloading the tab", file=sys.stderr)
        page.reload()
        wait_idle(page)
        return None


def stats(values: list[float]) -> tuple[float, float]:
    return float(np.median(values)), float(np.percentile(values, 95))


def target(name: str) -> float:
    return ANIMATED_TARGET if name in ANIMATED else TARGET


def table(results: dict[str, list[Timing]], lost: dict[str, int]) -> str:
    bare_redraw, _ = stats([t.redraw_ms for t in results[BARE]])
    bare_idle, _ = stats([t.idle_ms for t in results[BARE]])
    rows = ["| page | redrawn: | first chart: median ms | ratio | all redrawn: median ms | p95 ms | ratio to bare "
            "| idle again: median ms | p95 ms | ratio | target | met | lost |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: |"]
    for name, timings in results.items():
        first, _ = stats([t.first_ms for t in timings])
        med, p95 = stats([t.redraw_ms for t in timings])
        imed, ip95 = stats([t.idle_ms for t in timings])
        markers = [t.marker for t in timings]
        marker = max(set(markers), key=markers.count)
        if marker == "charts":
            n = int(np.median([t.charts for t in timings]))
            marker = f"{n} chart{'s' if n != 1 else ''}"
        ok = "yes" if med <= target(name) * bare_redraw else "**no**"
        rows.append(f"| {name} | {marker} | {first:.0f} | {first / bare_redraw:.2f} | {med:.0f} | {p95:.0f} | "
                    f"{med / bare_redraw:.2f} | {imed:.0f} | {ip95:.0f} | {imed / bare_idle:.2f} | "
                    f"{target(name):.1f}x | {ok} | {lost[name]} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--pages", nargs="*", default=list(PAGES))
    args = parser.parse_args()
    started = time.time()
    with streamlit_server("app.py", name="latency-app") as (url, _), \
            streamlit_server("bench/bare_app.py", name="latency-bare") as (bare_url, _), \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tabs = {BARE: open_tab(browser, bare_url, None)}
        for label in args.pages:
            tabs[label] = open_tab(browser, url, label)
        for name, page in tabs.items():
            for _ in range(WARMUP):
                guarded_change(name, page)
        results: dict[str, list[Timing]] = {name: [] for name in tabs}
        lost = {name: 0 for name in tabs}
        for round_ in range(args.changes):
            for name, page in tabs.items():
                timing = guarded_change(name, page)
                if timing is None:
                    lost[name] += 1
                else:
                    results[name].append(timing)
                page.wait_for_timeout(150)
            print(f"round {round_ + 1}/{args.changes}: " + ", ".join(
                f"{n} {r[-1].redraw_ms:.0f}" for n, r in results.items() if r), file=sys.stderr)
        browser.close()
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "latency.json").write_text(json.dumps(
        {name: [t.__dict__ for t in timings] for name, timings in results.items()}, indent=1))
    load = os.getloadavg()[0]
    print(f"{args.changes} changes per page, load average {load:.1f} on {os.cpu_count()} cores, "
          f"{time.time() - started:.0f} s\n")
    print(table(results, lost))


if __name__ == "__main__":
    main()
