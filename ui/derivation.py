"""The derivation of BPTT, stage by stage, with the numbers of one model at one step t.

Pure (numpy and rnn_core; no streamlit): `build(problem, result, t=..., notation=..., lr=...)`
returns the stages of the walk, each a list of `Equation`s whose LaTeX shows the symbols of the
chosen textbook notation, then the same equation with the model's numbers substituted, then the
result. Equation numbers are those of rnn_core/__init__.py, (1)-(12).

Numbers are printed with DIGITS significant digits. A dimension of at most FULL_LIMIT entries is
printed whole; a longer one shows its first PREVIEW entries, an ellipsis, and the array's norm.
Row-vector notation prints vectors as rows and every parameter (and its gradient) transposed,
as that text names them (W_x = W_xh^T).

Shapes: T steps, D inputs, H hidden units, O outputs; one sequence (no batch).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

import rnn_core as rc
from rnn_core.flow import outputs_carried_back
from ui import notation as nt
from ui import symbols
from ui.notation import Notation, d
from ui.stages import STAGES, info_of, keys_of

Array = np.ndarray
STAGE_KEYS = keys_of("rnn")     # the vanilla walk (ui/derivation_gated.py: the gated cells')
THETA = r"\theta"
DELTA = r"\delta"

DIGITS = 4          # significant digits of every printed number
FULL_LIMIT = 6      # a dimension up to this size is printed whole
PREVIEW = 4         # else its first PREVIEW entries, an ellipsis and the norm

# ---- printing numbers -------------------------------------------------------------------------

def number(value: float) -> str:
    """LaTeX of one number with DIGITS significant digits: 0.1235, -1.235{\\times}10^{-5}, \\infty."""
    v = float(value)
    if np.isnan(v):
        return r"\mathrm{nan}"
    if np.isinf(v):
        return r"\infty" if v > 0 else r"-\infty"
    text = f"{v:.{DIGITS}g}"
    if text == "-0":
        text = "0"
    mantissa, _, exponent = text.partition("e")
    return rf"{mantissa}{{\times}}10^{{{int(exponent)}}}" if exponent else mantissa


def norm(values) -> float:
    """The Euclidean (vector) or Frobenius (matrix) norm; inf or nan when an entry is."""
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        biggest = np.max(np.abs(a), initial=0.0)
        if biggest == 0 or not np.isfinite(biggest):
            return float(biggest) if not np.isnan(a).any() else float("nan")
        return float(biggest * np.sqrt(np.sum((a / biggest) ** 2)))   # no overflow of the squares


def array(values, *, row: bool = False) -> str:
    """bmatrix LaTeX of a vector (a column, or a row if `row`) or a matrix.

    A dimension longer than FULL_LIMIT shows its first PREVIEW entries and an ellipsis, and
    then the norm of the whole array is printed as a subscript.
    """
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 0:
        return number(a)
    M = a if a.ndim == 2 else (a.reshape(1, -1) if row else a.reshape(-1, 1))
    cut_rows, cut_cols = M.shape[0] > FULL_LIMIT, M.shape[1] > FULL_LIMIT
    shown = M[:PREVIEW if cut_rows else None, :PREVIEW if cut_cols else None]
    lines = [" & ".join([number(v) for v in r] + ([r"\cdots"] if cut_cols else [])) for r in shown]
    if cut_rows:
        lines.append(" & ".join([r"\vdots"] * shown.shape[1] + ([r"\ddots"] if cut_cols else [])))
    body = r" \\ ".join(lines)
    latex = rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"
    if cut_rows or cut_cols:
        which = r"_F" if a.ndim == 2 else ""
        latex += rf"_{{\lVert\cdot\rVert{which} = {number(norm(a))}}}"
    return latex


LINE_CHARS = 70      # a numeric line wider than this (estimated) is broken at its + and - signs


def width(latex: str) -> int:
    """A rough printed width of a LaTeX line in characters: a matrix counts its widest row."""
    def matrix_width(m: re.Match) -> str:
        rows = m.group(1).split(r"\\")
        return "x" * max(sum(len(cell.strip()) + 2 for cell in row.split("&")) for row in rows)
    flat = re.sub(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", matrix_width, latex, flags=re.S)
    flat = re.sub(r"\\(left|right|big|Big|[,;!]|underbrace|odot|operatorname)", "", flat)
    return len(re.sub(r"[{}_^ ]", "", flat))


def lines(first: str, *rest: str) -> tuple[str, ...]:
    """Terms of a sum as numeric steps: one line if it fits LINE_CHARS, else one line per term.

    Every term after the first carries its own operator ('+ ...' or '- ...').
    """
    one = " ".join((first,) + rest)
    return (one,) if width(one) <= LINE_CHARS else (first,) + rest


@dataclass(frozen=True)
class Printer:
    """Prints arrays the way notation `n` writes them (rows and transposes for row vectors)."""

    n: Notation

    def vec(self, v: Array) -> str:
        """A state vector: a column, or a row in row-vector notation."""
        return array(v, row=self.n.row_vectors)

    def vec_t(self, v: Array) -> str:
        """A state vector transposed, as in delta h^T: a row (or a column in row notation)."""
        return array(v, row=not self.n.row_vectors)

    def param(self, M: Array) -> str:
        """A parameter or its gradient as this text names it (row notation: W_x = W_xh^T)."""
        return array(M.T if self.n.row_vectors and M.ndim == 2 else M, row=self.n.row_vectors)

    def param_t(self, M: Array) -> str:
        """The transpose of a parameter as written in an equation, e.g. W_hy^T (row: W_y^T = W_hy)."""
        return array(M if self.n.row_vectors else M.T)

    def apply(self, M: Array, v: str, *, transpose: bool = False) -> str:
        """Numeric W v (or v W in row notation), mirroring Notation.times."""
        W = self.param_t(M) if transpose else self.param(M)
        return f"{v} {W}" if self.n.row_vectors else f"{W} {v}"

    def outer(self, left: Array, right: Array) -> str:
        """Numeric left right^T (row notation: right^T left), mirroring Notation.outer."""
        if self.n.row_vectors:
            return f"{self.vec_t(right)} {self.vec(left)}"
        return f"{self.vec(left)} {self.vec_t(right)}"


# ---- the equations ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Equation:
    """One equation: symbols, then numbers, then the result.

    key names the quantity `value` shows (e.g. "a", "dL_dh"), so tests can compare it with
    rnn_core; tag is its number in rnn_core/__init__.py ("" if unnumbered). `steps` are the
    right side with numbers substituted, one line each; a step starting with + or - continues
    the line above (see `lines`).
    """

    key: str
    tag: str
    lhs: str
    rhs: str
    steps: tuple[str, ...] = ()
    value: str = ""
    rel: str = "="
    note: str = ""        # markdown shown under the equation
    one_line: bool = False      # lhs = rhs = steps = value on one line (a few short vectors, e.g. a gate)
    numbers_row: bool = False   # lhs = rhs, then steps = value on one second line

    def latex(self, *, inline_tag: bool = False) -> str:
        """One display formula: aligned lines lhs = rhs = steps = value, with the tag.

        inline_tag writes the number after the block (\\qquad (n)) instead of \\tag{n}: KaTeX
        pins a \\tag to the right edge, where it lands on a wide matrix inside a scrolling block.
        """
        lines = [f"{self.lhs} &{self.rel} {self.rhs}"]
        if self.one_line or self.numbers_row:
            numbers = " = ".join(self.steps + ((self.value,) if self.value else ()))
            lines = [f"{lines[0]} = {numbers}"] if self.one_line else lines + [f"&= {numbers}"]
        else:
            # a step that starts with an operator continues the line above it
            lines += [rf"&\phantom{{=}}\; {s}" if s[:1] in "+-" else f"&= {s}" for s in self.steps]
            if self.value:
                lines.append(f"&= {self.value}")
        tag = ""
        if self.tag:
            tag = rf" \qquad \text{{({self.tag})}}" if inline_tag else rf" \tag{{{self.tag}}}"
        return r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}" + tag


@dataclass(frozen=True, eq=False)
class Example:
    """The worked example: one model (any cell's params) on one sequence. xs (T, D), ys (T,)
    ints [softmax_ce] or (T, O), mask (T,) or None. (Not rnn_core's Problem, the engine's
    checked inputs.)"""

    params: rc.CellParams
    xs: Array
    ys: Array
    mask: Array | None
    activation: str
    loss: str
    reduction: str = "sum"

    @property
    def T(self) -> int:
        return self.xs.shape[0]

    @property
    def cell(self) -> str:
        return rc.cell_of(self.params).name

    def solve(self, params: rc.CellParams | None = None) -> rc.BPTTResult:
        """Exact BPTT (no truncation: the derivation is the exact one)."""
        return rc.bptt(params or self.params, self.xs, self.ys, activation=self.activation,
                       loss=self.loss, reduction=self.reduction, mask=self.mask)


@dataclass(frozen=True, eq=False)
class DoubleSum:
    """The terms of eq. (9) for one loss term t: how dL_t/dW_hh splits over the steps k <= t.

    pieces (t, H, H): term k-1 is the part of d(w_t L_t)/dW_hh that flows through step k's own
    use of W_hh (kept for t <= FULL_LIMIT, else (0, H, H)); norms (t,) their Frobenius norms;
    shares (t,) norms / sum(norms) (nan if all are 0); total (H, H): their sum, d(w_t L_t)/dW_hh.
    """

    t: int
    pieces: Array
    norms: Array
    shares: Array
    total: Array


def double_sum_terms(problem: Example, result: rc.BPTTResult, t: int) -> DoubleSum:
    """The terms of eq. (9) for loss term t, from rnn_core.contributions.

    The terms of loss term t involve steps 1..t only, so they are computed on the first t
    steps with the mask w_t e_t and reduction 'sum', i.e. on the loss w_t L_t alone (result
    gives the weights w). rnn_core's contributions carry every loss term back at once, about
    t^2 H^2 work (the page's cost model decides whether to ask: ui/pages/derivation.py). The
    matrices are kept for t <= FULL_LIMIT, where the page writes them out; else `pieces` is (0, H, H).
    """
    if not 1 <= t <= problem.T:
        raise ValueError(f"t must lie in [1, T={problem.T}], got {t!r}")
    H = problem.params.W_hh.shape[0]
    mask = np.zeros(t)
    mask[t - 1] = result.weights[t - 1]
    alone = Example(problem.params, problem.xs[:t], problem.ys[:t], mask, problem.activation,
                    problem.loss, "sum")
    kwargs = dict(activation=alone.activation, loss=alone.loss, mask=mask)
    with np.errstate(all="ignore"):
        norms = rc.contributions(alone.params, alone.xs, alone.ys, **kwargs)[t - 1, :t]
        pieces = (rc.contribution_pieces(alone.params, alone.xs, alone.ys, **kwargs)[t - 1, :t]
                  if t <= FULL_LIMIT else np.zeros((0, H, H)))
        total = alone.solve().grads.W_hh
        norms_sum = np.sum(norms)
        shares = norms / norms_sum if np.isfinite(norms_sum) and norms_sum > 0 else np.full(t, np.nan)
    return DoubleSum(t=t, pieces=pieces, norms=norms, shares=shares, total=total)


def double_sum_rows(terms: DoubleSum) -> list[dict]:
    """The table of the double sum: one row per term k (for the page and the export)."""
    return [{"k": k, "distance t − k": terms.t - k, "‖term‖_F": f"{norm_:.4g}",
             "share": f"{share:.1%}" if np.isfinite(share) else "–"}
            for k, (norm_, share) in enumerate(zip(terms.norms, terms.shares), start=1)]


# ---- the gradient check ---------------------------------------------------------------------------

PASS_MARK, FAIL_MARK = "✓ pass", "✗ FAIL"   # plain symbols: emoji fonts are not everywhere


def gradient_check(problem: Example, *, max_entries: int) -> rc.GradcheckReport:
    """rnn_core.gradcheck of the exact gradient, at most `max_entries` entries per array (the
    page's cost model chooses them: ui/pages/derivation.py)."""
    return rc.gradcheck(problem.params, problem.xs, problem.ys, activation=problem.activation,
                        loss=problem.loss, reduction=problem.reduction, mask=problem.mask,
                        max_entries=max_entries)


def gradcheck_rows(report: rc.GradcheckReport, notation: str, cell: str = "rnn") -> list[dict]:
    """The gradient check as table rows, each parameter of `cell` named in `notation` (and the
    engine's name); the initial state h_0 (and the LSTM's c_0) after them."""
    n = nt.NOTATIONS[notation]
    names = nt.cell_names(n, cell)
    initial = {"h0": ("h", "h_0"), "c0": ("c", "c_0")}
    rows = []
    for r in report.rows:
        if r.name in initial:
            state, engine = initial[r.name]
            symbol = n.at(n.h, "0") if names is None else names.at(state, "0")
        else:
            symbol, engine = nt.cell_param(n, cell, r.name), r.name
        label = nt.plain(symbol)
        rows.append({
            "gradient": f"∂L/∂{label}" + (f" (∂L/∂{engine})" if label != engine else ""),
            "shape": " × ".join(map(str, r.shape)),
            "entries": r.n_total,
            "entries checked": r.n_checked,
            "max |analytic|": f"{np.max(np.abs(r.analytic), initial=0.0):.4g}",
            "max abs error": f"{r.max_abs_error:.2e}",
            "max relative error": f"{r.max_rel_error:.2e}",
            "pass": PASS_MARK if r.passed else FAIL_MARK,
        })
    return rows


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    tags: str
    intro: str                          # markdown (with $inline$ LaTeX)
    equations: tuple[Equation, ...]
    notes: tuple[str, ...] = field(default=())   # markdown after the equations


# ---- what the stages compute with the engine ------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Numbers:
    """The engine's results the stages at step t print, beyond the exact BPTT `result`: computed
    once per model, step and learning rate, so that writing them in another notation asks the
    engine for nothing.

    factor (H, H): dh_j/dh_{j-1} of stage (8), j = t + 1 (j = T at t = T), None when T = 1;
    to_last (H, H): dh_T/dh_t, None when not asked for (`product`), to_last_norm its spectral
    norm (rnn_core.matrix_norm: inf or nan when it overflowed); unrolled (T - t + 1, H):
    what each output o_k, k = t..T, sends back to h_t, None when not asked for; sigma_max:
    the largest singular value of W_hh; updated: the parameters after the update (12) with lr
    (rnn_core.sgd_step); loss_after: L with them (nan if a parameter is not finite).
    """

    factor: Array | None
    to_last: Array | None
    to_last_norm: float | None
    unrolled: Array | None
    sigma_max: float
    updated: rc.Params
    loss_after: float


def numbers(problem: Example, result: rc.BPTTResult, *, t: int, lr: float, product: bool = True,
            unrolled_terms: bool = True) -> Numbers:
    """Everything `build` needs from the engine at step t (see Numbers); product and
    unrolled_terms: whether to compute dh_T/dh_t and the unrolled terms (the page's cost model)."""
    T, params = problem.T, problem.params

    def jacobian(k: int, t_: int) -> Array:
        return rc.jacobian_between(params, problem.xs, k, t_, activation=problem.activation)

    with np.errstate(all="ignore"):
        j = t + 1 if t < T else T
        to_last = jacobian(t, T) if product else None
        updated, _ = rc.sgd_step(params, result.grads, lr=lr)                 # eq. (12)
        finite = all(np.all(np.isfinite(a)) for _, a in updated.items())
        return Numbers(factor=jacobian(j - 1, j) if T > 1 else None,
                       to_last=to_last, to_last_norm=None if to_last is None else rc.matrix_norm(to_last),
                       unrolled=outputs_carried_back(result, params, t) if unrolled_terms else None,
                       sigma_max=float(rc.singular_values(params.W_hh)[0]), updated=updated,
                       loss_after=problem.solve(updated).loss if finite else np.nan)


# ---- the walk, stage by stage ---------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Step:
    """Everything one stage needs at step t (1-based; arrays indexed by i = t - 1)."""

    problem: Example
    result: rc.BPTTResult
    t: int
    n: Notation
    p: Printer
    lr: float
    numbers: Numbers

    @property
    def i(self) -> int:
        return self.t - 1

    def at(self, symbol: str, t: int | str) -> str:
        return self.n.at(symbol, str(t))

    def h_prev(self, t: int) -> Array:
        """h_{t-1} (H,), h_0 at t = 1."""
        return self.result.trace.h0 if t == 1 else self.result.trace.h[t - 2]

    @property
    def activation(self) -> str:
        return self.problem.activation

    @property
    def linear(self) -> bool:
        """f is the identity: no f' factors, and the step Jacobian is the matrix alone."""
        return self.problem.activation == "identity"

    @property
    def biases(self) -> bool:
        """Whether the equations write the biases (not for D2L's bias-free model while they are 0)."""
        params = self.problem.params
        return nt.shows_biases(self.n, self.activation, params.b_h, params.b_y)

    @property
    def every_step(self) -> bool:
        """Every step's loss counts fully (mask all ones): 'mean' is then 1/T."""
        return nt.every_step_counts(self.problem.mask)

    def shown_params(self) -> tuple[str, ...]:
        """The parameters the equations write (the biases only if `biases`)."""
        return tuple(p for p in nt.PARAMS if self.biases or p not in ("b_h", "b_y"))

    def fprime(self, t: int) -> Array:
        """f'(a_t) (H,)."""
        tr = self.result.trace
        return rc.get_activation(self.problem.activation).df(tr.a[t - 1], tr.h[t - 1])


def build(problem: Example, result: rc.BPTTResult, *, t: int, notation: str, lr: float,
          double_sum: DoubleSum | None = None, numbers_: Numbers | None = None) -> tuple[Stage, ...]:
    """Every stage of the derivation at step t (1..T) in `notation` with learning rate lr.

    result: `problem.solve()`. double_sum: `double_sum_terms(problem, result, t)` (None leaves
    that stage with the symbolic equation and a note). numbers_: `numbers(problem, result, t=t,
    lr=lr, ...)`, computed here when not given; a part it left out (None) is a note.
    """
    if not 1 <= t <= problem.T:
        raise ValueError(f"t must lie in [1, T={problem.T}], got {t!r}")
    n = nt.NOTATIONS[notation]
    if numbers_ is None:
        numbers_ = numbers(problem, result, t=t, lr=lr)
    s = _Step(problem, result, t, n, Printer(n), float(lr), numbers_)
    with np.errstate(all="ignore"):
        return (_forward(s), _output(s), _last(s), _recursion(s), _factor(s),
                _double_sum(s, double_sum), _params(s), _update(s))


def _stage(s: _Step, key: str, intro: str, equations, notes=()) -> Stage:
    info = info_of("rnn", key)
    return Stage(key, info.heading(s.n), info.tags, intro, tuple(equations), tuple(notes))


def _forward(s: _Step) -> Stage:
    n, p, t, i, tr = s.n, s.p, s.t, s.i, s.result.trace
    prob = s.problem
    out = rc.get_loss(prob.loss)
    act = rc.get_activation(prob.activation)
    x, h_prev = p.vec(prob.xs[i]), p.vec(s.h_prev(t))
    terms = n.order([p.apply(prob.params.W_xh, x), p.apply(prob.params.W_hh, h_prev)],
                    p.vec(prob.params.b_h) if s.biases else None)
    a_eq = Equation("a", "1", s.at(n.a, t), n.pre_activation(str(t), str(t - 1), biases=s.biases),
                    lines(terms[0], *(f"+ {term}" for term in terms[1:])), p.vec(tr.a[i]),
                    note=f"${s.at(n.h, 0)} = 0$: the state before the first step." if t == 1 else "")
    h_eq = Equation("h", "2", s.at(n.h, t), rf"{act.latex}({s.at(n.a, t)})",
                    (rf"{act.latex}\!\left({p.vec(tr.a[i])}\right)",), p.vec(tr.h[i]))
    o_terms = n.order([p.apply(prob.params.W_hy, p.vec(tr.h[i]))], p.vec(prob.params.b_y) if s.biases else None)
    o_eq = Equation("o", "3", s.at(n.o, t), n.output(str(t), biases=s.biases),
                    lines(o_terms[0], *(f"+ {term}" for term in o_terms[1:])), p.vec(tr.o[i]),
                    note="" if s.biases else _no_biases_note(s))
    y_hat = out.predict(tr.o[i])
    squash = symbols.loss(prob.loss).output_function
    yhat_eq = Equation("y_hat", "", s.at(n.y_hat, t), nt.y_hat_definition(n, prob.loss, str(t)),
                       (rf"{squash}\!\left({p.vec(tr.o[i])}\right)",) if squash else (), p.vec(y_hat))
    return _stage(s, "forward", (
        "The forward pass at the chosen step: the new state mixes the input with the previous "
        "state (1), goes through the activation (2), is read out (3) and scored (4); "
        "the loss of the sequence adds up every step's loss with its weight (5)."),
        [a_eq, h_eq, o_eq, yhat_eq, _step_loss(s, y_hat), _total_loss(s)])


def _step_loss(s: _Step, y_hat: Array) -> Equation:
    n, p, t, i, prob = s.n, s.p, s.t, s.i, s.problem
    words = symbols.loss(prob.loss)
    step = words.step_loss_numbers(p.vec, number, s.result.trace.o[i], prob.ys[i], y_hat)
    return Equation("L_t", "4", s.at(n.L, t), nt.step_loss(n, prob.loss, str(t)), (step,),
                    number(s.result.step_losses[i]), note=words.step_loss_note(n, str(t), prob.ys[i]))


def _total_loss(s: _Step) -> Equation:
    """Eq. (5) with every term for T <= FULL_LIMIT, else the first two, an ellipsis and the last."""
    n, T, res = s.n, s.problem.T, s.result
    w, Ls = res.weights, res.step_losses
    show_w = not np.all(w == 1.0)
    idx = list(range(T)) if T <= FULL_LIMIT else [0, 1, None, T - 1]
    terms = [r"\cdots" if j is None else
             (rf"{number(w[j])} \cdot {number(Ls[j])}" if show_w else number(Ls[j])) for j in idx]
    rhs = rf"\sum_{{t=1}}^{{{T}}} {s.at('w', 't')} {s.at(n.L, 't')}"
    return Equation("L", "5", n.L, rhs, lines(terms[0], *(f"+ {term}" for term in terms[1:])),
                    number(res.loss),
                    note=_weights_note(s))


def _weights_note(s: _Step) -> str:
    prob = s.problem
    counted = prob.T if prob.mask is None else int(np.count_nonzero(prob.mask))
    w, m = s.at("w", "t"), s.at("m", "t")
    if prob.reduction == "sum":
        return f"Each step's loss has weight ${w} = {m}$; {counted} of {prob.T} steps count."
    return f"'mean' divides each weight by the mask's sum; {counted} of {prob.T} steps count."


def _no_biases_note(s: _Step) -> str:
    """Why the bias terms are not written (D2L's linear model has none)."""
    n = s.n
    return (f"The engine's biases ${n.b_h}$ and ${n.b_y}$ are 0 here and the text's model has none, "
            "so they are left out of every equation (an edit that makes one non-zero brings them back).")


def _output(s: _Step) -> Stage:
    n, p, t, i, prob, res = s.n, s.p, s.t, s.i, s.problem, s.result
    out = rc.get_loss(prob.loss)
    w = res.weights[i]
    m = 1.0 if prob.mask is None else prob.mask[i]
    w_steps = () if prob.reduction == "sum" else (
        rf"\frac{{{number(m)}}}{{{number(prob.T if prob.mask is None else np.sum(prob.mask))}}}",)
    w_eq = Equation("w", "5", s.at("w", t), nt.step_weight(n, prob.reduction, str(t), every_step=s.every_step),
                    w_steps, number(w))
    o = res.trace.o[i]
    words = symbols.loss(prob.loss)
    inner = words.gradient_numbers(p.vec, o, prob.ys[i], out.predict(o))
    g_eq = Equation("dL_do", "6", d(n.L, s.at(n.o, t)),
                    rf"{s.at('w', t)} \big({nt.output_gradient(n, prob.loss, str(t))}\big)",
                    (rf"{number(w)} \left({inner}\right)",), p.vec(res.dL_do[i]),
                    note="This step carries no loss (its mask is 0), so nothing enters here."
                    if w == 0 else "")
    why = f"{words.gradient_words} ${nt.output_gradient(n, prob.loss)}${words.gradient_meaning}"
    return _stage(s, "output", f"The gradient enters at the outputs: {why}, scaled by the step's "
                               f"weight ${s.at('w', 't')}$ in (5).", [w_eq, g_eq])


def _last(s: _Step) -> Stage:
    n, p, prob, res = s.n, s.p, s.problem, s.result
    T = prob.T
    dL_do = d(n.L, s.at(n.o, T))
    eq = Equation("dL_dh_T", "7", d(n.L, s.at(n.h, T)), n.times("W_hy", dL_do, transpose=True),
                  (p.apply(prob.params.W_hy, p.vec(res.dL_do[T - 1]), transpose=True),),
                  p.vec(res.dL_dh[T - 1]))
    return _stage(s, "last", f"The last state ${s.at(n.h, 'T')}$ (here $T = {T}$) feeds only its own output: "
                          "nothing comes after it, so the indirect part of (7) is 0 and the gradient "
                          "is just the output gradient sent back through the read-out weights.", [eq])


def _recursion(s: _Step) -> Stage:
    n, p, t, i, prob, res = s.n, s.p, s.t, s.i, s.problem, s.result
    direct_sym, indirect_sym = nt.recursion(n, str(t), str(t + 1), activation=s.activation)
    direct_num = p.apply(prob.params.W_hy, p.vec(res.dL_do[i]), transpose=True)
    lhs = d(n.L, s.at(n.h, t))
    if t == prob.T:
        eq = Equation("dL_dh", "7", lhs, direct_sym, (direct_num,), p.vec(res.dL_dh[i]),
                      note=f"At $t = T$ there is no ${s.at(n.h, 'T+1')}$: the indirect part is 0.")
    else:
        fp, nxt = p.vec(s.fprime(t + 1)), p.vec(res.dL_dh[i + 1])
        if s.linear:
            inner = nxt
        else:
            inner = rf"\left({nxt} \odot {fp}\right)" if n.row_vectors else rf"\left({fp} \odot {nxt}\right)"
        indirect_num = p.apply(prob.params.W_hh, inner, transpose=True)
        if not s.linear and width(indirect_num) > LINE_CHARS:
            # too wide for one line (rows print long): the elementwise product as one vector
            product = p.vec(s.fprime(t + 1) * res.dL_dh[i + 1])
            indirect_num = p.apply(prob.params.W_hh, rf"\underbrace{{{product}}}_{{\odot}}", transpose=True)
        parts = lines(rf"\underbrace{{{p.vec(res.dL_dh_direct[i])}}}_{{\text{{direct}}}}",
                      rf"+ \underbrace{{{p.vec(res.dL_dh_indirect[i])}}}_{{\text{{indirect}}}}")
        eq = Equation("dL_dh", "7", lhs, rf"{direct_sym} + {indirect_sym}",
                      lines(direct_num, f"+ {indirect_num}") + parts, p.vec(res.dL_dh[i]))
    share = _share(norm(res.dL_dh_direct[i]), norm(res.dL_dh_indirect[i]))
    return _stage(s, "recursion", (
        f"Going backward from $T$, the state ${s.at(n.h, t)}$ gets gradient two ways: *directly* through "
        f"its own output ${s.at(n.o, t)}$, and *indirectly* through the next state ${s.at(n.h, t + 1)}$, "
        f"which already holds everything later steps send back. Here the indirect part carries {share} "
        "of the two parts' total size (sum of norms). Unrolled, the recursion is a sum over every "
        "later output the state reaches, each carried back through the product of step Jacobians."),
        [eq, _future_sum(s)])


def _future_sum(s: _Step) -> Equation:
    """dL/dh_t as the sum over the outputs k = t..T it reaches (eq. (7) unrolled), with its terms'
    numbers for a short sum; its value equals the recursion's."""
    n, p, t = s.n, s.p, s.t
    rhs = nt.future_sum(n, str(t), activation=s.activation)
    if s.numbers.unrolled is None:
        return Equation("dL_dh_future", "", d(n.L, s.at(n.h, t)), rhs,
                        note="The same vector; its terms are not computed here for so long a sum.")
    terms = list(s.numbers.unrolled)
    steps = ()
    if len(terms) <= FULL_LIMIT:
        parts = [rf"\underbrace{{{p.vec(v)}}}_{{k={k}}}" for k, v in enumerate(terms, start=t)]
        steps = lines(parts[0], *(f"+ {part}" for part in parts[1:]))
    where = "D2L's (9.7.15)" if s.linear and n.d2l_sums else "the same gradient"
    return Equation("dL_dh_future", "", d(n.L, s.at(n.h, t)), rhs, steps, p.vec(np.sum(terms, axis=0)),
                    note=f"Unrolled: {where}, one term per later output $k \\ge t$ (term $k$ is what "
                         f"output ${s.at(n.o, 'k')}$ sends back to ${s.at(n.h, t)}$); it equals the recursion.")


def _share(direct: float, indirect: float) -> str:
    total = direct + indirect
    return f"{indirect / total:.0%}" if np.isfinite(total) and total > 0 else "undefined"


def _factor(s: _Step) -> Stage:
    n, p, t, prob = s.n, s.p, s.t, s.problem
    T = prob.T
    equations = []
    notes = []
    if T == 1:
        notes.append("With $T = 1$ there is no recurrence to go through: no factor.")
    else:
        j = t + 1 if t < T else T            # the factor dh_j/dh_{j-1} shown
        if t == T:
            notes.append(f"${s.at(n.h, 'T')}$ has no successor; shown instead is the factor into "
                         f"${s.at(n.h, 'T')}$ from ${s.at(n.h, 'T-1')}$.")
        fp = s.fprime(j)
        J = s.numbers.factor
        # the engine's W_hh is the matrix of the Jacobian; row notation names it W_h^T
        W = array(prob.params.W_hh)
        numbers = W if s.linear else rf"\operatorname{{diag}}\!\left({p.vec(fp)}\right) {W}"
        equations.append(Equation(
            "factor", "8", d(s.at(n.h, j), s.at(n.h, j - 1)), n.step_jacobian(str(j), s.activation),
            (numbers,), array(J),
            note=rf"Entry $[r, c]$ is $\partial {s.at(n.h, j)}[r] / \partial {s.at(n.h, j - 1)}[c]$ in "
                 rf"every notation; here ${symbols.activation(prob.activation).note}$."))
    gamma = rc.get_activation(prob.activation).gamma
    sigma = s.numbers.sigma_max
    dist = T - t
    prod = rf"\Big\lVert \prod_{{i={t + 1}}}^{{{T}}} {d(s.at(n.h, 'i'), s.at(n.h, 'i-1'))} \Big\rVert_2"
    H = prob.params.W_hh.shape[0]
    if s.numbers.to_last is not None:
        J_T = s.numbers.to_last
        if s.linear:
            # D2L's closed form: the product of equal factors is a matrix power
            equations.append(Equation("jac_power", "8", d(s.at(n.h, T), s.at(n.h, t)),
                                      n.jacobian_power(f"{T}-{t}"), (), array(J_T)))
        equations.append(Equation("jac_norm", "8", rf"\Big\lVert {d(s.at(n.h, T), s.at(n.h, t))} \Big\rVert_2",
                                  prod if dist else r"\lVert I \rVert_2", (),
                                  number(s.numbers.to_last_norm)))
    else:
        notes.append(f"The product of {dist} Jacobians of size {H} x {H} (about {2 * dist * H ** 3:.0e} "
                     "operations) is left out here; the Vanishing & exploding page streams it for every k.")
    equations.append(Equation(
        "bound", "11", rf"\Big\lVert {d(s.at(n.h, T), s.at(n.h, t))} \Big\rVert_2",
        rf"\big(\gamma\, \sigma_{{\max}}({n.W_hh})\big)^{{T - t}}",
        (rf"\big({number(gamma)} \cdot {number(sigma)}\big)^{{{dist}}}",),
        number(_power(gamma * sigma, dist)), rel=r"\le"))
    return _stage(s, "factor", (
        "Every step back multiplies the gradient by the Jacobian of one step, (8). Their product "
        "over many steps shrinks or grows like a power of the factor's size: bounded by "
        "$(\\gamma\\,\\sigma_{\\max})^{T-t}$ (11), where $\\gamma$ bounds $|f'|$."), equations, notes)


def _power(base: float, exponent: int) -> float:
    with np.errstate(over="ignore"):
        return float(np.float64(base) ** exponent)


def _double_sum(s: _Step, terms: DoubleSum | None) -> Stage:
    n, t = s.n, s.t
    lhs = d(nt.weighted_loss(n, str(t)), n.W_hh)
    rhs = rf"\sum_{{k=1}}^{{{t}}} {nt.double_sum_term(n, str(t))}"
    W, h = n.W_hh, n.h
    intro = (f"Loss term $t = {t}$ depends on ${W}$ through every step $k \\le t$: the gradient made "
             f"at step $k$ (where ${W}$ multiplies ${s.at(h, 'k-1')}$) is carried to ${s.at(h, t)}$ "
             "through the product of the factors (8). Distant terms carry long products, so they "
             "shrink (vanishing) or grow (exploding). Summing these terms over $t$ gives (9). "
             + nt.immediate_definition(n))
    if terms is None:
        return _stage(s, "double_sum", intro, [Equation("double_sum", "9", lhs, rhs)],
                      [f"The term-by-term split of a loss term costs about $t^2 H^2$ operations; at "
                       f"t = {t} with H = {s.problem.params.W_hh.shape[0]} it is left out to keep the "
                       f"page responsive. Pick an earlier step t or fewer hidden units."])
    p = s.p
    steps = ()
    if len(terms.pieces):
        parts = [rf"\underbrace{{{p.param(piece)}}}_{{k={k}}}" for k, piece in enumerate(terms.pieces, start=1)]
        steps = lines(parts[0], *(f"+ {part}" for part in parts[1:]))
    eq = Equation("double_sum", "9", lhs, rhs, steps, p.param(terms.total),
                  note=f"Each term $k$ is ${nt.double_sum_piece(n, str(t), activation=s.activation)}$: a "
                       f"piece of ${nt.gradient_term(n, 'W_hh', 'k')}$ in (10).")
    notes = [] if len(terms.pieces) else [
        f"With {t} terms the sum is shown as a table and a chart (it is written out for t up to {FULL_LIMIT})."]
    if not np.any(s.result.trace.h0):
        notes.append(f"The term $k = 1$ is 0: there ${W}$ multiplies ${s.at(h, 0)} = 0$.")
    return _stage(s, "double_sum", intro, [eq], notes)


def _params(s: _Step) -> Stage:
    n, p, t, i, prob, res = s.n, s.p, s.t, s.i, s.problem, s.result
    T = prob.T
    delta_sym = s.at(r"\delta", t)
    fp, dh = p.vec(s.fprime(t)), p.vec(res.dL_dh[i])
    product = dh if s.linear else rf"{dh} \odot {fp}" if n.row_vectors else rf"{fp} \odot {dh}"
    equations = [Equation("delta", "10", delta_sym, nt.delta(n, str(t), activation=s.activation), (product,),
                          p.vec(res.dL_da[i]), note=f"${symbols.activation(prob.activation).note}$.")]
    factors = {
        "W_xh": lambda: p.outer(res.dL_da[i], prob.xs[i]),
        "W_hh": lambda: p.outer(res.dL_da[i], s.h_prev(t)),
        "b_h": lambda: p.vec(res.dL_da[i]),
        "W_hy": lambda: p.outer(res.dL_do[i], res.trace.h[i]),
        "b_y": lambda: p.vec(res.dL_do[i]),
    }
    for name in s.shown_params():
        term = rf"\underbrace{{{factors[name]()}}}_{{\text{{term }} s = t}}"
        before = r"\cdots + " if t > 1 else ""
        after = r" + \cdots" if t < T else ""
        equations.append(Equation(
            f"grad_{name}", "10", d(n.L, n.param(name)),
            rf"\sum_{{s=1}}^{{{T}}} {nt.gradient_term(n, name, 's')}",
            (before + term + after,), p.param(getattr(res.grads, name))))
    equations.append(Equation("dL_dh0", "7", d(n.L, s.at(n.h, 0)),
                              n.times("W_hh", s.at(r"\delta", 1), transpose=True),
                              (p.apply(prob.params.W_hh, p.vec(res.dL_da[0]), transpose=True),),
                              p.vec(res.dL_dh0), note="The gradient that reaches the initial state."))
    return _stage(s, "params", (
        "The same weights act at every step, so each parameter's gradient is a sum over the steps "
        f"of what that step contributes, through ${s.at(DELTA, 't')}$, the gradient at the pre-activation. "
        f"Shown: the term of step $s = t = {t}$ with its numbers, and the whole sum."), equations)


def _update(s: _Step) -> Stage:
    n, p, prob, res = s.n, s.p, s.problem, s.result
    eta = s.lr
    new = s.numbers.updated.to_dict()
    equations = [
        Equation(f"update_{name}", "12", n.param(name), rf"{n.param(name)} - \eta\, {d(n.L, n.param(name))}",
                 lines(p.param(getattr(prob.params, name)), rf"- {number(eta)}\, {p.param(getattr(res.grads, name))}"),
                 p.param(new[name]), rel=r"\leftarrow")
        for name in s.shown_params()]
    after = s.numbers.loss_after
    equations.append(Equation("L_new", "", rf"{n.L}_{{\text{{after}}}}",
                              rf"{n.L}\big({THETA} - \eta\, {d(n.L, THETA)}\big)", (), number(after),
                              note=f"Before the step $L = {number(res.loss)}$."))
    return _stage(s, "update", (
        f"One step of gradient descent with learning rate $\\eta = {number(eta)}$ moves every "
        "parameter against its gradient (no clipping here; the Training page adds it)."), equations)


# ---- export --------------------------------------------------------------------------------------

def to_markdown(stages: tuple[Stage, ...], *, title: str, header: list[str],
                tables: dict[str, list[dict]] | None = None) -> str:
    """The derivation as Markdown with $$...$$ display LaTeX, for lecture notes.

    header: lines of markdown under the title (the model, the notation); tables: heading ->
    rows (dicts with the same keys), appended as Markdown tables.
    """
    out = [f"# {title}", "", *header, ""]
    for number_, stage in enumerate(stages, start=1):
        out += [f"## {number_}. {stage.title} {stage.tags}", "", stage.intro, ""]
        for eq in stage.equations:
            out += ["$$", eq.latex(), "$$", ""]
            if eq.note:
                out += [eq.note, ""]
        out += [note + "\n" for note in stage.notes]
    for heading, rows in (tables or {}).items():
        if rows:
            keys = list(rows[0])
            out += [f"## {heading}", "", "| " + " | ".join(keys) + " |",
                    "|" + "---|" * len(keys)]
            out += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
            out.append("")
    return "\n".join(out)
