"""The derivation of BPTT through an LSTM or a GRU, stage by stage, with one model's numbers at step t.

Pure (numpy and rnn_core; no streamlit), the gated twin of ui/derivation.py, whose Equation,
Stage, Printer and number formats it shares. `build(problem, result, t=..., notation=..., lr=...)`
returns the cell's walk (ui/stages.py: LSTM_STAGES, GRU_STAGES). Forward equations (L1)-(L6) and
(G1)-(G4) are rnn_core/__init__.py's; the backward ones are numbered after them, as the cells'
module docstrings (rnn_core/cells/lstm.py, gru.py) write them:

    (L7)  dL/dh_t = W_hy^T dL/do_t + sum_g W_hg^T delta_{g,t+1}             g = i, f, o, c
    (L8)  dL/dc_t = dL/dh_t * G_t * tanh'(c_t) + f_{t+1} * dL/dc_{t+1}
    (L9)  delta_i, delta_f, delta_G, delta_c~: the gradients at the gates' pre-activations
    (L10) dL/dW_xg = sum_t delta_{g,t} x_t^T, dL/dW_hg = sum_t delta_{g,t} h_{t-1}^T, dL/db_g = sum_t delta_{g,t}
    (G5)  dL/dh_t = W_hy^T dL/do_t + z_{t+1} * dL/dh_{t+1} + r_{t+1} * W_hh^T delta_h~ + W_hr^T delta_r + W_hz^T delta_z
    (G6)  delta_z, delta_h~, dL/d(r_t * h_{t-1}) = W_hh^T delta_h~, delta_r
    (G7)  the parameter gradients (dL/dW_hh = sum_t delta_{h~,t} (r_t * h_{t-1})^T)

Every printed number is the engine's: the forward values from the Trace, the gradients from the
BPTTResult, each backward path's share from rnn_core.gate_parts. A notation without a gated form
writes the cell in the engine's names (ui.notation.cell_names). Column vectors, one sequence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import rnn_core as rc
from rnn_core.gate_parts import gate_pre_activations, indirect_parts, path_product, reset_input_gradient
from ui import derivation as dv
from ui import notation as nt
from ui.derivation import Equation, Example, Printer, Stage, lines, number
from ui.notation import CellNames, d
from ui.stages import info_of, keys_of
from ui.symbols import power

Array = np.ndarray
SIGMA, TANH, ODOT = r"\sigma", r"\tanh", r"\odot"

# the engine's parameter letter of each block -> the Trace's gate name (rnn_core.Trace.gates)
GATE_OF = {"lstm": {"i": "i", "f": "f", "o": "G", "c": "c~"}, "gru": {"r": "r", "z": "z", "h": "h~"}}
SQUASH = {"i": SIGMA, "f": SIGMA, "G": SIGMA, "c~": TANH, "r": SIGMA, "z": SIGMA, "h~": TANH}
WORDS = {"i": "input gate", "f": "forget gate", "G": "output gate", "c~": "candidate", "r": "reset gate",
         "z": "update gate", "h~": "candidate"}
PER_LINE = 3        # underbraced vectors on one numeric line
# the parameters the update stage writes: the gate that decides what is kept
UPDATE_SHOWN = {"lstm": ("W_hf", "b_f"), "gru": ("W_hz", "b_z")}


# ---- the symbols, in one notation ----------------------------------------------------------------

@dataclass(frozen=True)
class Letters:
    """The LaTeX of the cell's symbols in one notation (names: ui.notation.cell_names)."""

    names: CellNames

    @property
    def n(self) -> nt.Notation:
        return self.names.base

    def at(self, name: str, t) -> str:
        return self.names.at(name, str(t))

    def W(self, name: str) -> str:
        return self.names.param(name)

    def WT(self, name: str) -> str:
        """The transpose of a parameter: W_{hf}^T, {W^{f}}^T (never a double superscript)."""
        W = self.W(name)
        return rf"{{{W}}}^{{\top}}" if "^" in W else rf"{W}^{{\top}}"

    def delta(self, gate: str, t) -> str:
        """delta of a gate's pre-activation at t: delta_{f,t} or delta_{f}^{(t)}."""
        g = self.names.symbols[gate]
        return rf"\delta_{{{g}}}^{{({t})}}" if self.n.superscript_time else rf"\delta_{{{g},{t}}}"

    def dL(self, name: str, t) -> str:
        """dL/d(state) at t: dL/dh_t, dL/dc_t."""
        return d(self.n.L, self.at(name, t))

    def dL_do(self, t) -> str:
        return d(self.n.L, self.n.at(self.n.o, str(t)))

    def affine(self, letter: str, t, *, hidden: str | None = None) -> str:
        """W_x? x_t + W_h? h_{t-1} + b_? of block `letter` (hidden: what W_h? multiplies)."""
        x, h = self.at("x", t), hidden or self.at("h", _minus_one(t))
        return " + ".join(self.n.order([f"{self.W('W_x' + letter)} {x}", f"{self.W('W_h' + letter)} {h}"],
                                       self.W("b_" + letter)))

    def gate(self, cell: str, letter: str, t) -> str:
        """The right side of a gate's equation, e.g. sigma(W_xf x_t + W_hf h_{t-1} + b_f)."""
        gate = GATE_OF[cell][letter]
        hidden = rf"({self.at('r', t)} \odot {self.at('h', _minus_one(t))})" if gate == "h~" else None
        return rf"{SQUASH[gate]}\big({self.affine(letter, t, hidden=hidden)}\big)"

    def sigma_prime(self, gate: str, t) -> str:
        g = self.at(gate, t)
        return rf"{g} \odot (1 - {g})"


