"""One frozen, hashable config holding every user choice, built from one declarative schema.

The schema (`FIELDS`: name, kind, default, range or options, labels, role) drives everything
that is said about a field, so that it is said once:
- validation: `parse(raw)` turns any mapping of strings (URL query parameters, widget values)
  into a valid `Config` plus one message per value it had to replace;
- the URL: `to_query(config)` writes only the non-default values, `parse(to_query(c)) == c`;
- the widgets: ui/sidebar.py builds a widget per field from the same table, with its label and
  the display label of each choice (`Field.choice_label`; `<W_hh>` is written in the reader's
  notation);
- the cache keys: each field's *role* says what it changes (the model and its numbers, the
  data, the gradient's truncation, only the display, only one page). `config.project(*roles)`
  keeps the fields a computation depends on and sets every other one to its default, so a
  cached result is keyed (ui/keys.py, exact bytes) on what it depends on and nothing else:
  switching the notation or a page's view recomputes no engine result.

A Config also builds the model and data deterministically (`build_params`).
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, fields as dc_fields, make_dataclass, replace
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Iterable, Mapping

import numpy as np

import rnn_core as rc
from ui import symbols
from ui.notation import NOTATIONS, plain_in
from ui.stages import STAGE_KEYS as DERIVATION_STAGES

# Limits chosen so that every page recomputes within a slider move at the largest sizes.
MAX_T = 500
MAX_H = 256
MAX_D = 64
MAX_O = 64
MAX_SEED = 2**31 - 1
MAX_RHO = 5.0
MAX_URL_EDITS_CHARS = 2000   # beyond this the link would be unwieldy: offer a weights file
MIN_EDIT_CHARS = len("b_h.0=0.0~")
MAX_TRAIN_STEPS = 2000       # training page: a run stays within seconds at lecture sizes
MAX_TRAIN_BATCH = 128
MAX_RADII = 12               # vanishing page: each swept radius is a model and a curve
MAX_EDIT_INDEX = MAX_H * max(MAX_H, MAX_D, MAX_O)   # no parameter has more entries
MAX_FORGET_BIAS = 5.0        # sigma(5) = 0.993: the forget gate all but shut off from forgetting
# Every parameter name of every cell: an edit names one, and a link may name another cell's
ALL_PARAM_NAMES = tuple(sorted({name for cell in rc.CELLS.values() for name in cell.param_names}))
GATED_NOTE = "the LSTM's and the GRU's gates are sigmoids and their candidates tanh"
# Lessons (ui/lessons): the shipped ones are the lessons/*.toml files, keyed by their name; a
# link names one (lesson=...) and its step. Read once at start: a file added later needs a restart.
LESSONS_DIR = Path(__file__).resolve().parents[1] / "lessons"
LESSON_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
LESSON_KEYS = tuple(sorted(p.stem for p in LESSONS_DIR.glob("*.toml") if LESSON_KEY.fullmatch(p.stem)))
MAX_LESSON_STEPS = 30


# What a field changes: its role. A cached computation keys on the roles it depends on
# (`Config.project`); a field of any other role is at its default in its key.
WEIGHTS = "weights"      # the parameters' values: sizes D, H, O, initialiser, rho, seed, edits
MODEL = "model"          # the rest of the model: its length T, activation, loss, reduction
DATA = "data"            # the sequence the model reads (the task)
GRADIENT = "gradient"    # how the gradient is computed: the sidebar's truncation
DISPLAY = "display"      # only how things are written or drawn: notation, presentation mode
PAGE = "page"            # only one page (Field.page): its view and what it alone computes
ROLES = (WEIGHTS, MODEL, DATA, GRADIENT, DISPLAY, PAGE)
SIDEBAR_ROLES = (WEIGHTS, MODEL, DATA, GRADIENT, DISPLAY)   # drawn by the shared sidebar (ui/sidebar.py)
PRESET_ROLES = (WEIGHTS, MODEL, DATA, GRADIENT)             # what a lecture preset sets (ui/presets.py)
EXACT_NUMBERS = (WEIGHTS, MODEL, DATA)                      # the model on its sequence, exact gradient
NUMBERS = (WEIGHTS, MODEL, DATA, GRADIENT)                  # ... with the sidebar's truncation


@dataclass(frozen=True)
class Field:
    """One user choice. kind: 'int', 'float', 'choice', 'bool', 'floats' (a tuple), 'edits',
    'choices' (a tuple of some of `options`, in their order; may be empty).

    label, help and the choice labels are written in the engine's names (W_hh, ...); with
    `in_notation` a widget names each parameter in them as the reader's notation does
    (`label_in`, `help_in`, `choice_label`); messages about links use the engine's names.
    labels: option -> how a widget shows it (default: the option itself); names: option ->
    how a sentence names it (default: its label).
    role: what the field changes (WEIGHTS, MODEL, DATA, GRADIENT, DISPLAY, PAGE); page: the
    page of a PAGE field (its views/<page>.py).
    """

    name: str
    kind: str
    default: Any
    label: str
    lo: float | None = None
    hi: float | None = None
    options: tuple = ()
    help: str = ""
    role: str = MODEL
    page: str = ""
    max_items: int | None = None   # 'floats': at most this many values (each one is work)
    labels: Mapping[str, str] | None = None
    names: Mapping[str, str] | None = None
    in_notation: bool = False      # its texts name parameters, shown in the reader's notation

    def __post_init__(self):
        if self.role not in ROLES or (self.role == PAGE) != bool(self.page):
            raise ValueError(f"field {self.name}: role {self.role!r} with page {self.page!r}")

    @property
    def in_sidebar(self) -> bool:
        """Drawn by the shared sidebar (else by its page, through state.view_widget)."""
        return self.role in SIDEBAR_ROLES

    def label_in(self, notation: str = "wxh") -> str:
        """The field's label, each parameter as `notation` names it if `in_notation` (plain text)."""
        return self._written(self.label, notation)

    def help_in(self, notation: str = "wxh") -> str:
        return self._written(self.help, notation)

    def choice_label(self, value: Any, notation: str = "wxh") -> str:
        """How a widget shows the option `value`, e.g. 'ReLU', 'identity W (IRNN)' (Deep Learning book)."""
        return self._written((self.labels or {}).get(value, str(value)), notation)

    def choice_name(self, value: Any, notation: str = "wxh") -> str:
        """How a sentence names the option `value`, e.g. 'chunked truncation'."""
        if self.names and value in self.names:
            return self._written(self.names[value], notation)
        return self.choice_label(value, notation)

    def _written(self, text: str, notation: str) -> str:
        return plain_in(text, NOTATIONS[notation]) if self.in_notation else text

    def coerce(self, raw: Any) -> Any:
        """The value `raw` (a string from a URL, or a widget's value) as this field's type.

        Raises ValueError with a short reason; range problems are handled by `clamp`.
        """
        if self.kind == "int":
            value = _number(raw)
            if not value.is_integer():
                raise ValueError("is not a whole number")
            return int(value)
        if self.kind == "float":
            value = _number(raw)
            if not math.isfinite(value):
                raise ValueError("is not a finite number")
            return value + 0.0    # -0.0 becomes 0.0: one value, one link
        if self.kind == "bool":
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("is not true or false")
        if self.kind == "choice":
            if raw not in self.options:
                raise ValueError(f"is not one of {', '.join(map(str, self.options))}")
            return raw
        if self.kind == "floats":
            items = _items(raw)
            if self.max_items is not None and len(items) > 4 * self.max_items:   # never parse a huge list
                raise ValueError(f"has {len(items)} entries; at most {self.max_items} are drawn "
                                 f"and at most {4 * self.max_items} are read")
            values = tuple(sorted({_number(v) + 0.0 for v in items if str(v).strip() != ""}))
            if not values or not all(math.isfinite(v) for v in values):
                raise ValueError("is not a list of finite numbers")
            return values
        if self.kind == "edits":
            return decode_edits(raw if isinstance(raw, str) else _edits_text(raw))
        if self.kind == "choices":
            items = _items(raw)
            chosen = {str(v).strip() for v in items} - {""}
            unknown = sorted(chosen - set(self.options))
            if unknown:
                raise ValueError(f"names {', '.join(unknown)[:40]}, not among {', '.join(self.options)}")
            return tuple(o for o in self.options if o in chosen)   # one order: equal sets, equal configs
        raise AssertionError(f"unknown field kind {self.kind}")

    def clamp(self, value: Any) -> Any:
        """`value` inside [lo, hi]; a 'floats' list also cut to its first max_items values."""
        if self.lo is None:
            return value
        if self.kind == "floats":
            return tuple(sorted({min(max(v, self.lo), self.hi) for v in value}))[:self.max_items]
        return type(value)(min(max(value, self.lo), self.hi))

    def encode(self, value: Any) -> str:
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "float":
            return repr(float(value))
        if self.kind == "floats":
            return ",".join(repr(float(v)) for v in value)
        if self.kind == "edits":
            return encode_edits(value)
        if self.kind == "choices":
            return ",".join(value)
        return str(value)


