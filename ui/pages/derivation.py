"""The Derivation page's service: its cost model, cached computations and the export.

views/derivation.py lays out widgets and calls this module; ui/derivation.py writes the stages
(equations, numbers, words) from what this module computes; ui/figures/derivation.py draws the
double sum. Every cache keys on the config projected onto the exact model and its data (`key`):
the notation, the step, the learning rate and the truncation chosen for other pages never
recompute the exact gradient.

Cost model: what a link can ask of this page (T <= 500, H <= 256, D, O <= 64, any step t, any
edits) in work units an operation costs, and their estimated seconds (`plan`):
- the exact BPTT of the model, twice (before and after the update (12)): 3 T (H^2 + H D + O H);
- the double sum (9) of loss term t: about t^2 H^2 (rnn_core.contributions), within
  DOUBLE_SUM_WORK (~0.3 s; t = 500 at H = 32);
- the product dh_T/dh_t of stage (8): (T - t) H^3, within PRODUCT_WORK (~0.1 s; 64 steps at H = 256);
- the terms of eq. (7) unrolled: about (T - t)^2 H^2 / 2, within DOUBLE_SUM_WORK;
- the gradient check: two forward passes per checked entry of six arrays, within GRADCHECK_WORK
  (all entries of a small model, a sample of a big one).
A part beyond its budget is left out with a note saying so. A ui.budget.Guard stops the parts
that are not cached yet once GUARD_SECONDS of wall clock have passed (a loaded server).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui import derivation
from ui import state
from ui.budget import Guard
from ui.config import EXACT_NUMBERS, Config
from ui.keys import EXACT
from ui.notation import NOTATIONS

CACHE_ENTRIES = 32
MULTIPLY_ADD_RATE = 1e9        # multiply-adds per second of the loops here (one BLAS thread, small H)
DOUBLE_SUM_WORK = 2 ** 28      # t^2 H^2 of the double sum's split: ~0.3 s (e.g. t = 500, H = 32)
PRODUCT_WORK = 2 ** 30         # (T - t) H^3 of the product dh_T/dh_t: ~0.1 s (H = 256: 64 steps)
GRADCHECK_WORK = 50_000        # units of T (1 + H^2 / 1024), the live check's budget
GRADCHECK_MIN_ENTRIES = 2
GRADCHECK_ARRAYS = 6           # five parameters and h_0
GUARD_SECONDS = 4.0            # wall clock: past this no part that is not cached yet starts


@dataclass(frozen=True)
class Plan:
    """What one run of the page computes at step t, and its estimated CPU seconds.

    double_sum, product, unrolled_terms: whether each part fits its budget;
    gradcheck_entries: entries per array the live check takes.
    """

    solve: float
    double_sum: bool
    product: bool
    unrolled_terms: bool
    gradcheck_entries: int
    seconds: float


def double_sum_affordable(t: int, H: int) -> bool:
    """Whether the split of loss term t (about t^2 H^2 work) fits DOUBLE_SUM_WORK."""
    return t * t * H * H <= DOUBLE_SUM_WORK


def gradcheck_entries(T: int, H: int) -> int:
    """How many entries per array the live check takes: all of a small model, a few of a big one.

    Each checked entry costs two forward passes of about T (1 + H^2 / 1024) units (a step's
    overhead plus its H x H product); six arrays share GRADCHECK_WORK.
    """
    per_entry = 2 * T * (1 + H * H / 1024)
    return max(GRADCHECK_MIN_ENTRIES, int(GRADCHECK_WORK / (GRADCHECK_ARRAYS * per_entry)))


def plan(config: Config, t: int) -> Plan:
    """The parts a link asks for at step t, each kept only within its budget."""
    T, H, D, O = config.T, config.H, config.D, config.O
    solve = 2 * 3 * T * (H * H + H * D + O * H)
    double_sum = double_sum_affordable(t, H)
    product = (T - t) * H ** 3 <= PRODUCT_WORK
    unrolled = double_sum_affordable(T - t + 1, H)
    entries = gradcheck_entries(T, H)
    work = (solve + double_sum * t * t * H * H + product * (T - t) * H ** 3
            + unrolled * (T - t + 1) ** 2 * H * H / 2
            + GRADCHECK_ARRAYS * entries * 2 * T * (H * H + H * D + O * H))
    return Plan(solve=solve / MULTIPLY_ADD_RATE, double_sum=double_sum, product=product,
                unrolled_terms=unrolled, gradcheck_entries=entries, seconds=work / MULTIPLY_ADD_RATE)


def guard() -> Guard:
    """The wall-clock guard of one run of the page."""
    return Guard(GUARD_SECONDS)


# ---- cached computations ---------------------------------------------------------------------

def key(config: Config) -> Config:
    """What the exact derivation depends on (the model and its data): the page's cache key."""
    return config.project(*EXACT_NUMBERS)


