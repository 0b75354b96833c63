"""Scrubbing in the browser against a server round trip, on the Vanishing page (issue 17).

Starts `streamlit run app.py` on loopback (bench/_serve.py), opens /vanishing at T = 200,
H = 64 in headless Chromium and times, on the page's own clock:
- a scrub step: a click on a step of the ρ slider inside the main chart (plotly frames), from
  the pointerdown to the first animation frame after the plot's traces changed in the SVG (drawn), and to
  the first after plotly's plotly_animated event (settled, a frame later); the same on the
  all-pairs row's slider over t (section "pairs");
- the reference, in the same run: a key press on the sidebar's ρ slider to the redrawn charts
  (a server rerun, bench/_probe.py).
It counts the reruns the scrub steps caused (the app's script state turning "running"), which
must be 0, and reports the figures' JSON bytes. Prints Markdown tables; stops by itself.

    .venv/bin/python bench/scrub.py [--steps 40] [--reference 10]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import warnings

from _serve import CHROMIUM, CHROMIUM_ARGS, IDLE, ROOT, streamlit_server
import _probe

QUERY = "T=200&H=64"
TIMEOUT_MS = 120_000
CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'

# t0: the pointerdown on the slider. drawn: the first animation frame after the plot's traces
# changed in the SVG (.cartesianlayer: the curve redrawn, what the viewer sees; the slider's own
# grip is drawn elsewhere); settled: the first animation frame after
# plotly reports the animation over (plotly_animated comes one frame after the redraw, as
# plotly's slider and animation loop each wait for a frame). reruns: how often the app's script
# state turned "running" since install.
SCRUB_JS = r"""
(index) => {
  const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[index];
  const app = document.querySelector('[data-testid="stApp"]');
  if (window.__scrub) window.__scrub.stop();
  const s = {drawn: [], settled: [], reruns: 0, t0: null, seen: false};
  const down = () => { s.t0 = performance.now(); s.seen = false; };
  const svg = new MutationObserver(() => {
    if (s.t0 === null || s.seen) return;
    s.seen = true;
    const t0 = s.t0;
    requestAnimationFrame(() => s.drawn.push(performance.now() - t0));
  });
  svg.observe(gd.querySelector('.cartesianlayer'), {subtree: true, attributes: true, childList: true});
  const animated = () => { const t0 = s.t0; requestAnimationFrame(() => { if (t0 !== null) s.settled.push(performance.now() - t0); s.t0 = null; }); };
  const mo = new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'running') s.reruns += 1; });
  mo.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  gd.addEventListener('pointerdown', down, true);
  gd.on('plotly_animated', animated);
  s.stop = () => { mo.disconnect(); svg.disconnect(); gd.removeEventListener('pointerdown', down, true); gd.removeListener('plotly_animated', animated); };
  window.__scrub = s;
  return gd.querySelectorAll('.slider-tick-rect').length;
}
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def tick_points(page, index: int) -> list[tuple[float, float]]:
    """Page coordinates of each slider step of chart `index`: the tick's x on the rail's touch strip."""
    return page.evaluate("""(index) => {
      const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[index];
      const rail = gd.querySelector('.slider-rail-touch-rect').getBoundingClientRect();
      return Array.from(gd.querySelectorAll('.slider-tick-rect')).map(t => {
        const r = t.getBoundingClientRect(); return [r.x + r.width / 2, rail.y + rail.height / 2]; });
    }""", index)


def scrub(page, index: int, steps: int, seed: int = 0) -> tuple[list[float], list[float], int]:
    """Click `steps` slider steps of chart `index` (a random walk, never the current step twice);
    return each step's ms to the redrawn chart and to plotly's end of animation, and the reruns seen."""
    page.locator(CHART).nth(index).scroll_into_view_if_needed()
    page.evaluate(SCRUB_JS, index)
    points = tick_points(page, index)
    rng, current = random.Random(seed), len(points) // 2
    for n in range(steps):
        current = rng.choice([i for i in range(len(points)) if i != current])
        page.mouse.click(*points[current])
        page.wait_for_function("n => window.__scrub.settled.length > n && window.__scrub.drawn.length > n", arg=n,
                               timeout=TIMEOUT_MS)
    result = page.evaluate("() => { const s = window.__scrub; s.stop(); return s; }")
    return result["drawn"], result["settled"], result["reruns"]


