"""Training & truncation page in Chromium: training shows a moving progress bar and the loss
chart; a bad text upload gets a message and loses nothing; each view renders (screenshots)."""
import os
import re
import time

import pytest

from tests.e2e.conftest import (SCREENSHOTS, TIMEOUT_MS, assert_no_exception, open_page, plotly_figures,
                                screenshot, wait_idle)
from tests.e2e.server import streamlit_server

pytestmark = pytest.mark.e2e
NAV = "Training & truncation"

# Collects every value the progress bar shows, from before the click to the end of training.
WATCH_PROGRESS = """
() => {
  window.__progress = [];
  const record = () => document.querySelectorAll('[data-testid="stProgress"] [role="progressbar"]')
      .forEach(el => { const v = el.getAttribute('aria-valuenow');
                       if (v !== null && window.__progress.at(-1) !== v) window.__progress.push(v); });
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, attributes: true});
}
"""


def title(figure: dict) -> str:
    """A chart's title as plain text (Streamlit's theme wraps it in <b>)."""
    return re.sub(r"<[^>]+>", "", (figure["layout"].get("title") or {}).get("text", ""))


def titles(page) -> list[str]:
    return [title(f) for f in plotly_figures(page)]


def test_training_shows_progress_and_the_loss_chart(page, app_url):
    open_page(page, app_url, NAV, query={"tr_steps": "600", "H": "32", "T": "30"})
    page.get_by_text("Press Train to train with these settings").wait_for(timeout=TIMEOUT_MS)
    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_test_id("stProgress").first.wait_for(timeout=TIMEOUT_MS)
    banner = page.get_by_text(re.compile(r"^Trained \d+ steps"))
    banner.wait_for(timeout=120_000)
    wait_idle(page)
    values = [float(v) for v in page.evaluate("window.__progress")]
    # the bar moved forward several times; at the end the summary message takes its place
    assert len(values) >= 3 and values == sorted(values) and values[-1] > values[0], values
    shown = titles(page)
    assert "Training loss" in shown and "Gradient norms per parameter" in shown
    done = int(re.match(r"Trained (\d+) steps", banner.inner_text()).group(1))
    # a loaded machine may stop the run at 1.5 times its announced time: then the page says so
    assert done == 600 or page.get_by_text("Stopped at its time budget").count() == 1
    loss = next(f for f in plotly_figures(page) if title(f) == "Training loss")
    y = loss["data"][0]["y"]      # typed arrays arrive as {dtype, bdata, _inputArray}
    assert len(y if isinstance(y, list) else y["_inputArray"]) == done
    assert_no_exception(page)
    screenshot(page, "training_trained")


def test_bad_upload_gets_a_message_and_keeps_the_session(page, app_url, tmp_path):
    open_page(page, app_url, NAV, query={"tr_lr": "0.05", "tr_text": "upload"})
    page.get_by_text("No text uploaded yet").wait_for(timeout=TIMEOUT_MS)
    uploader = page.get_by_test_id("stFileUploader").locator('input[type="file"]')

    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e, d\xe9j\xe0 vu. ".encode("latin-1") * 20)
    uploader.set_input_files(str(bad))
    page.get_by_text("is not UTF-8 text").wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    assert page.get_by_text("No text uploaded yet").count() == 1       # the built-in text is still used
    assert page.locator(".st-key-cfg_tr_lr input").input_value() == "0.05"         # settings kept
    assert_no_exception(page)
    screenshot(page, "training_bad_upload")

    binary = tmp_path / "picture.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    uploader.set_input_files(str(binary))
    page.get_by_text("looks like a PNG image").wait_for(timeout=TIMEOUT_MS)

    good = tmp_path / "fox.txt"
    good.write_text("The quick brown fox jumps over the lazy dog. " * 12, encoding="utf-8")
    uploader.set_input_files(str(good))
    page.get_by_text("Using fox.txt").wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    assert page.get_by_text("is not UTF-8 text").count() == 0
    page.get_by_text("built-in text", exact=True).click()        # switch back: the built-in text is there
    # .first: while the rerun draws it, the preview's previous place may still show (stale)
    page.get_by_text("Input window → target window").first.wait_for(timeout=TIMEOUT_MS)
    assert_no_exception(page)


