"""The quantities a lesson's answers and reveals name: computed from the live engine, never
written in a lesson file.

Each `Quantity` is computed on a config with the same rnn_core calls, norms and data as the
page that draws it, so that a reveal never contradicts the chart beside it:
- the Vanishing page's main curve ||ds_T/ds_k|| (k = 1..T): rc.jacobian_norms_to_last on
  state.params / state.data.xs, in the page's matrix norm (`v_norm`, spectral by default), its
  per-step factor and verdict as the page's summary computes them (fit_decay_factor,
  classify_factor) and its "Compare cells" models (ui.pages.vanishing.cell_configs);
- the Unrolled graph's gradient ||dL/dh_t|| (or ||dL_s/dh_t|| when it follows the term s =
  `g_source`): rnn_core.flow on state.bptt_result, with the sidebar's truncation;
- the Derivation page's gradient check (its own cached ui.pages.derivation.gradient_check) and
  the engine's dL/do_t, dL/dh_t split into its direct and indirect parts;
- the Training page's clipping comparison (its own service: ui.pages.training).

A value is a float (kind 'number'), an int step t in 1..T ('step'), or an outcome key
('outcome', one of `outcomes`, shown by its label).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import streamlit as st

import rnn_core as rc
from rnn_core.flow import full_flow, single_source
from ui import state
from ui.config import DATA, GRADIENT, MODEL, PAGE, WEIGHTS, Config
from ui.keys import EXACT

NUMBER, STEP, OUTCOME = "number", "step", "outcome"
ENGINE_ORD = {"2": 2, "fro": "fro"}       # the Vanishing page's v_norm -> rnn_core's ord
TRENDS = {"vanishing": "it vanishes", "stable": "it stays about the same size", "exploding": "it explodes"}
YES_NO = {"yes": "yes", "no": "no"}
SPLITS = {"direct": "only the direct part (through o_t)", "indirect": "only the indirect part (through the next state)",
          "both": "both parts", "neither": "neither part"}
SAME_DIRECTION = 1 - 1e-9                 # a cosine at least this: the same direction


@dataclass(frozen=True)
class Quantity:
    """One answer a lesson may name. compute: config -> value; text: what it is (for lesson
    authors, lessons/README.md); outcomes: an outcome quantity's keys and their labels."""

    name: str
    kind: str
    text: str
    compute: Callable[[Config], float | int | str]
    outcomes: Mapping[str, str] = field(default_factory=dict)

    def label(self, value) -> str:
        """How a reveal writes the value when no format is asked for."""
        if self.kind == OUTCOME:
            return self.outcomes.get(value, str(value))
        if self.kind == STEP:
            return str(int(value))
        return f"{value:.3g}"


# ---- the pages' numbers ------------------------------------------------------------------------

def jacobian_norms(cfg: Config) -> np.ndarray:
    """(T,): ||ds_T/ds_k|| for k = 1..T, the Vanishing page's main curve (its norm, v_norm)."""
    return rc.jacobian_norms_to_last(state.params(cfg), state.data(cfg).xs, activation=cfg.activation,
                                     ord=ENGINE_ORD[cfg.v_norm])


def trend(norms: np.ndarray) -> str:
    """'vanishing', 'stable' or 'exploding': the page's verdict (ui.pages.vanishing.summarise)."""
    factor = rc.fit_decay_factor(norms)
    if np.isfinite(factor) and factor > 0:
        return rc.classify_factor(factor)[0]
    return "exploding" if (~np.isfinite(norms)).any() else "stable"


def flow_norms(cfg: Config) -> np.ndarray:
    """(T,): ||dL/dh_t|| as the Unrolled graph colours h_t: the whole loss (g_source = 0) or the
    followed term L_s alone, under the sidebar's truncation."""
    result, params = state.bptt_result(cfg), state.params(cfg)
    flow = full_flow(result, params) if cfg.g_source == 0 else single_source(result, params, cfg.g_source)
    return np.linalg.norm(flow.dL_dh, axis=-1)


def followed_step(cfg: Config) -> int:
    """The step whose loss the graph follows (T for the whole loss)."""
    return cfg.g_source or cfg.T


def detail_step(cfg: Config, field_name: str) -> int:
    return min(max(int(getattr(cfg, field_name)), 1), cfg.T)


