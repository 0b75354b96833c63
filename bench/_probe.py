"""Timing a redraw in the browser, for bench/latency.py and bench/load.py.

A change is timed on the page's own clock: t0 is the keydown of the key press on the slider.
A requestAnimationFrame loop then watches every plotly chart in the main block (and the main
block's text), and a MutationObserver the app's script state. The change is complete once a
rerun was seen (the script ran, or something changed), the app is idle, and nothing has changed
for QUIET_MS; then:
- redraw_ms: when the last chart got new data (the text, if no chart changed; the rerun's end,
  if nothing on the page depends on the slider);
- first_ms: when the first chart got new data (on every page the chart at the top, in view);
- idle_ms: when the app was idle for good with everything drawn (at least redraw_ms);
- charts: how many charts got new data.
No list of expected charts is needed: a chart that does not depend on the value (e.g. a sweep
whose highlighted radius is not the new one) is simply not waited for.
"""
from __future__ import annotations

from dataclasses import dataclass

TIMEOUT_MS = 180_000
QUIET_MS = 400

PROBE_JS = r"""
(quietMs) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const app = document.querySelector('[data-testid="stApp"]');
  const charts = () => Array.from(main.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'));
  const plain = (k, v) => (k === 'uid' ? undefined : ArrayBuffer.isView(v) ? Array.from(v) : v);
  const sig = el => { try { return JSON.stringify(el.data, plain); } catch (e) { return 'unreadable'; } };
  const idle = () => app.getAttribute('data-test-script-state') === 'notRunning'
      && app.getAttribute('data-test-connection-state') === 'CONNECTED'
      && !document.querySelector('[data-testid="stStatusWidget"]');
  if (window.__probe && window.__probe.stop) window.__probe.stop();
  const state = charts().map(el => ({el, data: el.data, sig: sig(el)}));
  let text = main.innerText, dirty = false, live = true, idleSince = null;
  const p = {t0: null, chartAt: {}, textAt: null, lastChange: null, runningAt: null, idleAt: null, done: false};
  const changed = now => { p.lastChange = now - p.t0; };
  const mo = new MutationObserver(() => { dirty = true; });
  mo.observe(main, {subtree: true, childList: true, characterData: true});
  const so = new MutationObserver(() => {
    if (p.t0 !== null && app.getAttribute('data-test-script-state') === 'running') {
      if (p.runningAt === null) p.runningAt = performance.now() - p.t0;
      idleSince = null;
    }
  });
  so.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  const onKey = () => { if (p.t0 === null) p.t0 = performance.now(); };
  document.addEventListener('keydown', onKey, true);
  const check = () => {
    if (!live) return;
    if (p.t0 !== null && !p.done) {
      const now = performance.now();
      charts().forEach((el, i) => {
        const s = state[i];
        if (s && s.el === el && s.data === el.data) return;
        const next = sig(el);
        if (!s || next !== s.sig) { p.chartAt[i] = now - p.t0; changed(now); }
        state[i] = {el, data: el.data, sig: next};
      });
      if (dirty) {
        dirty = false;
        const t = main.innerText;
        if (t !== text) { text = t; p.textAt = now - p.t0; changed(now); }
      }
      const ran = p.runningAt !== null || p.lastChange !== null;
      if (ran && idle()) {
        if (idleSince === null) idleSince = now;
        const last = p.t0 + (p.lastChange === null ? 0 : p.lastChange);
        if (now - idleSince >= quietMs && now - last >= quietMs) { p.idleAt = Math.max(idleSince, last) - p.t0; p.done = true; }
      } else {
        idleSince = null;
      }
    }
    requestAnimationFrame(check);
  };
  p.stop = () => { live = false; mo.disconnect(); so.disconnect(); document.removeEventListener('keydown', onKey, true); };
  window.__probe = p;
  requestAnimationFrame(check);
  return state.length;
}
"""

RESULT_JS = """() => { const p = window.__probe; p.stop();
  return {chartAt: p.chartAt, textAt: p.textAt, runningAt: p.runningAt, idleAt: p.idleAt}; }"""


@dataclass(frozen=True)
class Timing:
    redraw_ms: float    # the last chart with new data (or the text, or the rerun's end)
    idle_ms: float      # the app idle again for good
    charts: int         # how many charts got new data
    marker: str         # what redraw_ms measures: "charts", "text" or "rerun end"
    first_ms: float     # the first chart with new data (as redraw_ms where no chart changed)

    @staticmethod
    def of(result: dict) -> "Timing":
        chart_times = list(result["chartAt"].values())
        if chart_times:
            return Timing(max(chart_times), result["idleAt"], len(chart_times), "charts", min(chart_times))
        if result["textAt"] is not None:
            return Timing(result["textAt"], result["idleAt"], 0, "text", result["textAt"])
        return Timing(result["idleAt"], result["idleAt"], 0, "rerun end", result["idleAt"])


def arm(page) -> None:
    page.evaluate(PROBE_JS, QUIET_MS)


def collect(page, timeout: float = TIMEOUT_MS) -> Timing:
    page.wait_for_function("() => window.__probe && window.__probe.done", timeout=timeout, polling="raf")
    return Timing.of(page.evaluate(RESULT_JS))


def wait_idle(page, timeout: float = TIMEOUT_MS) -> None:
    from _serve import IDLE
    page.wait_for_selector(IDLE, timeout=timeout)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout)


def timed_step(page, slider, key: str = "ArrowRight") -> Timing:
    """Press `key` on `slider` and time the redraw it causes (sync Playwright)."""
    wait_idle(page)
    arm(page)
    slider.press(key)
    return collect(page)