def _minus_one(t) -> str:
    t = str(t)
    return str(int(t) - 1) if t.isdigit() else f"{t}-1"


def forward_equations(letters: Letters, cell: str, t="t") -> dict[str, str]:
    """{tag: 'lhs = rhs'} of the cell's forward equations (L1)-(L6) or (G1)-(G4) at t."""
    s, prev = letters, _minus_one(t)
    out = {}
    for k, letter in enumerate(GATE_OF[cell], start=1):
        out[f"{cell[0].upper()}{k}"] = f"{s.at(GATE_OF[cell][letter], t)} = {s.gate(cell, letter, t)}"
    if cell == "lstm":
        out["L5"] = (rf"{s.at('c', t)} = {s.at('f', t)} \odot {s.at('c', prev)} + "
                     rf"{s.at('i', t)} \odot {s.at('c~', t)}")
        out["L6"] = rf"{s.at('h', t)} = {s.at('G', t)} \odot \tanh({s.at('c', t)})"
    else:
        out["G4"] = (rf"{s.at('h', t)} = {s.at('z', t)} \odot {s.at('h', prev)} + (1 - {s.at('z', t)}) "
                     rf"\odot {s.at('h~', t)}")
    return out


def hidden_rhs(letters: Letters, cell: str, t="t") -> tuple[str, list[str]]:
    """(L7)/(G5): the direct part and the indirect parts of dL/dh_t in symbols."""
    s, nxt = letters, _plus_one(t)
    direct = rf"{s.WT('W_hy')} {s.dL_do(t)}"
    if cell == "lstm":
        return direct, [rf"{s.WT('W_h' + g)} {s.delta(GATE_OF[cell][g], nxt)}" for g in "ifoc"]
    return direct, [rf"{s.at('z', nxt)} \odot {s.dL('h', nxt)}",
                    rf"{s.at('r', nxt)} \odot \big({s.WT('W_hh')} {s.delta('h~', nxt)}\big)",
                    rf"{s.WT('W_hr')} {s.delta('r', nxt)}", rf"{s.WT('W_hz')} {s.delta('z', nxt)}"]


def memory_rhs(letters: Letters, t="t") -> tuple[str, str]:
    """(L8): dL/dc_t through h_t and along the carousel (through c_{t+1})."""
    s, nxt = letters, _plus_one(t)
    return (rf"{s.dL('h', t)} \odot {s.at('G', t)} \odot \big(1 - \tanh^2({s.at('c', t)})\big)",
            rf"{s.at('f', nxt)} \odot {s.dL('c', nxt)}")


