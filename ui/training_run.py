"""What the training page trains, and a bounded store of finished runs shared by all viewers.

A `TrainSpec` is everything that decides a run's numbers (task, sizes, initialiser, SGD,
clipping, truncation, seed, and a digest of an uploaded text). The same spec always gives
the same `TrainResult`, so finished runs are kept in a `ResultStore` keyed by the spec: a
rerun, or a second viewer of a shared link, sees the result without training again. (A
`st.cache_data` function could not drive a progress bar on a miss, hence this explicit store.)

Shape legend: T steps, B sequences in a batch, D inputs, H hidden units, O outputs.
Training minimises the mean loss per step (reduction 'mean'), so the learning rate does not
have to change with T.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import rnn_core as rc
from rnn_core.tasks import BUILTIN_TEXT
from rnn_core.training import TrainResult, generate, train
from ui.budget import Guard
from ui.presets import PRESETS

REDUCTION = "mean"
STORE_ENTRIES = 24           # finished runs kept (a run at the largest settings is ~10 MB)
HELD_OUT_SEED = 999_983      # batches for evaluation come from a stream training never draws
HELD_OUT_BATCH = 64
SAMPLE_CHARS = 240

def exploding_settings() -> dict:
    """What makes the lecture preset 'exploding' explode (activation, initialiser, spectral
    radius); the clipping comparison applies these to the current task and sizes."""
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


def step_seconds(T: int, batch: int, H: int, D: int, O: int, truncation=None) -> float:
    """Estimated seconds of one SGD step (draw a batch, bptt, clip, update) at these sizes."""
    return LOAD_MARGIN * float(np.dot(COST, cost_features(T, batch, H, D, O, truncation)))


def spec_step_seconds(spec: "TrainSpec", D: int, O: int) -> float:
    return step_seconds(spec.T, spec.batch, spec.H, D, O, spec.truncation)


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

    @classmethod
    def from_config(cls, config, text: str | None = None) -> "TrainSpec":
        """The run the page's config asks for; text: an uploaded text for char_lm, else None."""
        return cls(task=config.tr_task, T=config.T, H=config.H, activation=config.activation,
                   init=config.init, rho=float(config.rho), seed=config.seed, lr=float(config.tr_lr),
                   momentum=float(config.tr_momentum), steps=config.tr_steps, batch=config.tr_batch,
                   clip=None if config.tr_clip == "none" else (config.tr_clip, float(config.tr_clip_c)),
                   truncation=config.truncation_spec,
                   delay=min(config.tr_delay, config.T - 1) if config.tr_task == "copy" else None,
                   text=text_digest(text) if config.tr_task == "char_lm" else "builtin")

    def replace(self, **changes: Any) -> "TrainSpec":
        return replace(self, **changes)

    def model_and_batch(self) -> "TrainSpec":
        """This spec with the fields that only training reads (SGD, clipping, truncation, steps)
        reset: a cache key for what depends on the initial model and the first batch alone."""
        return replace(self, lr=1.0, momentum=0.0, steps=1, clip=None, truncation=None)

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


def initial_params(spec: TrainSpec, D: int, O: int) -> rc.Params:
    """The seeded starting weights, W_hh scaled to spectral radius rho (hand edits do not apply:
    the task fixes D and O)."""
    return rc.init_params(D, spec.H, O, seed=spec.seed, init=spec.init, spectral_radius=spec.rho)


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


def evaluate(spec: TrainSpec, text: str | None, params: rc.Params) -> Evaluation:
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