def _bound(field: Field, bound: float) -> str:
    return str(int(bound)) if field.kind == "int" else repr(float(bound))


def _shown_value(field: Field, value: Any) -> str:
    """A value as a message quotes it; an empty one in words, never as nothing."""
    return field.encode(value) or ("no edits" if field.kind == "edits" else "none")


def _items(raw: Any) -> list:
    """A comma-separated string or a list/tuple (a widget's value) as a list of items."""
    if isinstance(raw, str):
        return raw.split(",")
    if isinstance(raw, (list, tuple)):
        return list(raw)
    raise ValueError("is not a list")


def _edits_text(raw: Any) -> str:
    """(name, index, value) triples as the URL form, so that both are checked by decode_edits."""
    try:
        return "~".join(f"{name}.{int(index)}={float(value)!r}" for name, index, value in raw)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("is not a list of (name, index, value) edits") from None


def _number(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("is not a number") from None


FIELDS: tuple[Field, ...] = (
    # the model
    Field("cell", "choice", "rnn", "Cell", options=tuple(rc.CELLS), role=WEIGHTS,
          help="the vanilla RNN, or a gated cell (LSTM, GRU) that learns how much of its state to keep",
          labels={key: c.title for key, c in rc.CELLS.items()}),
    Field("T", "int", 12, "Sequence length T", 1, MAX_T),
    Field("H", "int", 8, "Hidden units H", 1, MAX_H, role=WEIGHTS),
    Field("D", "int", 3, "Inputs D", 1, MAX_D, role=WEIGHTS),
    Field("O", "int", 3, "Outputs O", 1, MAX_O, role=WEIGHTS),
    Field("activation", "choice", "tanh", "Activation f", options=tuple(rc.ACTIVATIONS),
          labels=symbols.activation_labels()),
    Field("loss", "choice", "softmax_ce", "Output and loss", options=tuple(rc.LOSSES),
          labels=symbols.loss_labels()),
    Field("reduction", "choice", "sum", "Reduction over time", options=("sum", "mean"),
          labels={"sum": "sum over t", "mean": "mean over t"}),
    Field("loss_at", "choice", "every", "Loss at", options=("every", "last"),
          help="every step (many-to-many) or only the last step (many-to-one)",
          labels={"every": "every step (many-to-many)", "last": "last step only (many-to-one)"}),
    Field("init", "choice", "normal", "Initialiser", options=rc.INITIALISERS, role=WEIGHTS,
          labels={"normal": "normal", "uniform": "uniform", "orthogonal": "orthogonal W_hh",
                  "identity": "identity W_hh (IRNN)"}, in_notation=True),
    Field("rho", "float", 0.9, "Spectral radius of W_hh", 0.0, MAX_RHO, role=WEIGHTS,
          help="W_hh is rescaled so that its largest |eigenvalue| is this", in_notation=True),
    Field("forget_bias", "float", 1.0, "Forget-gate bias b_f", -MAX_FORGET_BIAS, MAX_FORGET_BIAS, role=WEIGHTS,
          help="the LSTM's forget gate starts near sigma(b_f): 1 keeps about 73% of the memory at each "
               "step (Jozefowicz et al. 2015)"),
    Field("seed", "int", 0, "Seed", 0, MAX_SEED, role=WEIGHTS),
    Field("notation", "choice", "wxh", "Notation", options=tuple(NOTATIONS), role=DISPLAY,   # display only
          labels={key: symbols.notation_label(n) for key, n in NOTATIONS.items()}),
    Field("edits", "edits", (), "Hand-edited weights", role=WEIGHTS),
    # data
    Field("task", "choice", "random", "Task", options=tuple(rc.TASKS), role=DATA,
          help="the sequence the model reads; tasks other than random fix some sizes and the loss",
          labels={key: t.title for key, t in rc.TASKS.items()}),
    # the gradient: truncated BPTT (sidebar)
    Field("truncation", "choice", "full", "Truncation", options=rc.truncation.KINDS, role=GRADIENT,
          labels={"full": "full BPTT", "k_step": "k-step truncation", "chunked": "chunked (detach every k)",
                  "randomized": "randomized"},
          names={"full": "full BPTT", "k_step": "k-step truncation", "chunked": "chunked truncation",
                 "randomized": "randomized truncation"}),
    Field("trunc_k", "int", 5, "Truncation k", 1, MAX_T, role=GRADIENT),
    Field("trunc_p", "float", 0.5, "Randomized: keep probability p", 0.05, 1.0, role=GRADIENT),
    # training page (views/training.py): task, SGD and clipping; drawn on the page, not the sidebar
    Field("tr_task", "choice", "char_lm", "Training task",
          options=("char_lm", "pos_tagging", "sine", "adding", "copy"), role=PAGE, page="training",
          labels={key: rc.TASKS[key].title for key in ("char_lm", "pos_tagging", "sine", "adding", "copy")}),
    Field("tr_text", "choice", "builtin", "Text", options=("builtin", "upload"), role=PAGE, page="training",
          help="the language model's text: the built-in one or a .txt file you upload",
          labels={"builtin": "built-in text", "upload": "my own .txt file"}),
    Field("tr_delay", "int", 5, "Recall delay", 1, MAX_T - 1, role=PAGE, page="training",
          help="the copy task outputs the symbol shown this many steps earlier"),
    Field("tr_lr", "float", 0.1, "Learning rate", 1e-4, 5.0, role=PAGE, page="training"),
    Field("tr_momentum", "float", 0.9, "Momentum", 0.0, 0.99, role=PAGE, page="training"),
    Field("tr_steps", "int", 300, "Training steps", 1, MAX_TRAIN_STEPS, role=PAGE, page="training"),
    Field("tr_batch", "int", 16, "Batch size", 1, MAX_TRAIN_BATCH, role=PAGE, page="training"),
    Field("tr_clip", "choice", "norm", "Gradient clipping", options=("none", "norm", "value"),
          role=PAGE, page="training",
          help="none, by global norm (rescale g if ||g|| > c), or element-wise to [-c, c]",
          labels={"none": "none", "norm": "by global norm", "value": "element-wise"}),
    Field("tr_clip_c", "float", 5.0, "Clipping threshold c", 0.01, 100.0, role=PAGE, page="training"),
    Field("tr_view", "choice", "train", "Section", options=("train", "truncation", "clipping", "cells"),
          role=PAGE, page="training",
          labels={"train": "Train a task", "truncation": "Truncated BPTT", "clipping": "Gradient clipping",
                  "cells": "Compare cells"}),
    Field("tr_compare", "choice", "all", "Compare the gradient of", options=("all", "W_hh"),
          role=PAGE, page="training",
          help="all five parameters, or W_hh alone (truncation never changes dL/dW_hy, dL/db_y)",
          labels={"all": "all five parameters", "W_hh": "W_hh only"}),
    # vanishing & exploding page (views/vanishing.py)
    Field("v_norm", "choice", "2", "Matrix norm", options=("2", "fro"), role=PAGE, page="vanishing",
          help="2: spectral norm (largest singular value), the one the bound of eq. (11) holds for; "
               "fro: Frobenius norm",
          labels={"2": "spectral ‖·‖₂", "fro": "Frobenius ‖·‖_F"}),
    Field("v_axis", "choice", "k", "Horizontal axis", options=("k", "distance"), role=PAGE, page="vanishing",
          help="the earlier step k, or the distance T - k back from the last step",
          labels={"k": "step k", "distance": "distance T − k"}),
    Field("v_radii", "floats", (0.5, 0.9, 1.0, 1.1, 1.5), "Spectral radii to sweep", 0.0, MAX_RHO,
          role=PAGE, page="vanishing", max_items=MAX_RADII),
    Field("v_acts", "choices", ("tanh", "relu", "identity"), "Activations to compare",
          options=tuple(rc.ACTIVATIONS), role=PAGE, page="vanishing", labels=symbols.activation_labels()),
    Field("v_section", "choice", "sweeps", "Section",
          options=("sweeps", "cells", "spectrum", "pairs", "steps", "all"), role=PAGE, page="vanishing",
          help="the part of the page below the main curve; 'all' shows every part at once",
          labels={"sweeps": "Sweeps", "cells": "Compare cells", "spectrum": "Spectrum",
                  "pairs": "All pairs and ∂L/∂h", "steps": "Why it fades", "all": "Everything"}),
    # derivation page (views/derivation.py): the stage of the walk, the step t, the update's eta
    Field("d_stage", "choice", "forward", "Stage", options=DERIVATION_STAGES, role=PAGE, page="derivation"),
    Field("d_step", "int", 5, "Step t", 1, MAX_T, role=PAGE, page="derivation",
          help="the time step whose numbers fill the equations (at most T)"),
    Field("d_lr", "float", 0.1, "Learning rate η", 1e-4, 10.0, role=PAGE, page="derivation",
          help="the step size of the update (12) shown on this page"),
    Field("d_all", "bool", False, "Show every stage", role=PAGE, page="derivation",
          help="the whole derivation at once instead of one stage at a time"),
    # unrolled graph page (views/graph.py): the window of steps, the step in detail, what to draw
    Field("g_step", "int", 1, "Step t in detail", 1, MAX_T, role=PAGE, page="graph",
          help="the step whose numbers and eq. (7) are shown below the graph (at most T)"),
    Field("g_start", "int", 1, "First step in view", 1, MAX_T, role=PAGE, page="graph",
          help="a long sequence shows a window of steps; h_0 and L stay at its ends"),
    Field("g_window", "int", 16, "Steps in view", 4, 30, role=PAGE, page="graph"),
    Field("g_split", "bool", False, "Colour the direct / indirect parts", role=PAGE, page="graph",
          help="edges o_t → h_t (direct part of dL/dh_t) in blue, h_{t+1} → h_t (indirect part) in orange"),
    Field("g_source", "int", 0, "Follow one loss term", 0, MAX_T, role=PAGE, page="graph",
          help="0: the whole loss L; s: the single term L_s alone, propagated back through the recurrence"),
    # presentation (display only)
    Field("presentation", "bool", False, "Presentation mode", role=DISPLAY,
          help="larger fonts and fewer controls, for a projector"),
    # the lesson running and its step (ui/lessons): display only, no engine result depends on them;
    # drawn by the lesson bar, not the sidebar
    Field("lesson", "choice", "", "Lesson", options=("", *LESSON_KEYS), role=DISPLAY),
    Field("step", "int", 1, "Lesson step", 1, MAX_LESSON_STEPS, role=DISPLAY),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}

_PROJECTIONS = "_projections"    # Config.project's results, memoised on the instance (frozen)
_ConfigBase = make_dataclass("_ConfigBase", [(f.name, Any, f.default) for f in FIELDS], frozen=True)


class Edits(Sequence):
    """Hand-edited weights: (param name, flat index, value) triples, sorted by name then index,
    each entry once (the last value given wins).

    Held as three arrays: an upload of the largest model is ~100k edits, which as Python
    tuples took ~13 MB in every session holding it; here they take 17 bytes an edit.
    Compares equal to the tuple of its triples; immutable and hashable.
    """

    __slots__ = ("codes", "indices", "values")
    NAMES = ALL_PARAM_NAMES                    # code i is NAMES[i]: code order is name order

    def __init__(self, codes: np.ndarray, indices: np.ndarray, values: np.ndarray):
        order = np.lexsort((indices, codes))
        codes, indices, values = codes[order], indices[order], values[order]
        last = np.ones(len(codes), dtype=bool)     # of repeated (name, index), keep the last given
        last[:-1] = (codes[1:] != codes[:-1]) | (indices[1:] != indices[:-1])
        for name, array in (("codes", codes[last]), ("indices", indices[last]), ("values", values[last])):
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    @classmethod
    def of(cls, triples: Iterable[tuple[str, int, float]]) -> "Edits":
        if isinstance(triples, Edits):
            return triples
        triples = list(triples)
        code = {name: i for i, name in enumerate(cls.NAMES)}
        return cls(np.array([code[t[0]] for t in triples], dtype=np.int8),
                   np.array([t[1] for t in triples], dtype=np.int64),
                   np.array([t[2] for t in triples], dtype=np.float64))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Edits are immutable")

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self)[i]
        return (self.NAMES[self.codes[i]], int(self.indices[i]), float(self.values[i]))

    def __iter__(self):
        names = [self.NAMES[c] for c in self.codes.tolist()]
        return zip(names, self.indices.tolist(), self.values.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Edits):
            return (np.array_equal(self.codes, other.codes) and np.array_equal(self.indices, other.indices)
                    and np.array_equal(self.values, other.values))
        if isinstance(other, tuple):
            return len(other) == len(self) and tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        # Config must be hashable (frozen). Caches never key on this: they use ui.keys.exact_key.
        # Taken from a digest of the exact bytes, so only equal edits are likely to share it.
        digest = hashlib.sha256(self.codes.tobytes() + self.indices.tobytes() + self.values.tobytes())
        return int.from_bytes(digest.digest()[:8], "little")

    def __repr__(self) -> str:
        return f"Edits({tuple(self)!r})" if len(self) <= 8 else f"Edits(<{len(self)} entries>)"

    def __reduce__(self):
        return (Edits, (np.array(self.codes), np.array(self.indices), np.array(self.values)))

    def by_name(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{name: (flat indices, values)} of the parameters that have edits."""
        return {name: (self.indices[self.codes == i], self.values[self.codes == i])
                for i, name in enumerate(self.NAMES) if np.any(self.codes == i)}


class Config(_ConfigBase):
    """Every user choice; frozen and hashable. Build one with `parse` or `DEFAULT.replace`."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "edits", Edits.of(self.edits))   # one compact form, however given

    def replace(self, **changes: Any) -> "Config":
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dc_fields(self)}

    def project(self, *roles: str, also: Iterable[str] = ()) -> "Config":
        """This config with every field whose role is not in `roles` (and not named in `also`)
        at its default: what a computation depends on, and so its cache key (ui.keys.EXACT).

        e.g. `config.project(WEIGHTS)` for the parameters, `config.project(*EXACT_NUMBERS)` for
        the exact gradient, `config.project(*NUMBERS)` with the sidebar's truncation,
        `config.project(WEIGHTS, also=("notation",))` for a table written in the reader's
        notation. Projecting twice changes nothing.
        """
        memo_key = (roles, tuple(also))
        memo = self.__dict__.get(_PROJECTIONS)
        if memo is None:
            memo = {}
            object.__setattr__(self, _PROJECTIONS, memo)
        projected = memo.get(memo_key)
        if projected is None:
            kept = set(also)
            unknown = (set(roles) - set(ROLES)) | (kept - set(FIELD_BY_NAME))
            if unknown:
                raise ValueError(f"project: unknown roles or fields {sorted(unknown)}")
            changes = {f.name: f.default for f in FIELDS
                       if f.role not in roles and f.name not in kept and getattr(self, f.name) != f.default}
            projected = replace(self, **changes) if changes else self
            memo[memo_key] = projected
        return projected

    def unused_fields(self) -> tuple[str, ...]:
        """The fields this config's cell does not read (`parse` keeps them at their defaults)."""
        return tuple(name for name, cells in CELL_FIELDS.items() if self.cell not in cells)

    @property
    def truncation_spec(self):
        """The `truncation=` argument for rnn_core.bptt."""
        if self.truncation == "full":
            return None
        if self.truncation == "randomized":
            return ("randomized", self.trunc_p, self.seed)
        return (self.truncation, self.trunc_k)

    @property
    def mask(self) -> np.ndarray | None:
        """(T,) weights of the loss terms: None (all ones) or only the last step."""
        if self.loss_at == "every":
            return None
        m = np.zeros(self.T)
        m[-1] = 1.0
        return m


