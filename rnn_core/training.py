"""Training by gradient descent, eq. (12), with gradient clipping as a separate, named step.

    (12) theta <- theta - eta g              (plain SGD; g optionally clipped first)
         v <- mu v - eta g,  theta <- theta + v     (classical momentum, mu in [0, 1))

Clipping never happens inside `bptt`: the raw gradient stays the gradient, and the histories
keep both its norm and the norm of what was applied.
- by global norm over all gradients (the vanilla cell's five, the LSTM's 14, the GRU's 11):
  if ||g|| > c then g <- g c / ||g|| (no epsilon);
- by value: every entry clipped to [-c, c] (as in min-char-rnn, c = 5).

Shape legend: T steps, B sequences in a batch, D inputs, H hidden units, O outputs; n is the
number of training steps recorded. Training steps are numbered s = 1..steps; row s - 1 of each
history belongs to step s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .activations import get_activation
from .bptt import bptt, cell_and_activation
from .forward import forward
from .params import PARAM_NAMES, CellParams, Params, validate_params
from .tasks import TaskData, encode, make_task_sampler
from .truncation import Truncation, draw_xi, parse_truncation

Array = np.ndarray
MAX_STEPS = 5000          # the most training steps one call may run
CLIP_KINDS = ("norm", "value")


# ---------------------------------------------------------------------------- clipping

def _positive_finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
            np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def clip_by_global_norm(grads: CellParams, max_norm: float) -> tuple[CellParams, float]:
    """(clipped gradients, ||g|| before clipping), ||g|| over all the arrays together (five for
    the vanilla RNN, every field of LSTMParams or GRUParams).

    If ||g|| > max_norm every gradient is scaled by max_norm / ||g|| (no epsilon), so the
    clipped norm is max_norm and the direction is kept; otherwise g is returned unchanged.
    A non-finite ||g|| is returned unscaled: no finite scale would make it meaningful.
    """
    c = _positive_finite("max_norm", max_norm)
    norm = grads.global_norm()
    if np.isfinite(norm) and norm > c:
        scale = c / norm
        return grads.map(lambda g: g * scale), norm
    return grads, norm


def clip_by_value(grads: CellParams, limit: float) -> CellParams:
    """Every entry of every gradient clipped to [-limit, limit]; changes the direction of g."""
    c = _positive_finite("limit", limit)
    return grads.map(lambda g: np.clip(g, -c, c))


def parse_clip(clip) -> tuple[str, float] | None:
    """None, ("norm", c) or ("value", c) with c > 0; ValueError otherwise."""
    if clip is None:
        return None
    if not isinstance(clip, (tuple, list)) or len(clip) != 2 or clip[0] not in CLIP_KINDS:
        raise ValueError(f"clip must be None, ('norm', c) or ('value', c), got {clip!r}")
    return clip[0], _positive_finite(f"clip ({clip[0]!r}, c)", clip[1])


def apply_clip(grads: CellParams, clip: tuple[str, float] | None) -> CellParams:
    """The gradients after the parsed clipping rule (None: unchanged)."""
    if clip is None:
        return grads
    kind, c = clip
    return clip_by_global_norm(grads, c)[0] if kind == "norm" else clip_by_value(grads, c)


# ---------------------------------------------------------------------------- the update

def _check_lr_momentum(lr, momentum) -> tuple[float, float]:
    lr = _positive_finite("lr", lr)
    is_number = isinstance(momentum, (int, float, np.number)) and not isinstance(momentum, bool)
    if not is_number or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    return lr, float(momentum)


def sgd_step(params: CellParams, grads: CellParams, velocity: CellParams | None = None, *, lr: float,
             momentum: float = 0.0) -> tuple[CellParams, CellParams]:
    """One update, eq. (12): (new params, new velocity).

    Classical momentum: v <- mu v - lr g, then theta <- theta + v. With mu = 0 this is
    exactly theta - lr g. velocity None means zeros (the first step).
    """
    lr, momentum = _check_lr_momentum(lr, momentum)
    if momentum == 0 or velocity is None:
        v = grads.map(lambda g: -lr * g)
    else:
        v = type(grads)(**{n: momentum * getattr(velocity, n) - lr * g for n, g in grads.items()})
    return type(params)(**{n: p + getattr(v, n) for n, p in params.items()}), v


# ---------------------------------------------------------------------------- training loop

@dataclass(frozen=True, eq=False)
class TrainResult:
    """Histories of a training run (n rows = steps recorded) and the final parameters.

    loss (n,): L of each step's fresh batch, before that step's update.
    grad_norm (n,): ||g|| over all gradients, before clipping.
    applied_norm (n,): ||g|| of what the update used (after clipping; nan if not applied).
    param_grad_norms (n, P): ||dL/dtheta|| per parameter, columns in `param_names` order (the
      params' fields: PARAM_NAMES for the vanilla RNN, 14 for the LSTM, 11 for the GRU).
    dL_dh_norms (n, T): ||dL/dh_t|| for t = 1..T, the mean over the batch's sequences of each
      sequence's own gradient norm (so it does not shrink with B).
    accuracy (n,) for softmax_ce tasks (argmax correct at steps with mask > 0), else None.
    params: the parameters after the last applied update.
    diverged_step: the step s whose loss or gradient was non-finite, or whose update would
      have made a parameter non-finite; training stopped there without applying it. None if not.
    stopped: True if the callback returned False.
    """

    params: CellParams
    loss: Array
    grad_norm: Array
    applied_norm: Array
    param_grad_norms: Array
    dL_dh_norms: Array
    accuracy: Array | None
    diverged_step: int | None
    stopped: bool
    param_names: tuple[str, ...] = PARAM_NAMES

    @property
    def steps_done(self) -> int:
        return len(self.loss)

    @property
    def diverged(self) -> bool:
        return self.diverged_step is not None


class _History:
    """Preallocated history arrays for `steps` rows, filled one row per step."""

    def __init__(self, steps: int, T: int, with_accuracy: bool, names: tuple[str, ...] = PARAM_NAMES):
        self.names = names
        self.loss = np.full(steps, np.nan)
        self.grad_norm = np.full(steps, np.nan)
        self.applied_norm = np.full(steps, np.nan)
        self.param_grad_norms = np.full((steps, len(names)), np.nan)
        self.dL_dh_norms = np.full((steps, T), np.nan)
        self.accuracy = np.full(steps, np.nan) if with_accuracy else None

    def result(self, n: int, params: CellParams, diverged_step: int | None, stopped: bool) -> TrainResult:
        return TrainResult(params=params, loss=self.loss[:n], grad_norm=self.grad_norm[:n],
                           applied_norm=self.applied_norm[:n],
                           param_grad_norms=self.param_grad_norms[:n], dL_dh_norms=self.dL_dh_norms[:n],
                           accuracy=None if self.accuracy is None else self.accuracy[:n],
                           diverged_step=diverged_step, stopped=stopped, param_names=self.names)


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be an integer in [1, {MAX_STEPS}], got {steps!r}")
    return int(steps)


def _step_truncation(truncation, T: int) -> Callable[[int], object]:
    """step s -> the truncation argument for that step's bptt.

    ("randomized", p[, seed]) draws a fresh xi at every step, from (seed, s), so that the
    update is unbiased over training; an explicit xi array is used as given at every step.
    """
    parse_truncation(truncation, T)  # ValueError now, not at step 1
    if (isinstance(truncation, (tuple, list)) and truncation[0] == "randomized"
            and np.ndim(truncation[1]) == 0 and (len(truncation) == 2 or np.ndim(truncation[2]) == 0)):
        p, trunc_seed = truncation[1], (truncation[2] if len(truncation) == 3 else 0)
        return lambda s: Truncation("randomized", xi=draw_xi(T, p, [trunc_seed, s]))
    return lambda s: truncation


def _data_source(task, *, params: CellParams, T, batch, seed, text, delay, loss) -> Callable[[int], TaskData]:
    """step s -> that step's TaskData: from a task name (seeded by (seed, s)) or a function."""
    if callable(task):
        return task
    D, _, O = params.sizes
    free = task == "random"
    sample = make_task_sampler(task, T=T, batch=batch, D=D if free else None, O=O if free else None,
                               text=text, delay=delay, loss=loss)
    return lambda s: sample((seed, s))


def _check_batch_fits(data, params: CellParams, T: int | None) -> None:
    if not isinstance(data, TaskData):
        raise ValueError(f"the task function must return a rnn_core.TaskData, got {type(data).__name__}")
    D, _, O = params.sizes
    if (data.D, data.O) != (D, O):
        raise ValueError(f"params have D={D}, O={O} but task {data.name!r} needs D={data.D}, O={data.O}")
    if T is not None and data.T != T:
        raise ValueError(f"the task function must return the same T at every step: {T}, then {data.T}")


def _accuracy(o: Array, ys: Array, mask: Array | None) -> float:
    """Fraction of argmax predictions equal to the class targets, at steps with mask > 0."""
    correct = o.argmax(axis=-1) == ys                     # (T, [B])
    if mask is not None:
        correct = correct[mask > 0]
    return float(correct.mean())


def train(params: CellParams, task: str | Callable[[int], TaskData], *, steps: int, lr: float,
          momentum: float = 0.0, T: int | None = None, batch: int | None = 16, activation: str | None = None,
          clip=None, truncation=None, reduction: str = "mean", seed: int = 0,
          callback: Callable[[int, TrainResult], object] | None = None, text: str | None = None,
          delay: int | None = None, loss: str | None = None) -> TrainResult:
    """Train with SGD (eq. (12)) on a fresh batch per step; return the histories.

    task: a name in rnn_core.TASKS (then T is required; batch, text, delay and loss are passed
    to make_task_data, the batch of step s is make_task_data(..., seed=(seed, s)); for 'random'
    D and O come from params) or a function step s -> TaskData with the same T every step.
    clip: None, ("norm", c) or ("value", c), applied to the gradient before the update.
    truncation: as for rnn_core.bptt; ("randomized", p[, seed]) draws a new xi at every step.
    callback(s, partial result) is called after step s's update; returning False stops.
    At most MAX_STEPS steps. A non-finite loss, gradient or update ends training without an
    exception or warning: see TrainResult.diverged_step.
    params: Params, LSTMParams or GRUParams; activation: the vanilla RNN's ('tanh' when None),
    None for gated cells.
    """
    if isinstance(params, Params) and activation is None:
        activation = "tanh"
    cell, _ = cell_and_activation(params, activation)
    validate_params(params) if cell.name == "rnn" else cell.validate(params)
    steps = _check_steps(steps)
    clip_rule = parse_clip(clip)
    lr, momentum = _check_lr_momentum(lr, momentum)
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {type(callback).__name__}")
    source = _data_source(task, params=params, T=T, batch=batch, seed=seed, text=text, delay=delay, loss=loss)

    first = source(1)
    _check_batch_fits(first, params, None)
    T = first.T
    truncation_at = _step_truncation(truncation, T)
    history = _History(steps, T, with_accuracy=first.loss == "softmax_ce", names=params.names())
    velocity = None
    for s in range(1, steps + 1):
        data = first if s == 1 else source(s)
        _check_batch_fits(data, params, T)
        with np.errstate(all="ignore"):
            res = bptt(params, data.xs, data.ys, activation=activation, loss=data.loss,
                       reduction=reduction, mask=data.mask, truncation=truncation_at(s))
            ok = _record(history, s - 1, res, data)
            if ok:
                applied = apply_clip(res.grads, clip_rule)
                history.applied_norm[s - 1] = applied.global_norm()
                new_params, new_velocity = sgd_step(params, applied, velocity, lr=lr, momentum=momentum)
                ok = all(np.isfinite(a).all() for _, a in new_params.items())
        if not ok:
            history.applied_norm[s - 1] = np.nan
            return history.result(s, params, diverged_step=s, stopped=False)
        params, velocity = new_params, new_velocity
        if callback is not None and callback(s, history.result(s, params, None, False)) is False:
            return history.result(s, params, diverged_step=None, stopped=True)
    return history.result(steps, params, diverged_step=None, stopped=False)


def _record(history: _History, i: int, res, data: TaskData) -> bool:
    """Write row i from a BPTTResult; True if the loss and the gradient are finite."""
    per_param = np.array([np.sqrt(np.sum(g * g)) for _, g in res.grads.items()])
    history.loss[i] = res.loss
    history.param_grad_norms[i] = per_param
    history.grad_norm[i] = np.sqrt(np.sum(per_param ** 2))
    dh = np.sqrt(np.sum(res.dL_dh ** 2, axis=-1))            # (T, [B]), each carries 1/B
    history.dL_dh_norms[i] = dh.sum(axis=1) if dh.ndim == 2 else dh
    if history.accuracy is not None:
        history.accuracy[i] = _accuracy(res.trace.o, data.ys, data.mask)
    return bool(np.isfinite(res.loss) and np.isfinite(history.grad_norm[i]))


# ---------------------------------------------------------------------------- sampling text

def generate(params: CellParams, info: Mapping, prefix: str, n: int, *, activation: str | None = None,
             greedy: bool = True, temperature: float = 1.0, seed: int = 0) -> str:
    """n characters sampled from a character model after reading `prefix` (not included).

    info: a char_lm TaskData's info (its 'vocab' gives the characters; D = O = len(vocab)).
    greedy: take the most likely character; else sample from softmax(o_t / temperature) with
    numpy's default_rng(seed). Each chosen character is the next input, eqs. (1)-(3) (or the
    gated cell's step). activation: required for the vanilla RNN, None for gated cells.
    """
    cell, _ = cell_and_activation(params, activation)
    vocab = info.get("vocab") if isinstance(info, Mapping) else None
    if not isinstance(vocab, str) or not vocab:
        raise ValueError("info must be a char_lm task's info with a 'vocab' string")
    D, _, O = validate_params(params) if cell.name == "rnn" else cell.validate(params)
    if D != len(vocab) or O != len(vocab):
        raise ValueError(f"params must have D = O = {len(vocab)} (the vocabulary size), got D={D}, O={O}")
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty str, got {prefix!r}")
    unknown = sorted(set(prefix) - set(vocab))
    if unknown:
        raise ValueError(f"prefix holds characters not in the vocabulary: {''.join(unknown)!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    if not greedy:
        temperature = _positive_finite("temperature", temperature)
    one_hot = np.eye(len(vocab))
    rng = np.random.default_rng(seed)
    if cell.name != "rnn":
        return _generate_gated(cell, params, one_hot, encode(prefix, vocab), vocab, n, greedy, temperature, rng)
    act = get_activation(activation)
    h = forward(params, one_hot[encode(prefix, vocab)], activation=activation).h[-1]
    out = []
    with np.errstate(all="ignore"):
        for _ in range(n):
            o = params.W_hy @ h + params.b_y                               # eq. (3)
            i = int(np.argmax(o)) if greedy else _sample(o / temperature, rng)
            out.append(vocab[i])
            h = act.f(params.W_xh[:, i] + params.W_hh @ h + params.b_h)    # eqs. (1)-(2), x = e_i
    return "".join(out)


def _generate_gated(cell, params: CellParams, one_hot: Array, prefix_ids: Array, vocab: str, n: int,
                    greedy: bool, temperature: float, rng) -> str:
    """`generate` for an LSTM or GRU: the state s = [h; c] or h goes through the cell's step."""
    trace = forward(params, one_hot[prefix_ids])
    H = trace.h.shape[1]
    s = trace.h[-1] if trace.c is None else np.concatenate([trace.h[-1], trace.c[-1]])
    out = []
    with np.errstate(all="ignore"):
        for _ in range(n):
            o = params.W_hy @ s[:H] + params.b_y                          # the output layer
            i = int(np.argmax(o)) if greedy else _sample(o / temperature, rng)
            out.append(vocab[i])
            s = cell.step(params, one_hot[i], s)                          # the cell's equations, x = e_i
    return "".join(out)


def _sample(logits: Array, rng: np.random.Generator) -> int:
    """An index drawn from softmax(logits); never raises, even on overflowed logits."""
    p = np.exp(logits - np.max(logits))
    cdf = np.cumsum(p)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(p) - 1))