def gradcheck_report(cfg: Config) -> rc.GradcheckReport:
    """The Derivation page's finite-difference check (its own cached service)."""
    from ui.pages import derivation
    return derivation.gradient_check(derivation.key(cfg))


def gradcheck_max_error(cfg: Config) -> float:
    """The largest relative error of the Derivation page's finite-difference check."""
    return float(max(row.max_rel_error for row in gradcheck_report(cfg).rows))


def clipping(cfg: Config):
    """The Training page's clipping comparison (its own service, so the same batch and model)."""
    from ui.pages import training
    spec = training.TrainSpec.from_config(cfg, None)
    data = training.first_batch(spec, None)
    c = float(cfg.tr_clip_c)
    found = training.clipping_setup(cfg, spec, data, None, c)
    table, _ = training.clipping_table(found.key, None, c, found.batch, found.model.scale)
    return table


def cell_curves(cfg: Config) -> dict[str, np.ndarray]:
    """{cell: ||ds_T/ds_1..T||} of the Vanishing page's "Compare cells" models."""
    from ui.pages import vanishing
    return {cell: jacobian_norms(model.replace(v_norm=cfg.v_norm)) for cell, model in vanishing.cell_configs(cfg)}


# ---- the registry ------------------------------------------------------------------------------

def _spectral_radius(cfg: Config) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(state.params(cfg).W_hh))))


def _sigma_max(cfg: Config) -> float:
    return float(np.linalg.norm(state.params(cfg).W_hh, 2))


def _flow_survival(cfg: Config) -> float:
    norms = flow_norms(cfg)
    start = norms[followed_step(cfg) - 1]
    return float(norms[0] / start) if start > 0 else float("nan")


def _earliest_reached(cfg: Config) -> int:
    reached = np.flatnonzero(flow_norms(cfg) > 0)
    return int(reached[0]) + 1 if reached.size else cfg.T


def _first_vs_full(cfg: Config) -> float:
    full = flow_norms(cfg.replace(truncation="full"))[0]
    return float(flow_norms(cfg)[0] / full) if full > 0 else float("nan")


def split(cfg: Config, t: int) -> str:
    """Which parts of eq. (7) dL/dh_t has at step t: direct (through o_t), indirect (through
    h_{t+1}), both or neither (under the sidebar's truncation)."""
    result = state.bptt_result(cfg)
    direct = np.linalg.norm(result.dL_dh_direct[t - 1]) > 0
    indirect = np.linalg.norm(result.dL_dh_indirect[t - 1]) > 0
    return "both" if direct and indirect else "direct" if direct else "indirect" if indirect else "neither"


def _output_grad_sum(cfg: Config) -> float:
    return float(np.sum(state.bptt_result(cfg).dL_do[detail_step(cfg, "d_step") - 1]))


def _longest_memory(cfg: Config) -> str:
    curves = cell_curves(cfg)
    return max(curves, key=lambda cell: curves[cell][0])


def _cell_first(cell: str) -> Callable[[Config], float]:
    return lambda cfg: float(cell_curves(cfg)[cell][0])


def _clip_cosine(rule: int) -> Callable[[Config], float]:
    return lambda cfg: float(clipping(cfg).cosine[rule])


def _clip_keeps_direction(cfg: Config) -> str:
    return "yes" if clipping(cfg).cosine[2] >= SAME_DIRECTION else "no"