def delta_rhs(letters: Letters, cell: str, t="t") -> dict[str, str]:
    """(L9)/(G6): each gate's delta in symbols, keyed by the Trace's gate name (GRU: also 'rh',
    the gradient on r_t * h_{t-1})."""
    s, prev = letters, _minus_one(t)
    if cell == "lstm":
        dc, dh = s.dL("c", t), s.dL("h", t)
        return {"i": rf"{dc} \odot {s.at('c~', t)} \odot {s.sigma_prime('i', t)}",
                "f": rf"{dc} \odot {s.at('c', prev)} \odot {s.sigma_prime('f', t)}",
                "G": rf"{dh} \odot \tanh({s.at('c', t)}) \odot {s.sigma_prime('G', t)}",
                "c~": rf"{dc} \odot {s.at('i', t)} \odot \big(1 - {power(s.at('c~', t), '2')}\big)"}
    dh = s.dL("h", t)
    return {"z": rf"{dh} \odot ({s.at('h', prev)} - {s.at('h~', t)}) \odot {s.sigma_prime('z', t)}",
            "h~": rf"{dh} \odot (1 - {s.at('z', t)}) \odot \big(1 - {power(s.at('h~', t), '2')}\big)",
            "rh": rf"{s.WT('W_hh')} {s.delta('h~', t)}",
            "r": rf"{reset_input(s, t)} \odot {s.at('h', prev)} \odot {s.sigma_prime('r', t)}"}


def reset_input(letters: Letters, t="t") -> str:
    """dL/d(r_t * h_{t-1}): the GRU's gradient on the reset state."""
    s = letters
    return d(s.n.L, rf"({s.at('r', t)} \odot {s.at('h', _minus_one(t))})")


def gradient_term(letters: Letters, cell: str, name: str, t="t") -> str:
    """The summand of (L10)/(G7) for parameter `name` at step t."""
    s, n = letters, letters.n
    if name == "W_hy":
        return n.outer(s.dL_do(t), s.at("h", t))
    if name == "b_y":
        return s.dL_do(t)
    letter = name[-1]
    delta = s.delta(GATE_OF[cell][letter], t)
    if name.startswith("b_"):
        return delta
    if name.startswith("W_x"):
        return n.outer(delta, s.at("x", t))
    if cell == "gru" and name == "W_hh":
        return n.outer(delta, rf"({s.at('r', t)} \odot {s.at('h', _minus_one(t))})")
    return n.outer(delta, s.at("h", _minus_one(t)))


def _plus_one(t) -> str:
    t = str(t)
    return str(int(t) + 1) if t.isdigit() else f"{t}+1"


def equations(notation: str, cell: str, *, loss: str = "softmax_ce", reduction: str = "sum") -> dict[str, str]:
    """{tag: display LaTeX} of every equation of the cell's walk in symbols (the code panel's right
    column): forward, (3)-(6), backward and (12)."""
    names = nt.cell_names(nt.NOTATIONS[notation], cell)
    s, n = Letters(names), names.base
    out = {tag: eq for tag, eq in forward_equations(s, cell).items()}
    out["3"] = rf"{n.at(n.o, 't')} = " + " + ".join(n.order([f"{s.W('W_hy')} {s.at('h', 't')}"], s.W("b_y")))
    out["4"] = rf"{n.at(n.L, 't')} = {nt.step_loss(n, loss, 't')}"
    out["5"] = (rf"{n.L} = \sum_{{t=1}}^{{T}} {n.at('w', 't')} {n.at(n.L, 't')},\quad "
                rf"{n.at('w', 't')} = {nt.step_weight(n, reduction)}")
    out["6"] = rf"{s.dL_do('t')} = {n.at('w', 't')} \big({nt.output_gradient(n, loss, 't')}\big)"
    direct, indirect = hidden_rhs(s, cell)
    hidden_tag, delta_tag, param_tag = ("L7", "L9", "L10") if cell == "lstm" else ("G5", "G6", "G7")
    # two rows (direct, then the indirect paths): one row is too wide beside the code
    out[hidden_tag] = (rf"\begin{{aligned}}{s.dL('h', 't')} &= {direct} \\ &\phantom{{=}}\; + "
                       + " + ".join(indirect) + r"\end{aligned}")
    if cell == "lstm":
        out["L8"] = rf"{s.dL('c', 't')} = " + " + ".join(memory_rhs(s))
    deltas = delta_rhs(s, cell)
    out[delta_tag] = r" \quad ".join(
        f"{reset_input(s) if g == 'rh' else s.delta(g, 't')} = {rhs}" for g, rhs in deltas.items())
    g = "f" if cell == "lstm" else "z"

    def sums(names) -> str:
        return r" \quad ".join(rf"{d(n.L, s.W(name))} = \sum_{{t=1}}^{{T}} {gradient_term(s, cell, name)}"
                               for name in names)
    # one gate's (every gate's alike); ":out" the output layer's, a line of its own in the loops
    out[param_tag] = sums((f"W_x{g}", f"W_h{g}", f"b_{g}")) + r" \quad \text{and likewise for every gate}"
    out[f"{param_tag}:out"] = sums(("W_hy", "b_y"))
    out["12"] = r"\theta \leftarrow \theta - \eta\, \frac{\partial L}{\partial \theta}"
    return out


