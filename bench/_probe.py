"""Timing a redraw in the browser, for bench/latency.py and bench/load.py.

A change is timed on the page's own clock: t0 is the keydown event of the key press on the
slider; a requestAnimationFrame loop (plus a MutationObserver for brief script states) then
records when each expected chart holds new data, when the main block's text changed, and
when the app is idle again. What a change is expected to redraw is learnt once per page by
`calibrate` (one change, compare everything before and after), so a chart that does not
depend on the slider is not waited for.
"""
from __future__ import annotations

from dataclasses import dataclass

TIMEOUT_MS = 120_000

# window.__probe: arm(expected) before the key press; .result once .done is true.
PROBE_JS = r"""
(expected) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const app = document.querySelector('[data-testid="stApp"]');
  const charts = () => Array.from(main.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'));
  const plain = (k, v) => (k === 'uid' ? undefined : ArrayBuffer.isView(v) ? Array.from(v) : v);
  const sig = el => { try { return JSON.stringify(el.data, plain); } catch (e) { return 'unreadable'; } };
  const text = () => main.innerText;
  const idle = () => app.getAttribute('data-test-script-state') === 'notRunning'
      && app.getAttribute('data-test-connection-state') === 'CONNECTED'
      && !document.querySelector('[data-testid="stStatusWidget"]');
  const base = charts().map(el => ({el, data: el.data, sig: sig(el)}));
  const baseText = text();
  const p = {t0: null, changed: {}, textAt: null, runningAt: null, idleAt: null, done: false,
             count: base.length, baseSigs: base.map(b => b.sig), baseText};
  if (window.__probe && window.__probe.stop) window.__probe.stop();
  let dirty = true, live = true;
  const mo = new MutationObserver(() => { dirty = true; });
  mo.observe(main, {subtree: true, childList: true, characterData: true});
  const so = new MutationObserver(() => {
    if (p.t0 !== null && p.runningAt === null && app.getAttribute('data-test-script-state') === 'running')
      p.runningAt = performance.now();
  });
  so.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  const onKey = e => { if (p.t0 === null) p.t0 = performance.now(); };
  document.addEventListener('keydown', onKey, true);
  const seen = new Map();
  const check = () => {
    if (!live) return;
    if (p.t0 !== null) {
      const now = performance.now();
      const els = charts();
      els.forEach((el, i) => {
        if (p.changed[i] !== undefined) return;
        const b = base[i];
        if (b && b.el === el && b.data === el.data) return;
        if (seen.get(i) === el.data) return;
        seen.set(i, el.data);
        if (!b || sig(el) !== b.sig) p.changed[i] = now - p.t0;
      });
      if (els.length !== base.length && p.changed.count === undefined) p.changed.count = now - p.t0;
      if (dirty && p.textAt === null) { dirty = false; if (text() !== baseText) p.textAt = now - p.t0; }
      const want = expected || {charts: [], text: false};
      const allCharts = want.charts.every(i => p.changed[i] !== undefined);
      const textOk = !want.text || p.textAt !== null;
      const something = want.charts.length > 0 || want.text || p.runningAt !== null;
      if (allCharts && textOk && something && idle() && now - p.t0 > 30) {
        p.idleAt = now - p.t0;
        if (expected) p.done = true;
      }
    }
    requestAnimationFrame(check);
  };
  p.stop = () => { live = false; mo.disconnect(); so.disconnect(); document.removeEventListener('keydown', onKey, true); };
  p.snapshot = () => ({sigs: charts().map(sig), text: text()});
  window.__probe = p;
  requestAnimationFrame(check);
  return base.length;
}
"""

RESULT_JS = """() => { const p = window.__probe; p.stop();
  return {t0: p.t0, changed: p.changed, textAt: p.textAt, runningAt: p.runningAt, idleAt: p.idleAt}; }"""


@dataclass(frozen=True)
class Expected:
    """What one slider step redraws on a page: chart indices (in the main block) and/or text."""
    charts: tuple[int, ...]
    text: bool

    def js(self) -> dict:
        return {"charts": list(self.charts), "text": self.text}


@dataclass(frozen=True)
class Timing:
    first_ms: float     # the first expected chart (or the text) showed new content
    redraw_ms: float    # every expected chart (and the text) showed new content
    idle_ms: float      # ... and the app was idle again


def wait_idle(page, timeout: float = TIMEOUT_MS) -> None:
    from _serve import IDLE
    page.wait_for_selector(IDLE, timeout=timeout)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout)


def calibrate(page, slider) -> Expected:
    """One slider step: which charts and whether the text changed once everything settled."""
    wait_idle(page)
    page.evaluate(PROBE_JS, None)
    before = page.evaluate("() => window.__probe.snapshot()")
    slider.press("ArrowRight")
    page.wait_for_timeout(500)
    wait_idle(page)
    page.wait_for_timeout(1500)        # late chart re-layouts settle
    wait_idle(page)
    after = page.evaluate("() => window.__probe.snapshot()")
    page.evaluate(RESULT_JS)
    n = min(len(before["sigs"]), len(after["sigs"]))
    charts = tuple(i for i in range(n) if before["sigs"][i] != after["sigs"][i])
    return Expected(charts, text=not charts and before["text"] != after["text"])


def arm(page, expected: Expected) -> None:
    wait_idle(page)
    page.evaluate(PROBE_JS, expected.js())


def collect(page, expected: Expected, timeout: float = TIMEOUT_MS) -> Timing:
    page.wait_for_function("() => window.__probe && window.__probe.done", timeout=timeout, polling="raf")
    r = page.evaluate(RESULT_JS)
    marks = [r["changed"][str(i)] for i in expected.charts] + ([r["textAt"]] if expected.text else [])
    marks = marks or [r["idleAt"]]        # nothing on the page depends on the slider: the rerun's end
    return Timing(first_ms=min(marks), redraw_ms=max(marks), idle_ms=r["idleAt"])


def timed_step(page, slider, expected: Expected, key: str = "ArrowRight") -> Timing:
    arm(page, expected)
    slider.press(key)
    return collect(page, expected)
