"""Several models trained side by side: at every step one batch is drawn and each model takes
its SGD step (eq. (12)) on it, in turn. A comparison of cells (or of anything else) stopped early
thus always compares the same number of steps on the same batches.

Each model's histories are exactly those `rnn_core.train` records for it alone with the same
arguments (tests/test_side_by_side.py): the same batch of step s (the task drawn with seed
(seed, s)), the same gradient, clipping and update. Shape legend as in rnn_core.training.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from .bptt import bptt, cell_and_activation
from .params import Params, validate_params
from .training import (TrainResult, _check_batch_fits, _check_lr_momentum, _check_steps, _data_source, _History,
                       _record, apply_clip, parse_clip, sgd_step)


def train_side_by_side(models: Mapping[str, object], task, *, steps: int, lr: float, momentum: float = 0.0,
                       T: int | None = None, batch: int | None = 16, activation: str = "tanh", clip=None,
                       reduction: str = "mean", seed: int = 0,
                       callback: Callable[[int, dict[str, TrainResult]], object] | None = None,
                       text: str | None = None, delay: int | None = None,
                       loss: str | None = None) -> dict[str, TrainResult]:
    """Train every model of `models` (name -> Params, LSTMParams or GRUParams, all with the same
    D and O) with SGD on the same fresh batch per step; return name -> its TrainResult.

    task, steps, lr, momentum, T, batch, clip, reduction, seed, text, delay, loss: as for
    rnn_core.train (no truncation: full BPTT). activation: the vanilla RNN's (gated cells use
    their own). A model whose loss, gradient or update turns non-finite stops there
    (diverged_step), the others go on. callback(s, {name: partial result}) after step s; False
    stops every model still training (stopped=True).
    """
    if not models:
        raise ValueError("models must name at least one model")
    acts = {}
    for name, params in models.items():
        act = activation if isinstance(params, Params) else None
        cell, _ = cell_and_activation(params, act)
        validate_params(params) if cell.name == "rnn" else cell.validate(params)
        acts[name] = act
    sizes = {(p.sizes[0], p.sizes[2]) for p in models.values()}
    if len(sizes) != 1:
        raise ValueError(f"every model must have the same D and O, got {sorted(sizes)}")
    steps = _check_steps(steps)
    clip_rule = parse_clip(clip)
    lr, momentum = _check_lr_momentum(lr, momentum)
    first_model = next(iter(models.values()))
    source = _data_source(task, params=first_model, T=T, batch=batch, seed=seed, text=text, delay=delay, loss=loss)
    first = source(1)
    _check_batch_fits(first, first_model, None)
    T = first.T
    live = {name: [params, None] for name, params in models.items()}          # params, velocity
    histories = {name: _History(steps, T, first.loss == "softmax_ce", params.names())
                 for name, params in models.items()}
    done: dict[str, TrainResult] = {}
    for s in range(1, steps + 1):
        data = first if s == 1 else source(s)
        _check_batch_fits(data, first_model, T)
        for name in list(live):
            params, velocity = live[name]
            stepped = _one_step(histories[name], s, params, velocity, data, acts[name], reduction, clip_rule, lr,
                                momentum)
            if stepped is None:
                done[name] = histories[name].result(s, params, diverged_step=s, stopped=False)
                del live[name]
            else:
                live[name] = stepped
        if not live:
            break
        if callback is not None and callback(s, _partial(histories, live, done, s)) is False:
            return {name: done.get(name) or histories[name].result(s, live[name][0], None, True) for name in models}
    return {name: done.get(name) or histories[name].result(steps, live[name][0], None, False) for name in models}


def _one_step(history, s: int, params, velocity, data, activation, reduction, clip_rule, lr, momentum):
    """Step s of one model, as rnn_core.train takes it: (new params, new velocity), or None when
    the loss, the gradient or the update is not finite (row s - 1 recorded either way)."""
    with np.errstate(all="ignore"):
        res = bptt(params, data.xs, data.ys, activation=activation, loss=data.loss, reduction=reduction,
                   mask=data.mask)
        if _record(history, s - 1, res, data):
            applied = apply_clip(res.grads, clip_rule)
            history.applied_norm[s - 1] = applied.global_norm()
            new_params, new_velocity = sgd_step(params, applied, velocity, lr=lr, momentum=momentum)
            if all(np.isfinite(a).all() for _, a in new_params.items()):
                return [new_params, new_velocity]
    history.applied_norm[s - 1] = np.nan
    return None


def _partial(histories, live, done, s: int) -> dict[str, TrainResult]:
    return {name: done[name] if name in done else histories[name].result(s, live[name][0], None, False)
            for name in histories}