# ---- the numbers the stages print beyond the exact BPTT -------------------------------------------

@dataclass(frozen=True, eq=False)
class GatedNumbers:
    """updated: the parameters after the update (12) with lr (rnn_core.sgd_step); loss_after: L
    with them (nan if a parameter is not finite)."""

    updated: rc.CellParams
    loss_after: float


def numbers(problem: Example, result: rc.BPTTResult, *, lr: float) -> GatedNumbers:
    with np.errstate(all="ignore"):
        updated, _ = rc.sgd_step(problem.params, result.grads, lr=lr)
        finite = all(np.all(np.isfinite(a)) for _, a in updated.items())
        return GatedNumbers(updated, problem.solve(updated).loss if finite else np.nan)


# ---- the walk ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Step:
    """Everything one stage needs at step t (1-based; arrays indexed by i = t - 1)."""

    problem: Example
    result: rc.BPTTResult
    t: int
    s: Letters
    p: Printer
    lr: float
    numbers: GatedNumbers

    @property
    def cell(self) -> str:
        return self.result.cell

    @property
    def i(self) -> int:
        return self.t - 1

    @property
    def T(self) -> int:
        return self.problem.T

    def gate(self, name: str, t: int | None = None) -> Array:
        """A gate's values (H,) at step t (default: this step)."""
        return self.result.trace.gates[name][(self.t if t is None else t) - 1]

    def h_prev(self, t: int | None = None) -> Array:
        t = self.t if t is None else t
        tr = self.result.trace
        return tr.h0 if t == 1 else tr.h[t - 2]

    def c_prev(self, t: int | None = None) -> Array:
        t = self.t if t is None else t
        tr = self.result.trace
        return tr.c0 if t == 1 else tr.c[t - 2]

    def delta(self, letter: str, t: int | None = None) -> Array:
        """delta (H,) of block `letter` (the engine's: 'i', 'f', 'o', 'c' / 'r', 'z', 'h') at step t."""
        t = self.t if t is None else t
        H = self.result.dL_dh.shape[-1]
        k = rc.get_cell(self.cell).gate_letters.index(letter)
        return self.result.dL_da[t - 1, k * H:(k + 1) * H]

    def vanilla(self) -> dv._Step:
        """The vanilla walk's step, for the stages every cell shares (output layer, loss)."""
        return dv._Step(self.problem, self.result, self.t, self.s.n, self.p, self.lr, None)

    def vec(self, v: Array) -> str:
        return self.p.vec(v)


def build(problem: Example, result: rc.BPTTResult, *, t: int, notation: str, lr: float,
          numbers_: GatedNumbers | None = None) -> tuple[Stage, ...]:
    """The cell's walk at step t (1..T) in `notation`: ui.stages.keys_of(cell), in order."""
    if not 1 <= t <= problem.T:
        raise ValueError(f"t must lie in [1, T={problem.T}], got {t!r}")
    cell = result.cell
    names = nt.cell_names(nt.NOTATIONS[notation], cell)
    s = _Step(problem, result, t, Letters(names), Printer(names.base), float(lr),
              numbers_ if numbers_ is not None else numbers(problem, result, lr=lr))
    makers = {"forward": _forward, "output": _output, "hidden": _hidden, "memory": _memory,
              "gates": _gates, "params": _params, "update": _update}
    with np.errstate(all="ignore"):
        return tuple(makers[key](s) for key in keys_of(cell))


def _stage(s: _Step, key: str, intro: str, equations_, notes=()) -> Stage:
    info = info_of(s.cell, key)
    return Stage(key, info.heading(s.s.n), info.tags, intro, tuple(equations_), tuple(notes))