@pytest.mark.parametrize("view, label, expected", [
    ("truncation", "Truncated BPTT", "cosine to the full gradient"),
    ("clipping", "Gradient clipping", "cosine to the raw gradient"),
])
def test_comparison_views(page, app_url, view, label, expected):
    open_page(page, app_url, NAV, query={"T": "30", "tr_steps": "100", "tr_task": "adding", "H": "16"})
    page.locator(".st-key-cfg_tr_view").get_by_text(label, exact=True).click()
    page.get_by_text(expected).first.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    page.get_by_role("button", name="Train all").click()
    page.get_by_text("Training curves").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length >= 2",
                           timeout=120_000)
    wait_idle(page, timeout=120_000)
    assert "tr_view=" + view in page.url
    assert_no_exception(page)
    screenshot(page, f"training_{view}")


def test_tagging_in_presentation_mode(page, app_url):
    open_page(page, app_url, NAV, query={"presentation": "1", "tr_task": "pos_tagging", "tr_steps": "150",
                                         "H": "16"})
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("The trained model on new sequences").wait_for(timeout=120_000)
    wait_idle(page)
    assert page.get_by_text(re.compile(r"^Held-out loss")).count() == 1     # the verdict also quotes it
    assert page.locator("span", has_text="✓").count() > 0          # the tagged sentence, coloured
    assert_no_exception(page)
    screenshot(page, "training_tagging_presentation")


def test_an_uploaded_file_name_is_shown_as_typed(page, app_url, tmp_path):
    name = "[link](www.example.com) :red[red] $x^2$ **b**.txt"      # a file name holds no '/'
    good = tmp_path / name
    good.write_text("The quick brown fox jumps over the lazy dog. " * 12, encoding="utf-8")
    open_page(page, app_url, NAV, query={"tr_text": "upload"})
    page.get_by_text("No text uploaded yet").wait_for(timeout=TIMEOUT_MS)
    page.get_by_test_id("stFileUploader").locator('input[type="file"]').set_input_files(str(good))
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="Using")
    caption.wait_for(timeout=TIMEOUT_MS)
    wait_idle(page)
    shown = caption.inner_text().replace("\u2060", "")          # literal_markdown's word joiners
    assert name in shown, shown
    main = page.get_by_test_id("stMain")
    assert main.locator('a[href*="example.com"]').count() == 0
    assert caption.locator(".katex").count() == 0 and caption.locator('[class*="red"]').count() == 0
    assert_no_exception(page)
    screenshot(page, "training_upload_name")


def test_clipping_comparison_shows_clipping_at_work_by_default(page, app_url):
    open_page(page, app_url, NAV, query={"tr_view": "clipping"})
    page.get_by_text("the raw gradient explodes").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Train all three").click()
    page.get_by_text("exceeded c (and were clipped)").wait_for(timeout=120_000)
    wait_idle(page, timeout=120_000)
    loss = next(f for f in plotly_figures(page) if title(f) == "Loss (log)")
    curves = [tuple(t["y"] if isinstance(t["y"], list) else t["y"]["_inputArray"].values())
              for t in loss["data"] if t.get("name")]
    assert len(curves) == 3 and len(set(curves)) == 3          # three different runs
    assert_no_exception(page)
    screenshot(page, "training_clipping_default")


