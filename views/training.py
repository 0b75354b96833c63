"""Training & truncation: learn a small task with SGD, watch the gradients, compare truncated
and randomized BPTT and clipping with the full gradient.

Thin: widgets from the config schema (fields tr_*), computation in rnn_core and
ui.training_run / ui.training_compare, figures from ui.figures.training.
"""
from __future__ import annotations

import hashlib
import time

import numpy as np
import pandas as pd
import streamlit as st

import rnn_core as rc
from ui import state
from ui.config import FIELD_BY_NAME, Config
from ui.figures import training as figs
from ui.text_upload import MAX_UPLOAD_BYTES, MIN_TEXT_CHARS, read_text_upload
from ui.training_compare import (COMPARE_BUDGET, EXPLODES, RADII, affordable_batch, affordable_gradient_batch,
                                 clipped_steps, compare_clipping, compare_truncations, comparison_seconds,
                                 exploding_radius, window_lengths)
from ui.budget import SESSION, Guard, Stopped
from ui.training_run import (PLAN_SECONDS, REDUCTION, TIME_BUDGET, ResultStore, TrainSpec,
                             affordable_steps, evaluate, exploding_settings, initial_params, judge, run_training,
                             sample_data, spec_step_seconds)

UPLOAD_KEY = "tr_upload"            # the file_uploader widget
TEXT_KEY = "tr_accepted_text"       # session: {"name", "text"} of the last accepted upload
SEEN_KEY = "tr_seen_upload"         # session: file_id of the last upload checked
COMPARE_STEPS = 150                 # training steps of each side-by-side run (kept quick)
HEATMAP_ROWS = 300                  # rows of the dL/dh heatmap (training steps are thinned to this)
LIVE_REDRAW_SECONDS = 0.8           # how often the live charts are redrawn while training
PROGRESS_SECONDS = 0.1              # how often the progress bar moves (each update is a message to the browser)
HUGE_NORM = 1e6                     # a gradient norm worth a note: it has exploded
CHART_HEADROOM = 1e3                # log charts of exploding runs stop at this multiple of the start

VIEW_LABELS = {"train": "Train a task", "truncation": "Truncated BPTT", "clipping": "Gradient clipping"}
TEXT_LABELS = {"builtin": "built-in text", "upload": "my own .txt file"}
CLIP_LABELS = {"none": "none", "norm": "by global norm", "value": "element-wise"}
COMPARE_LABELS = {"all": "all five parameters", "W_hh": "W_hh only"}
TRUNCATION_LABELS = {"full": "full BPTT", "k_step": "k-step truncation", "chunked": "chunked truncation",
                     "randomized": "randomized truncation"}


# ---------------------------------------------------------------------------- caches

@st.cache_resource
def _store() -> ResultStore:
    """Finished runs, shared by every session: a second viewer of the same settings does not retrain."""
    return ResultStore()


def _first_batch(spec: TrainSpec, text: str | None) -> rc.TaskData:
    # not cached: drawing is quick, and a one-hot batch can be tens of MB
    return sample_data(spec, text, batch=spec.batch, seed=spec.seed)


@st.cache_data(max_entries=32, show_spinner=False)
def _truncation_table(spec: TrainSpec, text: str | None, names: tuple[str, ...], ks: tuple[int, ...],
                      batch: int):
    """The sweep, stopped (Stopped, nothing cached) at COMPARE_BUDGET seconds or when the session goes."""
    data = sample_data(spec, text, batch=batch, seed=spec.seed)
    params = initial_params(spec, data.D, data.O)
    return compare_truncations(params, data.xs, data.ys, activation=spec.activation, loss=data.loss,
                               reduction=REDUCTION, mask=data.mask, ks=np.array(ks), seed=spec.seed, names=names,
                               guard=Guard(COMPARE_BUDGET))


def _raw_gradient(spec: TrainSpec, data: rc.TaskData) -> rc.BPTTResult:
    return rc.bptt(initial_params(spec, data.D, data.O), data.xs, data.ys, activation=spec.activation,
                   loss=data.loss, reduction=REDUCTION, mask=data.mask)


@st.cache_data(max_entries=32, show_spinner=False)
def _exploding_radius(spec: TrainSpec, text: str | None, c: float, batch: int):
    """(rho, ||g||) where the exploding model's first-batch gradient exceeds EXPLODES * c, or None."""
    data = sample_data(spec, text, batch=batch, seed=spec.seed)
    return exploding_radius(lambda rho: _raw_gradient(spec.replace(rho=rho), data).grads.global_norm(), c)