def _forward(s: _Step) -> Stage:
    L, p, t, i, tr, prob = s.s, s.p, s.t, s.i, s.result.trace, s.problem
    params, cell = prob.params, s.cell
    h_prev = s.h_prev()
    pres = gate_pre_activations(params, tr, t)
    eqs = []
    for k, (letter, gate) in enumerate(GATE_OF[cell].items(), start=1):
        pre = pres[gate]
        eqs.append(Equation(f"gate_{gate}", f"{cell[0].upper()}{k}", L.at(gate, t), L.gate(cell, letter, t),
                            (rf"{SQUASH[gate]}\!\left(\underbrace{{{p.vec(pre)}}}_{{\text{{pre-activation}}}}\right)",),
                            p.vec(s.gate(gate)), one_line=True))
    prev = _minus_one(t)
    if cell == "lstm":
        f, i_, cc = (p.vec(s.gate(g)) for g in ("f", "i", "c~"))
        eqs.append(Equation("c", "L5", L.at("c", t), forward_equations(L, cell, t)["L5"].split(" = ", 1)[1],
                            (rf"{f} \odot {p.vec(s.c_prev())} + {i_} \odot {cc}",), p.vec(tr.c[i]), numbers_row=True,
                            note=f"${L.at('c', 0)} = 0$ and ${L.at('h', 0)} = 0$: the state before the first step."
                            if t == 1 else ""))
        eqs.append(Equation("h", "L6", L.at("h", t), forward_equations(L, cell, t)["L6"].split(" = ", 1)[1],
                            (rf"{p.vec(s.gate('G'))} \odot \tanh\!\left({p.vec(tr.c[i])}\right)",), p.vec(tr.h[i]),
                            one_line=True))
    else:
        z = p.vec(s.gate("z"))
        eqs.append(Equation("h", "G4", L.at("h", t), forward_equations(L, cell, t)["G4"].split(" = ", 1)[1],
                            (rf"{z} \odot {p.vec(h_prev)} + \left(1 - {z}\right) \odot {p.vec(s.gate('h~'))}",),
                            p.vec(tr.h[i]), numbers_row=True))
    eqs += _output_layer(s)
    at = {name: L.at(name, "t") for name in L.names.symbols}
    if cell == "lstm":
        what = (f"three sigmoid gates decide what to write (the input gate ${at['i']}$), keep (the forget gate "
                f"${at['f']}$) and show (the output gate ${at['G']}$) of the memory ${at['c']}$; the candidate "
                f"${at['c~']}$ is what could be written")
    else:
        what = (f"the reset gate ${at['r']}$ decides how much of the past state the candidate ${at['h~']}$ sees, "
                f"the update gate ${at['z']}$ how much of the past state is kept as it is")
    intro = (f"The forward pass of the {rc.get_cell(cell).title} at the chosen step: {what}. "
             "The read-out (3) and the loss (4), (5) are the vanilla model's.")
    return _stage(s, "forward", intro, eqs)


def _output_layer(s: _Step) -> list[Equation]:
    """(3) o_t, y-hat_t, (4) L_t and (5) L: the vanilla walk's, with this cell's h_t."""
    L, p, t, i, tr, prob = s.s, s.p, s.t, s.i, s.result.trace, s.problem
    n = L.n
    terms = n.order([p.apply(prob.params.W_hy, p.vec(tr.h[i]))], p.vec(prob.params.b_y))
    rhs = " + ".join(n.order([f"{L.W('W_hy')} {L.at('h', t)}"], L.W("b_y")))
    o_eq = Equation("o", "3", n.at(n.o, str(t)), rhs, lines(terms[0], *(f"+ {x}" for x in terms[1:])),
                    p.vec(tr.o[i]))
    out = rc.get_loss(prob.loss)
    y_hat = out.predict(tr.o[i])
    squash = dv.symbols.loss(prob.loss).output_function
    yhat_eq = Equation("y_hat", "", n.at(n.y_hat, str(t)), nt.y_hat_definition(n, prob.loss, str(t)),
                       (rf"{squash}\!\left({p.vec(tr.o[i])}\right)",) if squash else (), p.vec(y_hat))
    v = s.vanilla()
    return [o_eq, yhat_eq, dv._step_loss(v, y_hat), dv._total_loss(v)]


def _output(s: _Step) -> Stage:
    shared = dv._output(s.vanilla())
    return _stage(s, "output", shared.intro, shared.equations, shared.notes)


def _underbraced(vectors: list[tuple[str, Array]], p: Printer) -> tuple[str, ...]:
    """Vectors as a sum of underbraced terms, PER_LINE to a numeric line."""
    parts = [rf"\underbrace{{{p.vec(v)}}}_{{{label}}}" for label, v in vectors]
    # column vectors of at most PREVIEW + 1 rows: three to a line keep a projector's font size
    rows = [" + ".join(parts[k:k + PER_LINE]) for k in range(0, len(parts), PER_LINE)]
    return (rows[0], *(f"+ {row}" for row in rows[1:]))


