"""The Model & weights page's service: its cost model, cached files and what an upload or an
edited table does to the config.

views/model.py lays out widgets and calls this module; ui/figures/model.py draws the heatmaps;
ui/weights_table.py turns arrays into the editable tables and back; ui/weights_io.py reads and
writes weights files. Everything cached here keys on the weights alone (`Config.project(WEIGHTS)`):
the notation, presentation mode and other pages' views never rewrite the files.

Every cell: the vanilla RNN's five parameters, the LSTM's 14 and the GRU's 11 (a gate's
W_x*, W_h*, b_* and the output layer's W_hy, b_y; ui.weights_table.param_groups). The files
record the cell; an upload for another cell than the config's is refused with the cell it
holds, and can be adopted by switching the cell (`adopt_weights(..., switch_cell=True)`).

Cost model: what a link can ask of this page (H <= 256, D, O <= 64, up to ~345k edits for the
largest LSTM) is counted in numbers drawn or written (`plan`): the heatmaps (every weight once,
its value written in the cell only for small matrices), the open tab's editable tables (one
parameter for the vanilla cell, one gate's three for a gated cell), and the .npz and .json
downloads (written once per model, cached). A ui.budget.Guard stops the optional parts
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
from ui.figures.model import MAX_EDIT_MARKS, weight_heatmaps
from ui.keys import EXACT
from ui.notation import ENGINE, NOTATIONS, Notation, aligned, equations, plain
from ui.pages import SentFigure, sent
from ui.weights_io import MAX_FILE_BYTES, WeightsFileError, load_weights, to_json_bytes, to_npz_bytes
from ui.weights_table import param_groups, param_latex

CELL_SECONDS = 1e-6        # one weight drawn in a heatmap or a table (JSON, base64, the browser's share)
FILE_SECONDS = 1e-6        # one weight written into the .npz and .json files (measured 0.65 us, every cell)
GUARD_SECONDS = 4.0        # wall clock: past this no optional part of the page starts


@dataclass(frozen=True)
class Plan:
    """Numbers one visit draws and writes, and its estimated CPU seconds."""

    weights: int           # every entry of the cell's parameters (each drawn once in the heatmaps)
    table: int             # the entries of the largest tab's tables (one tab open at a time)
    seconds: float


def tabs(cell: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(label, parameter names) of the editor's tabs: one parameter each for the vanilla cell
    (as before the gated cells), one gate group each for a gated cell (14 LSTM tabs would not fit)."""
    if cell == "rnn":
        return tuple((name, (name,)) for group in param_groups(cell) for name in group.names)
    return tuple((group.title, group.names) for group in param_groups(cell))


def plan(config: Config) -> Plan:
    """What a link asks of this page (cell, D, H, O, edits), in numbers and estimated seconds."""
    shapes = param_shapes(config)
    sizes = {name: int(np.prod(shape)) for name, shape in shapes.items()}
    weights = sum(sizes.values())
    table = max(sum(sizes[name] for name in names) for _, names in tabs(config.cell))
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


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=EXACT)
def _heatmaps(key: Config, notation: str, presentation: bool) -> SentFigure:
    # outlines only where they can be told apart (an upload edits every entry: none then)
    edited = {(name, index) for name, index, _ in key.edits} if len(key.edits) <= MAX_EDIT_MARKS else frozenset()
    return sent(weight_heatmaps(state.params(key), NOTATIONS[notation], edited=edited, presentation=presentation))


def heatmaps(config: Config) -> SentFigure:
    """The weights' heatmaps (ui.figures.model.weight_heatmaps, edited entries outlined), kept
    across reruns on the weights, the notation and presentation mode, and sent as a dict made
    once: the page's own actions (opening another weight table) do not rebuild them. Callers
    must not change the figure."""
    return _heatmaps(config.project(WEIGHTS), config.notation, config.presentation)


@dataclass(frozen=True)
class Spectrum:
    """The spectral radius and largest singular value of one recurrent block W_h* (H, H)."""

    name: str              # the engine's name: W_hh (vanilla, GRU candidate), W_hf, W_hz, ...
    group: str             # the gate it belongs to (ui.weights_table.param_groups' title)
    radius: float
    largest: float


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=EXACT)
def _spectra(key: Config) -> tuple[Spectrum, ...]:
    params = state.params(key)
    return tuple(Spectrum(name, group.title, float(rc.spectral_radius(getattr(params, name))),
                          float(rc.singular_values(getattr(params, name))[0]))
                 for group in param_groups(key.cell)[:-1] for name in group.names if name.startswith("W_h"))


def spectra(config: Config) -> tuple[Spectrum, ...]:
    """The spectrum of each recurrent block of the config's cell, in gate order: the vanilla
    cell's W_hh; the LSTM's W_hi, W_hf, W_ho, W_hc; the GRU's W_hr, W_hz, W_hh (cached on WEIGHTS)."""
    return _spectra(config.project(WEIGHTS))


def spectrum(config: Config) -> tuple[float, float]:
    """(spectral radius, largest singular value) of the vanilla config's W_hh."""
    [only] = spectra(config)
    return only.radius, only.largest


