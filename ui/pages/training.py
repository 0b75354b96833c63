"""The Training & truncation page's service: runs, comparisons, their cost models and caches.

views/training.py lays out widgets and calls this module; ui/figures/training.py draws.

Runs. A `TrainSpec` is everything that decides a run's numbers (task, sizes, initialiser, SGD,
clipping, truncation, seed, and a digest of an uploaded text). The same spec always gives the
same `TrainResult`, so finished runs are kept in a `ResultStore` keyed by the spec: a rerun, or
a second viewer of a shared link, sees the result without training again. (A `st.cache_data`
function could not drive a progress bar on a miss, hence this explicit store.) Training
minimises the mean loss per step (reduction 'mean'), so the learning rate does not have to
change with T. A finished run is judged against the best constant answer and its own best.

Comparisons. Every gradient is compared as one flat vector g over all five parameters (eq. (10)):

    cosine(g, g_full) = <g, g_full> / (||g|| ||g_full||),   norm ratio = ||g|| / ||g_full||.

Truncations (rnn_core.truncation), each swept over the same window lengths k:
- k-step: every loss term reaches back through k states (k >= T is exact BPTT);
- chunked: the state is detached every k steps (k >= T is exact BPTT);
- randomized: each recurrent factor kept (and scaled by 1/p) with probability p = 1 - 1/k, so a
  gradient path crosses k - 1 factors on average, as many as a k-step window lets through. It is
  shown as one draw and as the average gradient of several draws (unbiased: it tends to g_full).
Clipping: the raw gradient against clipping by global norm and element-wise, on a model made to
explode (the vanilla RNN by its spectral radius, a gated cell by its weights' scale).

Cells. Every run is of the config's cell (TrainSpec.cell: the vanilla RNN, the LSTM or the GRU).
"Compare cells" trains the three side by side on the same batches from the same seed
(rnn_core.side_by_side), with its own SGD recipe (CELLS_RECIPE), and says who learned from the
held-out losses against the best constant answer.

Budgets. Cost models (fitted on this machine, times each cell's factors) plan each run and
comparison before it starts; a ui.budget.Guard stops training at GUARD_FACTOR times the
announced time (`guard_seconds`) or when the visitor has gone.

Per-task behaviour (what a task's examples and a trained model's answers look like) comes from
the `TASK_DISPLAYS` registry, as Blocks the view renders.

Shape legend: T steps, B sequences in a batch, D inputs, H hidden units, O outputs.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st

import rnn_core as rc
from rnn_core.side_by_side import train_side_by_side
from rnn_core.tasks import BUILTIN_TEXT
from rnn_core.training import TrainResult, clip_by_global_norm, clip_by_value, generate, train
from ui.budget import SESSION, Guard
from ui.config import FIELD_BY_NAME, Config
from ui.figures import training as figures
from ui.keys import EXACT
from ui.presets import PRESETS
from ui.state import literal_markdown
from ui.text_upload import MAX_UPLOAD_BYTES, MIN_TEXT_CHARS, read_text_upload

Array = np.ndarray


# ---------------------------------------------------------------------------- runs and their cost

REDUCTION = "mean"
STORE_ENTRIES = 24           # finished runs kept (a run at the largest settings is ~10 MB)
HELD_OUT_SEED = 999_983      # batches for evaluation come from a stream training never draws
HELD_OUT_BATCH = 64
SAMPLE_CHARS = 240


def exploding_settings() -> dict:
    """What makes the lecture preset 'exploding' explode (activation, initialiser, spectral
    radius); the clipping comparison applies these to the vanilla RNN at the current task and sizes."""
    preset = PRESETS["exploding"].config()
    return {"activation": preset.activation, "init": preset.init, "rho": float(preset.rho)}


# Cost model of one training step, fitted by `bench/training_budget.py --calibrate` on this
# 2-core machine with one BLAS thread (as the app runs): seconds = COST . cost_features(...).
# The features are what a link can ask for: a fixed per-step cost (the update, the histories,
# the page's callback), work per parameter (clipping, momentum, the update: H (H + D + O)),
# Python's per-time-step loop overhead (forward and backward), reading the weights at every
# time step (T H (H + D + O): small matmuls cost more than their multiply-adds), drawing the
# batch (T B), the element-wise passes (T B (H + D + O)), the matmuls' multiply-adds
# (T B H (H + D + O)), and k-step truncation's extra work: with a window k < T every time step
# carries k gradients back at once (k B H element-wise and k B H^2 multiply-adds per time
# step), so its backward pass costs about k times a full one.
# Fitted on 226 timed cases (random sizes over the page's ranges, a third with k-step windows):
# 90% of the predictions fall within 0.64x-1.24x of the measured time (median 0.98), and the
# same step varies by up to 2x with the other users' load on the 2 cores. LOAD_MARGIN puts the
# estimate on the slow side of that; the wall-clock budget stops a run whatever it said.
COST = (2.57e-4, 7.12e-9, 4.38e-6, 1.19e-10, 1.16e-7, 7.58e-9, 1.9e-10, 2.27e-9, 2.73e-11)
LOAD_MARGIN = 1.2
TIME_BUDGET = 60.0           # the wall-clock seconds a run may take, whatever the estimate said
PLAN_SECONDS = 45.0          # the estimate a run is cut to: under load it still ends before the budget


GUARD_FACTOR = 1.5           # a run stops at this multiple of the time the page announced for it ...
MIN_GUARD = 5.0              # ... or at this many seconds, if more (a page's rerun costs about as much)


def guard_seconds(estimate: float) -> float:
    """The wall-clock budget of training announced at `estimate` seconds: GUARD_FACTOR times it
    (at least MIN_GUARD), never more than TIME_BUDGET."""
    return min(TIME_BUDGET, max(MIN_GUARD, GUARD_FACTOR * estimate))


def k_window(truncation, T: int) -> int:
    """k of a k-step truncation that cuts (k < T), else 0 (no extra work)."""
    if truncation and truncation[0] == "k_step" and truncation[1] < T:
        return int(truncation[1])
    return 0


def cost_features(T: int, batch: int, H: int, D: int, O: int, truncation=None) -> np.ndarray:
    """What one step's time is proportional to, term by term (see COST)."""
    k = k_window(truncation, T)
    width = H + D + O
    return np.array([1.0, H * width, T, T * H * width, T * batch, T * batch * width, T * batch * H * width,
                     T * k * batch * H, T * k * batch * H * H], dtype=float)


# A gated cell's step does the vanilla step's work once per weight block (the LSTM's four gates and
# candidate rows i, f, o, c~; the GRU's r, z, h~) and runs about three times the Python statements
# per time step (gates, products, the memory). Every term of COST is multiplied by its cell's
# factor: the fixed part by 1, the per-time-step loop by CELL_LOOP, the work terms by the number
# of blocks. Measured by bench/training_budget.py --cells (see bench/RESULTS.md).
CELL_BLOCKS = {"rnn": 1.0, "lstm": 4.0, "gru": 3.0}
CELL_LOOP = {"rnn": 1.0, "lstm": 3.0, "gru": 3.0}


def cell_factors(cell: str) -> np.ndarray:
    """The multiplier of each COST term for `cell` (all ones for the vanilla RNN)."""
    g, loop = CELL_BLOCKS[cell], CELL_LOOP[cell]
    return np.array([1.0, g, loop, g, 1.0, g, g, g, g])


def step_seconds(T: int, batch: int, H: int, D: int, O: int, truncation=None, cell: str = "rnn") -> float:
    """Estimated seconds of one SGD step (draw a batch, bptt, clip, update) of `cell` at these sizes."""
    return LOAD_MARGIN * float(np.dot(COST * cell_factors(cell), cost_features(T, batch, H, D, O, truncation)))


def spec_step_seconds(spec: "TrainSpec", D: int, O: int) -> float:
    return step_seconds(spec.T, spec.batch, spec.H, D, O, spec.truncation, spec.cell)