def example_of(key: Config) -> derivation.Example:
    data = state.data(key)
    return derivation.Example(state.params(key), data.xs, data.ys, data.mask, key.activation, key.loss,
                        key.reduction)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def solved(key: Config):
    """(Example, exact BPTTResult) of a model key."""
    example = example_of(key)
    return example, example.solve()


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def double_sum(key: Config, t: int) -> derivation.DoubleSum | None:
    """The terms of eq. (9) for loss term t; None beyond the plan's budget."""
    if not plan(key, t).double_sum:
        return None
    example, result = solved(key)
    return derivation.double_sum_terms(example, result, t)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def numbers(key: Config, t: int, lr: float) -> derivation.Numbers:
    """The engine's results the stages at step t print (Jacobians, unrolled terms, the loss
    after the update with lr), each within the plan's budget."""
    example, result = solved(key)
    parts = plan(key, t)
    return derivation.numbers(example, result, t=t, lr=lr, product=parts.product,
                              unrolled_terms=parts.unrolled_terms)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def stages(key: Config, notation: str, t: int, lr: float) -> tuple[derivation.Stage, ...]:
    """Every stage at step t in `notation` (written from cached numbers: a new notation asks the
    engine for nothing)."""
    example, result = solved(key)
    return derivation.build(example, result, t=t, notation=notation, lr=lr, double_sum=double_sum(key, t),
                            numbers_=numbers(key, t, lr))


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def gradient_check(key: Config):
    """rnn_core.gradcheck of the model (all entries of a small one, a sample of a big one)."""
    example, _ = solved(key)
    return derivation.gradient_check(example, max_entries=gradcheck_entries(key.T, key.H))


# ---- the export -----------------------------------------------------------------------------

def markdown(stages, config: Config, t: int, rows: list[dict], terms: derivation.DoubleSum | None) -> str:
    """The whole derivation of this instance (every stage, the double sum, the gradient check)
    as Markdown with $$...$$ LaTeX, for lecture notes."""
    n = NOTATIONS[config.notation]
    header = [f"Notation: **{n.title}** ({n.source}): ${n.mapping()}$",
              f"Model: T = {config.T}, H = {config.H}, D = {config.D}, O = {config.O}, activation "
              f"{config.activation}, loss {config.loss}, reduction {config.reduction}, initialiser "
              f"{config.init}, spectral radius {config.rho}, seed {config.seed}, task {config.task}.",
              f"Numbers at step t = {t}, printed with {derivation.DIGITS} significant digits. "
              f"The same view in the app: <{state.share_url(config)}>"]
    tables = {"Gradient check": rows}
    if terms is not None:
        tables[f"The double sum at t = {t}"] = derivation.double_sum_rows(terms)
    return derivation.to_markdown(stages, title=f"Backpropagation through time, step by step (t = {t})",
                            header=header, tables=tables)


def total_norm(terms: derivation.DoubleSum) -> float:
    """The norm of the double sum's total, d(w_t L_t)/dW_hh."""
    return float(np.linalg.norm(terms.total))