def too_big_to_upload(npz_bytes: bytes) -> str | None:
    """Why the model's own .npz cannot come back through the uploader (the largest LSTMs), or None."""
    if len(npz_bytes) <= MAX_FILE_BYTES:
        return None
    return (f"At these sizes the .npz file is {len(npz_bytes) / 2**20:.1f} MB, more than the "
            f"{MAX_FILE_BYTES // 2**20} MB an upload may have: it can be read with NumPy, not uploaded here again.")


# ---- words and symbols from the live config --------------------------------------------------------

def count_formula(cell: str) -> str:
    """LaTeX of the cell's parameter count in D, H, O: HD + H^2 + H + OH + O for the vanilla
    cell, 4(HD + H^2 + H) + OH + O for the LSTM (a block per gate), 3(...) for the GRU."""
    blocks = len(param_groups(cell)) - 1
    recurrent = "HD + H^2 + H" if blocks == 1 else f"{blocks}(HD + H^2 + H)"
    return f"{recurrent} + OH + O"


def arrays_line(cell: str) -> str:
    """What an upload must hold, for the uploader's label."""
    names = rc.get_cell(cell).param_names
    if cell == "rnn":
        return f"the five arrays {', '.join(names)}"
    return (f"the {rc.get_cell(cell).title}'s {len(names)} arrays, a gate's W_x*, W_h*, b_* for * = "
            f"{', '.join(g.names[2][2:] for g in param_groups(cell)[:-1])}, and W_hy, b_y")


def spectra_table(config: Config, n: Notation):
    """The recurrent blocks' spectra as a small table: gate, matrix, ρ, σ_max (3 decimals)."""
    import pandas as pd
    rows = [(s.group, plain(param_latex(n, config.cell, s.name)), f"{s.radius:.3f}", f"{s.largest:.3f}")
            for s in spectra(config)]
    return pd.DataFrame(rows, columns=["gate", "recurrent block", "ρ", "σ_max"]).set_index("gate")


def gated_spectra_caption(config: Config) -> str:
    """What the recurrent blocks' spectra say, and do not say, about a gated cell's gradient."""
    largest = max(spectra(config), key=lambda s: s.largest)
    path = (r"the memory path $c_{t-1} \to c_t$ is multiplied by the forget gate $f_t$ alone" if config.cell == "lstm"
            else r"the path $h_{t-1} \to h_t$ that skips the candidate is multiplied by the update gate $z_t$ alone")
    return (f"The largest σ_max is {largest.largest:.3f} (${param_latex(ENGINE, config.cell, largest.name)}$, "
            f"{largest.group.lower()}). In a gated cell no single matrix bounds a step's gain: each block is "
            f"scaled by the slope of its gate's σ (at most 1/4) or of tanh (at most 1), and {path} "
            "(see Vanishing & exploding).")


def initialiser_caption(config: Config) -> str:
    """How the config's gated cell was initialised, with the forget gate's live starting value."""
    drawn = (r"every $W_{h\ast}$ a random orthogonal matrix, the $W_{x\ast}$ and $W_{hy}$ drawn normal"
             if config.init == "orthogonal" else f"every weight drawn {config.init}")
    words = f"Initialiser: {config.init}, seed {config.seed}: {drawn}; biases start at zero"
    if config.cell != "lstm":
        return words + "."
    f0 = 1.0 / (1.0 + np.exp(-config.forget_bias))
    return (words + f" except the forget gate's, $b_f = {config.forget_bias:g}$, so $f_t$ starts near "
            rf"$\sigma({config.forget_bias:g}) = {f0:.2f}$ (where $W_{{xf}} x_t + W_{{hf}} h_{{t-1}}$ is small).")


# ---- the gated cells' equations ---------------------------------------------------------------

OUTPUT_GATE = r"{\Gamma_o}"    # o_t stays the logits (DESIGN.md), so the gate is deeplearning.ai's Gamma_o
# (label, left side, right side) of rnn_core's (L1)-(L6) and (G1)-(G4): a gate letter for a gate
# or candidate (an affine map of x_t and h_{t-1} through sigma or tanh), else a template whose
# {f}, {c_prev}, ... are filled with the notation's states.
GATED_EQUATIONS = {
    "lstm": (("L1", "i", "i"), ("L2", "f", "f"), ("L3", OUTPUT_GATE, "o"), ("L4", r"{\tilde c}", "c"),
             ("L5", "c", r"{f} \odot {c_prev} + {i} \odot {c_tilde}"), ("L6", "h", r"{G} \odot \tanh({c})")),
    "gru": (("G1", "r", "r"), ("G2", "z", "z"), ("G3", r"{\tilde h}", "h"),
            ("G4", "h", r"{z} \odot {h_prev} + (1 - {z}) \odot {h_tilde}")),
}
CANDIDATES = {"c", "h"}      # the blocks whose nonlinearity is tanh, not the sigmoid