DEFAULT = Config()


# ---- hand-edited weights: a sorted tuple of (param name, flat index, value) ----------------

def encode_edits(edits: Iterable[tuple[str, int, float]]) -> str:
    """'W_hh.3=0.5~b_h.0=-1.25': name.flat_index=value, joined by '~' (URL-safe)."""
    return "~".join(f"{name}.{index}={value!r}" for name, index, value in edits)


def decode_edits(text: str) -> tuple[tuple[str, int, float], ...]:
    edits = {}
    for item in filter(None, text.split("~")):
        try:
            target, value = item.split("=")
            name, index = target.split(".")
            index, value = int(index), float(value)
        except ValueError:
            raise ValueError(f"has a malformed entry {item[:40]!r}") from None
        if name not in ALL_PARAM_NAMES or not 0 <= index < MAX_EDIT_INDEX or not math.isfinite(value):
            raise ValueError(f"has an invalid entry {item[:40]!r}")
        edits[(name, index)] = value
    return tuple((name, index, value) for (name, index), value in sorted(edits.items()))


def param_shapes(config: Config) -> dict[str, tuple[int, ...]]:
    """Every parameter of the config's cell and its shape, in the cell's order."""
    return rc.get_cell(config.cell).param_shapes(config.D, config.H, config.O)


