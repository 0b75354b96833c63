"""Timing a redraw in the browser, for bench/latency.py and bench/load.py.

A change is timed on the page's own clock: t0 is the keydown of the key press on the slider.
A requestAnimationFrame loop then watches every plotly chart in the main block (and the main
block's text), a MutationObserver the app's script state, and a listener on the app's websocket
the server's "script finished" messages. The change is complete once a rerun was seen (the
script was shown running, something changed, or a script run finished), the app is idle, and
nothing has changed for QUIET_MS; then:
- redraw_ms: when the last chart got new data (the text, if no chart changed; the rerun's end,
  if nothing on the page depends on the slider);
- first_ms: when the first chart got new data (on every page the chart at the top, in view);
- idle_ms: when the app was idle for good with everything drawn (at least redraw_ms);
- charts: how many charts got new data.
No list of expected charts is needed: a chart that does not depend on the value (e.g. a sweep
whose highlighted radius is not the new one) is simply not waited for.

Why the websocket: when a rerun's messages reach the browser in one burst (a quick script, on a
page where nothing depends on the value, e.g. Training before a run), React renders "running"
and "notRunning" in one commit, so data-test-script-state never changes in the DOM; with
nothing redrawn either, only the server's script_finished message shows the rerun happened
(measured on the Training page: 3 of 60 ρ changes never completed under the old probe, none
of them with an attribute change; with this listener 7 of 80 were never seen running, all timed).
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
  const p = {t0: null, chartAt: {}, textAt: null, lastChange: null, runningAt: null, finishedAt: null, idleAt: null,
             done: false};
  // ForwardMsg.script_finished (field 6, a varint) of a protobuf message, or null; its status 2
  // (FINISHED_EARLY_FOR_RERUN) means another run follows
  const scriptFinished = buffer => {
    const b = new Uint8Array(buffer);
    let i = 0;
    const varint = () => { let v = 0, scale = 1, x; do { x = b[i++]; v += (x & 127) * scale; scale *= 128; } while (x & 128); return v; };
    const skip = {0: varint, 1: () => { i += 8; }, 2: () => { i += varint(); }, 5: () => { i += 4; }};
    while (i < b.length) {
      const tag = varint(), wire = tag % 8;
      if (tag === 6 * 8) return varint();
      if (!skip[wire]) return null;
      skip[wire]();
    }
    return null;
  };
  const onMessage = e => {
    if (p.t0 === null || p.finishedAt !== null || !(e.data instanceof ArrayBuffer)) return;
    const status = scriptFinished(e.data);
    if (status !== null && status !== 2) p.finishedAt = performance.now() - p.t0;
  };
  // the app's socket is not reachable from here: it is caught on the rerun request it sends
  const send = WebSocket.prototype.send, sockets = new Set();
  WebSocket.prototype.send = function (data) {
    if (!sockets.has(this)) { sockets.add(this); this.addEventListener('message', onMessage); }
    return send.call(this, data);
  };
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
      const ran = p.runningAt !== null || p.lastChange !== null || p.finishedAt !== null;
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
  p.stop = () => {
    live = false; mo.disconnect(); so.disconnect(); document.removeEventListener('keydown', onKey, true);
    WebSocket.prototype.send = send; sockets.forEach(ws => ws.removeEventListener('message', onMessage));
  };
  window.__probe = p;
  requestAnimationFrame(check);
  return state.length;
}
"""

RESULT_JS = """() => { const p = window.__probe; p.stop();
  return {chartAt: p.chartAt, textAt: p.textAt, runningAt: p.runningAt, finishedAt: p.finishedAt,
          idleAt: p.idleAt}; }"""


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