def _hidden(s: _Step) -> Stage:
    L, p, t, i, res, prob = s.s, s.p, s.t, s.i, s.result, s.problem
    cell = s.cell
    direct_sym, indirect_sym = hidden_rhs(L, cell, t)
    direct_num = p.apply(prob.params.W_hy, p.vec(res.dL_do[i]), transpose=True)
    tag = "L7" if cell == "lstm" else "G5"
    lhs = L.dL("h", t)
    if t == s.T:
        eq = Equation("dL_dh", tag, lhs, direct_sym, (direct_num,), p.vec(res.dL_dh[i]),
                      note="At $t = T$ no step follows: the indirect part is 0.")
    else:
        parts = indirect_parts(prob.params, res, t)
        if cell == "lstm":
            labels = [(rf"{L.WT('W_h' + g)} {L.delta(GATE_OF[cell][g], t + 1)}", parts[g]) for g in "ifoc"]
            paths = []
        else:
            carry = rf"{p.vec(s.gate('z', t + 1))} \odot {p.vec(res.dL_dh[i + 1])}"
            labels = [(rf"{L.at('z', t + 1)} \odot {L.dL('h', t + 1)}", parts["carry"]),
                      (rf"{L.at('r', t + 1)} \odot {L.WT('W_hh')} {L.delta('h~', t + 1)}", parts["h"]),
                      (rf"{L.WT('W_hr')} {L.delta('r', t + 1)}", parts["r"]),
                      (rf"{L.WT('W_hz')} {L.delta('z', t + 1)}", parts["z"])]
            paths = [rf"+ {carry} + \cdots"]
        steps = (lines(direct_num, *paths) + _underbraced([(r"\text{direct}", res.dL_dh_direct[i])] + labels, p)
                 + _underbraced([(r"\text{direct}", res.dL_dh_direct[i]),
                                 (r"\text{indirect}", res.dL_dh_indirect[i])], p))
        eq = Equation("dL_dh", tag, lhs, f"{direct_sym} + " + " + ".join(indirect_sym), steps, p.vec(res.dL_dh[i]))
    share = dv._share(dv.norm(res.dL_dh_direct[i]), dv.norm(res.dL_dh_indirect[i]))
    ways = (f"through each of the four gates of step ${t + 1}$ (each has its own recurrent matrix)"
            if cell == "lstm" else
            f"straight through the update gate's carry, through the candidate's ${L.W('W_hh')}$, and through "
            "both gates")
    c_held = (f" The memory ${L.at('c', t)}$ is held fixed here: its own gradient comes next (L8)."
              if cell == "lstm" else "")
    return _stage(s, "hidden", (
        f"The state ${L.at('h', t)}$ gets gradient *directly* through its output ${L.n.at(L.n.o, str(t))}$ and "
        f"*indirectly* {ways}. Here the indirect part carries {share} of the two parts' total size "
        f"(sum of norms).{c_held}"), [eq])


def _memory(s: _Step) -> Stage:
    L, p, t, i, res, tr = s.s, s.p, s.t, s.i, s.result, s.result.trace
    through_h, carousel = memory_rhs(L, t)
    tanh = rc.get_activation("tanh")
    dtanh = tanh.df(tr.c[i], np.tanh(tr.c[i]))
    first = rf"{p.vec(res.dL_dh[i])} \odot {p.vec(s.gate('G'))} \odot {p.vec(dtanh)}"
    lhs = L.dL("c", t)
    notes = []
    if t == s.T:
        eq = Equation("dL_dc", "L8", lhs, through_h, (first,), p.vec(res.dL_dc[i]),
                      note=f"At $t = T$ no ${L.at('c', 'T+1')}$ follows: only the path through ${L.at('h', 'T')}$.")
    else:
        second = rf"+ {p.vec(s.gate('f', t + 1))} \odot {p.vec(res.dL_dc[i + 1])}"
        parts = _underbraced([(rf"\text{{through }} {L.at('h', t)}", res.dL_dc_direct[i]),
                              (r"\text{carousel}", res.dL_dc_indirect[i])], p)
        eq = Equation("dL_dc", "L8", lhs, f"{through_h} + {carousel}", lines(first, second) + parts,
                      p.vec(res.dL_dc[i]))
        kept = path_product(tr, t)                     # f_{t+1} * ... * f_T, the memory path c_T -> c_t
        notes.append(f"Along the memory path alone, ${L.at('c', 'T')} \\to {L.at('c', t)}$ multiplies the "
                     f"gradient by ${L.at('f', t + 1)} \\odot \\cdots \\odot {L.at('f', 'T')}$: no matrix, no "
                     f"squashing derivative. Over these {s.T - t} steps its entries lie between "
                     f"{np.min(kept):.3g} and {np.max(kept):.3g} (mean {np.mean(kept):.3g}).")
    share = dv._share(dv.norm(res.dL_dc_direct[i]), dv.norm(res.dL_dc_indirect[i]))
    intro = (f"The memory ${L.at('c', t)}$ reaches the loss two ways: through ${L.at('h', t)}$ (L6), and along "
             f"the *constant error carousel* to ${L.at('c', t + 1)}$ (L5), where the only factor is the forget "
             f"gate ${L.at('f', t + 1)}$. Here the carousel carries {share} of the two parts' total size.")
    return _stage(s, "memory", intro, [eq], notes)