def edits_problem(config: Config) -> str | None:
    """Why the config's weight edits cannot apply to its model (another cell's names, or an
    index beyond its sizes); None when they fit."""
    shapes = param_shapes(config)
    edited = config.edits.by_name()
    foreign = [name for name in edited if name not in shapes]
    if foreign:
        return (f"The hand-edited weights name {', '.join(foreign[:4])}, which the "
                f"{rc.get_cell(config.cell).title} does not have; they were dropped.")
    if any(int(indices.max()) >= math.prod(shapes[name]) for name, (indices, _) in edited.items()):
        return "The hand-edited weights do not fit the model's sizes; they were dropped."
    return None


def edits_fit(config: Config) -> bool:
    return edits_problem(config) is None


# ---- parsing, validation and the URL --------------------------------------------------------

def task_fixes(task: str) -> dict[str, Any]:
    """The fields a task fixes, e.g. {'loss': 'mse', 'D': 1, 'O': 1} for 'sine'; {} for 'random'."""
    return dict(_TASK_FIXES.get(task, {}))


def _learn_task_fixes() -> dict[str, dict[str, Any]]:
    # One small draw of each task tells its sizes and loss (char_lm's D = O follow from its text).
    fixes = {}
    for name, task in rc.TASKS.items():
        if name == "random":
            continue
        data = rc.make_task_data(name, T=MIN_TASK_T)
        fixes[name] = {"loss": data.loss, "D": data.D, "O": data.O}
        if task.many_to_one:
            fixes[name]["loss_at"] = "last"
    return fixes