def test_a_run_below_its_baseline_is_reported_as_not_learned(page, app_url):
    open_page(page, app_url, NAV, query={"tr_task": "adding"})
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Did not learn").wait_for(timeout=120_000)
    wait_idle(page)
    assert page.get_by_test_id("stAlertContentWarning").filter(has_text="Did not learn").count() == 1
    assert page.get_by_test_id("stAlertContentSuccess").count() == 0
    assert_no_exception(page)
    screenshot(page, "training_not_learned")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (from /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_closing_the_tab_stops_the_truncation_sweep(browser):
    """The sweep makes no st.* call for seconds (Streamlit's own stop request waits for one):
    it checks the session itself and stops within a gradient or two of the tab closing."""
    with streamlit_server("app.py", log_dir=SCREENSHOTS, name="training-close") as (url, pid):
        page = browser.new_page()
        open_page(page, url, None, query={"T": "500", "H": "256", "tr_batch": "128", "tr_view": "truncation"})
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=NAV, exact=True).click()
        page.get_by_role("heading", name="Training & truncation").wait_for(timeout=TIMEOUT_MS)
        time.sleep(0.5)
        busy = cpu_seconds(pid)
        time.sleep(1.0)
        assert cpu_seconds(pid) - busy > 0.2              # the sweep (about 8 s) is under way (the cores are shared)
        page.close()
        time.sleep(2.0)                                   # a gradient or two to notice
        before = cpu_seconds(pid)
        time.sleep(3.0)
        assert cpu_seconds(pid) - before < 0.15           # idle: nothing left running


def test_copy_task_at_the_shortest_T(page, app_url):
    """A slider whose range collapses (delay 1..T-1 at T = 2) is stated as text, not raised."""
    open_page(page, app_url, NAV, query={"tr_task": "copy", "T": "2"})
    page.get_by_text("the only value T = 2 allows").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"^Trained \d+ steps")).wait_for(timeout=120_000)
    wait_idle(page)
    assert_no_exception(page)
    screenshot(page, "training_copy_T2")


# ---------------------------------------------------------------------------- issue 14: the cells

def trace_names(figure: dict) -> list[str]:
    return [t.get("name", "") for t in figure["data"]]


@pytest.mark.parametrize("presentation", ["0", "1"])
def test_compare_cells_trains_three_cells_on_the_same_batches(page, app_url, presentation):
    """The section the gru_adding preset opens (here at a small T and H, so the recipe's steps
    run quickly on a shared machine): one button, three loss curves and three heatmaps."""
    open_page(page, app_url, NAV, query={"cell": "gru", "init": "orthogonal", "T": "10", "H": "4",
                                         "tr_task": "adding", "tr_view": "cells", "presentation": presentation})
    button = page.get_by_role("button", name="Train the three cells")
    button.wait_for(timeout=TIMEOUT_MS)
    button.click()
    page.get_by_text(re.compile(r"^After \d+ steps on the same batches at T = 10")).wait_for(timeout=120_000)
    wait_idle(page, timeout=120_000)
    figures = {title(f): f for f in plotly_figures(page, at_least=2)}
    curves = trace_names(figures["Loss, same seed and batches"])
    assert curves[:3] == ["vanilla RNN", "LSTM", "GRU"] and curves[3].startswith("predicting the mean sum")
    heat = next(f for t, f in figures.items() if t.startswith("‖∂L/∂"))
    assert [t["type"] for t in heat["data"]] == ["heatmap"] * 3
    assert_no_exception(page)
    screenshot(page, f"training_cells{'_presentation' if presentation == '1' else ''}")


def test_the_cell_choice_changes_the_training_run(page, app_url):
    open_page(page, app_url, NAV, query={"cell": "lstm", "init": "orthogonal", "T": "8", "tr_steps": "20"})
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"^Trained 20 steps")).wait_for(timeout=120_000)
    wait_idle(page)
    grads = next(f for f in plotly_figures(page) if title(f) == "Gradient norms per parameter")
    names = [n for n in trace_names(grads) if n.startswith("‖∂L/∂")]
    assert len(names) == 14 and "‖∂L/∂W<sub>hf</sub>‖" in names           # the LSTM's 14 parameters
    assert_no_exception(page)
    screenshot(page, "training_lstm_trained")