def reference(page, steps: int) -> list[float]:
    """The sidebar's ρ slider, a key press each: change to redraw through a server rerun (ms)."""
    thumb = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(
        has_text="Spectral radius").get_by_role("slider")
    times = []
    for n in range(steps):
        times.append(_probe.timed_step(page, thumb, "ArrowRight" if n % 2 == 0 else "ArrowLeft").redraw_ms)
    return times


def figure_bytes() -> list[tuple[str, int, int]]:
    """(chart, frames, JSON bytes) of the two scrubbed figures at QUERY, built as the page builds them,
    and of the main chart without its frames."""
    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(ROOT))
    import logging
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    from ui.config import parse
    from ui.pages import vanishing as service
    config = parse(dict(p.split("=") for p in QUERY.split("&")))[0]
    plan = service.plan(config)
    model = config.project(*service.EXACT_NUMBERS)
    curve = service.scrub_figure(model, plan.scrub, plan.norm, plan.main_window, config.notation, "k", False)
    pairs_plan = service.plan(config.replace(v_section="pairs"))
    row = service.pairs_row_figure(model, pairs_plan.pair_norm, pairs_plan.pair_window, config.notation, False)
    family = service.cached_radius_family(model, plan.scrub, plan.norm, plan.main_window)
    plain = service.figures.curve_figure(family.norms[family.selected], family.bounds[family.selected],
                                         nt=service.NOTATIONS[config.notation], ord=plan.norm)
    return [("main chart without a scrubber (the sidebar's ρ only)", 0, len(plain.to_json())),
            ("ρ scrubber (main chart)", len(curve.frames), len(curve.to_json())),
            ("t scrubber (one row of the map)", len(row.frames), len(row.to_json()))]


def row(name: str, times: list[float], ref: float, reruns: str) -> str:
    med = statistics.median(times)
    return (f"| {name} | {len(times)} | {med:.1f} | {percentile(times, 0.95):.1f} | {med / ref:.3f} | {reruns} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="scrub steps per slider")
    parser.add_argument("--reference", type=int, default=10, help="server slider steps (the reference)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    started = time.monotonic()
    with streamlit_server("app.py", name="scrub") as (url, _pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{url}/vanishing?{QUERY}")
        page.wait_for_selector(CHART, timeout=TIMEOUT_MS)
        _probe.wait_idle(page)
        load_before = os.getloadavg()
        ref = reference(page, args.reference)
        rho_drawn, rho_settled, rho_reruns = scrub(page, 0, args.steps)
        page.goto(f"{url}/vanishing?{QUERY}&v_section=pairs")
        page.wait_for_function(f"() => document.querySelectorAll('{CHART}').length >= 3", timeout=TIMEOUT_MS)
        _probe.wait_idle(page)
        row_index = page.evaluate(f"""() => Array.from(document.querySelectorAll('{CHART}'))
            .findIndex(gd => (gd.layout.sliders || []).some(s => (s.currentvalue || {{}}).prefix?.includes('t =')))""")
        t_drawn, t_settled, t_reruns = scrub(page, row_index, args.steps, seed=1)
        load_after = os.getloadavg()
        browser.close()
    ref_med = statistics.median(ref)
    print(f"Scrub steps at {QUERY} (headless Chromium, timed in the page from the pointerdown: 'drawn' to the "
          "first animation frame after the plot's traces changed in the SVG, 'settled' to the first after plotly_animated); "
          "reference: the sidebar's ρ slider, key press to redrawn charts (a server rerun), same run.\n")
    print("| control | steps | median ms | p95 ms | median / reference | reruns |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(row("reference: sidebar ρ slider (server rerun)", ref, ref_med, "1 per step"))
    print(row("ρ scrubber in the main chart, drawn", rho_drawn, ref_med, str(rho_reruns)))
    print(row("ρ scrubber in the main chart, settled", rho_settled, ref_med, str(rho_reruns)))
    print(row("t scrubber on the all-pairs row, drawn", t_drawn, ref_med, str(t_reruns)))
    print(row("t scrubber on the all-pairs row, settled", t_settled, ref_med, str(t_reruns)))
    print(f"\nload average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"{time.monotonic() - started:.0f} s in all\n")
    print("| figure | frames | JSON bytes |")
    print("| --- | --- | --- |")
    for name, frames, size in figure_bytes():
        print(f"| {name} | {frames} | {size:,} |")


if __name__ == "__main__":
    main()
