"""The Derivation page's service: its cost model, cached computations and the export.

views/derivation.py lays out widgets and calls this module; ui/derivation.py writes the stages
(equations, numbers, words) from what this module computes; ui/figures/derivation.py draws the
double sum. Every cache keys on the config projected onto the exact model and its data (`key`):
the notation, the step, the learning rate and the truncation chosen for other pages never
recompute the exact gradient.

Cost model: what a link can ask of this page (T <= 500, H <= 256, D, O <= 64, any step t, any
edits, any cell) in work units an operation costs, and their estimated seconds (`plan`):
- the exact BPTT of the model, twice (before and after the update (12)): 3 T (G (H^2 + H D) + O H),
  G = GATE_BLOCKS[cell] the cell's blocks of recurrent products (1, LSTM 4, GRU 3);
- the double sum (9) of loss term t: about t^2 H^2 (rnn_core.contributions), within
  DOUBLE_SUM_WORK (~0.3 s; t = 500 at H = 32);
- the product dh_T/dh_t of stage (8): (T - t) H^3, within PRODUCT_WORK (~0.1 s; 64 steps at H = 256);
- the terms of eq. (7) unrolled: about (T - t)^2 H^2 / 2, within DOUBLE_SUM_WORK;
- the gradient check: two forward passes per checked entry of every parameter and initial state
  (6 arrays; LSTM 16, GRU 12), within GRADCHECK_WORK (all entries of a small model, a sample of a big one).
The double sum, the product and the unrolled terms are the vanilla walk's; a gated cell's walk
prints the engine's results at step t only (its stages cost the printing).
A part beyond its budget is left out with a note saying so. A ui.budget.Guard stops the parts
that are not cached yet once GUARD_SECONDS of wall clock have passed (a loaded server).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

import rnn_core as rc
from ui import derivation
from ui import derivation_code, derivation_gated
from ui import state
from ui.budget import Guard
from ui.config import EXACT_NUMBERS, Config
from ui.keys import EXACT
from ui import notation as nt
from ui.notation import NOTATIONS

CACHE_ENTRIES = 32
MULTIPLY_ADD_RATE = 1e9        # multiply-adds per second of the loops here (one BLAS thread, small H)
DOUBLE_SUM_WORK = 2 ** 28      # t^2 H^2 of the double sum's split: ~0.3 s (e.g. t = 500, H = 32)
PRODUCT_WORK = 2 ** 30         # (T - t) H^3 of the product dh_T/dh_t: ~0.1 s (H = 256: 64 steps)
GRADCHECK_WORK = 50_000        # units of T (1 + H^2 / 1024), the live check's budget
GRADCHECK_MIN_ENTRIES = 2
# a gated cell has 2-3x the arrays and 3-4x the work per forward pass: at its largest one entry of
# each array keeps the check near the vanilla cell's time (bench/derivation.py)
GATED_MIN_ENTRIES = 1
GRADCHECK_ARRAYS = 6           # five parameters and h_0 (the vanilla cell)
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}   # blocks of recurrent products a step computes
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


def gradcheck_arrays(cell: str) -> int:
    """How many arrays the check covers: every parameter of the cell and its initial state(s)."""
    c = rc.get_cell(cell)
    return len(c.param_names) + (2 if c.memory else 1)


def gradcheck_entries(T: int, H: int, cell: str = "rnn") -> int:
    """How many entries per array the live check takes: all of a small model, a few of a big one.

    Each checked entry costs two forward passes of about T G (1 + H^2 / 1024) units (a step's
    overhead plus its G blocks of H x H products); the cell's arrays share GRADCHECK_WORK.
    """
    per_entry = 2 * T * GATE_BLOCKS[cell] * (1 + H * H / 1024)
    least = GRADCHECK_MIN_ENTRIES if cell == "rnn" else GATED_MIN_ENTRIES
    return max(least, int(GRADCHECK_WORK / (gradcheck_arrays(cell) * per_entry)))


def plan(config: Config, t: int) -> Plan:
    """The parts a link asks for at step t, each kept only within its budget."""
    T, H, D, O = config.T, config.H, config.D, config.O
    G, vanilla = GATE_BLOCKS[config.cell], config.cell == "rnn"
    step = G * (H * H + H * D) + O * H
    solve = 2 * 3 * T * step
    double_sum = vanilla and double_sum_affordable(t, H)
    product = vanilla and (T - t) * H ** 3 <= PRODUCT_WORK
    unrolled = vanilla and double_sum_affordable(T - t + 1, H)
    entries = gradcheck_entries(T, H, config.cell)
    work = (solve + double_sum * t * t * H * H + product * (T - t) * H ** 3
            + unrolled * (T - t + 1) ** 2 * H * H / 2
            + gradcheck_arrays(config.cell) * entries * 2 * T * step)
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
    """The terms of eq. (9) for loss term t; None beyond the plan's budget (and for gated cells)."""
    if not plan(key, t).double_sum:
        return None
    example, result = solved(key)
    return derivation.double_sum_terms(example, result, t)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def numbers(key: Config, t: int, lr: float) -> derivation.Numbers:
    """The engine's results the vanilla stages at step t print (Jacobians, unrolled terms, the
    loss after the update with lr), each within the plan's budget."""
    example, result = solved(key)
    parts = plan(key, t)
    return derivation.numbers(example, result, t=t, lr=lr, product=parts.product,
                              unrolled_terms=parts.unrolled_terms)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def gated_numbers(key: Config, lr: float) -> derivation_gated.GatedNumbers:
    """A gated cell's update (12) with lr and the loss after it: the same at every step t."""
    example, result = solved(key)
    return derivation_gated.numbers(example, result, lr=lr)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def stages(key: Config, notation: str, t: int, lr: float) -> tuple[derivation.Stage, ...]:
    """Every stage at step t in `notation` (written from cached numbers: a new notation asks the
    engine for nothing)."""
    example, result = solved(key)
    if key.cell != "rnn":
        return derivation_gated.build(example, result, t=t, notation=notation, lr=lr,
                                      numbers_=gated_numbers(key, lr))
    return derivation.build(example, result, t=t, notation=notation, lr=lr, double_sum=double_sum(key, t),
                            numbers_=numbers(key, t, lr))


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False, hash_funcs=EXACT)
def gradient_check(key: Config):
    """rnn_core.gradcheck of the model (all entries of a small one, a sample of a big one)."""
    example, _ = solved(key)
    return derivation.gradient_check(example, max_entries=gradcheck_entries(key.T, key.H, key.cell))