def affordable_steps(spec: "TrainSpec", D: int, O: int, budget: float = PLAN_SECONDS) -> int:
    """How many steps of `spec` fit in `budget` seconds (0: not even one)."""
    return int(budget // spec_step_seconds(spec, D, O))


def text_digest(text: str | None) -> str:
    """'builtin', or a short digest naming an uploaded text inside a spec."""
    return "builtin" if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainSpec:
    """Everything that decides a training run. clip: None or ('norm'|'value', c);
    truncation: None or the tuple rnn_core.bptt takes (randomized draws a new xi per step)."""

    task: str
    T: int
    H: int
    activation: str
    init: str
    rho: float
    seed: int
    lr: float
    momentum: float
    steps: int
    batch: int
    clip: tuple | None
    truncation: tuple | None
    delay: int | None
    text: str = "builtin"            # text_digest of the char_lm text
    cell: str = "rnn"                # 'rnn', 'lstm' or 'gru' (rnn_core.CELLS)
    forget_bias: float = 1.0         # the LSTM's b_f at the start (read by the LSTM only)
    scale: float | None = None       # every weight's scale at the start (None: the initialiser's default)

    @classmethod
    def from_config(cls, config, text: str | None = None) -> "TrainSpec":
        """The run the page's config asks for; text: an uploaded text for char_lm, else None."""
        return cls(task=config.tr_task, T=config.T, H=config.H, activation=config.activation,
                   init=config.init, rho=float(config.rho), seed=config.seed, lr=float(config.tr_lr),
                   momentum=float(config.tr_momentum), steps=config.tr_steps, batch=config.tr_batch,
                   clip=None if config.tr_clip == "none" else (config.tr_clip, float(config.tr_clip_c)),
                   truncation=config.truncation_spec,
                   delay=min(config.tr_delay, config.T - 1) if config.tr_task == "copy" else None,
                   text=text_digest(text) if config.tr_task == "char_lm" else "builtin",
                   cell=config.cell, forget_bias=float(config.forget_bias))

    @property
    def gated(self) -> bool:
        return self.cell != "rnn"

    def replace(self, **changes: Any) -> "TrainSpec":
        return replace(self, **changes)

    def task_options(self, text: str | None) -> dict:
        """Keyword arguments for rnn_core's task functions (text only for char_lm, delay for copy)."""
        options = {}
        if self.task == "char_lm" and text is not None:
            options["text"] = text
        if self.task == "copy":
            options["delay"] = self.delay
        return options


def sample_data(spec: TrainSpec, text: str | None, *, batch: int | None, seed) -> rc.TaskData:
    """A draw of the spec's task: xs (T, [B,] D). ValueError if the task refuses the sizes."""
    return rc.make_task_data(spec.task, T=spec.T, batch=batch, seed=seed, **spec.task_options(text))


def initial_params(spec: TrainSpec, D: int, O: int) -> rc.CellParams:
    """The seeded starting weights of the spec's cell (hand edits do not apply: the task fixes D
    and O): the vanilla RNN's W_hh scaled to spectral radius rho, the LSTM's forget-gate bias
    at forget_bias; every weight drawn at `scale` when it is given (the clipping comparison's
    exploding gated cells)."""
    options = {"rnn": {"spectral_radius": spec.rho}, "lstm": {"forget_bias": spec.forget_bias}}.get(spec.cell, {})
    if spec.scale is not None:
        options["scale"] = spec.scale
    return rc.init_params(D, spec.H, O, seed=spec.seed, init=spec.init, cell=spec.cell, **options)


def run_training(spec: TrainSpec, text: str | None,
                 callback: Callable[[int, TrainResult], object] | None = None,
                 guard: Guard | None = None) -> TrainResult:
    """Train from `initial_params`; the batch of step s is the task drawn with seed (seed, s).

    The run stops early (result.stopped, steps so far kept) when `guard` says so, by default
    at TIME_BUDGET seconds or when the session has gone.
    """
    guard = guard or Guard(TIME_BUDGET)
    first = sample_data(spec, text, batch=spec.batch, seed=spec.seed)
    params = initial_params(spec, first.D, first.O)

    def on_step(s: int, partial: TrainResult) -> bool:
        if callback is not None:
            callback(s, partial)
        return not guard.should_stop()

    return train(params, spec.task, steps=spec.steps, lr=spec.lr, momentum=spec.momentum, T=spec.T,
                 batch=spec.batch, activation=spec.activation, clip=spec.clip, truncation=spec.truncation,
                 reduction=REDUCTION, seed=spec.seed, callback=on_step, **spec.task_options(text))


class ResultStore:
    """A thread-safe LRU mapping spec -> TrainResult holding at most `entries` runs."""

    def __init__(self, entries: int = STORE_ENTRIES):
        self._entries = entries
        self._runs: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key) -> TrainResult | None:
        with self._lock:
            if key not in self._runs:
                return None
            self._runs.move_to_end(key)
            return self._runs[key]

    def put(self, key, result: TrainResult) -> None:
        with self._lock:
            self._runs[key] = result
            self._runs.move_to_end(key)
            while len(self._runs) > self._entries:
                self._runs.popitem(last=False)

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, key) -> bool:
        return key in self._runs


# ---------------------------------------------------------------------------- after training

@dataclass(frozen=True, eq=False)
class Evaluation:
    """The trained model on held-out sequences (a seed stream training never draws).

    loss: mean loss per step over HELD_OUT_BATCH sequences; accuracy: for class tasks, else None.
    baseline_loss / baseline_accuracy: those of the best constant answer on the same sequences
    (see `constant_baseline`): what a model that ignores its inputs scores.
    examples: the first EXAMPLES of those sequences (xs (T, n, D), ys, info as drawn) and
    outputs (T, n, O) the model's o_t on them; final_targets / final_outputs (B, O): y_T and o_T
    of every held-out sequence (the adding problem's answers). sample_greedy / sample_drawn:
    text generated after `prefix` (char_lm only).
    """

    loss: float
    accuracy: float | None
    baseline_loss: float
    baseline_accuracy: float | None
    examples: rc.TaskData
    outputs: np.ndarray
    final_targets: np.ndarray
    final_outputs: np.ndarray
    sample_greedy: str | None = None
    sample_drawn: str | None = None
    prefix: str | None = None


EXAMPLES = 4


def _first_sequences(data: rc.TaskData, n: int) -> rc.TaskData:
    """The first n sequences of a batch (per-sequence info arrays sliced alike)."""
    B = data.xs.shape[1]
    info = {k: v[:n] if isinstance(v, np.ndarray) and v.shape[:1] == (B,) else v for k, v in data.info.items()}
    return rc.TaskData(data.name, data.xs[:, :n], data.ys[:, :n], data.mask, data.D, data.O, data.loss, info)


def evaluate(spec: TrainSpec, text: str | None, params: rc.CellParams) -> Evaluation:
    """Held-out loss, accuracy (class tasks) and, for char_lm, two generated samples."""
    data = sample_data(spec, text, batch=HELD_OUT_BATCH, seed=(spec.seed, HELD_OUT_SEED))
    res = rc.bptt(params, data.xs, data.ys, activation=spec.activation, loss=data.loss,
                  reduction=REDUCTION, mask=data.mask)
    accuracy = None
    if data.loss == "softmax_ce":
        correct = res.trace.o.argmax(axis=-1) == data.ys           # (T, B)
        keep = np.ones(spec.T, bool) if data.mask is None else data.mask > 0
        accuracy = float(correct[keep].mean())
    greedy = drawn = prefix = None
    if spec.task == "char_lm":
        source = text if text is not None else BUILTIN_TEXT
        prefix = source[:min(24, len(source))]
        greedy = generate(params, data.info, prefix, SAMPLE_CHARS, activation=spec.activation, greedy=True)
        drawn = generate(params, data.info, prefix, SAMPLE_CHARS, activation=spec.activation, greedy=False,
                         seed=spec.seed)
    base_loss, base_accuracy = constant_baseline(data)
    return Evaluation(loss=res.loss, accuracy=accuracy, baseline_loss=base_loss, baseline_accuracy=base_accuracy,
                      examples=_first_sequences(data, EXAMPLES),
                      outputs=res.trace.o[:, :EXAMPLES], final_targets=data.ys[-1], final_outputs=res.trace.o[-1],
                      sample_greedy=greedy, sample_drawn=drawn, prefix=prefix)


# ---------------------------------------------------------------------------- judging a run

LEARNED_FRACTION = 0.9       # learned: held-out loss below this share of the constant baseline's
WORSE_FRACTION = 0.25        # got worse: lost more than this share of the progress to its best
SMOOTHING = 10               # steps per moving mean of the noisy per-batch curves


def constant_baseline(data: rc.TaskData) -> tuple[float, float | None]:
    """(mean loss per step, accuracy or None) of the best constant output on `data`.

    The loss is weighted as training's 'mean' reduction weighs it (mask m_t / sum m, then the
    batch mean). Cross-entropy: the best constant logits are the log class frequencies, so the
    loss is the entropy of the targets, and the accuracy is the commonest class's share.
    MSE: the best constant is the mean target, so the loss is half the summed variance
    (the adding problem's 'always answer 1.0' scores 1/12 = 0.083).
    """
    T, B = data.ys.shape[:2]
    m = np.ones(T) if data.mask is None else np.asarray(data.mask, float)
    w = np.broadcast_to((m / m.sum())[:, None] / B, (T, B))
    if data.loss == "softmax_ce":
        freq = np.bincount(data.ys.reshape(-1), weights=w.reshape(-1), minlength=data.O)
        seen = freq[freq > 0]
        return float(-(seen * np.log(seen)).sum()), float(freq.max())
    ys = data.ys.reshape(T, B, -1)
    mean = np.einsum("tb,tbo->o", w, ys)
    return float(0.5 * np.einsum("tb,tbo->", w, (ys - mean) ** 2)), None


def _moving_mean(values: np.ndarray) -> np.ndarray:
    n = min(SMOOTHING, len(values))
    return np.convolve(values, np.ones(n) / n, mode="valid")


def lost_progress(curve: np.ndarray, higher_is_better: bool = False) -> float:
    """The share of the improvement from the start to the best that the end has given back
    (0: ends at its best; 1: back where it started), on the moving mean of `curve`."""
    smooth = _moving_mean(np.asarray(curve, float))
    if higher_is_better:
        smooth = -smooth
    best, first, last = smooth.min(), smooth[0], smooth[-1]
    return float((last - best) / (first - best)) if first > best else 0.0


@dataclass(frozen=True)
class Verdict:
    """How a run went, in words. level: 'success', 'warning' or 'error' (the banner's kind)."""

    level: str
    message: str


def judge(result: TrainResult, evaluation: Evaluation | None) -> Verdict:
    """Judge a finished run against the constant baseline and against its own best.

    A falling training loss is not learning: the run has learned only if its held-out loss is
    clearly below what the best constant answer scores (LEARNED_FRACTION). It is also told when
    it diverged, or when its curve (loss, or accuracy for class tasks) gave back more than
    WORSE_FRACTION of its progress.
    """
    if result.diverged:
        return Verdict("error", f"Diverged: at step {result.diverged_step} the loss or the gradient became "
                                "inf/nan (exploding gradients), and training stopped there.")
    problems = []
    worse = max(lost_progress(result.loss),
                lost_progress(result.accuracy, higher_is_better=True) if result.accuracy is not None else 0.0)
    if worse > WORSE_FRACTION:
        problems.append(_got_worse(result))
    if evaluation is not None and evaluation.loss >= LEARNED_FRACTION * evaluation.baseline_loss:
        problems.insert(0, f"Did not learn: the held-out loss {evaluation.loss:.4g} is not clearly below "
                           f"{evaluation.baseline_loss:.4g}, what the best constant answer (ignoring the input) "
                           "scores on the same sequences.")
    if problems:
        return Verdict("warning", " ".join(problems))
    beat = (f"; held-out loss {evaluation.loss:.4g} against {evaluation.baseline_loss:.4g} for the best "
            "constant answer" if evaluation is not None else "")
    return Verdict("success", f"Learned{beat}.")


def _got_worse(result: TrainResult) -> str:
    """'Got worse from its best', with the numbers of the curve that shows it most."""
    accuracy_worse = result.accuracy is not None and (
        lost_progress(result.accuracy, higher_is_better=True) >= lost_progress(result.loss))
    if accuracy_worse:
        smooth = _moving_mean(result.accuracy)
        return (f"Got worse from its best: the training accuracy reached {smooth.max():.0%} "
                f"(around step {int(smooth.argmax()) + SMOOTHING // 2}) and ended at {smooth[-1]:.0%}.")
    smooth = _moving_mean(result.loss)
    return (f"Got worse from its best: the training loss reached {smooth.min():.4g} "
            f"(around step {int(smooth.argmin()) + SMOOTHING // 2}) and ended at {smooth[-1]:.4g}.")