MIN_TASK_T = 8                   # long enough for every task's defaults (copy's delay is 5)
_TASK_FIXES = _learn_task_fixes()
TASK_MIN_T = {"copy": 2}         # copy recalls a symbol at least one step back


def _apply_task(values: dict[str, Any], raw: Mapping[str, Any]) -> list[str]:
    """Force the fields the task fixes; a message for each one `raw` asked to be different."""
    messages = []
    task = rc.TASKS[values["task"]]
    for name, fixed in task_fixes(values["task"]).items():
        if values[name] != fixed and name in raw:
            messages.append(f"The task '{task.title}' fixes {FIELD_BY_NAME[name].label_in()} = {fixed}; "
                            f"using it instead of {FIELD_BY_NAME[name].encode(values[name])}.")
        values[name] = fixed
    min_T = TASK_MIN_T.get(values["task"], 1)
    if values["T"] < min_T:
        messages.append(f"The task '{task.title}' needs T >= {min_T}; using T = {min_T}.")
        values["T"] = min_T
    return messages


# k-step truncation sends every loss term back k steps: T k times a step's backward work. The
# vanilla cell's largest (T = k + 1 = 500, H = 256) takes ~1.8 s of CPU; a gated step's backward
# work is this many times the vanilla one's (measured: LSTM 9.8 s, GRU 5.5 s at those sizes), so
# a gated cell's k is capped to keep the vanilla cell's largest work.
K_STEP_COST = {"rnn": 1.0, "lstm": 5.4, "gru": 3.0}
MAX_K_STEP_WORK = MAX_T * (MAX_T - 1) * MAX_H ** 2


