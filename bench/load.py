"""Many viewers: a lecture hall opening one share link, each student moving their own sliders.

    .venv/bin/python bench/load.py [--viewers 10] [--rounds 8] [--blas app default] [--configs 100]

Phase 1, per BLAS setting (a fresh `streamlit run app.py` on loopback for each): "app" is the
app as shipped (ui/runtime.py limits BLAS to one thread with threadpoolctl); "default" keeps
OpenBLAS's own thread count (bench/_blas_default/sitecustomize.py turns the limit into a no-op),
to measure what the limit buys. N browser contexts open the same share
link to the Vanishing & exploding page. Each first gives itself its own T (context i presses
ArrowRight i times on the T slider), then, round after round and all at once, moves its
spectral radius (even contexts up, odd ones down). Every change is timed in the browser
(bench/_probe.py) from the key press to the last chart redrawn, and to the app idle again. After every
round each context must still show its own state: its URL, its sliders and the measured
spectral radius of its W_hh (a metric computed from the cached parameters) all match what
that context set, which cached results or module globals leaking between sessions would break.

Phase 2 (once): one context walks the spectral radius through `--configs` distinct values at a
larger size (T = 100, H = 64) while the server's resident memory is sampled from
/proc/<pid>/status; with bounded caches (max_entries) it levels off instead of growing with
every config.

Everything stops by itself: bounded rounds, bounded waits, servers stopped on exit.
Prints Markdown tables; raw numbers go to bench/.out/load.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probe import PROBE_JS, QUIET_MS, RESULT_JS, TIMEOUT_MS, Timing  # noqa: E402
from _serve import CHROMIUM, CHROMIUM_ARGS, IDLE, LOGS, rss_mb, streamlit_server  # noqa: E402

PAGE_PATH = "vanishing"
SHARE_QUERY = "T=20&H=16"            # the lecturer's link: lecture-sized model
START_T, START_RHO, RHO_STEP = 20, 0.9, 0.05
MEMORY_QUERY = "T=100&H=64"
VIEWPORT = {"width": 1400, "height": 900}
RSS_EVERY = 0.5                       # s between memory samples
BLAS_ENV = {"app": {}, "default": {"PYTHONPATH": str(Path(__file__).resolve().parent / "_blas_default")}}


# ---- one viewer ---------------------------------------------------------------------------------

class Viewer:
    def __init__(self, index: int, page):
        self.index, self.page = index, page
        self.T, self.rho_steps = START_T, 0
        self.timings: list[dict] = []

    @property
    def rho(self) -> float:
        return round(START_RHO + RHO_STEP * self.rho_steps, 2)

    def slider(self, label: str):
        return (self.page.get_by_test_id("stSidebar").get_by_test_id("stSlider")
                .filter(has_text=label).locator('input[type="range"]'))

    async def idle(self) -> None:
        await self.page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
        await self.page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=TIMEOUT_MS)

    async def press(self, label: str, key: str, *, record: bool = True) -> Timing:
        """One key press on a slider, timed until its redraw is complete."""
        await self.idle()
        await self.page.evaluate(PROBE_JS, QUIET_MS)
        await self.slider(label).press(key)
        await self.page.wait_for_function("() => window.__probe.done", timeout=TIMEOUT_MS, polling="raf")
        timing = Timing.of(await self.page.evaluate(RESULT_JS))
        if record:
            self.timings.append({"redraw_ms": timing.redraw_ms, "idle_ms": timing.idle_ms, "charts": timing.charts})
        return timing

    async def shown_state(self) -> dict:
        """What this context shows: its URL's T and rho, its sliders, the measured rho(W_hh)."""
        await self.idle()
        query = parse_qs(urlsplit(self.page.url).query)
        metric = (self.page.get_by_test_id("stMetric").filter(has_text="Spectral radius")
                  .get_by_test_id("stMetricValue"))
        return {"url_T": int(query.get("T", ["12"])[0]), "url_rho": float(query.get("rho", ["0.9"])[0]),
                "slider_T": int(float(await self.slider("Sequence length").input_value())),
                "slider_rho": float(await self.slider("Spectral radius").input_value()),
                "measured_rho": float(re.sub(r"[^0-9.]", "", await metric.inner_text()))}

    async def check_own_state(self) -> list[str]:
        shown = await self.shown_state()
        want = {"url_T": self.T, "url_rho": self.rho, "slider_T": self.T, "slider_rho": self.rho,
                "measured_rho": self.rho}
        return [f"viewer {self.index}: {k} shows {shown[k]}, expected {v}" for k, v in want.items()
                if abs(shown[k] - v) > 1e-3 + 1e-9]


async def warm_up(browser, url: str) -> None:
    """The lecturer opens the app before sharing the link."""
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await page.goto(url, timeout=TIMEOUT_MS)
    await page.get_by_test_id("stSidebar").get_by_test_id("stSlider").first.wait_for(timeout=TIMEOUT_MS)
    await context.close()


async def open_viewer(browser, url: str, index: int) -> Viewer:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await page.goto(url, timeout=TIMEOUT_MS)
    viewer = Viewer(index, page)
    await page.get_by_test_id("stSidebar").wait_for(timeout=TIMEOUT_MS)
    await page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first.wait_for(timeout=TIMEOUT_MS)
    await viewer.idle()
    return viewer


# ---- server memory ----------------------------------------------------------------------------------

async def sample_rss(pid: int, samples: list[tuple[float, float]], stop: asyncio.Event, t0: float) -> None:
    while not stop.is_set():
        samples.append((time.monotonic() - t0, rss_mb(pid)))
        try:
            await asyncio.wait_for(stop.wait(), RSS_EVERY)
        except asyncio.TimeoutError:
            pass