# ---------------------------------------------------------------------------- comparisons

RANDOM_DRAWS = 8                 # draws averaged for the randomized estimator
MAX_KS = 14                      # window lengths on the chart: keeps the sweep under a second


def method_labels(draws: int = RANDOM_DRAWS) -> tuple[str, ...]:
    """The compared methods, in the order charts and tables show them."""
    return ("k-step", "chunked", "randomized (one draw)", f"randomized (mean of {draws} draws)")


def flat(grads: rc.CellParams, names: tuple[str, ...] | None = None) -> Array:
    """The gradients of `names` (default all of the cell's, in its order) as one vector."""
    return np.concatenate([getattr(grads, n).reshape(-1) for n in (grads.names() if names is None else names)])


def cosine_and_ratio(g: Array, reference: Array) -> tuple[float, float]:
    """(cosine, ||g|| / ||reference||); nan where a norm is 0 or not finite."""
    with np.errstate(all="ignore"):
        n_g, n_ref = np.linalg.norm(g), np.linalg.norm(reference)
        if not (np.isfinite(n_g) and np.isfinite(n_ref)) or n_ref == 0:
            return float("nan"), float("nan")
        cosine = float(g @ reference / (n_g * n_ref)) if n_g > 0 else float("nan")
    return cosine, float(n_g / n_ref)


def window_lengths(T: int, extra: int | None = None, most: int = MAX_KS) -> Array:
    """Up to `most` window lengths k from 1 to T, spaced evenly on a log axis, T and `extra` included."""
    ks = np.unique(np.round(np.geomspace(1, T, min(most, T))).astype(int))
    if extra is not None:
        ks = np.union1d(ks, [min(max(int(extra), 1), T)])
    return ks


def randomized_p(k: int) -> float:
    """The keep probability whose mean path length matches a k-step window (nan for k = 1)."""
    return 1.0 - 1.0 / k if k > 1 else float("nan")


@dataclass(frozen=True, eq=False)
class TruncationComparison:
    """cosine[method], ratio[method]: (len(ks),) arrays, nan where undefined.

    ks (n,): window lengths. p (n,): randomized keep probability at each k. full_norm: ||g_full||.
    """

    ks: Array
    p: Array
    full_norm: float
    cosine: dict[str, Array]
    ratio: dict[str, Array]
    draws: int = RANDOM_DRAWS

    def rows(self) -> list[dict]:
        """One row per (method, k), for a table."""
        return [{"method": m, "k": int(k), "p": float(p) if m.startswith("randomized") else None,
                 "cosine to full": float(self.cosine[m][i]), "norm ratio": float(self.ratio[m][i])}
                for m in self.cosine for i, (k, p) in enumerate(zip(self.ks, self.p))]


def compare_truncations(params: rc.CellParams, xs, ys, *, activation: str, loss: str, reduction: str = "sum",
                        mask=None, ks=None, seed: int = 0, draws: int = RANDOM_DRAWS,
                        names: tuple[str, ...] | None = None, guard: Guard | None = None) -> TruncationComparison:
    """Every truncation's gradient against full BPTT on the same model and batch.

    xs (T, [B,] D), ys as rnn_core.bptt takes them. ks: window lengths (default `window_lengths(T)`).
    names: the parameters whose gradients are compared (default: all of the cell's; dL/dW_hy
    and dL/db_y never change with truncation, so the recurrent weights alone show the effect
    undiluted, see `compared_names`).
    The randomized draws use seeds seed, seed + 1, ..., seed + draws - 1; "one draw" is seed.
    guard: checked before every bptt call; raises Stopped (a partial sweep is not worth keeping).
    """
    T = np.shape(xs)[0]
    ks = window_lengths(T) if ks is None else np.asarray(ks, dtype=int)

    def grad(truncation) -> Array:
        if guard is not None:
            guard.check()
        return flat(rc.bptt(params, xs, ys, activation=activation, loss=loss, reduction=reduction,
                            mask=mask, truncation=truncation).grads, names)

    full = grad(None)
    labels = method_labels(draws)
    cos = {m: np.full(len(ks), np.nan) for m in labels}
    ratio = {m: np.full(len(ks), np.nan) for m in labels}
    ps = np.array([randomized_p(int(k)) for k in ks])
    for i, k in enumerate(ks):
        k = int(k)
        for method, kind in (("k-step", "k_step"), ("chunked", "chunked")):
            cos[method][i], ratio[method][i] = cosine_and_ratio(grad((kind, k)), full)
        if k > 1:
            draws_g = [grad(("randomized", ps[i], seed + j)) for j in range(draws)]
            cos[labels[2]][i], ratio[labels[2]][i] = cosine_and_ratio(draws_g[0], full)
            with np.errstate(all="ignore"):
                mean_g = np.mean(draws_g, axis=0)
            cos[labels[3]][i], ratio[labels[3]][i] = cosine_and_ratio(mean_g, full)
    with np.errstate(over="ignore"):
        full_norm = float(np.linalg.norm(full))
    return TruncationComparison(ks=ks, p=ps, full_norm=full_norm, cosine=cos,
                                ratio=ratio, draws=draws)


# ---------------------------------------------------------------------------- clipping

CLIP_RULES = ("none", "global norm", "element-wise")


@dataclass(frozen=True, eq=False)
class ClippingComparison:
    """For each rule in CLIP_RULES: cosine to the raw gradient and the norm of what is applied."""

    c: float
    raw_norm: float
    cosine: tuple[float, ...]
    applied_norm: tuple[float, ...]
    labels: tuple[str, ...] = CLIP_RULES

    def rows(self) -> list[dict]:
        return [{"clipping": label, "cosine to raw g": cos, "‖g applied‖": norm,
                 "‖g applied‖ / ‖g raw‖": norm / self.raw_norm if self.raw_norm > 0 else float("nan")}
                for label, cos, norm in zip(self.labels, self.cosine, self.applied_norm)]


def compare_clipping(grads: rc.CellParams, c: float) -> ClippingComparison:
    """The raw gradient against clipping by global norm to c and element-wise to [-c, c]."""
    raw = flat(grads)
    applied = (grads, clip_by_global_norm(grads, c)[0], clip_by_value(grads, c))
    pairs = [cosine_and_ratio(flat(g), raw) for g in applied]
    with np.errstate(all="ignore"):
        norms = tuple(float(np.linalg.norm(flat(g))) for g in applied)
    return ClippingComparison(c=float(c), raw_norm=norms[0], cosine=tuple(p[0] for p in pairs),
                              applied_norm=norms)


# ---------------------------------------------------------------------------- exploding

RADII = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)   # spectral radii tried for the clipping comparison
# A gated cell has no spectral radius to raise and no ReLU: its weights are drawn larger instead
# (every weight N(0, s^2)). Measured on char_lm at T = 30, H = 8: ||g|| is 0.37 (LSTM) and 0.70
# (GRU) at s = 1, 6.7e3 and 3.7e2 at s = 5.
SCALES = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
# 'exploded': ||g|| at least this many times c. Measured on the default char_lm model: at 10c
# (radius 3 at T = 12) one clipped step suffices and the three runs look alike; at 1000c (radius
# 5) the unclipped loss reaches 1e20 while the clipped ones stay near 1e3.
EXPLODES = 1000.0


def exploding_radius(grad_norm: Callable[[float], float], c: float, radii=RADII) -> tuple[float, float] | None:
    """(rho, ||g||) for the smallest radius in `radii` whose raw gradient norm is finite and at
    least EXPLODES * c, or None if none is: there clipping at c has something to do.

    grad_norm: rho -> ||g|| of the model at that radius on the comparison's batch.
    """
    for rho in radii:
        norm = grad_norm(rho)
        if np.isfinite(norm) and norm >= EXPLODES * c:
            return rho, norm
    return None


@dataclass(frozen=True)
class Exploder:
    """How the clipping comparison makes a cell's gradient explode: `settings` (config changes)
    and a knob, the TrainSpec `field` raised through `values` until the gradient explodes."""

    settings: dict
    field: str
    name: str
    values: tuple[float, ...]


def exploder(cell: str) -> Exploder:
    """The vanilla RNN: the 'exploding' preset's activation and spectral radius (rho over RADII);
    a gated cell (tanh and sigmoids fixed, no radius): every weight N(0, s^2), s over SCALES."""
    if cell == "rnn":
        return Exploder(exploding_settings(), "rho", "spectral radius", RADII)
    return Exploder({"init": "normal"}, "scale", "weight scale s", SCALES)


def clipped_steps(grad_norm: Array, c: float) -> int:
    """How many steps of a run had a raw gradient above c (steps a rule at c changed)."""
    with np.errstate(invalid="ignore"):
        return int(np.sum(np.asarray(grad_norm) > c))


# ---------------------------------------------------------------------------- cost

COMPARE_BUDGET = 8.0           # seconds the gradient comparison may take


def comparison_seconds(T: int, B: int, H: int, D: int, O: int, ks: Array, draws: int = RANDOM_DRAWS,
                       cell: str = "rnn") -> float:
    """Estimated seconds of `compare_truncations`: one bptt call for the full gradient, and per k
    a k-step call (whose window multiplies the backward work, COST), a chunked
    call and, for k > 1, `draws` randomized calls."""
    ks = np.asarray(ks)
    plain = step_seconds(T, B, H, D, O, cell=cell)
    calls = 1 + len(ks) + draws * int(np.sum(ks > 1))
    return calls * plain + sum(step_seconds(T, B, H, D, O, ("k_step", int(k)), cell) for k in ks)


