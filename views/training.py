"""Training & truncation: learn a small task with SGD (with the sidebar's cell), watch the
gradients, compare truncated and randomized BPTT and clipping with the full gradient, and the
vanilla RNN, the LSTM and the GRU on the same batches.

Layout only: widgets from the config schema (fields tr_*), runs, comparisons, budgets and words
from the page's service (ui.pages.training), charts from ui.figures.training.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

import rnn_core as rc
from ui import state
from ui.budget import Stopped
from ui.config import FIELD_BY_NAME, Config
from ui.figures import training as figures
from ui.pages import training as service
from ui.pages.training import Block, Note, TrainSpec
from ui.text_upload import MAX_UPLOAD_BYTES

UPLOAD_KEY = "tr_upload"            # the file_uploader widget
SHOW = {"info": st.info, "success": st.success, "warning": st.warning, "error": st.error,
        "markdown": lambda text, icon=None: st.markdown(text), "caption": lambda text, icon=None: st.caption(text)}
RENDER = {"figure": lambda b: st.plotly_chart(b.body, key=b.key), "html": lambda b: st.html(b.body),
          "subheader": lambda b: st.subheader(b.body), "markdown": lambda b: st.markdown(b.body),
          "caption": lambda b: st.caption(b.body),
          "code": lambda b: st.code(b.body, language=None, wrap_lines=b.wrap)}


def show(*notes: Note | None) -> None:
    for note in notes:
        if note is not None:
            SHOW[note.level](note.text, icon=note.icon)


def render(blocks: list[Block]) -> None:
    for block in blocks:
        if block.kind == "columns":
            for column, inner in zip(st.columns(len(block.body)), block.body):
                with column:
                    render(inner)
        else:
            RENDER[block.kind](block)


def uploaded_text(config: Config) -> str | None:
    """The char_lm text the config asks for: an accepted upload, or None for the built-in text."""
    if config.tr_text != "upload":
        return None
    file = st.file_uploader("Upload a plain-text file (.txt, UTF-8)", type=["txt"], key=UPLOAD_KEY,
                            max_upload_size=max(1, MAX_UPLOAD_BYTES // 2**20), help=service.UPLOAD_HELP)
    show(service.check_upload(file, config.T))
    text, note = service.accepted_text()
    show(note)
    return text


def _use_task(task: str) -> None:
    """Callback: train on `task` (the sidebar's), keeping every other setting."""
    state.set_config(state.config().replace(tr_task=task), reset_widgets=False)
    st.session_state.pop(state.widget_key("tr_task"), None)


def task_settings(config: Config, view: str) -> str | None:
    """Task choice, its options and description; returns the uploaded text (or None)."""
    cols = st.columns([2, 2, 3])
    with cols[0]:
        task = state.view_widget("tr_task", format_func=FIELD_BY_NAME["tr_task"].choice_label)
    with cols[1]:
        if task == "char_lm":
            state.view_widget("tr_text", widget="radio", horizontal=True,
                              format_func=FIELD_BY_NAME["tr_text"].choice_label)
        elif task == "copy" and view == "cells":
            st.markdown(service.cells_delay_words(config.T))
        elif task == "copy":
            ranged_slider("tr_delay", 1, config.T - 1, why=f"T = {config.T}")
    with cols[2]:
        st.markdown(service.task_description(task))
        if config.task != task and config.task in FIELD_BY_NAME["tr_task"].options:     # trainable
            st.button(f"Use the sidebar's task ({rc.TASKS[config.task].title})", key="tr_use_sidebar_task",
                      on_click=_use_task, args=(config.task,))
    return uploaded_text(state.config()) if task == "char_lm" else None


def ranged_slider(name: str, low: int, high: int, why: str) -> int:
    """A page slider over [low, high]; when the range has collapsed (st.slider would raise on
    min = max) the one value is stated instead."""
    if low >= high:
        st.markdown(f"**{FIELD_BY_NAME[name].label}:** {low} (the only value {why} allows)")
        return low
    return state.view_widget(name, min_value=low, max_value=high)


def sgd_settings() -> None:
    cols = st.columns(6)
    for col, (name, options) in zip(cols, (
            ("tr_lr", dict(widget="number_input", step=0.01, format="%.4g")), ("tr_momentum", dict(step=0.01)),
            ("tr_steps", dict(widget="number_input", step=50)), ("tr_batch", {}),
            ("tr_clip", dict(format_func=FIELD_BY_NAME["tr_clip"].choice_label)),
            ("tr_clip_c", dict(widget="number_input", step=0.5, format="%.3g",
                               disabled=state.config().tr_clip == "none")))):
        with col:
            state.view_widget(name, **options)


def training_view(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None) -> None:
    sgd_settings()
    config = state.config()
    spec, note = service.affordable_run(TrainSpec.from_config(config, text), data)
    show(note)
    if spec is None:
        return
    budget = service.guard_seconds(spec.steps * service.spec_step_seconds(spec, data.D, data.O))
    cols = st.columns([1, 4])
    pressed = cols[0].button("Train", type="primary", icon=":material/play_arrow:", key="tr_train")
    cols[1].caption(service.train_caption(config, spec, data))
    with st.expander("The task", expanded=spec not in service.store()):
        st.markdown("**A few examples** (the first sequences of the first training batch)")
        render(service.TASK_DISPLAYS[spec.task].preview(data, min(3, data.xs.shape[1]), config.presentation))
    charts = service.LiveCharts()
    result = service.store().get(spec)
    if pressed and (result is None or result.stopped):     # a run cut short may be trained again
        result = service.train_with_progress(spec, text, charts, config, budget)
    if result is None:
        charts.progress.info("Press **Train** to train with these settings.", icon=":material/info:")
        return
    charts.draw_curves(result, config, service.clip_threshold(spec))
    with charts.progress.container():
        show(*service.run_banner(config, spec, text, result, budget))
    with charts.extra.container():
        st.caption(service.CURVES_CAPTION)
    with charts.heatmap.container():
        render(service.trained_blocks(config, spec, text, result))


def side_by_side(variants: dict[str, TrainSpec], data: rc.TaskData, text: str | None, key: str,
                 label: str) -> dict | None:
    """The variants' runs (trained on a button press, with one progress bar), or None."""
    steps = service.comparison_steps(variants, data)
    if steps < 1:
        show(service.too_slow(next(iter(variants.values()))))
        return None
    variants = service.with_steps(variants, steps)
    missing, estimate = service.missing_estimate(variants, data.D, data.O)
    budget = service.guard_seconds(estimate)
    if missing and not st.button(label, key=key, icon=":material/play_arrow:"):
        show(service.press_to_train(label, missing, estimate, budget))
        return None
    bar = st.empty()
    results = service.train_missing(variants, text, lambda done, what: bar.progress(done, text=what), budget)
    if results is None:
        return None
    bar.empty()
    planned = service.runs_estimate(variants, data.D, data.O)
    show(service.unfinished_runs(results, service.guard_seconds(planned)))
    return {name: run for name, run in results.items() if run is not None}


def truncation_view(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None) -> None:
    st.markdown(service.TRUNCATION_INTRO)
    compare = state.view_widget("tr_compare", widget="radio", horizontal=True,
                                format_func=lambda option: service.compare_label(option, config.cell))
    plan, note = service.truncation_plan(config, spec, data)
    show(note)
    if plan is None:
        return
    try:
        table = service.truncation_table(service.start_key(config), text,
                                         service.compared_names(compare, config.cell), plan.ks, plan.batch)
    except Stopped:
        show(service.COMPARISON_STOPPED)
        return
    st.plotly_chart(figures.truncation_figure(table.ks, table.cosine, table.ratio, T=spec.T, k_marker=config.trunc_k,
                                              presentation=config.presentation), key="tr_trunc_fig")
    st.caption(service.truncation_caption(config, table))
    show(service.truncation_overflow(table, config.cell))
    with st.expander("The numbers", expanded=not config.presentation):
        # as text: st.dataframe would print a missing number as "None"
        st.dataframe(service.truncation_numbers(table), key="tr_trunc_table")
        st.caption("— : randomized truncation at k = 1 would keep no factor (p = 0).")
    st.subheader("Training curves: full against truncated")
    variants = service.truncation_variants(spec, config)
    results = side_by_side(variants, data, text, "tr_train_trunc", "Train all four")
    if results is not None:
        render(service.truncation_runs_blocks(results, service.comparison_steps(variants, data), config.presentation))


def clipping_view(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None) -> None:
    c = float(config.tr_clip_c)
    found = service.clipping_setup(config, spec, data, text, c)
    if found.model is None:
        show(service.too_slow(spec))
        return
    st.markdown(service.clipping_intro(c, config.cell))
    show(*found.notes, found.batch_note)
    table, overflow = service.clipping_table(found.key, text, c, found.batch, found.model.scale)
    if overflow or not np.isfinite(table.raw_norm):
        show(service.CLIPPING_OVERFLOW)
        return
    st.plotly_chart(figures.clipping_figure(table.labels, table.cosine, table.applied_norm, threshold=c,
                                            presentation=config.presentation), key="tr_clip_fig")
    st.caption(service.CLIPPING_CAPTION)
    st.dataframe(service.clipping_numbers(table), hide_index=True, key="tr_clip_table")
    show(service.exploded_note(table, spec))
    st.subheader("Training curves: none, global norm, element-wise")
    results = side_by_side(service.clipping_variants(found.model, c), data, text, "tr_train_clip", "Train all three")
    if results:
        render(service.clipping_runs_blocks(results, c, config.presentation))
        show(service.clipped_summary(results, c))


def cells_view(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None) -> None:
    st.markdown(service.CELLS_INTRO)
    if config.tr_task not in service.CELLS_TASKS:
        show(service.cells_task_note(config.tr_task))
        return
    variants = service.cells_variants(config, text)
    steps = service.cells_steps(variants, data.D, data.O)
    if steps < 1:
        show(service.too_slow(next(iter(variants.values()))))
        return
    variants = service.with_steps(variants, steps)
    show(service.cells_budget_note(steps))
    st.caption(service.cells_recipe_caption(next(iter(variants.values()))))
    label = "Train the three cells"
    pressed = st.button(label, key="tr_train_cells", type="primary", icon=":material/play_arrow:")
    estimate = service.runs_estimate(variants, data.D, data.O)
    budget = service.guard_seconds(estimate)
    results = service.cells_runs(variants, again=pressed)
    if results is None and not pressed:
        show(service.press_to_train(label, len(variants), estimate, budget))
        return
    if results is None:
        bar = st.empty()
        results = service.train_cells(variants, text, lambda done, what: bar.progress(done, text=what), budget)
        if results is None:
            return
        bar.empty()
    show(service.cells_stopped_note(results, steps, budget))
    render(service.cells_blocks(variants, results, text, config.notation, config.presentation))


def main() -> None:
    config = state.config()
    st.title("Training & truncation")
    view = state.view_widget("tr_view", widget="radio", horizontal=True, label_visibility="collapsed",
                             format_func=FIELD_BY_NAME["tr_view"].choice_label)
    text = task_settings(config, view)
    config = state.config()
    spec = TrainSpec.from_config(config, text)
    try:
        data = service.first_batch(spec, text)
    except ValueError as err:
        show(service.task_refused(spec, err))
        return
    {"train": training_view, "truncation": truncation_view, "clipping": clipping_view,
     "cells": cells_view}[view](config, spec, data, text)


main()