@st.cache_data(max_entries=32, show_spinner=False)
def _clipping_table(spec: TrainSpec, text: str | None, c: float, batch: int):
    res = _raw_gradient(spec, sample_data(spec, text, batch=batch, seed=spec.seed))
    return compare_clipping(res.grads, c), res.overflow


def evaluation(spec: TrainSpec, text: str | None, result):
    """Held-out numbers of a finished run (cached on the exact final weights: a run stopped at
    its time budget depends on the server's load, not only on the settings)."""
    weights = hashlib.sha256(b"".join(a.tobytes() for _, a in result.params.items())).hexdigest()
    return _evaluation(spec, text, weights, result)


@st.cache_data(max_entries=32, show_spinner=False)
def _evaluation(spec: TrainSpec, text: str | None, weights: str, _result):
    return evaluate(spec, text, _result.params)


# ---------------------------------------------------------------------------- the uploaded text

def uploaded_text(config: Config) -> str | None:
    """The char_lm text the config asks for: an accepted upload, or None for the built-in text.

    A new upload is checked once; a bad one gets a message and leaves the last good text (and
    everything else in the session) as it was.
    """
    if config.tr_text != "upload":
        return None
    file = st.file_uploader("Upload a plain-text file (.txt, UTF-8)", type=["txt"], key=UPLOAD_KEY,
                            max_upload_size=max(1, MAX_UPLOAD_BYTES // 2**20),
                            help=f"at most {MAX_UPLOAD_BYTES // 1024} kB and 96 distinct characters")
    if file is not None and st.session_state.get(SEEN_KEY) != file.file_id:
        checked = read_text_upload(file.getvalue(), name=file.name, min_chars=max(MIN_TEXT_CHARS, config.T + 1))
        if checked.ok:
            st.session_state[SEEN_KEY] = file.file_id
            st.session_state[TEXT_KEY] = {"name": file.name, "text": checked.text}
            if checked.message:
                st.info(state.literal_markdown(checked.message))
        else:
            # the message quotes the file name (and may quote its characters): shown as typed
            st.error(state.literal_markdown(checked.message), icon=":material/error:")
    accepted = st.session_state.get(TEXT_KEY)
    if accepted is None:
        st.info("No text uploaded yet: the built-in text is used until a file is accepted.")
        return None
    text = accepted["text"]
    name = state.literal_markdown(accepted["name"])        # a file name is text, never markup
    st.caption(f"Using **{name}**: {len(text):,} characters, {len(set(text))} distinct. "
               "A shared link cannot carry an upload: viewers of the link get the built-in text.")
    return text


# ---------------------------------------------------------------------------- settings

TRAINABLE = FIELD_BY_NAME["tr_task"].options


def _use_task(task: str) -> None:
    """Callback: train on `task` (the sidebar's), keeping every other setting."""
    state.set_config(state.config().replace(tr_task=task), reset_widgets=False)
    st.session_state.pop(state.widget_key("tr_task"), None)


def task_settings(config: Config) -> str | None:
    """Task choice, its options and description; returns the uploaded text (or None)."""
    cols = st.columns([2, 2, 3])
    with cols[0]:
        task = state.view_widget("tr_task", format_func=lambda name: rc.TASKS[name].title)
    text = None
    with cols[1]:
        if task == "char_lm":
            state.view_widget("tr_text", widget="radio", horizontal=True, format_func=TEXT_LABELS.get)
        elif task == "copy":
            ranged_slider("tr_delay", 1, config.T - 1, why=f"T = {config.T}")
    with cols[2]:
        info = rc.TASKS[task]
        st.markdown(f"**{info.title}.** {info.description}  \n*{info.sizes}; loss: {info.loss}*"
                    f"{'; only the last step counts' if info.many_to_one else ''}.")
        sidebar_task = config.task
        if sidebar_task != task and sidebar_task in TRAINABLE:
            st.button(f"Use the sidebar's task ({rc.TASKS[sidebar_task].title})", key="tr_use_sidebar_task",
                      on_click=_use_task, args=(sidebar_task,))
    if task == "char_lm":
        text = uploaded_text(state.config())
    return text


def ranged_slider(name: str, low: int, high: int, why: str) -> int:
    """A page slider over [low, high] whose range depends on other settings. When the range has
    collapsed (low >= high) st.slider would raise (min = max): the one value is stated instead."""
    if low >= high:
        st.markdown(f"**{FIELD_BY_NAME[name].label}:** {low} (the only value {why} allows)")
        return low
    return state.view_widget(name, min_value=low, max_value=high)


def sgd_settings(config: Config) -> None:
    cols = st.columns(6)
    with cols[0]:
        state.view_widget("tr_lr", widget="number_input", step=0.01, format="%.4g")
    with cols[1]:
        state.view_widget("tr_momentum", step=0.01)
    with cols[2]:
        state.view_widget("tr_steps", widget="number_input", step=50)
    with cols[3]:
        state.view_widget("tr_batch")
    with cols[4]:
        state.view_widget("tr_clip", format_func=CLIP_LABELS.get)
    with cols[5]:
        state.view_widget("tr_clip_c", widget="number_input", step=0.5, format="%.3g",
                          disabled=state.config().tr_clip == "none")


def checked_spec(config: Config, text: str | None) -> tuple[TrainSpec, rc.TaskData] | None:
    """The run's spec and its first batch, or None after a message if the task refuses the sizes."""
    spec = TrainSpec.from_config(config, text)
    try:
        return spec, _first_batch(spec, text)
    except ValueError as err:
        st.warning(f"The task *{rc.TASKS[spec.task].title}* cannot run with these settings: {err}. "
                   "Change T in the sidebar or pick another task.", icon=":material/warning:")
        return None


# ---------------------------------------------------------------------------- task preview

def task_preview(spec: TrainSpec, data: rc.TaskData, presentation: bool) -> None:
    st.markdown("**A few examples** (the first sequences of the first training batch)")
    n = min(3, data.xs.shape[1])
    if spec.task == "sine":
        st.plotly_chart(figs.sine_figure(data.xs[:, :n, 0], presentation=presentation), key="preview_sine")
        st.caption("Each sequence is a sine wave of random period and phase plus noise; the target at "
                   "every step is the next value.")
    elif spec.task == "adding":
        markers = data.xs[:, :n, 1]
        targets = data.ys[-1, :n, 0]
        st.plotly_chart(figs.adding_figure(data.xs[:, :n, 0], markers, targets, presentation=presentation,
                                           height=110 * n + 90), key="preview_adding")
        st.caption("Orange bars are the two marked values; the network must output their sum at the last "
                   "step, so it has to remember the first one across many steps.")
    elif spec.task == "pos_tagging":
        words, tags = _sentence(data, 0)
        st.html(figs.tagged_sentence_html(words, tags, font_size=chip_size(presentation)))
        st.caption("Each word carries its tag. *fish, watch, light, train* are nouns or verbs: "
                   "only the words before them tell which.")
    else:
        st.code("\n".join(rc.task_preview(data, n)), language=None, wrap_lines=True)
        if spec.task == "char_lm":
            st.caption("Input window → target window: the target is the input shifted by one character.")


def chip_size(presentation: bool) -> int:
    return 24 if presentation else 17


def _sentence(data: rc.TaskData, b: int, outputs: np.ndarray | None = None):
    words = [data.info["words"][i] for i in data.xs[:, b].argmax(axis=-1)]
    tags = [data.info["tags"][i] for i in data.ys[:, b]]
    if outputs is None:
        return words, tags
    return words, tags, [data.info["tags"][i] for i in outputs[:, b].argmax(axis=-1)]


# ---------------------------------------------------------------------------- training

class LiveCharts:
    """Placeholders for the progress bar and charts, redrawn during and after training."""

    def __init__(self):
        self.progress = st.empty()
        left, right = st.columns(2)
        self.loss, self.grads = left.empty(), right.empty()
        self.extra = st.empty()
        self.heatmap = st.empty()
        self._last_draw = self._last_progress = 0.0
        self._draws = 0     # each redraw gets its own key: identical figures may not share an id

    def callback(self, steps: int, config: Config, clip_c: float | None):
        def on_step(s: int, partial) -> None:
            now = time.monotonic()
            if now - self._last_progress > PROGRESS_SECONDS or s == steps:
                self._last_progress = now
                self.progress.progress(s / steps, text=f"Training: step {s} of {steps}, loss {partial.loss[-1]:.4g}")
            if now - self._last_draw > LIVE_REDRAW_SECONDS:
                self._last_draw = now
                self.draw_curves(partial, config, clip_c)
        return on_step

    def draw_curves(self, result, config: Config, clip_c: float | None) -> None:
        presentation, notation = config.presentation, config.notation
        self._draws += 1
        diverged = {"loss": result.diverged_step} if result.diverged_step else None
        self.loss.plotly_chart(figs.loss_figure({"loss": result.loss}, diverged=diverged,
                                                presentation=presentation), key=f"tr_loss_{self._draws}")
        self.grads.plotly_chart(figs.grad_norms_figure(
            result.param_grad_norms, result.param_names, total=result.grad_norm,
            applied=result.applied_norm if clip_c is not None else None, threshold=clip_c,
            notation=notation, presentation=presentation), key=f"tr_grads_{self._draws}")


def train_with_progress(spec: TrainSpec, text: str | None, charts: LiveCharts, config: Config):
    """Train with a live progress bar, at most TIME_BUDGET seconds. A run stopped at the budget is
    kept (marked stopped) so that a rerun does not spend the budget again; a run whose session
    has gone is dropped (Streamlit ends the script at its next st.* call)."""
    clip_c = spec.clip[1] if spec.clip and spec.clip[0] == "norm" else None
    guard = Guard(TIME_BUDGET)
    result = run_training(spec, text, callback=charts.callback(spec.steps, config, clip_c), guard=guard)
    if guard.stopped_by != SESSION:
        _store().put(spec, result)
    return result


def about(seconds: float) -> str:
    return f"about {seconds:.2g} s" if seconds < 10 else f"about {seconds:.0f} s"


def training_view(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None) -> None:
    sgd_settings(config)
    config = state.config()
    spec = TrainSpec.from_config(config, text)
    affordable = affordable_steps(spec, data.D, data.O)
    if affordable < 1:
        st.warning(f"One training step at T = {spec.T}, H = {spec.H}, batch {spec.batch} would take "
                   f"{about(spec_step_seconds(spec, data.D, data.O))}, more than the {PLAN_SECONDS:.0f} s a run "
                   "is planned for. Lower T, H, the batch size or the truncation's k to train here.",
                   icon=":material/warning:")
        return
    if spec.steps > affordable:
        st.info(f"At these sizes {spec.steps} steps would take longer than the {PLAN_SECONDS:.0f} s a run is "
                f"planned for: training runs {affordable} steps.")
        spec = spec.replace(steps=affordable)
    estimate = spec.steps * spec_step_seconds(spec, data.D, data.O)
    store = _store()
    cols = st.columns([1, 4])
    pressed = cols[0].button("Train", type="primary", icon=":material/play_arrow:", key="tr_train")
    cols[1].caption(f"SGD on a fresh batch each step, minimising the mean loss per step; update of eq. (12). "
                    f"Gradient: {TRUNCATION_LABELS[config.truncation]} (sidebar). Same settings, same run: "
                    "finished runs are kept and shown to every viewer. "
                    f"Estimated time: {about(estimate)}; any run stops at {TIME_BUDGET:.0f} s, keeping the steps "
                    "done.")
    with st.expander("The task", expanded=spec not in store):
        task_preview(spec, data, config.presentation)
    charts = LiveCharts()
    result = store.get(spec)
    if pressed and (result is None or result.stopped):     # a run cut short may be trained again
        result = train_with_progress(spec, text, charts, config)
    if result is None:
        charts.progress.info("Press **Train** to train with these settings.", icon=":material/info:")
        return
    show_training(config, spec, data, text, result, charts)


def show_training(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None, result,
                  charts: LiveCharts) -> None:
    clip_c = spec.clip[1] if spec.clip and spec.clip[0] == "norm" else None
    charts.draw_curves(result, config, clip_c)
    with charts.progress.container():
        run_banner(spec, text, result)
    with charts.extra.container():
        st.caption("**Left:** the loss of each step's batch (it is noisy: every step sees new sequences). "
                   "**Right:** the norm of each parameter's gradient on a log axis; the black line is the "
                   "whole gradient before clipping, the dotted one what the update used.")
    with charts.heatmap.container():
        rows = np.unique(np.linspace(0, result.steps_done - 1, min(result.steps_done, HEATMAP_ROWS)).astype(int))
        st.plotly_chart(figs.dL_dh_heatmap(result.dL_dh_norms[rows], steps=rows + 1, notation=config.notation,
                                           presentation=config.presentation), key="tr_heatmap")
        st.caption("Each row is one training step, each column a time step t; colour is how much gradient "
                   "reaches h_t (log scale). The gradient at h_t is its own loss's part plus what flows back "
                   "from later steps: watch whether the early columns fade (vanishing) or flare up "
                   "(exploding) as training goes on."
                   + (" In the adding problem only the last step has a loss, so every other column gets "
                      "gradient through the recurrence alone." if spec.task == "adding" else ""))
        if result.accuracy is not None:
            st.plotly_chart(figs.accuracy_figure(result.accuracy, presentation=config.presentation),
                            key="tr_accuracy")
        task_result(config, spec, text, result)


VERDICT_ICONS = {"success": ":material/check_circle:", "warning": ":material/warning:", "error": ":material/error:"}
VERDICT_ADVICE = {"warning": " Try more steps, another learning rate, or a larger H.",
                  "error": " Turn clipping on, lower the learning rate or the spectral radius."}


def run_banner(spec: TrainSpec, text: str | None, result) -> None:
    """What happened: stopped at the budget or not, and the run judged against its baseline."""
    if result.stopped:
        st.warning(f"Stopped at its time budget: {result.steps_done} of {spec.steps} steps ran in the "
                   f"{TIME_BUDGET:.0f} s a run may take; the steps done are shown. Lower T, H, the batch size, "
                   "the truncation's k or the steps for a complete run.", icon=":material/timer:")
    verdict = judge(result, None if result.diverged else evaluation(spec, text, result))
    first, last = np.mean(result.loss[:10]), np.mean(result.loss[-10:])
    n = result.steps_done
    summary = (f"Trained {n} step{'s' if n != 1 else ''}: loss {first:.4g} → {last:.4g} (means of the first and last "
               f"10 steps). ")
    show = {"success": st.success, "warning": st.warning, "error": st.error}[verdict.level]
    show(summary + verdict.message + VERDICT_ADVICE.get(verdict.level, ""), icon=VERDICT_ICONS[verdict.level])


def task_result(config: Config, spec: TrainSpec, text: str | None, result) -> None:
    """What the trained model does on held-out sequences, per task."""
    if result.diverged:
        return
    ev = evaluation(spec, text, result)
    st.subheader("The trained model on new sequences")
    summary = f"Held-out loss {ev.loss:.4g}" + (f", accuracy {ev.accuracy:.1%}" if ev.accuracy is not None else "")
    baseline = f"the best constant answer (ignoring the input) scores {ev.baseline_loss:.4g}" + (
        f", accuracy {ev.baseline_accuracy:.1%}" if ev.baseline_accuracy is not None else "")
    st.markdown(f"{summary}; {baseline}.")
    if spec.task == "char_lm":
        st.markdown(f"Generated after reading *{ev.prefix!r}*:")
        cols = st.columns(2)
        cols[0].markdown("**Greedy** (always the most likely character)")
        cols[0].code(ev.sample_greedy, language=None, wrap_lines=True)
        cols[1].markdown("**Sampled** from the softmax (temperature 1)")
        cols[1].code(ev.sample_drawn, language=None, wrap_lines=True)
        st.caption("Greedy text tends to loop on the commonest words; sampled text is more varied and "
                   "shows what the model has picked up (spaces, word shapes, frequent words).")
    elif spec.task == "pos_tagging":
        words, tags, predicted = _sentence(ev.examples, 0, ev.outputs)
        st.html(figs.tagged_sentence_html(words, tags, predicted, font_size=chip_size(config.presentation)))
        st.caption("Blue ✓: the predicted tag is right; vermillion ✗: wrong (the true tag in brackets).")
    elif spec.task == "sine":
        st.plotly_chart(figs.sine_figure(ev.examples.xs[:, :1, 0], target=ev.examples.ys[:, 0, 0],
                                         prediction=ev.outputs[:, 0, 0], title="Next-value prediction",
                                         presentation=config.presentation), key="tr_sine_result")
        st.caption("The dashed line is the model's prediction of the next value; the circles are the truth.")
    elif spec.task == "adding":
        targets, predictions = ev.final_targets[:, 0], ev.final_outputs[:, 0]
        st.plotly_chart(figs.adding_scatter(targets, predictions, presentation=config.presentation),
                        key="tr_adding_result")
        st.caption("Points on the diagonal are right. Answering 1.0 always (the mean sum) scores a loss of "
                   "about 0.083: only a loss well below that means the model remembers the marked values.")
    elif spec.task == "copy":
        d = ev.examples.info["delay"]
        x, y, o = ev.examples.xs[:, 0].argmax(-1), ev.examples.ys[:, 0], ev.outputs[:, 0].argmax(-1)
        st.code(f"input      {' '.join(map(str, x))}\ntarget     {'  ' * d}{' '.join(map(str, y[d:]))}\n"
                f"predicted  {'  ' * d}{' '.join(map(str, o[d:]))}", language=None)
        st.caption(f"The target is the input {d} steps earlier; the first {d} steps have no target.")


# ---------------------------------------------------------------------------- truncation

def truncation_view(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None) -> None:
    st.markdown("The same model (initial weights) and the same batch; only how far the gradient flows back "
                "through the recurrence changes. Choose the truncation used for training and its k or p "
                "in the sidebar.")
    compare = state.view_widget("tr_compare", widget="radio", horizontal=True, format_func=COMPARE_LABELS.get)
    names = rc.PARAM_NAMES if compare == "all" else ("W_hh",)
    ks = window_lengths(spec.T, extra=config.trunc_k)
    batch = affordable_batch(spec.T, spec.batch, spec.H, data.D, data.O, ks)
    if batch < 1:
        st.warning(f"The comparison at T = {spec.T}, H = {spec.H} would take about "
                   f"{comparison_seconds(spec.T, 1, spec.H, data.D, data.O, ks):.0f} s even for one sequence. "
                   "Lower T or H.", icon=":material/warning:")
        return
    if batch < spec.batch:
        st.info(f"To stay quick the comparison uses the first {batch} of the batch's {spec.batch} sequences.")
    try:
        table = _truncation_table(spec.model_and_batch(), text, names, tuple(int(k) for k in ks), batch)
    except Stopped:
        st.warning(f"The comparison stopped at its time budget of {COMPARE_BUDGET:.0f} s before it was complete "
                   "(the machine is busier than the estimate assumed). Lower T, H or the batch size, or try again.",
                   icon=":material/timer:")
        return
    st.plotly_chart(figs.truncation_figure(table.ks, table.cosine, table.ratio, T=spec.T, k_marker=config.trunc_k,
                                           presentation=config.presentation), key="tr_trunc_fig")
    st.caption(f"Cosine 1 and ratio 1 mean the truncated gradient is the full one (grey dashed line: k = T, "
               f"orange dotted: the sidebar's k = {config.trunc_k}). k-step and chunked truncation reach it "
               f"at k = T. Randomized truncation keeps each step's factor with probability p = 1 − 1/k (scaled "
               f"by 1/p): one draw is noisy, but the mean of {table.draws} draws approaches the full gradient "
               "(it is unbiased). ‖g_full‖ = " + f"{table.full_norm:.4g}.")
    if not np.isfinite(table.full_norm):
        st.warning("The full gradient is not finite at these settings (it overflowed): the comparison is "
                   "undefined. Lower the spectral radius.", icon=":material/warning:")
    frame = pd.DataFrame(table.rows())
    with st.expander("The numbers", expanded=not config.presentation):
        wide = frame.pivot_table(index="k", columns="method", values=["cosine to full", "norm ratio"],
                                 dropna=False)
        # as text: st.dataframe would print a missing number as "None"
        st.dataframe(wide.map(lambda v: "—" if np.isnan(v) else f"{v:.4f}"), key="tr_trunc_table")
        st.caption("— : randomized truncation at k = 1 would keep no factor (p = 0).")
    side_by_side_truncation(config, spec, data, text)


def comparison_steps(variants: dict[str, TrainSpec], data: rc.TaskData) -> int:
    """Steps of each side-by-side run: at most COMPARE_STEPS, and every variant (each at its own
    cost: a k-step window costs more) within PLAN_SECONDS together."""
    per_step = sum(spec_step_seconds(v, data.D, data.O) for v in variants.values())
    return int(min(next(iter(variants.values())).steps, COMPARE_STEPS, PLAN_SECONDS // per_step))


def with_steps(variants: dict[str, TrainSpec], steps: int) -> dict[str, TrainSpec]:
    return {name: v.replace(steps=steps) for name, v in variants.items()}


def too_slow(spec: TrainSpec) -> None:
    st.warning(f"Training side by side at T = {spec.T}, H = {spec.H}, batch {spec.batch} would take longer than "
               f"the {PLAN_SECONDS:.0f} s it is planned for, even for one step each. Lower T, H, the batch size or k.",
               icon=":material/warning:")


def truncation_variants(spec: TrainSpec, config: Config) -> dict[str, TrainSpec]:
    k, p = config.trunc_k, config.trunc_p
    return {"full BPTT": spec.replace(truncation=None),
            f"k-step, k = {k}": spec.replace(truncation=("k_step", k)),
            f"chunked, k = {k}": spec.replace(truncation=("chunked", k)),
            f"randomized, p = {p:g}": spec.replace(truncation=("randomized", p, spec.seed))}


def side_by_side_truncation(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None) -> None:
    st.subheader("Training curves: full against truncated")
    variants = truncation_variants(spec, config)
    steps = comparison_steps(variants, data)
    if steps < 1:
        too_slow(spec)
        return
    variants = with_steps(variants, steps)
    results = run_variants(variants, data, text, "tr_train_trunc", "Train all four")
    if results is None:
        return
    curves = {label: r.loss for label, r in results.items()}
    diverged = {label: r.diverged_step for label, r in results.items()}
    st.plotly_chart(figs.loss_figure(curves, diverged=diverged, title="Loss, same seed and batches",
                                     presentation=config.presentation), key="tr_trunc_curves")
    st.caption(f"{steps} steps each, same initial weights and the same batches, with the learning rate and "
               "clipping of *Train a task*. When the task needs memory longer than k, the truncated runs "
               "level off higher: their gradient cannot see the dependency. Try the delayed-recall task with "
               "a delay of at least k: k-step truncation then stays at chance, k = delay + 1 learns it.")


def run_variants(variants: dict[str, TrainSpec], data: rc.TaskData, text: str | None, key: str,
                 label: str) -> dict | None:
    """Runs of every variant (trained on a button press, with one progress bar), all within
    TIME_BUDGET seconds together: at the budget the current run stops (kept, marked stopped) and
    the rest are left untrained; if the session goes, nothing is kept."""
    store = _store()
    missing = [name for name, s in variants.items() if s not in store]
    estimate = sum(variants[name].steps * spec_step_seconds(variants[name], data.D, data.O) for name in missing)
    if missing and not st.button(label, key=key, icon=":material/play_arrow:"):
        st.info(f"Press **{label}** to train the runs side by side ({len(missing)} to train, {about(estimate)}; "
                f"they stop at {TIME_BUDGET:.0f} s together).", icon=":material/info:")
        return None
    bar = st.empty()
    guard = Guard(TIME_BUDGET)
    for i, name in enumerate(missing):
        if guard.should_stop():
            break
        spec = variants[name]

        def on_step(s, partial, i=i, name=name, steps=spec.steps):
            bar.progress((i + s / steps) / len(missing), text=f"Training {name}: step {s} of {steps}")
        result = run_training(spec, text, callback=on_step, guard=guard)
        if guard.stopped_by == SESSION:
            return None
        store.put(spec, result)
    bar.empty()
    results = {name: store.get(s) for name, s in variants.items()}
    stopped = [name for name, r in results.items() if r is None or r.stopped]
    if stopped:
        st.warning(f"Stopped at the time budget of {TIME_BUDGET:.0f} s: {', '.join(stopped)} did not finish "
                   "(a partial curve, or none). Lower T, H, the batch size or k, or press again to go on.",
                   icon=":material/timer:")
    return {name: r for name, r in results.items() if r is not None}


# ---------------------------------------------------------------------------- clipping

def clipping_view(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None) -> None:
    settings = exploding_settings()
    c = float(config.tr_clip_c)
    calls = 1 + len(RADII)                 # the radius search and the comparison, one gradient each
    batch = affordable_gradient_batch(spec.T, spec.batch, spec.H, data.D, data.O, calls)
    if batch < 1:
        too_slow(spec)
        return
    exploding = spec.replace(**settings)
    found = _exploding_radius(exploding.model_and_batch(), text, c, batch)
    st.markdown(f"The **exploding** model: the current task and sizes with activation {settings['activation']} "
                f"(the lecture preset). Both rules use the threshold c = {c:g} (set it on *Train a task*): by "
                "global norm, g is rescaled to norm c when ‖g‖ > c; element-wise, each entry is clipped to "
                "[−c, c] as min-char-rnn does with c = 5.")
    if found is None:
        st.warning(f"At these settings the gradient does not explode: for no spectral radius up to {RADII[-1]:g} "
                   f"does ‖g‖ reach {EXPLODES:g} c = {EXPLODES * c:g}. Clipping at c = {c:g} has (almost) nothing "
                   "to do, so the rules below barely differ. Lower c or raise T to see it work.",
                   icon=":material/warning:")
        rho = RADII[-1]
    else:
        rho, norm = found
        preset_note = (f"At the preset's radius {settings['rho']:g} the gradient stays small here, so this "
                       f"comparison uses" if rho > settings["rho"] else "It uses the preset's")
        st.markdown(f"{preset_note} spectral radius **{rho:g}**, the smallest of {', '.join(f'{r:g}' for r in RADII)} "
                    f"at which the raw gradient explodes: ‖g‖ = {norm:.3g}, at least {EXPLODES:g} times c.")
    exploding = exploding.replace(rho=rho)
    if batch < spec.batch:
        st.info(f"To stay quick the gradients are compared on the first {batch} of the batch's {spec.batch} "
                "sequences.")
    table, overflow = _clipping_table(exploding.model_and_batch(), text, c, batch)
    if overflow or not np.isfinite(table.raw_norm):
        st.warning("The exploding model overflows on this batch (inf/nan): there is no gradient to clip. "
                   "Lower T in the sidebar.", icon=":material/warning:")
        return
    st.plotly_chart(figs.clipping_figure(table.labels, table.cosine, table.applied_norm, threshold=c,
                                         presentation=config.presentation), key="tr_clip_fig")
    st.caption("Clipping by global norm only shortens the gradient: its cosine to the raw gradient stays 1. "
               "Element-wise clipping cuts the large entries and keeps the small ones, so it also turns the "
               "direction (cosine below 1) whenever some entry exceeds c.")
    st.dataframe(pd.DataFrame(table.rows()).round(4), hide_index=True, key="tr_clip_table")
    if table.raw_norm > HUGE_NORM:
        st.info(f"The raw gradient's norm is {table.raw_norm:.3g}: it has exploded. An unclipped SGD step with "
                f"learning rate {spec.lr:g} would move the weights by about {spec.lr * table.raw_norm:.3g}.")
    clipping_curves(config, exploding, data, text, c)


def clipping_curves(config: Config, exploding: TrainSpec, data: rc.TaskData, text: str | None, c: float) -> None:
    st.subheader("Training curves: none, global norm, element-wise")
    variants = {"no clipping": exploding.replace(clip=None),
                f"global norm, c = {c:g}": exploding.replace(clip=("norm", c)),
                f"element-wise, c = {c:g}": exploding.replace(clip=("value", c))}
    steps = comparison_steps(variants, data)
    if steps < 1:
        too_slow(exploding)
        return
    results = run_variants(with_steps(variants, steps), data, text, "tr_train_clip", "Train all three")
    if not results:
        return
    diverged = {label: r.diverged_step for label, r in results.items()}
    # the axes stop at 1000x the largest first value, so that an exploding run leaves the chart
    # instead of flattening the others
    loss_top = CHART_HEADROOM * max(r.loss[0] for r in results.values())
    norm_top = CHART_HEADROOM * max(c, *(r.grad_norm[0] for r in results.values()))
    cols = st.columns(2)
    cols[0].plotly_chart(figs.loss_figure({k: r.loss for k, r in results.items()}, diverged=diverged, log_y=True,
                                          y_max=loss_top, title="Loss (log)", presentation=config.presentation),
                         key="tr_clip_curves")
    cols[1].plotly_chart(figs.loss_figure({k: r.applied_norm for k, r in results.items()}, log_y=True,
                                          y_max=norm_top, title="‖g‖ used by the update (log)", ytitle="norm",
                                          presentation=config.presentation), key="tr_clip_norms")
    st.caption("A cross marks a run that stopped on inf/nan; curves that leave the top of a chart have "
               "exploded (hover for the numbers). Without clipping one large step can throw the weights far "
               "away; clipping keeps each update bounded (right: global-norm clipping never exceeds c).")
    clipped = {name: clipped_steps(r.grad_norm, c) for name, r in results.items() if name != "no clipping"}
    if not any(clipped.values()):
        st.warning(f"No clipping happened: in no step of these runs did the raw gradient exceed c = {c:g}, so the "
                   "rules gave the same updates and the curves coincide. Lower c to see clipping act.",
                   icon=":material/warning:")
    else:
        st.markdown("Steps whose raw gradient exceeded c (and were clipped): " + "; ".join(
            f"{name}: {n} of {results[name].steps_done}" for name, n in clipped.items()) + ". The largest loss: "
            + "; ".join(f"{name}: {np.nanmax(r.loss):.3g}" for name, r in results.items()) + ".")


# ---------------------------------------------------------------------------- the page

def main() -> None:
    config = state.config()
    st.title("Training & truncation")
    view = state.view_widget("tr_view", widget="radio", horizontal=True, format_func=VIEW_LABELS.get,
                             label_visibility="collapsed")
    text = task_settings(config)
    config = state.config()
    checked = checked_spec(config, text)
    if checked is None:
        return
    spec, data = checked
    {"train": training_view, "truncation": truncation_view, "clipping": clipping_view}[view](config, spec, data, text)


main()