def _gates(s: _Step) -> Stage:
    L, p, t, i, res = s.s, s.p, s.t, s.i, s.result
    cell, rhs = s.cell, delta_rhs(L, s.cell, t)
    tag = "L9" if cell == "lstm" else "G6"
    sigmoid = rc.get_activation("sigmoid")           # sigma' from the gate's value: s (1 - s)
    sp = {g: p.vec(sigmoid.df(None, s.gate(g))) for g in GATE_OF[cell].values() if SQUASH[g] == SIGMA}
    if cell == "lstm":
        dc, dh = p.vec(res.dL_dc[i]), p.vec(res.dL_dh[i])
        tanh = rc.get_activation("tanh")
        numeric = {"i": rf"{dc} \odot {p.vec(s.gate('c~'))} \odot {sp['i']}",
                   "f": rf"{dc} \odot {p.vec(s.c_prev())} \odot {sp['f']}",
                   "G": rf"{dh} \odot {p.vec(np.tanh(res.trace.c[i]))} \odot {sp['G']}",
                   "c~": rf"{dc} \odot {p.vec(s.gate('i'))} \odot "
                         rf"{p.vec(tanh.df(None, s.gate('c~')))}"}
        values = {g: s.delta(letter) for letter, g in GATE_OF[cell].items()}
        eqs = [Equation(f"delta_{g}", tag, L.delta(g, t), rhs[g], (numeric[g],), p.vec(values[g]), numbers_row=True)
               for g in ("i", "f", "G", "c~")]
        intro = (f"From ${L.dL('h', t)}$ and ${L.dL('c', t)}$ to each gate's pre-activation: the products "
                 "of (L5), (L6) give each gate its share, and the gate's own derivative "
                 r"($\sigma' = \sigma(1 - \sigma)$, $\tanh' = 1 - \tanh^2$) scales it.")
    else:
        dh = p.vec(res.dL_dh[i])
        tanh = rc.get_activation("tanh")
        g_rh = reset_input_gradient(s.problem.params, res, t)
        numeric = {"z": rf"{dh} \odot \left({p.vec(s.h_prev())} - {p.vec(s.gate('h~'))}\right) \odot {sp['z']}",
                   "h~": rf"{dh} \odot \left(1 - {p.vec(s.gate('z'))}\right) \odot {p.vec(tanh.df(None, s.gate('h~')))}",
                   "rh": p.apply(s.problem.params.W_hh, p.vec(s.delta("h")), transpose=True),
                   "r": rf"{p.vec(g_rh)} \odot {p.vec(s.h_prev())} \odot {sp['r']}"}
        values = {"z": s.delta("z"), "h~": s.delta("h"), "rh": g_rh, "r": s.delta("r")}
        eqs = [Equation(f"delta_{g}", tag, reset_input(L, t) if g == "rh" else L.delta(g, t), rhs[g],
                        (numeric[g],), p.vec(values[g]), numbers_row=True,
                        note="The gradient on the reset state, which the reset gate shares." if g == "rh" else "")
               for g in ("z", "h~", "rh", "r")]
        intro = (f"From ${L.dL('h', t)}$ to each gate's pre-activation: (G4) splits it between the update "
                 f"gate and the candidate; the candidate's pre-activation sends it back through ${L.W('W_hh')}$ "
                 f"to the reset state ${L.at('r', t)} \\odot {L.at('h', t - 1)}$, and from there to the reset gate.")
    return _stage(s, "gates", intro, eqs)