# ---- the export -----------------------------------------------------------------------------

def markdown(stages, config: Config, t: int, rows: list[dict], terms: derivation.DoubleSum | None) -> str:
    """The whole derivation of this instance (every stage, the double sum, the gradient check)
    as Markdown with $$...$$ LaTeX, for lecture notes."""
    n = NOTATIONS[config.notation]
    cell = rc.get_cell(config.cell)
    weights = (f"spectral radius {config.rho}" if config.cell == "rnn" else
               f"forget-gate bias {config.forget_bias}" if config.cell == "lstm" else "")
    names = nt.cell_names(n, config.cell)
    header = [f"Notation: **{n.title}** ({n.source}): ${n.mapping()}$"
              + (f". {names.note}" if names is not None else ""),
              f"Model: {cell.title}, T = {config.T}, H = {config.H}, D = {config.D}, O = {config.O}, activation "
              f"{config.activation}, loss {config.loss}, reduction {config.reduction}, initialiser "
              f"{config.init}, " + (f"{weights}, " if weights else "") + f"seed {config.seed}, task {config.task}.",
              f"Numbers at step t = {t}, printed with {derivation.DIGITS} significant digits. "
              f"The same view in the app: <{state.share_url(config)}>"]
    tables = {"Gradient check": rows}
    if terms is not None:
        tables[f"The double sum at t = {t}"] = derivation.double_sum_rows(terms)
    text = derivation.to_markdown(stages, title=f"Backpropagation through time, step by step (t = {t})",
                                  header=header, tables=tables)
    return text + "\n" + loop_markdown(config.cell, config.notation, config.loss)


def loop_markdown(cell: str, notation: str, loss: str) -> str:
    """The engine's reference loop and, per line, the equation it computes (Markdown)."""
    loop = derivation_code.loop(cell)
    eqs = derivation_code.equations(cell, notation, loss=loss)
    out = [f"## The engine's reference loop ({rc.get_cell(cell).title})", "", "```python", loop.annotated(),
           "```", ""]
    out += ["$$", derivation_code.aligned(loop, eqs), "$$"]
    return "\n".join(out) + "\n"


def total_norm(terms: derivation.DoubleSum) -> float:
    """The norm of the double sum's total, d(w_t L_t)/dW_hh."""
    return float(np.linalg.norm(terms.total))