def max_trunc_k(cell: str, T: int, H: int) -> int:
    """The largest k of k-step truncation whose work T k H^2 (times the cell's step cost) stays
    within the vanilla cell's largest."""
    return max(1, min(MAX_T, int(MAX_K_STEP_WORK / (K_STEP_COST[cell] * T * H * H))))


def _cap_k_step(values: dict[str, Any]) -> list[str]:
    if values["truncation"] != "k_step":
        return []
    cap = max_trunc_k(values["cell"], values["T"], values["H"])
    if values["trunc_k"] <= cap:
        return []
    cell = rc.get_cell(values["cell"]).title
    values["trunc_k"], asked = cap, values["trunc_k"]
    return [f"k-step truncation with k = {asked} at T = {values['T']}, H = {values['H']} is more work than the "
            f"{cell} can redraw in time; using k = {cap}."]


# The fields that only some cells read: {field: the cells that read it}
CELL_FIELDS = {"rho": ("rnn",), "forget_bias": ("lstm",)}
# The choices a gated cell cannot take, and what it takes instead
GATED_VALUES = {"activation": "tanh", "init": "orthogonal"}


def _apply_cell(values: dict[str, Any], raw: Mapping[str, Any], base: Config) -> list[str]:
    """A gated cell's fixed choices (tanh, no identity init) and the defaults of the settings the
    cell does not read (rho for a gated cell, b_f but for the LSTM): one config per view, so that
    a link and a cache key say only what is shown. A message for each one the link asked otherwise."""
    cell = rc.get_cell(values["cell"])
    asked = {name for name in raw if values.get(name) != getattr(base, name, None) or name == "cell"}
    messages = []
    if cell.name != "rnn":
        allowed = {"activation": ("tanh",), "init": rc.GATED_INITIALISERS}
        for name, instead in GATED_VALUES.items():
            if values[name] not in allowed[name]:
                if name in raw and name in asked:
                    field = FIELD_BY_NAME[name]
                    why = f" ({GATED_NOTE})" if name == "activation" else ""
                    messages.append(f"{field.label_in()} = {field.choice_label(values[name])} is for the vanilla "
                                    f"RNN{why}; the {cell.title} uses {field.choice_label(instead)}.")
                values[name] = instead
    for name, cells in CELL_FIELDS.items():
        default = FIELD_BY_NAME[name].default
        if cell.name not in cells and values[name] != default:
            if name in raw and name in asked:
                messages.append(f"{FIELD_BY_NAME[name].label_in()} applies to the "
                                f"{' and '.join(rc.get_cell(c).title for c in cells)} only; the {cell.title} ignores it.")
            values[name] = default
    return messages


