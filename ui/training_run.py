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


# Cost model: one training step (forward + backward) does about T B H (H + D + O) multiply-adds.
# SECONDS_PER_UNIT is measured on this 2-core machine under load (bench/training.py), so the
# estimate errs on the slow side; a run is bounded to TIME_BUDGET seconds.
SECONDS_PER_UNIT = 20e-9
TIME_BUDGET = 60.0


def step_seconds(T: int, batch: int, H: int, D: int, O: int) -> float:
    """Estimated seconds of one SGD step (bptt on a batch) at these sizes."""
    return T * batch * H * (H + D + O) * SECONDS_PER_UNIT


def affordable_steps(spec: "TrainSpec", D: int, O: int, budget: float = TIME_BUDGET) -> int:
    """How many steps of `spec` fit in `budget` seconds (0: not even one)."""
    return int(budget // step_seconds(spec.T, spec.batch, spec.H, D, O))


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
                 callback: Callable[[int, TrainResult], object] | None = None) -> TrainResult:
    """Train from `initial_params`; the batch of step s is the task drawn with seed (seed, s)."""
    first = sample_data(spec, text, batch=spec.batch, seed=spec.seed)
    params = initial_params(spec, first.D, first.O)
    return train(params, spec.task, steps=spec.steps, lr=spec.lr, momentum=spec.momentum, T=spec.T,
                 batch=spec.batch, activation=spec.activation, clip=spec.clip, truncation=spec.truncation,
                 reduction=REDUCTION, seed=spec.seed, callback=callback, **spec.task_options(text))


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
    examples: the first EXAMPLES of those sequences (xs (T, n, D), ys, info as drawn) and
    outputs (T, n, O) the model's o_t on them; final_targets / final_outputs (B, O): y_T and o_T
    of every held-out sequence (the adding problem's answers). sample_greedy / sample_drawn:
    text generated after `prefix` (char_lm only).
    """

    loss: float
    accuracy: float | None
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
    return Evaluation(loss=res.loss, accuracy=accuracy, examples=_first_sequences(data, EXAMPLES),
                      outputs=res.trace.o[:, :EXAMPLES], final_targets=data.ys[-1], final_outputs=res.trace.o[-1],
                      sample_greedy=greedy, sample_drawn=drawn, prefix=prefix)