def affordable_batch(T: int, B: int, H: int, D: int, O: int, ks: Array, draws: int = RANDOM_DRAWS,
                     budget: float = COMPARE_BUDGET, cell: str = "rnn") -> int:
    """The most sequences (<= B) the comparison can use within `budget` seconds (0: not even one).
    The cost is a fixed part plus a part proportional to the batch."""
    fixed = comparison_seconds(T, 0, H, D, O, ks, draws, cell)
    per_sequence = comparison_seconds(T, 1, H, D, O, ks, draws, cell) - fixed
    return int(min(B, max(0.0, budget - fixed) // per_sequence))


def affordable_gradient_batch(T: int, B: int, H: int, D: int, O: int, calls: int,
                              budget: float = COMPARE_BUDGET, cell: str = "rnn") -> int:
    """The most sequences (<= B) for `calls` plain bptt calls within `budget` seconds."""
    fixed = calls * step_seconds(T, 0, H, D, O, cell=cell)
    per_sequence = calls * step_seconds(T, 1, H, D, O, cell=cell) - fixed
    return int(min(B, max(0.0, budget - fixed) // per_sequence))


# ---------------------------------------------------------------------------- the page's caches

@st.cache_resource
def store() -> ResultStore:
    """Finished runs, shared by every session: a second viewer of the same settings does not retrain."""
    return ResultStore()


def first_batch(spec: TrainSpec, text: str | None) -> rc.TaskData:
    # not cached: drawing is quick, and a one-hot batch can be tens of MB
    return sample_data(spec, text, batch=spec.batch, seed=spec.seed)


# What the initial model, the first batch and the held-out batches read from the config (a subset
# of what TrainSpec.from_config reads). The comparisons and the held-out numbers are cached on the
# config projected on these fields (Config.project, hashed exactly by ui.keys.EXACT), so the SGD,
# clipping and truncation settings, the notation and the page's section never recompute them.
START_FIELDS = ("T", "H", "cell", "activation", "init", "rho", "forget_bias", "seed", "tr_task", "tr_batch", "tr_delay",
                "tr_text")
CACHE = dict(max_entries=32, show_spinner=False, hash_funcs=EXACT)


def start_key(config: Config) -> Config:
    """`config` projected on START_FIELDS: the key of what depends on the initial model and batch."""
    return config.project(also=START_FIELDS)


@st.cache_data(**CACHE)
def truncation_table(key: Config, text: str | None, names: tuple[str, ...], ks: tuple[int, ...],
                     batch: int) -> TruncationComparison:
    """The sweep on the first `batch` sequences of the start of `key` (a start_key), stopped
    (Stopped, nothing cached) at COMPARE_BUDGET seconds or when the session goes."""
    spec = TrainSpec.from_config(key, text)
    data = sample_data(spec, text, batch=batch, seed=spec.seed)
    params = initial_params(spec, data.D, data.O)
    return compare_truncations(params, data.xs, data.ys, activation=spec.activation, loss=data.loss,
                               reduction=REDUCTION, mask=data.mask, ks=np.array(ks), seed=spec.seed, names=names,
                               guard=Guard(COMPARE_BUDGET))


def _raw_gradient(spec: TrainSpec, data: rc.TaskData) -> rc.BPTTResult:
    return rc.bptt(initial_params(spec, data.D, data.O), data.xs, data.ys, activation=spec.activation,
                   loss=data.loss, reduction=REDUCTION, mask=data.mask)


@st.cache_data(**CACHE)
def exploding_radius_of(key: Config, text: str | None, c: float, batch: int) -> tuple[float, float] | None:
    """(knob value, ||g||) where the exploding model's (`key`, a start_key) first-batch gradient
    exceeds EXPLODES * c, or None; the knob is its cell's `exploder` (rho or the weight scale)."""
    spec = TrainSpec.from_config(key, text)
    data = sample_data(spec, text, batch=batch, seed=spec.seed)
    knob = exploder(spec.cell)
    return exploding_radius(lambda v: _raw_gradient(spec.replace(**{knob.field: v}), data).grads.global_norm(), c,
                            knob.values)


@st.cache_data(**CACHE)
def clipping_table(key: Config, text: str | None, c: float, batch: int,
                   scale: float | None = None) -> tuple[ClippingComparison, bool]:
    """The clipping comparison on the first batch of `key` (a start_key; a gated cell's weights
    drawn at `scale`), and whether the forward pass overflowed."""
    spec = TrainSpec.from_config(key, text).replace(scale=scale)
    res = _raw_gradient(spec, sample_data(spec, text, batch=batch, seed=spec.seed))
    return compare_clipping(res.grads, c), res.overflow


def evaluation(config: Config, text: str | None, result: TrainResult) -> Evaluation:
    """Held-out numbers of a finished run of `config` (cached on the exact final weights: a run
    stopped at its time budget depends on the server's load, not only on the settings)."""
    weights = hashlib.sha256(b"".join(a.tobytes() for _, a in result.params.items())).hexdigest()
    return _evaluation(start_key(config), text, weights, result)


@st.cache_data(**CACHE)
def _evaluation(key: Config, text: str | None, weights: str, _result: TrainResult) -> Evaluation:
    return evaluate(TrainSpec.from_config(key, text), text, _result.params)


# ---------------------------------------------------------------------------- training on the page

LIVE_REDRAW_SECONDS = 0.8           # how often the live charts are redrawn while training
PROGRESS_SECONDS = 0.1              # how often the progress bar moves (each update is a message to the browser)
HEATMAP_ROWS = 300                  # rows of the dL/dh heatmap (training steps are thinned to this)


def clip_threshold(spec: TrainSpec) -> float | None:
    """c of clipping by global norm (drawn on the gradient chart), else None."""
    return spec.clip[1] if spec.clip and spec.clip[0] == "norm" else None


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
        def on_step(s: int, partial: TrainResult) -> None:
            now = time.monotonic()
            if now - self._last_progress > PROGRESS_SECONDS or s == steps:
                self._last_progress = now
                self.progress.progress(s / steps, text=f"Training: step {s} of {steps}, loss {partial.loss[-1]:.4g}")
            if now - self._last_draw > LIVE_REDRAW_SECONDS:
                self._last_draw = now
                self.draw_curves(partial, config, clip_c)
        return on_step

    def draw_curves(self, result: TrainResult, config: Config, clip_c: float | None) -> None:
        presentation, notation = config.presentation, config.notation
        self._draws += 1
        diverged = {"loss": result.diverged_step} if result.diverged_step else None
        self.loss.plotly_chart(figures.loss_figure({"loss": result.loss}, diverged=diverged,
                                                   presentation=presentation), key=f"tr_loss_{self._draws}")
        self.grads.plotly_chart(figures.grad_norms_figure(
            result.param_grad_norms, result.param_names, total=result.grad_norm,
            applied=result.applied_norm if clip_c is not None else None, threshold=clip_c,
            notation=notation, presentation=presentation), key=f"tr_grads_{self._draws}")


def train_with_progress(spec: TrainSpec, text: str | None, charts: LiveCharts, config: Config,
                        budget: float = TIME_BUDGET) -> TrainResult:
    """Train with a live progress bar, at most `budget` seconds. A run stopped at the budget is
    kept (marked stopped) so that a rerun does not spend the budget again; a run whose session
    has gone is dropped (Streamlit ends the script at its next st.* call)."""
    guard = Guard(budget)
    result = run_training(spec, text, callback=charts.callback(spec.steps, config, clip_threshold(spec)), guard=guard)
    if guard.stopped_by != SESSION:
        store().put(spec, result)
    return result


def heatmap_rows(result: TrainResult) -> Array:
    """The training steps (0-based) the dL/dh heatmap shows: at most HEATMAP_ROWS, evenly spread."""
    return np.unique(np.linspace(0, result.steps_done - 1, min(result.steps_done, HEATMAP_ROWS)).astype(int))


def trained_blocks(config: Config, spec: TrainSpec, text: str | None, result: TrainResult) -> list[Block]:
    """Under a finished run's curves: the dL/dh heatmap, the accuracy (class tasks) and, unless it
    diverged, the trained model on held-out sequences (the task's own display)."""
    rows, presentation = heatmap_rows(result), config.presentation
    blocks = [Block("figure", figures.dL_dh_heatmap(result.dL_dh_norms[rows], steps=rows + 1, notation=config.notation,
                                                    presentation=presentation), key="tr_heatmap"),
              Block("caption", HEATMAP_CAPTION + TASK_DISPLAYS[spec.task].heatmap_note)]
    if result.accuracy is not None:
        blocks.append(Block("figure", figures.accuracy_figure(result.accuracy, presentation=presentation),
                            key="tr_accuracy"))
    if result.diverged:
        return blocks
    held_out = evaluation(config, text, result)
    return blocks + [Block("subheader", "The trained model on new sequences"),
                     Block("markdown", held_out_summary(held_out))] + \
        TASK_DISPLAYS[spec.task].result(held_out, presentation)


def truncation_runs_blocks(results: dict[str, TrainResult], steps: int, presentation: bool) -> list[Block]:
    """The loss of each truncation's run, side by side on one chart."""
    fig = figures.loss_figure({label: r.loss for label, r in results.items()},
                              diverged={label: r.diverged_step for label, r in results.items()},
                              title="Loss, same seed and batches", presentation=presentation)
    return [Block("figure", fig, key="tr_trunc_curves"), Block("caption", truncation_runs_caption(steps))]


def clipping_runs_blocks(results: dict[str, TrainResult], c: float, presentation: bool) -> list[Block]:
    """The loss and the applied gradient norm of each clipping rule's run (log axes that stop at
    chart_tops, so that an exploding run leaves the chart instead of flattening the others)."""
    loss_top, norm_top = chart_tops(results, c)
    losses = figures.loss_figure({k: r.loss for k, r in results.items()}, log_y=True, y_max=loss_top,
                                 diverged={k: r.diverged_step for k, r in results.items()}, title="Loss (log)",
                                 presentation=presentation)
    norms = figures.loss_figure({k: r.applied_norm for k, r in results.items()}, log_y=True, y_max=norm_top,
                                title="‖g‖ used by the update (log)", ytitle="norm", presentation=presentation)
    return [Block("columns", [[Block("figure", losses, key="tr_clip_curves")],
                              [Block("figure", norms, key="tr_clip_norms")]]),
            Block("caption", CLIPPING_RUNS_CAPTION)]


def train_missing(variants: dict[str, TrainSpec], text: str | None,
                  on_progress: Callable[[float, str], object],
                  budget: float = TIME_BUDGET) -> dict[str, TrainResult] | None:
    """Train every variant the store lacks, all within `budget` seconds together: at the budget the current run stops (kept, marked
    stopped) and the rest are left untrained; if the session goes, nothing is kept and None is
    returned. on_progress(fraction, text) is called every step. Returns each variant's run as
    the store holds it (None: not trained)."""
    runs = store()
    missing = [name for name, spec in variants.items() if spec not in runs]
    guard = Guard(budget)
    for i, name in enumerate(missing):
        if guard.should_stop():
            break
        spec = variants[name]

        def on_step(s, partial, i=i, name=name, steps=spec.steps):
            on_progress((i + s / steps) / len(missing), f"Training {name}: step {s} of {steps}")
        result = run_training(spec, text, callback=on_step, guard=guard)
        if guard.stopped_by == SESSION:
            return None
        runs.put(spec, result)
    return {name: runs.get(spec) for name, spec in variants.items()}


def needs_training(run: TrainResult | None, again: bool) -> bool:
    """A run to train: none kept, or (with `again`) one kept after it stopped at its budget."""
    return run is None or (again and run.stopped)


def missing_estimate(variants: dict[str, TrainSpec], D: int, O: int) -> tuple[int, float]:
    """(how many variants the store lacks, their estimated seconds together)."""
    runs = store()
    missing = {name: spec for name, spec in variants.items() if spec not in runs}
    return len(missing), runs_estimate(missing, D, O)


def runs_estimate(variants: dict[str, TrainSpec], D: int, O: int) -> float:
    """The announced seconds of training every variant (each cell's steps at its own cost)."""
    return sum(spec.steps * spec_step_seconds(spec, D, O) for spec in variants.values())


# ---------------------------------------------------------------------------- side-by-side runs

COMPARE_STEPS = 150                 # training steps of each side-by-side run (kept quick)


def comparison_steps(variants: dict[str, TrainSpec], data: rc.TaskData) -> int:
    """Steps of each side-by-side run: at most COMPARE_STEPS, and every variant (each at its own
    cost: a k-step window costs more) within PLAN_SECONDS together."""
    per_step = sum(spec_step_seconds(v, data.D, data.O) for v in variants.values())
    return int(min(next(iter(variants.values())).steps, COMPARE_STEPS, PLAN_SECONDS // per_step))


def with_steps(variants: dict[str, TrainSpec], steps: int) -> dict[str, TrainSpec]:
    return {name: v.replace(steps=steps) for name, v in variants.items()}


def truncation_variants(spec: TrainSpec, config: Config) -> dict[str, TrainSpec]:
    k, p = config.trunc_k, config.trunc_p
    return {"full BPTT": spec.replace(truncation=None),
            f"k-step, k = {k}": spec.replace(truncation=("k_step", k)),
            f"chunked, k = {k}": spec.replace(truncation=("chunked", k)),
            f"randomized, p = {p:g}": spec.replace(truncation=("randomized", p, spec.seed))}


def clipping_variants(exploding: TrainSpec, c: float) -> dict[str, TrainSpec]:
    return {"no clipping": exploding.replace(clip=None),
            f"global norm, c = {c:g}": exploding.replace(clip=("norm", c)),
            f"element-wise, c = {c:g}": exploding.replace(clip=("value", c))}


# ---------------------------------------------------------------------------- comparing the cells

# The vanilla RNN, the LSTM and the GRU trained side by side from the same seed on the same
# batches: the batch of step s is the task drawn with seed (seed, s), once for the three cells
# (rnn_core.side_by_side), so the runs differ only by their cell. The recipe below is the
# comparison's own (the SGD settings of *Train a task* are for one run of any task). Measured
# on the default seed, H = 16 (bench/training.py --cells): on the adding task at T = 50 the GRU
# learns by step ~1,200 and the LSTM by ~2,300 while the vanilla RNN stays at the mean's loss
# (mean of 50 steps below half of it; lr 0.1: only the GRU learns; lr 0.5 with a radius-1 W_hh:
# the vanilla run turns unstable, its loss above the mean's). At T = 100 no cell
# learns within 3,000 steps, and the budget affords about 3,700: the page says so from its
# numbers. On the copy task (first symbol recalled at T) the gated cells start with keeping
# gates of about sigma(1) = 0.73 (LSTM) and 0.5 (GRU) per step, below the vanilla W_hh's radius
# 0.9, and did not learn in 3,000 steps at T = 50.
CELL_ORDER = tuple(rc.CELLS)                     # ('rnn', 'lstm', 'gru'): charts and words in this order
CELLS_TASKS = ("adding", "copy")                 # the tasks the comparison is made for
CELLS_SMOOTHING = 50                             # steps per moving mean of the loss curves
CELLS_TAIL = 100                                 # the last steps whose mean loss is a run's final loss


@dataclass(frozen=True)
class CellsRecipe:
    """The SGD settings every cell of the comparison trains with (vanilla: tanh, orthogonal W_hh
    at the sidebar's spectral radius; gated: orthogonal recurrent blocks, the LSTM's forget bias
    from the sidebar)."""

    lr: float = 0.3
    momentum: float = 0.9
    clip: float = 1.0
    batch: int = 32
    steps: int = 4000


CELLS_RECIPE = CellsRecipe()


def cells_delay(T: int) -> int:
    """The copy task's delay in the comparison: the first symbol recalled at the last step."""
    return T - 1


def cells_delay_words(T: int) -> str:
    return (f"**{FIELD_BY_NAME['tr_delay'].label}:** {cells_delay(T)} = T − 1 in the comparison: the first symbol "
            "is asked for at the last step.")


def cells_variants(config: Config, text: str | None = None, recipe: CellsRecipe | None = None) -> dict[str, TrainSpec]:
    """One run per cell, title -> spec: the same task, T, H, seed and batches, the recipe's SGD."""
    recipe = recipe or CELLS_RECIPE
    base = TrainSpec.from_config(config, text).replace(
        lr=recipe.lr, momentum=recipe.momentum, clip=("norm", recipe.clip), batch=recipe.batch, steps=recipe.steps,
        truncation=None, activation="tanh", init="orthogonal", rho=float(config.rho),
        forget_bias=float(config.forget_bias), delay=cells_delay(config.T) if config.tr_task == "copy" else None)
    return {rc.get_cell(cell).title: base.replace(cell=cell) for cell in CELL_ORDER}


def cells_steps(variants: dict[str, TrainSpec], D: int, O: int, budget: float = PLAN_SECONDS) -> int:
    """Steps of each cell's run: the recipe's, or fewer so that the three fit `budget` together."""
    per_step = sum(spec_step_seconds(v, D, O) for v in variants.values())
    return int(min(next(iter(variants.values())).steps, budget // per_step))




def cells_runs(variants: dict[str, TrainSpec], again: bool = False) -> dict[str, TrainResult] | None:
    """The comparison's runs as the store holds them, or None if one is missing (or, with
    `again`, was stopped at its budget): then the three are trained together."""
    runs = {name: store().get(spec) for name, spec in variants.items()}
    return None if any(needs_training(run, again) for run in runs.values()) else runs


def train_cells(variants: dict[str, TrainSpec], text: str | None, on_progress: Callable[[float, str], object],
                budget: float) -> dict[str, TrainResult] | None:
    """Train the cells side by side (rnn_core.side_by_side: one batch per step, each cell's step
    on it in turn, each run exactly run_training(spec)'s), kept in the store. At `budget`
    seconds every run stops at the same step (kept, marked stopped); if the session goes,
    nothing is kept and None is returned. on_progress(fraction, text) every PROGRESS_SECONDS."""
    spec = next(iter(variants.values()))
    first = sample_data(spec, text, batch=spec.batch, seed=spec.seed)
    models = {name: initial_params(v, first.D, first.O) for name, v in variants.items()}
    guard = Guard(budget)
    last = [0.0]

    def on_step(s: int, partial) -> bool:
        now = time.monotonic()
        if now - last[0] > PROGRESS_SECONDS or s == spec.steps:
            last[0] = now
            on_progress(s / spec.steps, f"Training the {len(models)} cells side by side: step {s} of {spec.steps}")
        return not guard.should_stop()

    results = train_side_by_side(models, spec.task, steps=spec.steps, lr=spec.lr, momentum=spec.momentum, T=spec.T,
                                 batch=spec.batch, activation=spec.activation, clip=spec.clip, reduction=REDUCTION,
                                 seed=spec.seed, callback=on_step, **spec.task_options(text))
    if guard.stopped_by == SESSION:
        return None
    for name, v in variants.items():
        store().put(v, results[name])
    return results


@dataclass(frozen=True, eq=False)
class CellOutcome:
    """One cell's run judged: final (mean loss of the last CELLS_TAIL steps), held-out loss and
    the best constant answer's on the same sequences, learned (held-out below LEARNED_FRACTION of
    it), and reach: ||dL/dh_1|| / ||dL/dh_T|| at the first training step (how much of the
    gradient at the last step arrives at the first)."""

    title: str
    final: float
    held_out: float
    baseline: float
    learned: bool
    reach: float


def cell_outcome(title: str, spec: TrainSpec, text: str | None, result: TrainResult) -> CellOutcome:
    ev = cells_evaluation(spec, text, weights_digest(result), result) if not result.diverged else None
    tail = result.loss[-min(CELLS_TAIL, result.steps_done):]
    held_out = ev.loss if ev is not None else float("nan")
    baseline = ev.baseline_loss if ev is not None else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = float(result.dL_dh_norms[0, 0] / result.dL_dh_norms[0, -1])
    return CellOutcome(title, float(np.mean(tail)), held_out, baseline,
                       bool(ev is not None and held_out < LEARNED_FRACTION * baseline), reach)


def weights_digest(result: TrainResult) -> str:
    return hashlib.sha256(b"".join(a.tobytes() for _, a in result.params.items())).hexdigest()


@st.cache_data(**CACHE)
def cells_evaluation(spec: TrainSpec, text: str | None, weights: str, _result: TrainResult) -> Evaluation:
    """Held-out numbers of one cell's finished run (cached on its spec and exact final weights)."""
    return evaluate(spec, text, _result.params)


BASELINE_WORDS = {"adding": "predicting the mean sum, 1.0", "copy": "guessing by the symbols' frequencies"}


def cells_sentence(outcomes: list[CellOutcome], task: str, T: int, steps: int) -> str:
    """Who learned, from the held-out losses against the best constant answer's."""
    baseline = next((o.baseline for o in outcomes if np.isfinite(o.baseline)), float("nan"))
    learned = [o for o in outcomes if o.learned]
    failed = [o for o in outcomes if not o.learned]
    loss = lambda o: "diverged" if not np.isfinite(o.held_out) else f"{o.held_out:.3g}"   # noqa: E731
    parts = []
    if not learned:
        parts.append(f"none of the {len(outcomes)} cells learned the task (held-out loss "
                     f"{_and([loss(o) for o in outcomes])}): at this T they need more steps than the comparison ran")
    if learned:
        parts.append(f"the {_and([o.title for o in learned])} learned the task (held-out loss "
                     f"{_and([loss(o) for o in learned])})")
    if failed and learned:
        parts.append(f"the {_and([o.title for o in failed])} did not ({_and([loss(o) for o in failed])})")
    return (f"After {steps} steps on the same batches at T = {T}, " + "; ".join(parts)
            + f". The best constant answer ({BASELINE_WORDS.get(task, 'ignoring the input')}) scores "
              f"{baseline:.3g} on the same held-out sequences; a cell has learned when it is below "
              f"{LEARNED_FRACTION:g} of that.")


def reach_sentence(outcomes: list[CellOutcome], T: int) -> str:
    """How much of the gradient at h_T reaches h_1 in each cell at the first training step."""
    return (f"Why: at the first training step, of the gradient at h_{T} the share that reaches h_1 is "
            + "; ".join(f"{o.title} {o.reach:.2g}" for o in outcomes) + " (‖∂L/∂h_1‖ / ‖∂L/∂h_T‖).")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def smoothed(loss: Array, window: int = CELLS_SMOOTHING) -> tuple[Array, Array]:
    """(steps, the moving mean of `loss` over `window` steps ending at each), for the loss chart."""
    n = min(window, len(loss))
    return np.arange(n, len(loss) + 1), np.convolve(loss, np.ones(n) / n, mode="valid")


CELLS_INTRO = ("The vanilla RNN, the LSTM and the GRU, trained from the same seed on **the same batches** "
               "(the batch of step s is drawn from the seed and s, the same for each cell): only the cell "
               "differs. The adding task hides two marked numbers in a long sequence and asks for their sum at "
               "the end; the delayed-recall task asks at the last step for the first symbol. Both need a memory "
               "of T − 1 steps, and the gradient must travel back as far.")


def cells_recipe_caption(spec: TrainSpec, recipe: CellsRecipe | None = None) -> str:
    recipe = recipe or CELLS_RECIPE
    delay = f" recall delay {spec.delay} (T − 1)," if spec.delay is not None else ""
    return (f"Every cell: T = {spec.T}, H = {spec.H}, seed {spec.seed},{delay} batch {recipe.batch}, SGD with "
            f"learning rate {recipe.lr:g} and momentum {recipe.momentum:g}, clipping by global norm at "
            f"c = {recipe.clip:g}, {spec.steps} steps, full BPTT; tanh RNN with an orthogonal W_hh at "
            f"spectral radius {spec.rho:g}, gated cells with orthogonal recurrent blocks (LSTM forget bias "
            f"{spec.forget_bias:g}). These are the comparison's own settings, not those of *Train a task*.")


CELLS_STOPPED = ("Stopped at the time budget of {budget:.2g} s (1.5 times the announced time): the machine is busier "
                 "than the estimate assumed, so the three cells ran {steps} of {planned} steps each, on the same "
                 "batches. Press the button again to retry, or lower T or H.")


def cells_stopped_note(results: dict[str, TrainResult], planned: int, budget: float) -> Note | None:
    if not any(run.stopped for run in results.values()):
        return None
    steps = max(run.steps_done for run in results.values())
    return Note("warning", CELLS_STOPPED.format(budget=budget, steps=steps, planned=planned), TIMER)


def cells_budget_note(steps: int, recipe: CellsRecipe | None = None) -> Note | None:
    recipe = recipe or CELLS_RECIPE
    if steps >= recipe.steps:
        return None
    return Note("warning", f"At these sizes the comparison needs {recipe.steps} steps per cell to make its point, "
                           f"but only {steps} fit the {PLAN_SECONDS:.0f} s it is planned for: the runs are cut "
                           "short, and a gated cell may not have learned yet. Lower T or H to see the whole "
                           "comparison.", TIMER)


def cells_task_note(task: str) -> Note:
    return Note("info", f"The comparison is made for the adding and delayed-recall tasks, where the memory must "
                        f"span the whole sequence; *{rc.TASKS[task].title}* needs no such memory. Choose one of "
                        "them above.", ":material/info:")


CELLS_HEATMAP_CAPTION = ("One panel per cell, one colour scale: each row is a training step, each column a time "
                         "step t; colour is how much gradient reaches h_t (log scale). Only the last step has a "
                         "loss, so every other column gets gradient through the recurrence alone: where the left "
                         "columns stay dark, the first steps get no gradient and what they hold cannot be learned.")


def cells_blocks(variants: dict[str, TrainSpec], results: dict[str, TrainResult], text: str | None,
                 notation: str, presentation: bool) -> list[Block]:
    """The comparison's loss chart, its sentences and the dL/dh heatmaps side by side."""
    outcomes = [cell_outcome(title, variants[title], text, run) for title, run in results.items()]
    spec = next(iter(variants.values()))
    baseline = next((o.baseline for o in outcomes if np.isfinite(o.baseline)), None)
    losses = figures.cells_loss_figure({title: smoothed(run.loss) for title, run in results.items()},
                                       baseline=baseline,
                                       baseline_label=BASELINE_WORDS.get(spec.task, "best constant answer"),
                                       presentation=presentation)
    rows = {title: heatmap_rows(run) for title, run in results.items()}
    heat = figures.cells_heatmaps({title: run.dL_dh_norms[rows[title]] for title, run in results.items()},
                                  {title: r + 1 for title, r in rows.items()}, notation=notation,
                                  presentation=presentation)
    steps = max(run.steps_done for run in results.values())
    return [Block("figure", losses, key="tr_cells_curves"),
            Block("markdown", cells_sentence(outcomes, spec.task, spec.T, steps)),
            Block("caption", f"Each curve is the moving mean of {CELLS_SMOOTHING} steps' batch losses; the dashed "
                             "line is what ignoring the input scores."),
            Block("figure", heat, key="tr_cells_heatmaps"),
            Block("markdown", reach_sentence(outcomes, spec.T)),
            Block("caption", CELLS_HEATMAP_CAPTION)]


# ---------------------------------------------------------------------------- per task: what to show

@dataclass(frozen=True)
class Block:
    """One thing the page shows. kind: 'figure' (body: a plotly Figure, drawn with `key`),
    'html', 'subheader', 'markdown', 'caption', 'code' (preformatted text, wrapped if `wrap`), or
    'columns' (body: one list of Blocks per column)."""

    kind: str
    body: Any
    key: str | None = None
    wrap: bool = False


def chip_size(presentation: bool) -> int:
    return 24 if presentation else 17


def _sentence(data: rc.TaskData, b: int, outputs: Array | None = None):
    words = [data.info["words"][i] for i in data.xs[:, b].argmax(axis=-1)]
    tags = [data.info["tags"][i] for i in data.ys[:, b]]
    if outputs is None:
        return words, tags
    return words, tags, [data.info["tags"][i] for i in outputs[:, b].argmax(axis=-1)]


def _text_preview(data: rc.TaskData, n: int, presentation: bool) -> list[Block]:
    return [Block("code", "\n".join(rc.task_preview(data, n)), wrap=True)]


def _sine_preview(data: rc.TaskData, n: int, presentation: bool) -> list[Block]:
    return [Block("figure", figures.sine_figure(data.xs[:, :n, 0], presentation=presentation), key="preview_sine"),
            Block("caption", "Each sequence is a sine wave of random period and phase plus noise; the target at "
                             "every step is the next value.")]


def _adding_preview(data: rc.TaskData, n: int, presentation: bool) -> list[Block]:
    fig = figures.adding_figure(data.xs[:, :n, 0], data.xs[:, :n, 1], data.ys[-1, :n, 0], presentation=presentation,
                                height=110 * n + 90)
    return [Block("figure", fig, key="preview_adding"),
            Block("caption", "Orange bars are the two marked values; the network must output their sum at the last "
                             "step, so it has to remember the first one across many steps.")]


def _tagging_preview(data: rc.TaskData, n: int, presentation: bool) -> list[Block]:
    words, tags = _sentence(data, 0)
    return [Block("html", figures.tagged_sentence_html(words, tags, font_size=chip_size(presentation))),
            Block("caption", "Each word carries its tag. *fish, watch, light, train* are nouns or verbs: "
                             "only the words before them tell which.")]


def _char_lm_preview(data: rc.TaskData, n: int, presentation: bool) -> list[Block]:
    return _text_preview(data, n, presentation) + [
        Block("caption", "Input window → target window: the target is the input shifted by one character.")]


def _char_lm_result(ev: Evaluation, presentation: bool) -> list[Block]:
    column = lambda title, text: [Block("markdown", title), Block("code", text, wrap=True)]   # noqa: E731
    return [Block("markdown", f"Generated after reading *{ev.prefix!r}*:"),
            Block("columns", [column("**Greedy** (always the most likely character)", ev.sample_greedy),
                              column("**Sampled** from the softmax (temperature 1)", ev.sample_drawn)]),
            Block("caption", "Greedy text tends to loop on the commonest words; sampled text is more varied and "
                             "shows what the model has picked up (spaces, word shapes, frequent words).")]


def _tagging_result(ev: Evaluation, presentation: bool) -> list[Block]:
    words, tags, predicted = _sentence(ev.examples, 0, ev.outputs)
    return [Block("html", figures.tagged_sentence_html(words, tags, predicted, font_size=chip_size(presentation))),
            Block("caption", "Blue ✓: the predicted tag is right; vermillion ✗: wrong (the true tag in brackets).")]


def _sine_result(ev: Evaluation, presentation: bool) -> list[Block]:
    fig = figures.sine_figure(ev.examples.xs[:, :1, 0], target=ev.examples.ys[:, 0, 0], prediction=ev.outputs[:, 0, 0],
                              title="Next-value prediction", presentation=presentation)
    return [Block("figure", fig, key="tr_sine_result"),
            Block("caption", "The dashed line is the model's prediction of the next value; the circles are the truth.")]


def _adding_result(ev: Evaluation, presentation: bool) -> list[Block]:
    fig = figures.adding_scatter(ev.final_targets[:, 0], ev.final_outputs[:, 0], presentation=presentation)
    return [Block("figure", fig, key="tr_adding_result"),
            Block("caption", "Points on the diagonal are right. Answering 1.0 always (the mean sum) scores a loss of "
                             "about 0.083: only a loss well below that means the model remembers the marked values.")]


def _copy_result(ev: Evaluation, presentation: bool) -> list[Block]:
    d = ev.examples.info["delay"]
    x, y, o = ev.examples.xs[:, 0].argmax(-1), ev.examples.ys[:, 0], ev.outputs[:, 0].argmax(-1)
    return [Block("code", f"input      {' '.join(map(str, x))}\ntarget     {'  ' * d}{' '.join(map(str, y[d:]))}\n"
                          f"predicted  {'  ' * d}{' '.join(map(str, o[d:]))}"),
            Block("caption", f"The target is the input {d} steps earlier; the first {d} steps have no target.")]


@dataclass(frozen=True)
class TaskDisplay:
    """How the page shows one trainable task. preview(data, n, presentation): the first n
    sequences of the first batch; result(evaluation, presentation): the trained model on
    held-out sequences; heatmap_note: a sentence added under the dL/dh heatmap."""

    preview: Callable[[rc.TaskData, int, bool], list[Block]]
    result: Callable[[Evaluation, bool], list[Block]]
    heatmap_note: str = ""


TASK_DISPLAYS: dict[str, TaskDisplay] = {
    "char_lm": TaskDisplay(_char_lm_preview, _char_lm_result),
    "pos_tagging": TaskDisplay(_tagging_preview, _tagging_result),
    "sine": TaskDisplay(_sine_preview, _sine_result),
    "adding": TaskDisplay(_adding_preview, _adding_result,
                          " In the adding problem only the last step has a loss, so every other column gets "
                          "gradient through the recurrence alone."),
    "copy": TaskDisplay(_text_preview, _copy_result),
}


# ---------------------------------------------------------------------------- words

@dataclass(frozen=True)
class Note:
    """A message for the page. level: 'info', 'success', 'warning', 'error' (a banner),
    'markdown' or 'caption' (plain text); icon: a Material icon name for the banner, or None."""

    level: str
    text: str
    icon: str | None = None


VERDICT_ICONS = {"success": ":material/check_circle:", "warning": ":material/warning:", "error": ":material/error:"}
VERDICT_ADVICE = {"warning": " Try more steps, another learning rate, or a larger H.",
                  "error": " Turn clipping on, lower the learning rate or {shrink}."}
# What makes a cell's gradient smaller: the vanilla RNN's spectral radius, a gated cell's weights
SHRINK = {"rnn": "the spectral radius"}
SHRINK_GATED = "the hand-edited weights (a gated cell's gates and tanh are bounded; its weights are not)"


def shrink_advice(cell: str) -> str:
    return SHRINK.get(cell, SHRINK_GATED)
HUGE_NORM = 1e6                     # a gradient norm worth a note: it has exploded
CHART_HEADROOM = 1e3                # log charts of exploding runs stop at this multiple of the start
WARNING, TIMER, SPEED = ":material/warning:", ":material/timer:", ":material/speed:"


def about(seconds: float) -> str:
    return f"about {seconds:.2g} s" if seconds < 10 else f"about {seconds:.0f} s"


def task_description(task: str) -> str:
    info = rc.TASKS[task]
    return (f"**{info.title}.** {info.description}  \n*{info.sizes}; loss: {info.loss}*"
            f"{'; only the last step counts' if info.many_to_one else ''}.")


def task_refused(spec: TrainSpec, err: Exception) -> Note:
    return Note("warning", f"The task *{rc.TASKS[spec.task].title}* cannot run with these settings: {err}. "
                           "Change T in the sidebar or pick another task.", WARNING)


# ---------------------------------------------------------------------------- the uploaded text

UPLOAD_HELP = f"at most {MAX_UPLOAD_BYTES // 1024} kB and 96 distinct characters"
TEXT_KEY = "tr_accepted_text"       # session: {"name", "text"} of the last accepted upload
SEEN_KEY = "tr_seen_upload"         # session: file_id of the last upload checked


def check_upload(file, T: int) -> Note | None:
    """A new upload (a Streamlit UploadedFile, or None) checked once: an accepted text becomes
    the session's, a bad one gets a message and leaves the last good text as it was. Messages
    quote the file name (and may quote its characters): they are shown as typed."""
    if file is None or st.session_state.get(SEEN_KEY) == file.file_id:
        return None
    checked = read_text_upload(file.getvalue(), name=file.name, min_chars=max(MIN_TEXT_CHARS, T + 1))
    if not checked.ok:
        return Note("error", literal_markdown(checked.message), ":material/error:")
    st.session_state[SEEN_KEY] = file.file_id
    st.session_state[TEXT_KEY] = {"name": file.name, "text": checked.text}
    return Note("info", literal_markdown(checked.message)) if checked.message else None


def accepted_text() -> tuple[str | None, Note]:
    """(the session's accepted text or None for the built-in one, what the page says about it)."""
    accepted = st.session_state.get(TEXT_KEY)
    if accepted is None:
        return None, Note("info", "No text uploaded yet: the built-in text is used until a file is accepted.")
    text, name = accepted["text"], literal_markdown(accepted["name"])     # a file name is text, never markup
    return text, Note("caption", f"Using **{name}**: {len(text):,} characters, {len(set(text))} distinct. "
                                 "A shared link cannot carry an upload: viewers of the link get the built-in text.")


# ---------------------------------------------------------------------------- training: what the page says

def affordable_run(spec: TrainSpec, data: rc.TaskData) -> tuple[TrainSpec | None, Note | None]:
    """The run the page trains within PLAN_SECONDS (fewer steps if need be, None if not even
    one step fits), and what it says about that."""
    affordable = affordable_steps(spec, data.D, data.O)
    if affordable < 1:
        return None, Note("warning", f"One training step at T = {spec.T}, H = {spec.H}, batch {spec.batch} would "
                                     f"take {about(spec_step_seconds(spec, data.D, data.O))}, more than the "
                                     f"{PLAN_SECONDS:.0f} s a run is planned for. Lower T, H, the batch size or the "
                                     "truncation's k to train here.", WARNING)
    if spec.steps > affordable:
        return spec.replace(steps=affordable), Note(
            "info", f"At these sizes {spec.steps} steps would take longer than the {PLAN_SECONDS:.0f} s a run is "
                    f"planned for: training runs {affordable} steps.")
    return spec, None


def train_caption(config: Config, spec: TrainSpec, data: rc.TaskData) -> str:
    estimate = spec.steps * spec_step_seconds(spec, data.D, data.O)
    gradient = FIELD_BY_NAME["truncation"].choice_name(config.truncation)
    return (f"SGD on a fresh batch each step, minimising the mean loss per step; update of eq. (12). "
            f"Gradient: {gradient} (sidebar). Same settings, same run: "
            "finished runs are kept and shown to every viewer. "
            f"Estimated time: {about(estimate)}; the run stops at {guard_seconds(estimate):.2g} s "
            f"({GUARD_FACTOR:g} times that, at least {MIN_GUARD:g} s), keeping the steps done.")


CURVES_CAPTION = ("**Left:** the loss of each step's batch (it is noisy: every step sees new sequences). "
                  "**Right:** the norm of each parameter's gradient on a log axis; the black line is the "
                  "whole gradient before clipping, the dotted one what the update used.")
HEATMAP_CAPTION = ("Each row is one training step, each column a time step t; colour is how much gradient "
                   "reaches h_t (log scale). The gradient at h_t is its own loss's part plus what flows back "
                   "from later steps: watch whether the early columns fade (vanishing) or flare up "
                   "(exploding) as training goes on.")


def run_banner(config: Config, spec: TrainSpec, text: str | None, result: TrainResult,
               budget: float = TIME_BUDGET) -> list[Note]:
    """What happened: stopped at the budget or not, and the run judged against its baseline."""
    notes = []
    if result.stopped:
        notes.append(Note("warning", f"Stopped at its time budget: {result.steps_done} of {spec.steps} steps ran "
                                     f"in the {budget:.2g} s the run may take; the steps done are shown. Lower T, "
                                     "H, the batch size, the truncation's k or the steps for a complete run.", TIMER))
    verdict = judge(result, None if result.diverged else evaluation(config, text, result))
    first, last = np.mean(result.loss[:10]), np.mean(result.loss[-10:])
    n = result.steps_done
    summary = (f"Trained {n} step{'s' if n != 1 else ''}: loss {first:.4g} → {last:.4g} (means of the first and "
               "last 10 steps). ")
    advice = VERDICT_ADVICE.get(verdict.level, "").format(shrink=shrink_advice(config.cell))
    notes.append(Note(verdict.level, summary + verdict.message + advice,
                      VERDICT_ICONS[verdict.level]))
    return notes


def held_out_summary(ev: Evaluation) -> str:
    summary = f"Held-out loss {ev.loss:.4g}" + (f", accuracy {ev.accuracy:.1%}" if ev.accuracy is not None else "")
    baseline = f"the best constant answer (ignoring the input) scores {ev.baseline_loss:.4g}" + (
        f", accuracy {ev.baseline_accuracy:.1%}" if ev.baseline_accuracy is not None else "")
    return f"{summary}; {baseline}."


def too_slow(spec: TrainSpec) -> Note:
    return Note("warning", f"Training side by side at T = {spec.T}, H = {spec.H}, batch {spec.batch} would take "
                           f"longer than the {PLAN_SECONDS:.0f} s it is planned for, even for one step each. Lower "
                           "T, H, the batch size or k.", WARNING)


def press_to_train(label: str, missing: int, estimate: float, budget: float = TIME_BUDGET) -> Note:
    return Note("info", f"Press **{label}** to train the runs side by side ({missing} to train, {about(estimate)}; "
                        f"they stop at {budget:.2g} s together).", ":material/info:")


def unfinished_runs(results: dict[str, TrainResult | None], budget: float = TIME_BUDGET) -> Note | None:
    stopped = [name for name, r in results.items() if r is None or r.stopped]
    if not stopped:
        return None
    return Note("warning", f"Stopped at the time budget of {budget:.2g} s: {', '.join(stopped)} did not finish "
                           "(a partial curve, or none). Lower T, H, the batch size or k, or press again to go on.",
                TIMER)


# ---------------------------------------------------------------------------- truncation and clipping

TRUNCATION_INTRO = ("The same model (initial weights) and the same batch; only how far the gradient flows back "
                    "through the recurrence changes. Choose the truncation used for training and its k or p "
                    "in the sidebar.")
COMPARISON_STOPPED = Note("warning", f"The comparison stopped at its time budget of {COMPARE_BUDGET:.0f} s before it "
                                     "was complete (the machine is busier than the estimate assumed). Lower T, H or "
                                     "the batch size, or try again.", TIMER)


def compared_names(option: str, cell: str) -> tuple[str, ...]:
    """The parameters the truncation comparison compares: all of the cell's ('all'), or its
    hidden-to-hidden matrices ('W_hh': the vanilla W_hh, the LSTM's W_hi, W_hf, W_ho, W_hc, the
    GRU's W_hr, W_hz, W_hh), whose gradients only the recurrence carries."""
    names = rc.get_cell(cell).param_names
    if option == "all":
        return tuple(names)
    return tuple(n for n in names if n.startswith("W_h") and n != "W_hy")


def compare_label(option: str, cell: str) -> str:
    """The words of a tr_compare option for `cell` (the schema's for the vanilla RNN)."""
    if cell == "rnn":
        return FIELD_BY_NAME["tr_compare"].choice_label(option)
    names = compared_names(option, cell)
    return f"all {len(names)} parameters" if option == "all" else f"{', '.join(names)} only"


@dataclass(frozen=True)
class TruncationPlan:
    """The window lengths ks of the comparison and how many of the batch's sequences it uses."""

    ks: tuple[int, ...]
    batch: int


def truncation_plan(config: Config, spec: TrainSpec, data: rc.TaskData) -> tuple[TruncationPlan | None, Note | None]:
    """The comparison's plan within COMPARE_BUDGET (None if not even one sequence fits) and its note."""
    ks = window_lengths(spec.T, extra=config.trunc_k)
    batch = affordable_batch(spec.T, spec.batch, spec.H, data.D, data.O, ks, cell=spec.cell)
    if batch < 1:
        return None, Note("warning", f"The comparison at T = {spec.T}, H = {spec.H} would take about "
                                     f"{comparison_seconds(spec.T, 1, spec.H, data.D, data.O, ks, cell=spec.cell):.0f} s even for one "
                                     "sequence. Lower T or H.", WARNING)
    note = Note("info", f"To stay quick the comparison uses the first {batch} of the batch's {spec.batch} "
                        "sequences.") if batch < spec.batch else None
    return TruncationPlan(tuple(int(k) for k in ks), batch), note


def truncation_caption(config: Config, table: TruncationComparison) -> str:
    return (f"Cosine 1 and ratio 1 mean the truncated gradient is the full one (grey dashed line: k = T, "
            f"orange dotted: the sidebar's k = {config.trunc_k}). k-step and chunked truncation reach it "
            f"at k = T. Randomized truncation keeps each step's factor with probability p = 1 − 1/k (scaled "
            f"by 1/p): one draw is noisy, but the mean of {table.draws} draws approaches the full gradient "
            f"(it is unbiased). ‖g_full‖ = {table.full_norm:.4g}.")


def truncation_overflow(table: TruncationComparison, cell: str) -> Note | None:
    if np.isfinite(table.full_norm):
        return None
    return Note("warning", "The full gradient is not finite at these settings (it overflowed): the comparison is "
                           f"undefined. Lower {shrink_advice(cell)}.", WARNING)


def truncation_numbers(table: TruncationComparison):
    """The comparison as a table of text, one row per k ('—' where a method is undefined)."""
    wide = pd.DataFrame(table.rows()).pivot_table(index="k", columns="method",
                                                  values=["cosine to full", "norm ratio"], dropna=False)
    return wide.map(lambda v: "—" if np.isnan(v) else f"{v:.4f}")


def truncation_runs_caption(steps: int) -> str:
    return (f"{steps} steps each, same initial weights and the same batches, with the learning rate and "
            "clipping of *Train a task*. When the task needs memory longer than k, the truncated runs "
            "level off higher: their gradient cannot see the dependency. Try the delayed-recall task with "
            "a delay of at least k: k-step truncation then stays at chance, k = delay + 1 learns it.")


@dataclass(frozen=True)
class ClippingSetup:
    """The exploding model of the clipping comparison: `model` the run's spec with its
    activation, initialiser and radius or weight scale (None: not even one sequence fits the
    budget), `key` its start_key, `batch` the sequences compared, and what the page says."""

    model: TrainSpec | None
    key: Config | None
    batch: int
    notes: tuple[Note, ...] = ()
    batch_note: Note | None = None


def clipping_intro(c: float, cell: str = "rnn") -> str:
    if cell == "rnn":
        model = (f"the current task and sizes with activation {exploding_settings()['activation']} (the lecture "
                 "preset)")
    else:
        model = (f"the current task and sizes with the {rc.get_cell(cell).title}'s weights all drawn from "
                 "N(0, s²) at a large scale s (its gates fix tanh and σ, and it has no spectral radius to raise)")
    return (f"The **exploding** model: {model}. Both rules use the threshold c = {c:g} "
            "(set it on *Train a task*): by global norm, g is rescaled to norm c when ‖g‖ > c; element-wise, each "
            "entry is clipped to [−c, c] as min-char-rnn does with c = 5.")


def clipping_setup(config: Config, spec: TrainSpec, data: rc.TaskData, text: str | None, c: float) -> ClippingSetup:
    """The current task and sizes (`config`, run as `spec`) made to explode by its cell's
    `exploder`: the vanilla RNN with the 'exploding' preset's model at the smallest radius of
    RADII whose raw gradient explodes, a gated cell at the smallest weight scale of SCALES
    (the largest if none does)."""
    knob = exploder(spec.cell)
    calls = 1 + len(knob.values)           # the search and the comparison, one gradient each
    batch = affordable_gradient_batch(spec.T, spec.batch, spec.H, data.D, data.O, calls, cell=spec.cell)
    if batch < 1:
        return ClippingSetup(None, None, batch)
    exploding = config.replace(**knob.settings)
    found = exploding_radius_of(start_key(exploding), text, c, batch)
    tried = ", ".join(f"{v:g}" for v in knob.values)
    if found is None:
        value = knob.values[-1]
        note = Note("warning", f"At these settings the gradient does not explode: for no {knob.name} up to "
                               f"{value:g} does ‖g‖ reach {EXPLODES:g} c = {EXPLODES * c:g}. Clipping at c = "
                               f"{c:g} changes an update only as far as ‖g‖ exceeds c (the table), so the rules below "
                               "differ less than on an exploding model. Lower c or raise T to see it work.", WARNING)
    else:
        value, norm = found
        preset = knob.settings.get(knob.field)
        if preset is None:
            lead = "It uses the"
        elif value > preset:
            lead = f"At the preset's radius {preset:g} the gradient stays small here, so this comparison uses"
        else:
            lead = "It uses the preset's"
        note = Note("markdown", f"{lead} {knob.name} **{value:g}**, the smallest of {tried} at which the raw "
                                f"gradient explodes: ‖g‖ = {norm:.3g}, at least {EXPLODES:g} times c.")
    batch_note = Note("info", f"To stay quick the gradients are compared on the first {batch} of the batch's "
                              f"{spec.batch} sequences.") if batch < spec.batch else None
    model = spec.replace(**{k: v for k, v in knob.settings.items() if k != knob.field}).replace(**{knob.field: value})
    key = start_key(exploding.replace(rho=value) if knob.field == "rho" else exploding)
    return ClippingSetup(model, key, batch, (note,), batch_note)


CLIPPING_OVERFLOW = Note("warning", "The exploding model overflows on this batch (inf/nan): there is no gradient to "
                                    "clip. Lower T in the sidebar.", WARNING)
CLIPPING_CAPTION = ("Clipping by global norm only shortens the gradient: its cosine to the raw gradient stays 1. "
                    "Element-wise clipping cuts the large entries and keeps the small ones, so it also turns the "
                    "direction (cosine below 1) whenever some entry exceeds c.")
CLIPPING_RUNS_CAPTION = ("A cross marks a run that stopped on inf/nan; curves that leave the top of a chart have "
                         "exploded (hover for the numbers). Without clipping one large step can throw the weights far "
                         "away; clipping keeps each update bounded (right: global-norm clipping never exceeds c).")


def clipping_numbers(table: ClippingComparison) -> pd.DataFrame:
    return pd.DataFrame(table.rows()).round(4)


def exploded_note(table: ClippingComparison, spec: TrainSpec) -> Note | None:
    if table.raw_norm <= HUGE_NORM:
        return None
    return Note("info", f"The raw gradient's norm is {table.raw_norm:.3g}: it has exploded. An unclipped SGD step "
                        f"with learning rate {spec.lr:g} would move the weights by about "
                        f"{spec.lr * table.raw_norm:.3g}.")


def chart_tops(results: dict[str, TrainResult], c: float) -> tuple[float, float]:
    """The tops of the loss and norm charts: CHART_HEADROOM times the largest first value, so
    that an exploding run leaves the chart instead of flattening the others."""
    return (CHART_HEADROOM * max(r.loss[0] for r in results.values()),
            CHART_HEADROOM * max(c, *(r.grad_norm[0] for r in results.values())))


def clipped_summary(results: dict[str, TrainResult], c: float) -> Note:
    """How many steps each clipping rule changed, and the largest loss of each run."""
    clipped = {name: clipped_steps(r.grad_norm, c) for name, r in results.items() if name != "no clipping"}
    if not any(clipped.values()):
        return Note("warning", f"No clipping happened: in no step of these runs did the raw gradient exceed c = "
                               f"{c:g}, so the rules gave the same updates and the curves coincide. Lower c to see "
                               "clipping act.", WARNING)
    return Note("markdown", "Steps whose raw gradient exceeded c (and were clipped): " + "; ".join(
        f"{name}: {n} of {results[name].steps_done}" for name, n in clipped.items()) + ". The largest loss: "
        + "; ".join(f"{name}: {np.nanmax(r.loss):.3g}" for name, r in results.items()) + ".")