QUANTITIES: dict[str, Quantity] = {q.name: q for q in (
    # Vanishing & exploding
    Quantity("jacobian_first", NUMBER, "||ds_T/ds_1||: the main curve of Vanishing & exploding at k = 1",
             lambda cfg: float(jacobian_norms(cfg)[0])),
    Quantity("jacobian_factor", NUMBER, "the curve's per-step factor (its fit, as the page's verdict says)",
             lambda cfg: float(rc.fit_decay_factor(jacobian_norms(cfg)))),
    Quantity("jacobian_trend", OUTCOME, "the page's verdict: vanishing, stable or exploding",
             lambda cfg: trend(jacobian_norms(cfg)), TRENDS),
    Quantity("spectral_radius", NUMBER, "rho: the largest |eigenvalue| of W_hh", _spectral_radius),
    Quantity("sigma_max", NUMBER, "the largest singular value of W_hh", _sigma_max),
    Quantity("sigma_above_one", OUTCOME, "whether the largest singular value of W_hh is above 1",
             lambda cfg: "yes" if _sigma_max(cfg) > 1 else "no", YES_NO),
    Quantity("bound_first", NUMBER, "the bound (gamma sigma_max)^(T-1) of eq. (11) at k = 1",
             lambda cfg: float(rc.jacobian_bound(state.params(cfg), cfg.activation, cfg.T)[0])),
    Quantity("rnn_first", NUMBER, "||ds_T/ds_1|| of the vanilla RNN in Compare cells", _cell_first("rnn")),
    Quantity("lstm_first", NUMBER, "||ds_T/ds_1|| of the LSTM in Compare cells", _cell_first("lstm")),
    Quantity("gru_first", NUMBER, "||ds_T/ds_1|| of the GRU in Compare cells", _cell_first("gru")),
    Quantity("longest_memory_cell", OUTCOME, "the cell of Compare cells with the largest ||ds_T/ds_1||",
             _longest_memory, {key: cell.title for key, cell in rc.CELLS.items()}),
    # Unrolled graph
    Quantity("flow_first", NUMBER, "||dL/dh_1|| on the graph (of the followed term, or the whole loss)",
             lambda cfg: float(flow_norms(cfg)[0])),
    Quantity("flow_survival", NUMBER, "||dL/dh_1|| over ||dL/dh_s|| at the followed step s (T for the whole loss)",
             _flow_survival),
    Quantity("flow_peak_step", STEP, "the step t whose h_t gets the largest ||dL/dh_t|| on the graph",
             lambda cfg: int(np.argmax(flow_norms(cfg))) + 1),
    Quantity("earliest_reached_step", STEP, "the earliest step t whose h_t gets any gradient on the graph",
             _earliest_reached),
    Quantity("first_vs_full", NUMBER, "||dL/dh_1|| with the sidebar's truncation over ||dL/dh_1|| of full BPTT",
             _first_vs_full),
    Quantity("split_at_step", OUTCOME, "which parts of eq. (7) dL/dh_t has at the graph's step in detail (g_step)",
             lambda cfg: split(cfg, detail_step(cfg, "g_step")), SPLITS),
    # Derivation
    Quantity("output_grad_sum", NUMBER, "the sum of the entries of dL/do_t at the Derivation's step t (d_step)",
             _output_grad_sum),
    Quantity("derivation_split", OUTCOME, "which parts of eq. (7) dL/dh_t has at the Derivation's step t (d_step)",
             lambda cfg: split(cfg, detail_step(cfg, "d_step")), SPLITS),
    Quantity("indirect_norm", NUMBER, "||indirect part of dL/dh_t|| at the Derivation's step t (d_step)",
             lambda cfg: float(np.linalg.norm(state.bptt_result(cfg).dL_dh_indirect[detail_step(cfg, "d_step") - 1]))),
    Quantity("gradcheck_max_error", NUMBER, "the largest relative error of the Derivation's finite-difference check",
             gradcheck_max_error),
    Quantity("gradcheck_passes", OUTCOME, "whether every entry of the finite-difference check passes",
             lambda cfg: "yes" if gradcheck_report(cfg).passed else "no", YES_NO),
    # Training: clipping
    Quantity("clip_norm_cosine", NUMBER, "cosine between the raw gradient and its clipping by global norm",
             _clip_cosine(1)),
    Quantity("clip_value_cosine", NUMBER, "cosine between the raw gradient and its element-wise clipping",
             _clip_cosine(2)),
    Quantity("clip_raw_norm", NUMBER, "||g|| of the raw gradient in the clipping comparison",
             lambda cfg: float(clipping(cfg).raw_norm)),
    Quantity("clip_value_keeps_direction", OUTCOME, "whether element-wise clipping keeps the gradient's direction",
             _clip_keeps_direction, YES_NO),
)}

# What a quantity can depend on: everything but the display (notation, presentation, lesson)
KEY_ROLES = (WEIGHTS, MODEL, DATA, GRADIENT, PAGE)


@st.cache_data(max_entries=128, show_spinner=False, hash_funcs=EXACT)
def _cached(name: str, key: Config):
    return QUANTITIES[name].compute(key)


def value(name: str, cfg: Config):
    """The quantity `name` on `cfg` (cached on the config without its display fields)."""
    return _cached(name, cfg.project(*KEY_ROLES))