# ---- the two phases ---------------------------------------------------------------------------------

async def viewers_phase(pw, blas: str, n: int, rounds: int) -> dict:
    env = BLAS_ENV[blas]
    with streamlit_server("app.py", env=env, name=f"load-blas-{blas}") as (url, pid):
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        samples: list[tuple[float, float]] = []
        stop, t0 = asyncio.Event(), time.monotonic()
        sampler = asyncio.create_task(sample_rss(pid, samples, stop, t0))
        try:
            await warm_up(browser, url)
            share = f"{url}/{PAGE_PATH}?{SHARE_QUERY}"
            viewers = [await open_viewer(browser, share, i) for i in range(n)]    # students arrive one by one
            for v in viewers:               # each its own T: 20, 21, ..., 20 + n - 1
                for _ in range(v.index):
                    await v.press("Sequence length", "ArrowRight", record=False)
                    v.T += 1
            problems: list[str] = []
            for round_ in range(rounds):
                async def step(v: Viewer) -> None:
                    up = v.index % 2 == 0
                    await v.press("Spectral radius", "ArrowRight" if up else "ArrowLeft")
                    v.rho_steps += 1 if up else -1
                await asyncio.gather(*(step(v) for v in viewers))
                for v in viewers:
                    problems += [f"round {round_ + 1}: {p}" for p in await v.check_own_state()]
                print(f"blas={blas} round {round_ + 1}/{rounds}: redraw p50 "
                      f"{np.median([v.timings[-1]['redraw_ms'] for v in viewers]):.0f} ms, RSS {samples[-1][1]:.0f} MB",
                      file=sys.stderr)
        finally:
            stop.set()
            await sampler
            await browser.close()
    redraws = [t["redraw_ms"] for v in viewers for t in v.timings]
    return {"blas": blas, "viewers": n, "rounds": rounds,
            "redraw_ms": redraws, "idle_ms": [t["idle_ms"] for v in viewers for t in v.timings],
            "rss": samples, "problems": problems, "load": os.getloadavg()[0]}


async def memory_phase(pw, configs: int) -> dict:
    with streamlit_server("app.py", name="load-memory") as (url, pid):
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await warm_up(browser, url)
            viewer = await open_viewer(browser, f"{url}/{PAGE_PATH}?{MEMORY_QUERY}", 0)
            await viewer.slider("Spectral radius").press("Home")      # rho = 0: the walk covers 0.05 .. 5
            await viewer.page.wait_for_timeout(400)
            await viewer.idle()
            series = [(0, rss_mb(pid))]
            for i in range(1, configs + 1):
                await viewer.press("Spectral radius", "ArrowRight", record=False)
                series.append((i, rss_mb(pid)))
                if i % 10 == 0:
                    print(f"memory: {i} configs, RSS {series[-1][1]:.0f} MB", file=sys.stderr)
        finally:
            await browser.close()
    return {"configs": configs, "query": MEMORY_QUERY, "rss_by_config": series}


# ---- report ---------------------------------------------------------------------------------------

def viewers_table(runs: list[dict]) -> str:
    rows = ["| BLAS threads | viewers x changes | redraw p50 ms | p95 ms | idle p50 ms | p95 ms | "
            "server RSS start -> max MB | own state in every check | load avg |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: |"]
    for r in runs:
        rss = [m for _, m in r["rss"]]
        own = "yes" if not r["problems"] else f"**no** ({len(r['problems'])} mismatches)"
        threads = "1 (app: threadpoolctl)" if r["blas"] == "app" else "OpenBLAS default (2)"
        rows.append(f"| {threads} | {r['viewers']} x {r['rounds']} | {np.median(r['redraw_ms']):.0f} | "
                    f"{np.percentile(r['redraw_ms'], 95):.0f} | {np.median(r['idle_ms']):.0f} | "
                    f"{np.percentile(r['idle_ms'], 95):.0f} | {rss[0]:.0f} -> {max(rss):.0f} | "
                    f"{own} | {r['load']:.1f} |")
    return "\n".join(rows)


def memory_table(m: dict) -> str:
    series = dict(m["rss_by_config"])
    marks = [k for k in (0, 10, 25, 32, 50, 75, m["configs"]) if k in series]
    head = "| configs seen | " + " | ".join(str(k) for k in marks) + " |"
    return "\n".join([head, "| --- |" + " ---: |" * len(marks),
                      "| server RSS MB | " + " | ".join(f"{series[k]:.0f}" for k in marks) + " |"])


async def main_async(args) -> None:
    async with async_playwright() as pw:
        runs = [await viewers_phase(pw, blas, args.viewers, args.rounds) for blas in args.blas]
        memory = await memory_phase(pw, args.configs) if args.configs else None
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "load.json").write_text(json.dumps({"runs": runs, "memory": memory}, indent=1))
    print(f"Share link /{PAGE_PATH}?{SHARE_QUERY}; {os.cpu_count()} cores.\n")
    print(viewers_table(runs))
    for r in runs:
        for problem in r["problems"][:20]:
            print(f"- blas {r['blas']}: {problem}")
    if memory:
        print(f"\nMemory over {memory['configs']} distinct configs (/{PAGE_PATH}?{memory['query']}, "
              "spectral radius 0.05 .. 5):\n")
        print(memory_table(memory))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--blas", nargs="+", default=["app", "default"], choices=list(BLAS_ENV),
                        help="app: as shipped (one BLAS thread); default: OpenBLAS's own thread count")
    parser.add_argument("--configs", type=int, default=100, help="distinct configs of the memory walk (0: skip)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