def gated_block(n: Notation, cell: str, *, loss: str, reduction: str, every_step: bool) -> str:
    """The gated cell's forward equations (rnn_core's (L1)-(L6) or (G1)-(G4)) in notation n's
    states and conventions (row vectors: x W), with the engine's gate names (W_xf, b_f), then
    the output layer and the loss as the vanilla model's (3), (4), (5) and the prediction."""
    def at(symbol: str, t: str) -> str:    # the output gate's own subscript: Gamma_{o,t}, Gamma_o^{(t)}
        if symbol == OUTPUT_GATE and not n.superscript_time:
            return rf"\Gamma_{{o,{t}}}"
        return n.at(symbol, t)

    fill = {"x": at(n.x, "t"), "h_prev": at(n.h, "t-1"), "c_prev": at("c", "t-1"), "c": at("c", "t"),
            "i": at("i", "t"), "f": at("f", "t"), "G": at(OUTPUT_GATE, "t"), "z": at("z", "t"),
            "c_tilde": at(r"{\tilde c}", "t"), "h_tilde": at(r"{\tilde h}", "t")}
    rows, labels = [], []
    for label, symbol, rest in GATED_EQUATIONS[cell]:
        if len(rest) == 1:      # a gate or candidate: an affine map of x_t and h_{t-1} (r_t * h_{t-1} in (G3))
            h_in = rf"({at('r', 't')} \odot {fill['h_prev']})" if cell == "gru" and rest == "h" else fill["h_prev"]
            f = r"\tanh" if rest in CANDIDATES else r"\sigma"
            terms = [_times(n, cell, f"W_x{rest}", fill["x"]), _times(n, cell, f"W_h{rest}", h_in),
                     param_latex(n, cell, f"b_{rest}")]
            rows.append(rf"{at(symbol, 't')} = {f}\big({' + '.join(terms)}\big)")
        else:
            rows.append(rf"{at(symbol, 't')} = {rest.format(**fill)}")
        labels.append(f"({label})")
    eqs = equations(n, loss=loss, reduction=reduction, every_step=every_step)
    output = " + ".join([_times(n, cell, "W_hy", at(n.h, "t")), param_latex(n, cell, "b_y")])
    rows += [rf"{at(n.o, 't')} = {output}", eqs["y_hat"], eqs["4"], eqs["5"]]
    labels += ["(3)", "", "(4)", "(5)"]
    return aligned(rows, labels)


def _times(n: Notation, cell: str, name: str, vec: str) -> str:
    W = param_latex(n, cell, name)
    return f"{vec} {W}" if n.row_vectors else f"{W} {vec}"


# ---- what uploads and edits do to the config ----------------------------------------------------

PENDING_KEY = "_weights_other_cell"    # an upload for another cell, kept until it is adopted or replaced


def adopt_weights(filename: str, data: bytes) -> tuple[bool, str]:
    """Make the file's weights the config's (as edits on the initialiser); keep the old on error.
    A file for another cell is refused, naming the cell, and kept aside (`pending_cell`) so that
    `switch_cell_and_adopt` can adopt it. Returns (whether they were adopted, the message to show)."""
    config = state.config()
    st.session_state.pop(PENDING_KEY, None)
    try:
        uploaded = load_weights(filename, data)
    except WeightsFileError as err:
        return False, f"Could not use '{filename[:60]}': {err} The previous weights are kept."
    cell = rc.cell_of(uploaded)
    if cell.name != config.cell:
        st.session_state[PENDING_KEY] = (filename[:60], uploaded)
        here = rc.get_cell(config.cell)
        return False, (f"'{filename[:60]}' holds the weights of a{_n(cell.title)} {cell.title} "
                       f"({len(cell.param_names)} arrays: {', '.join(cell.param_names[:3])}, ...); the model here is "
                       f"a{_n(here.title)} {here.title}. The previous weights are kept: switch the cell to "
                       f"{cell.title} below to use the file.")
    return _adopt(config, filename, uploaded)


def pending_cell() -> str | None:
    """The cell of an upload that was refused for holding another cell's weights (or None)."""
    pending = st.session_state.get(PENDING_KEY)
    return None if pending is None else rc.cell_of(pending[1]).name


def switch_cell_and_adopt() -> tuple[bool, str]:
    """Switch the config to the pending upload's cell and adopt its weights."""
    filename, uploaded = st.session_state.pop(PENDING_KEY)
    switched, changes = parse({"cell": rc.cell_of(uploaded).name}, base=state.config().replace(edits=()))
    ok, message = _adopt(switched, filename, uploaded)
    # what the switch changed besides the cell (e.g. a ReLU activation the gated cells do not take)
    return ok, " ".join([f"Switched the cell to {rc.cell_of(uploaded).title}.", *changes, message]) if ok else message


def _n(title: str) -> str:
    """'n' before a title read with a vowel sound ('an LSTM'), else ''."""
    return "n" if title[:1] in "AEFHILMNORSX" else ""


def _adopt(config: Config, filename: str, uploaded: rc.CellParams) -> tuple[bool, str]:
    """Adopt weights of the config's cell, resizing the model to the file's D, H, O."""
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
