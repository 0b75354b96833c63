"""The Model & weights page's service: its cost model, cached files and what an upload or an
edited table does to the config.

views/model.py lays out widgets and calls this module; ui/figures/model.py draws the heatmaps;
ui/weights_table.py turns arrays into the editable tables and back; ui/weights_io.py reads and
writes weights files. Everything cached here keys on the weights alone (`Config.project(WEIGHTS)`):
the notation, presentation mode and other pages' views never rewrite the files.

Cost model: what a link can ask of this page (H <= 256, D, O <= 64, up to ~100k edits) is
counted in numbers drawn or written (`plan`): the five heatmaps (every weight once, its value
written in the cell only for small matrices), the one open editable table, and the .npz and
.json downloads (written once per model, cached). A ui.budget.Guard stops the optional parts
(the downloads' files when they are not cached yet) after GUARD_SECONDS of wall clock, and the
page says so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

import rnn_core as rc
from ui import state
from ui.budget import Guard
from ui.config import WEIGHTS, Config, build_params, edits_between, param_shapes, parse, task_fixes
from ui.keys import EXACT
from ui.weights_io import WeightsFileError, load_weights, to_json_bytes, to_npz_bytes

CELL_SECONDS = 1e-6        # one weight drawn in a heatmap or a table (JSON, base64, the browser's share)
FILE_SECONDS = 2e-6        # one weight written into the .npz and .json files
GUARD_SECONDS = 4.0        # wall clock: past this no optional part of the page starts


@dataclass(frozen=True)
class Plan:
    """Numbers one visit draws and writes, and its estimated CPU seconds."""

    weights: int           # every entry of the five parameters (each drawn once in the heatmaps)
    table: int             # the largest editable table (one tab open at a time)
    seconds: float


def plan(config: Config) -> Plan:
    """What a link asks of this page (D, H, O, edits), in numbers and estimated seconds."""
    sizes = [int(np.prod(shape)) for shape in param_shapes(config).values()]
    weights, table = sum(sizes), max(sizes)
    seconds = (weights + table) * CELL_SECONDS + weights * FILE_SECONDS + len(config.edits) * CELL_SECONDS
    return Plan(weights=weights, table=table, seconds=seconds)


def guard() -> Guard:
    """The wall-clock guard of one run of the page."""
    return Guard(GUARD_SECONDS)


# ---- cached files and numbers ------------------------------------------------------------------

@st.cache_data(max_entries=8, show_spinner=False, hash_funcs=EXACT)
def _weight_files(key: Config) -> tuple[bytes, bytes]:
    weights = state.params(key)
    return to_npz_bytes(weights), to_json_bytes(weights)


def weight_files(config: Config) -> tuple[bytes, bytes]:
    """The .npz and .json downloads of the config's weights: up to ~3 MB to write at the largest
    sizes, so written once per model (cached on WEIGHTS), not on every rerun of the page."""
    return _weight_files(config.project(WEIGHTS))


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=EXACT)
def _spectrum(key: Config) -> tuple[float, float]:
    W_hh = state.params(key).W_hh
    return float(rc.spectral_radius(W_hh)), float(rc.singular_values(W_hh)[0])


def spectrum(config: Config) -> tuple[float, float]:
    """(spectral radius, largest singular value) of the config's W_hh (cached on WEIGHTS)."""
    return _spectrum(config.project(WEIGHTS))


# ---- what uploads and edits do to the config ----------------------------------------------------

def adopt_weights(filename: str, data: bytes) -> tuple[bool, str]:
    """Make the file's weights the config's (as edits on the initialiser); keep the old on error.
    Returns (whether they were adopted, the message to show)."""
    config = state.config()
    try:
        uploaded = load_weights(filename, data)
    except WeightsFileError as err:
        return False, f"Could not use '{filename[:60]}': {err} The previous weights are kept."
    D, H, O = uploaded.sizes
    fixed = task_fixes(config.task)
    clashes = [f"{k} = {fixed[k]} (the file has {v})" for k, v in (("D", D), ("O", O)) if k in fixed and fixed[k] != v]
    if clashes:
        return False, (f"Could not use '{filename[:60]}': the task '{rc.TASKS[config.task].title}' needs "
                       f"{', '.join(clashes)}. The previous weights are kept.")
    sized, _ = parse({"D": D, "H": H, "O": O}, base=config.replace(edits=()))
    state.set_config(sized.replace(edits=edits_between(build_params(sized), uploaded)))
    resized = (D, H, O) != (config.D, config.H, config.O)
    return True, (f"Loaded the weights of '{filename[:60]}'" +
                  (f"; the model now has D = {D}, H = {H}, O = {O} as in the file." if resized else "."))


def take_table(config: Config, name: str, new: np.ndarray) -> tuple[bool, str | None]:
    """Make `new` (the edited table of parameter `name`, engine-oriented) the config's edits.
    Returns (whether the config changed, why the table was refused or None)."""
    params = state.params(config)
    if np.array_equal(new, getattr(params, name)):
        return False, None
    if not np.all(np.isfinite(new)):
        return False, f"An emptied or non-numeric cell of {name} is not a weight; the previous value is kept."
    base = state.params(config.replace(edits=()))
    state.set_config(config.replace(edits=edits_between(base, params.replace(**{name: new}))), reset_widgets=False)
    return True, None