def parse(raw: Mapping[str, Any], *, base: Config = DEFAULT) -> tuple[Config, list[str]]:
    """A valid Config from `raw` (e.g. st.query_params), plus one message per replaced value.

    Unknown keys are ignored with a message; values that cannot be read keep the `base`
    value; numbers outside their range are clamped to it. Never raises.
    """
    values = base.as_dict()
    messages = []
    for key, text in raw.items():
        field = FIELD_BY_NAME.get(key)
        shown = str(text)[:40] + ("..." if len(str(text)) > 40 else "")
        if field is None:
            messages.append(f"Ignored the unknown setting '{str(key)[:40]}'.")
            continue
        try:
            value = field.coerce(text)
        except ValueError as err:
            messages.append(f"{field.label_in()} = '{shown}' {err}; using {_shown_value(field, values[key])} instead.")
            continue
        clamped = field.clamp(value)
        if field.kind == "floats" and field.max_items is not None and len(value) > field.max_items:
            messages.append(f"{field.label_in()}: {len(value)} values asked for, at most {field.max_items} are drawn; "
                            f"using {field.encode(clamped)}.")
        elif clamped != value:
            messages.append(f"{field.label_in()} = {shown} is outside [{_bound(field, field.lo)}, {_bound(field, field.hi)}]; "
                            f"using {field.encode(clamped)} instead.")
        values[key] = clamped
    messages += _apply_task(values, raw)
    messages += _apply_cell(values, raw, base)
    messages += _cap_k_step(values)
    config = Config(**values)
    problem = edits_problem(config)
    if problem:
        messages.append(problem)
        config = config.replace(edits=())
    return config, messages