def _params(s: _Step) -> Stage:
    L, p, t, i, res, prob = s.s, s.p, s.t, s.i, s.result, s.problem
    cell, n = s.cell, L.n
    tag = "L10" if cell == "lstm" else "G7"
    x, h_prev, h = prob.xs[i], s.h_prev(), res.trace.h[i]
    eqs = []
    for name in rc.get_cell(cell).param_names:
        if name == "W_hy":
            term = p.outer(res.dL_do[i], h)
        elif name == "b_y":
            term = p.vec(res.dL_do[i])
        else:
            delta = s.delta(name[-1])
            right = x if name.startswith("W_x") else (
                s.gate("r") * h_prev if (cell == "gru" and name == "W_hh") else h_prev)
            term = p.vec(delta) if name.startswith("b_") else p.outer(delta, right)
        before, after = (r"\cdots + " if t > 1 else ""), (r" + \cdots" if t < s.T else "")
        eqs.append(Equation(f"grad_{name}", "3" if name in ("W_hy", "b_y") else tag, d(n.L, L.W(name)),
                            rf"\sum_{{s=1}}^{{{s.T}}} {gradient_term(L, cell, name, 's')}",
                            (before + rf"\underbrace{{{term}}}_{{\text{{term }} s = t}}" + after,),
                            p.param(getattr(res.grads, name)), one_line=name.startswith("b_")))
    eqs += _initial_state(s)
    return _stage(s, "params", (
        "The same weights act at every step, so each parameter's gradient is a sum over the steps of "
        "what that step contributes through its gate's $\\delta$. Shown: the term of step "
        f"$s = t = {t}$ with its numbers, and the whole sum."), eqs)


def _initial_state(s: _Step) -> list[Equation]:
    """dL/dh_0 (and dL/dc_0): what reaches the initial state from step 1."""
    L, p, res, prob = s.s, s.p, s.result, s.problem
    cell = s.cell
    _, indirect = hidden_rhs(L, cell, 0)
    parts = indirect_parts(prob.params, res, 0)
    keys = "ifoc" if cell == "lstm" else ("carry", "h", "r", "z")
    eqs = [Equation("dL_dh0", "L7" if cell == "lstm" else "G5", L.dL("h", 0), " + ".join(indirect),
                    _underbraced([(f"({k + 1})", parts[key]) for k, key in enumerate(keys)], p), p.vec(res.dL_dh0),
                    note="The gradient that reaches the initial state (the indirect part of the recursion at "
                         "$t = 0$; the terms in their order above).")]
    if cell == "lstm":
        eqs.append(Equation("dL_dc0", "L8", L.dL("c", 0), memory_rhs(L, 0)[1],
                            (rf"{p.vec(s.gate('f', 1))} \odot {p.vec(res.dL_dc[0])}",), p.vec(res.dL_dc0),
                            note="The initial memory is reached along the carousel only."))
    return eqs


def _update(s: _Step) -> Stage:
    L, p, prob, res = s.s, s.p, s.problem, s.result
    eta, new = s.lr, s.numbers.updated.to_dict()
    n = L.n
    eqs = [Equation(f"update_{name}", "12", L.W(name), rf"{L.W(name)} - \eta\, {d(n.L, L.W(name))}",
                    lines(p.param(getattr(prob.params, name)), rf"- {number(eta)}\, {p.param(getattr(res.grads, name))}"),
                    p.param(new[name]), rel=r"\leftarrow")
           for name in UPDATE_SHOWN[s.cell]]
    eqs.append(Equation("L_new", "", rf"{n.L}_{{\text{{after}}}}",
                        rf"{n.L}\big(\theta - \eta\, {d(n.L, dv.THETA)}\big)", (), number(s.numbers.loss_after),
                        note=f"Before the step $L = {number(res.loss)}$."))
    gate = WORDS["f" if s.cell == "lstm" else "z"]
    count = len(rc.get_cell(s.cell).param_names)
    return _stage(s, "update", (
        f"One step of gradient descent with learning rate $\\eta = {number(eta)}$ moves all {count} "
        f"parameters against their gradients; shown are the {gate}'s, which decide what the cell keeps "
        "(no clipping here; the Training page adds it)."), eqs)