def to_query(config: Config) -> dict[str, str]:
    """The non-default values as URL query parameters (short links; defaults are implied)."""
    query = {}
    for field in FIELDS:
        value = getattr(config, field.name)
        if value == field.default or (field.kind == "edits" and not link_is_complete(config)):
            continue
        query[field.name] = field.encode(value)
    return query


def link_is_complete(config: Config) -> bool:
    """False when the weight edits are too long for a URL (the link then needs a weights file)."""
    # every edit takes at least MIN_EDIT_CHARS ('b_h.0=0.0~'): many edits cannot fit, unencoded
    if len(config.edits) * MIN_EDIT_CHARS > MAX_URL_EDITS_CHARS + 1:
        return False
    return len(encode_edits(config.edits)) <= MAX_URL_EDITS_CHARS


# ---- building the model --------------------------------------------------------------------

def build_params(config: Config) -> rc.CellParams:
    """The initialised parameters of the config's cell with the hand edits applied; same config,
    same numbers (rc.Params, rc.LSTMParams or rc.GRUParams)."""
    options = {"rnn": {"spectral_radius": config.rho}, "lstm": {"forget_bias": config.forget_bias}}
    params = rc.init_params(config.D, config.H, config.O, seed=config.seed, init=config.init, cell=config.cell,
                            **options.get(config.cell, {}))
    arrays = params.to_dict()
    for name, (indices, values) in config.edits.by_name().items():   # one put per array (uploads edit all)
        np.put(arrays[name], indices, values)
    return type(params)(**arrays)


def edits_between(base: rc.Params, edited: rc.Params) -> Edits:
    """The sparse edits that turn `base` into `edited` (same cell, same shapes)."""
    codes, indices, values = [], [], []
    for code, name in enumerate(Edits.NAMES):
        if name not in base.names():
            continue
        a, b = getattr(base, name).reshape(-1), getattr(edited, name).reshape(-1)
        changed = np.flatnonzero(a != b)
        codes.append(np.full(len(changed), code, dtype=np.int8))
        indices.append(changed.astype(np.int64))
        values.append(b[changed])
    return Edits(np.concatenate(codes), np.concatenate(indices), np.concatenate(values))
