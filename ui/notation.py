"""Textbook notations: the names each text gives to the same five parameters and states.

Every page labels things through a `Notation` (NOTATIONS[config.notation]) so a student sees the
letters of their own text: `param(name)` and `at(symbol, t)` give LaTeX symbols, `html_param` and
`html_at` the same for plotly labels (which cannot typeset LaTeX), and `equations(...)` the
symbolic equations (1)-(12) of rnn_core/__init__.py as that text writes them.

The engine always uses column vectors and W_xh, W_hh, b_h, W_hy, b_y; `row` notation writes
x W instead of W x (its W_x is our W_xh transposed), so its equations put every vector on the
left of the matrix and its gradients are the transposes of ours.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

import rnn_core as rc
from ui import symbols as registry   # (this module's `symbols` are prose placeholders)

PARAMS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")
MATRICES = ("W_xh", "W_hh", "W_hy")


@dataclass(frozen=True)
class Notation:
    key: str
    title: str            # shown in the sidebar
    source: str           # which kind of text uses it
    row_vectors: bool     # True: h_t = f(x_t W_x + h_{t-1} W_h + b_h)
    W_xh: str
    W_hh: str
    b_h: str
    W_hy: str
    b_y: str
    a: str = "a"
    h: str = "h"
    o: str = "o"
    y_hat: str = r"\hat{y}"
    L: str = "L"
    superscript_time: bool = False   # h^{(t)} rather than h_t
    x: str = "x"
    y: str = "y"
    bias_first: bool = False         # a^{(t)} = b + W h^{(t-1)} + U x^{(t)}, as the Deep Learning Book
    omits_zero_biases: bool = False  # the text's linear model has no biases (D2L 9.7): zero ones are not written
    d2l_sums: bool = False           # the sum over future steps as D2L's (9.7.15): index i, o_{T+t-i}
    convention: str = ""             # markdown: where the text's conventions differ from the app's

    # ---- symbols ---------------------------------------------------------------------------

    def at(self, symbol: str, t: str) -> str:
        """LaTeX of a state symbol at time t, e.g. h_{t} or h^{(t)}."""
        return f"{symbol}^{{({t})}}" if self.superscript_time else f"{symbol}_{{{t}}}"

    def entry(self, symbol: str, t: str, j: str) -> str:
        """LaTeX of entry j of a state at time t: y_{t,j} or y^{(t)}_{j}."""
        return f"{symbol}^{{({t})}}_{{{j}}}" if self.superscript_time else f"{symbol}_{{{t},{j}}}"

    def param(self, name: str) -> str:
        """LaTeX symbol of a parameter given by its engine name (W_xh, W_hh, b_h, W_hy, b_y)."""
        if name not in PARAMS:
            raise ValueError(f"name must be one of {list(PARAMS)}, got {name!r}")
        return getattr(self, name)

    def plain_param(self, name: str) -> str:
        """The parameter's symbol as plain text (select boxes, sidebar labels): W_{hh} -> W_hh."""
        return plain(self.param(name))

    def html_param(self, name: str) -> str:
        """The parameter's symbol for plotly text (HTML sub/superscripts), e.g. W<sub>hh</sub>."""
        return to_html(self.param(name))

    def html_at(self, symbol: str, t: str) -> str:
        """A state symbol at time t for plotly text, e.g. h<sub>t</sub> or h<sup>(t)</sup>."""
        return to_html(self.at(symbol, t))

    # ---- building blocks of the equations --------------------------------------------------

    def times(self, name: str, vec: str, *, transpose: bool = False) -> str:
        """A parameter applied to a vector: W v (column) or v W (row); with transpose W^T v / v W^T."""
        W = self.param(name) + (r"^{\top}" if transpose else "")
        return f"{vec} {W}" if self.row_vectors else f"{W} {vec}"

    def outer(self, left: str, right: str) -> str:
        """The matrix built from two column vectors as `left right^T` in our convention.

        Row notation writes the transpose of that matrix: right^T left.
        """
        # braces keep the transpose off the time superscript: {x^{(t)}}^T, never x^{(t)}^T
        return f"{{{right}}}^{{\\top}} {left}" if self.row_vectors else f"{left} {{{right}}}^{{\\top}}"

    def pre_activation(self, t: str = "t", prev: str = "t-1", *, biases: bool = True) -> str:
        """The right side of eq. (1) at time t (without b_h if not `biases`)."""
        x, h_prev = self.at(self.x, t), self.at(self.h, prev)
        return " + ".join(self.order([self.times("W_xh", x), self.times("W_hh", h_prev)],
                                     self.b_h if biases else None))

    def output(self, t: str = "t", *, biases: bool = True) -> str:
        """The right side of eq. (3) at time t (without b_y if not `biases`)."""
        return " + ".join(self.order([self.times("W_hy", self.at(self.h, t))], self.b_y if biases else None))

    def order(self, terms: list, bias):
        """Terms then the bias, or the bias first and the terms reversed (the Deep Learning book)."""
        terms = terms + ([bias] if bias is not None else [])
        return terms[::-1] if self.bias_first else terms

    def recurrent_matrix(self) -> str:
        """The matrix of dh_t/dh_{t-1} = diag(f'(a_t)) M: W_hh, or W_h^T in row notation.

        Row vectors: h_t = f(x_t W_x + h_{t-1} W_h + b), so d h_t[r] / d h_{t-1}[c] =
        f'(a_t)[r] W_h[c, r], i.e. the Jacobian is diag(f'(a_t)) W_h^T (= diag(f'(a_t)) W_hh).
        """
        return self.param("W_hh") + (r"^{\top}" if self.row_vectors else "")

    def step_jacobian(self, t: str = "t+1", activation: str | None = None) -> str:
        """The right side of eq. (8), dh_t/dh_{t-1}: diag(f'(a_t)) W_hh (row: diag(f'(a_t)) W_h^T).

        In every notation the Jacobian's entry [r, c] is d h_t[r] / d h_{t-1}[c]. With the
        identity activation (f' = 1) it is the matrix alone.
        """
        if activation == "identity":
            return self.recurrent_matrix()
        return rf"\operatorname{{diag}}\!\big(f'({self.at(self.a, t)})\big)\, {self.recurrent_matrix()}"

    def jacobian_power(self, exponent: str) -> str:
        """dh_t/dh_k of the linear model (f = identity), the step Jacobian to the power t - k."""
        M = self.recurrent_matrix()
        return f"({M})^{{{exponent}}}" if self.row_vectors else f"{M}^{{{exponent}}}"

    def mapping(self) -> str:
        """LaTeX saying how this notation's symbols map to the engine's (column-vector) ones."""
        if self.key == "wxh":
            return (r"\text{the engine's own names: } a_t = W_{xh} x_t + W_{hh} h_{t-1} + b_h,\;"
                    r" o_t = W_{hy} h_t + b_y")
        sup = r"^{\top}" if self.row_vectors else ""
        pairs = [(self.param(n), ENGINE.param(n) + (sup if n in MATRICES else "")) for n in PARAMS]
        text = r",\; ".join(f"{ours} = {engine}" for ours, engine in pairs if ours != engine)
        if self.row_vectors:
            text += (rf",\;\text{{vectors are rows: }} {self.at(self.x, 't')} {self.W_xh}"
                     rf" = (W_{{xh}} x_t)^{{\top}}")
        if self.superscript_time:
            text += rf",\; {self.at(self.h, 't')} = h_t"
        return text


def plain(latex: str) -> str:
    """A short LaTeX symbol as plain text: W_{hh} -> W_hh, h^{(t)} -> h^(t), \\partial -> ∂."""
    return latex.replace("\\partial ", "∂").replace("{", "").replace("}", "")


_ENGINE_NAME = re.compile(r"\b(" + "|".join(PARAMS) + r")\b")


def plain_in(text: str, n: Notation) -> str:
    """Plain `text` (a widget label, a help text) written in the engine's names, with each
    parameter named as notation n names it: 'Spectral radius of W_hh' -> 'Spectral radius of W'."""
    return _ENGINE_NAME.sub(lambda m: n.plain_param(m.group(1)), text)


def d(num: str, den: str) -> str:
    """LaTeX of the partial derivative d num / d den."""
    return rf"\frac{{\partial {num}}}{{\partial {den}}}"


# ---- the five notations ------------------------------------------------------------------------

_ONE_TO_T = r"Sums run over the steps $t = 1, \dots, T$; $h_0$ is the given initial state."

NOTATIONS: dict[str, Notation] = {
    n.key: n
    for n in (
        Notation("wxh", "W_xh, W_hh, W_hy", "min-char-rnn, most lecture notes", False,
                 W_xh="W_{xh}", W_hh="W_{hh}", b_h="b_h", W_hy="W_{hy}", b_y="b_y",
                 convention=r"Here $y_t$ is the **target** and $\hat y_t$ the prediction; some notes "
                            r"in these letters swap the two (they compare the output $y_t$ with a "
                            r"target $\hat y_t$). " + _ONE_TO_T + " The equation numbers (1)–(12) are "
                            "the app's own."),
        Notation("dlbook", "U, W, V with b, c", "Goodfellow, Bengio & Courville, Deep Learning, ch. 10",
                 False, W_xh="U", W_hh="W", b_h="b", W_hy="V", b_y="c", superscript_time=True,
                 bias_first=True,
                 convention=r"The book calls the last step $\tau$ (here $T$) and writes gradients as "
                            r"$\nabla_{h^{(t)}} L$ (here $\partial L/\partial h^{(t)}$, a column). Its "
                            r"equations (10.8)–(10.11) are the forward pass (1)–(3) and $\hat y^{(t)}$ "
                            r"here, and (10.17)–(10.28) the gradients (6)–(10); for tanh its "
                            r"$\operatorname{diag}\big(1 - (h^{(t+1)})^2\big)$ is "
                            r"$\operatorname{diag}\big(f'(a^{(t+1)})\big)$ here. The target is "
                            r"$y^{(t)}$, the prediction $\hat y^{(t)}$, and $t$ runs from 1 to $\tau$, "
                            r"as here."),
        Notation("d2l", "W_hx, W_hh, W_qh", "Dive into Deep Learning, sec. 9.7", False,
                 W_xh="W_{hx}", W_hh="W_{hh}", b_h="b_h", W_hy="W_{qh}", b_y="b_q",
                 omits_zero_biases=True, d2l_sums=True,
                 convention=r"D2L's sec. 9.7 works out a linear model without biases, "
                            r"$h_t = W_{hx} x_t + W_{hh} h_{t-1}$, $o_t = W_{qh} h_t$, and averages the "
                            r"loss, $L = \frac{1}{T}\sum_{t=1}^{T} l(o_t, y_t)$ with $y_t$ the target "
                            r"(here reduction *mean*, $w_t = 1/T$). Its (9.7.11)–(9.7.16) are (6), (7), "
                            r"the unrolled sum and (10) here; with biases or another activation the app "
                            r"writes $b_h$, $b_q$ and $f'$ as its sec. 9.4 would. " + _ONE_TO_T),
        Notation("vwu", "V, W, U with b_h, b_y", "lecture slides writing h_t = f(V x_t + W h_{t-1} + b_h)",
                 False, W_xh="V", W_hh="W", b_h="b_h", W_hy="U", b_y="b_y",
                 convention=r"Slides in these letters often write $\hat y_t = f_y(U h_t + b_y)$ and "
                            r"start the double sum at $k = 0$: that term is 0 ($h_0$ does not depend on "
                            r"$W$), so their sum equals the one here from $k = 1$. $y_t$ is the target, "
                            r"$\hat y_t$ the prediction. " + _ONE_TO_T),
        Notation("row", "W_x, W_h, W_y (row vectors)", "notes writing h_t = tanh(x_t W_x + h_{t-1} W_h + b_h)",
                 True, W_xh="W_x", W_hh="W_h", b_h="b_h", W_hy="W_y", b_y="b_y",
                 convention=r"States and gradients are **rows**: $h_t = f(x_t W_x + h_{t-1} W_h + b_h)$ "
                            r"with $W_h = W_{hh}^{\top}$, so the step Jacobian is "
                            r"$\partial h_t/\partial h_{t-1} = \operatorname{diag}(f'(a_t))\, W_h^{\top}$ "
                            r"(entry $[r, c] = \partial h_t[r]/\partial h_{t-1}[c]$) and a gradient "
                            r"multiplies it from the left. Such notes often sum $L = \sum_{t=0}^{T} L_t$ "
                            r"from $t = 0$; here the first step is $t = 1$ and $h_0$ is the initial state. "
                            r"$y_t$ is the target, $\hat y_t$ the prediction."),
    )
}
ENGINE = NOTATIONS["wxh"]   # the names rnn_core uses


# ---- the equations (1)-(12) as each text writes them -------------------------------------------

def y_hat_definition(n: Notation, loss: str, t: str = "t") -> str:
    """The right side of y-hat_t = ... for a loss of rnn_core.LOSSES."""
    return registry.loss(loss).y_hat(n.at(n.o, t))


def derivative(n: Notation, activation: str, t: str = "t") -> str:
    """f'(a_t) = ... of the activation, written as rnn_core computes it (from what the forward pass kept)."""
    a, h = n.at(n.a, t), n.at(n.h, t)
    return f"f'({a}) = {registry.activation(activation).fprime(a, h)}"


def step_loss(n: Notation, loss: str, t: str = "t") -> str:
    """The right side of eq. (4), L_t = ..., in symbols."""
    return registry.loss(loss).step_loss(n, t)


def output_gradient(n: Notation, loss: str, t: str = "t") -> str:
    """dL_t/do_t of eq. (6) in symbols: y-hat - onehot(y), o - y or sigma(o) - y."""
    return registry.loss(loss).output_gradient(n, t)


def step_weight(n: Notation, reduction: str, t: str = "t", *, every_step: bool = False) -> str:
    """w_t of eq. (5) in symbols; with 'mean' and every step counted (mask all ones) also = 1/T."""
    m = n.at("m", t)
    if reduction == "sum":
        return m
    if reduction == "mean":
        return rf"\frac{{{m}}}{{\sum_s {n.at('m', 's')}}}" + (r" = \frac{1}{T}" if every_step else "")
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def _fprime_times(n: Notation, grad: str, t: str, activation: str | None) -> str:
    """f'(a_t) * grad in the text's order (rows: grad * f'); just grad for the identity."""
    if activation == "identity":
        return grad
    fprime = f"f'({n.at(n.a, t)})"
    return rf"\big({grad} \odot {fprime}\big)" if n.row_vectors else rf"\big({fprime} \odot {grad}\big)"


def recursion(n: Notation, t: str = "t", nxt: str = "t+1", *, activation: str | None = None) -> tuple[str, str]:
    """The two parts of eq. (7), (direct, indirect), in symbols (no f' for the identity)."""
    L = n.L
    dL_do, dL_dh_next = d(L, n.at(n.o, t)), d(L, n.at(n.h, nxt))
    direct = n.times("W_hy", dL_do, transpose=True)
    return direct, n.times("W_hh", _fprime_times(n, dL_dh_next, nxt, activation), transpose=True)


def future_sum(n: Notation, t: str = "t", *, activation: str | None = None) -> str:
    """The right side of dL/dh_t written as a sum over the steps k >= t it reaches (eq. (7) unrolled).

    Each later output o_k sends back W_hy^T dL/do_k through the Jacobian dh_k/dh_t (rows: on the
    right, transposed in columns). For the identity the Jacobian is a matrix power; D2L writes
    that sum as its (9.7.15), with index i = T + t - k.
    """
    if activation == "identity" and n.d2l_sums:
        M = n.param("W_hh") + r"^{\top}"
        back = n.times("W_hy", d(n.L, n.at(n.o, f"T+{t}-i")), transpose=True)
        return rf"\sum_{{i={t}}}^{{T}} ({M})^{{T-i}} {back}"
    back = n.times("W_hy", d(n.L, n.at(n.o, "k")), transpose=True)
    if activation == "identity":
        jac = n.jacobian_power(f"k-{t}")
    else:
        jac = d(n.at(n.h, "k"), n.at(n.h, t))
    if n.row_vectors:
        return rf"\sum_{{k={t}}}^{{T}} {back}\, {jac}"
    jac_t = rf"({n.param('W_hh')}^{{\top}})^{{k-{t}}}" if activation == "identity" else rf"\Big({jac}\Big)^{{\top}}"
    return rf"\sum_{{k={t}}}^{{T}} {jac_t} {back}"


def delta(n: Notation, t: str = "t", *, activation: str | None = None) -> str:
    """The right side of delta_t = f'(a_t) * dL/dh_t, eq. (10) (just dL/dh_t for the identity)."""
    grad = d(n.L, n.at(n.h, t))
    if activation == "identity":
        return grad
    return rf"{grad} \odot f'({n.at(n.a, t)})" if n.row_vectors else rf"f'({n.at(n.a, t)}) \odot {grad}"


def gradient_term(n: Notation, name: str, t: str = "t") -> str:
    """The summand of eq. (10) for a parameter, at step t (the sum runs over t = 1..T)."""
    dlt, dL_do = n.at(r"\delta", t), d(n.L, n.at(n.o, t))
    if name == "W_xh":
        return n.outer(dlt, n.at(n.x, t))
    if name == "W_hh":
        return n.outer(dlt, n.at(n.h, _minus_one(t)))
    if name == "b_h":
        return dlt
    if name == "W_hy":
        return n.outer(dL_do, n.at(n.h, t))
    if name == "b_y":
        return dL_do
    raise ValueError(f"name must be one of {list(PARAMS)}, got {name!r}")


def weighted_loss(n: Notation, t: str = "t") -> str:
    """w_t L_t, the share of loss term t in L (eq. (5))."""
    return rf"({n.at('w', t)} {n.at(n.L, t)})"


def double_sum_term(n: Notation, t: str = "t", k: str = "k") -> str:
    """One term of eq. (9): d(w_t L_t)/dh_t (prod_{i=k+1}^{t} dh_i/dh_{i-1}) d+h_k/dW_hh.

    It starts from the weighted loss term: L = sum_t w_t L_t, so the weight w_t (1/T with
    'mean') is part of every term.
    """
    prod = rf"\Big(\prod_{{i={k}+1}}^{{{t}}} {d(n.at(n.h, 'i'), n.at(n.h, 'i-1'))}\Big)"
    return rf"{d(weighted_loss(n, t), n.at(n.h, t))} {prod} {immediate(n, k)}"


def immediate(n: Notation, k: str = "k") -> str:
    """d+h_k/dW_hh: the immediate derivative, through step k's own use of W_hh only."""
    return rf"\frac{{\partial^{{+}} {n.at(n.h, k)}}}{{\partial {n.W_hh}}}"


def immediate_definition(n: Notation) -> str:
    """Markdown defining the symbol d+h_k/dW_hh of eq. (9) in notation n."""
    return (f"${immediate(n)}$ is the *immediate* partial derivative: how ${n.at(n.h, 'k')}$ changes "
            f"with ${n.W_hh}$ through step $k$'s own product with ${n.at(n.h, 'k-1')}$, with "
            f"${n.at(n.h, 'k-1')}$ held fixed.")


def double_sum_piece(n: Notation, t: str = "t", k: str = "k", *, activation: str | None = None) -> str:
    """Term k of eq. (9) as a matrix: the gradient carried from h_t back to h_k, through f'(a_k),
    times h_{k-1}: column (f'(a_k) * (dh_t/dh_k)^T g) h_{k-1}^T, row h_{k-1}^T (g dh_t/dh_k * f'(a_k))."""
    g = d(weighted_loss(n, t), n.at(n.h, t))
    jac = d(n.at(n.h, t), n.at(n.h, k))
    carried = f"{g}\\, {jac}" if n.row_vectors else rf"\Big({jac}\Big)^{{\top}} {g}"
    return n.outer(_fprime_times(n, carried, k, activation), n.at(n.h, f"{k}-1"))


def equations(n: Notation, *, activation: str = "tanh", loss: str = "softmax_ce",
              reduction: str = "sum", biases: bool = True, every_step: bool = False) -> dict[str, str]:
    """Equations (1)-(12) of rnn_core/__init__.py in notation n, keyed by their number.

    Also "y_hat" (the prediction), "f'" (the activation's derivative) and "future" (eq. (7)
    unrolled into a sum over later steps); each value is one LaTeX display formula. Without
    `biases` the bias terms and gradients are left out (a text whose model has none);
    `every_step`: every step's mask is 1, so 'mean' weighs each by 1/T.
    """
    f = registry.ActivationSymbols.latex(activation)
    at, L = n.at, n.L
    direct, indirect = recursion(n, activation=activation)
    shown = [p for p in PARAMS if biases or p not in ("b_h", "b_y")]
    grads = r" \qquad ".join(
        rf"{d(L, n.param(p))} = \sum_{{t=1}}^{{T}} {gradient_term(n, p)}" for p in shown)
    theta, dlt = r"\theta", r"\delta"
    weight = step_weight(n, reduction, every_step=every_step)
    return {
        "1": rf"{at(n.a, 't')} = {n.pre_activation(biases=biases)}",
        "2": rf"{at(n.h, 't')} = {f}({at(n.a, 't')})",
        "f'": derivative(n, activation),
        "3": rf"{at(n.o, 't')} = {n.output(biases=biases)}",
        "y_hat": rf"{at(n.y_hat, 't')} = {y_hat_definition(n, loss)}",
        "4": rf"{at(L, 't')} = {step_loss(n, loss)}",
        "5": rf"{L} = \sum_{{t=1}}^{{T}} {at('w', 't')} {at(L, 't')},\quad {at('w', 't')} = {weight}",
        "6": rf"{d(L, at(n.o, 't'))} = {at('w', 't')} \big({output_gradient(n, loss)}\big)",
        "7": rf"{d(L, at(n.h, 't'))} = {direct} + {indirect}",
        "future": rf"{d(L, at(n.h, 't'))} = {future_sum(n, activation=activation)}",
        "8": rf"{d(at(n.h, 't+1'), at(n.h, 't'))} = {n.step_jacobian(activation=activation)}",
        "9": rf"{d(L, n.W_hh)} = \sum_{{t=1}}^{{T}} \sum_{{k=1}}^{{t}} {double_sum_term(n)}",
        "10": rf"{at(dlt, 't')} = {delta(n, activation=activation)} \qquad {grads}",
        "11": (rf"\Big\lVert {d(at(n.h, 'T'), at(n.h, 'k'))} \Big\rVert \le "
               rf"\big(\gamma\, \sigma_{{\max}}({n.W_hh})\big)^{{T-k}}"),
        "12": rf"{theta} \leftarrow {theta} - \eta\, {d(L, theta)}",
    }


MODEL_EQUATIONS = ("1", "2", "3", "y_hat", "4", "5", "f'")   # the Model page's block


def aligned(equations_: list[str], labels: list[str]) -> str:
    """One aligned display: each 'lhs = rhs' lined up at its first ' = ', its label on the right."""
    rows = []
    for eq, label in zip(equations_, labels):
        lhs, rhs = eq.split(" = ", 1)
        rows.append(rf"{lhs} &= {rhs} && \text{{{label}}}")
    return r"\begin{aligned}" + r" \\[4pt] ".join(rows) + r"\end{aligned}"


def model_block(n: Notation, **model) -> str:
    """The Model page's display of the forward model and f' (keyword arguments as `equations`)."""
    eqs = equations(n, **model)
    return aligned([eqs[key] for key in MODEL_EQUATIONS],
                   [f"({key})" if key.isdigit() else "" for key in MODEL_EQUATIONS])


def summary(n: Notation) -> tuple[str, str]:
    """Inline markdown of the model (three equations) and of its step Jacobian, in notation n."""
    eqs = equations(n)
    return (f"${eqs['1']}$, ${n.at(n.h, 't')} = f({n.at(n.a, 't')})$, ${eqs['3']}$",
            rf"$\partial {n.at(n.h, 't')}/\partial {n.at(n.h, 't-1')} = {n.step_jacobian('t')}$")   # inline: a slash


def symbols(n: Notation) -> dict[str, str]:
    """LaTeX of the symbols prose names as <name> (see `fill`), in notation n."""
    h_T, h_k = n.at(n.h, "T"), n.at(n.h, "k")
    return {"W_hh": n.param("W_hh"), "h_T": h_T, "h_k": h_k, "dhT_dhk": rf"\partial {h_T}/\partial {h_k}",
            "power": n.jacobian_power("T-k"), "o_t": n.at(n.o, "t"), "y_t": n.at(n.y, "t"),
            "step_jacobian": n.step_jacobian("t")}


def fill(text: str, n: Notation) -> str:
    """Markdown `text` with each <name> of `symbols` written in notation n, e.g. <W_hh> -> W."""
    for name, latex in symbols(n).items():
        text = text.replace(f"<{name}>", latex)
    return text


def every_step_counts(mask) -> bool:
    """Every step's loss counts fully (no mask, or all ones): the 'mean' weight is then 1/T."""
    return mask is None or bool(np.all(np.asarray(mask) == 1.0))


def shows_biases(n: Notation, activation: str, b_h, b_y) -> bool:
    """Whether the equations write the biases: always, unless this is the text's linear model
    without biases (D2L 9.7: f the identity) and the model's are exactly zero (the
    initialiser's; an edit that makes one non-zero brings them back)."""
    return not (n.omits_zero_biases and activation == "identity" and not np.any(b_h) and not np.any(b_y))


def _minus_one(t: str) -> str:
    """t - 1 as a label: '3' -> '2', 't' -> 't-1'."""
    return str(int(t) - 1) if t.isdigit() else f"{t}-1"


# ---- LaTeX symbols as plotly text ---------------------------------------------------------------

_HTML_WORDS = {r"\partial": "∂", r"\top": "ᵀ", r"\odot": "⊙", r"\sigma": "σ", r"\eta": "η",
               r"\delta": "δ", r"\gamma": "γ", r"\theta": "θ", r"\tanh": "tanh", r"\sum": "Σ",
               r"\prod": "Π", r"\cdot": "·", r"\lVert": "‖", r"\rVert": "‖", r"\max": "max",
               r"\mathcal{L}": "L", r"\ell": "ℓ"}


def to_html(latex: str) -> str:
    """Plotly-ready text for a simple LaTeX symbol: sub/superscripts, hats, fractions, Greek.

    e.g. 'W_{hh}' -> 'W<sub>hh</sub>', 'h^{(t)}' -> 'h<sup>(t)</sup>', r'\\hat{y}_t' -> 'ŷ<sub>t</sub>'.
    """
    out, i = [], 0
    while i < len(latex):
        ch = latex[i]
        if ch in "_^":
            arg, i = _argument(latex, i + 1)
            tag = "sub" if ch == "_" else "sup"
            out.append(f"<{tag}>{to_html(arg)}</{tag}>")
        elif latex.startswith(r"\hat", i):
            arg, i = _argument(latex, i + 4)
            out.append(to_html(arg) + "\u0302")
        elif latex.startswith(r"\frac", i):
            num, i = _argument(latex, i + 5)
            den, i = _argument(latex, i)
            out.append(f"{to_html(num)}/{to_html(den)}")
        elif ch == "\\":
            word = re.match(r"\\([A-Za-z]+(\{[A-Za-z]\})?|.)", latex[i:]).group(0)
            out.append(_HTML_WORDS.get(word, word.lstrip("\\")))
            i += len(word)
        elif ch in "{}":
            i += 1
        else:
            out.append(ch)
            i += 1
    return re.sub(r"(∂) ", r"\1", "".join(out)).replace("  ", " ")


def _argument(latex: str, i: int) -> tuple[str, int]:
    """The argument starting at i (a {braced group} or one character) and the index after it."""
    while i < len(latex) and latex[i] == " ":
        i += 1
    if i >= len(latex):
        return "", i
    if latex[i] != "{":
        if latex[i] == "\\":
            word = re.match(r"\\[A-Za-z]+", latex[i:])
            if word:
                return word.group(0), i + len(word.group(0))
        return latex[i], i + 1
    depth = 0
    for j in range(i, len(latex)):
        depth += {"{": 1, "}": -1}.get(latex[j], 0)
        if depth == 0:
            return latex[i + 1:j], j + 1
    raise ValueError(f"latex has an unbalanced brace: {latex!r}")


# ---- the gated cells' names in each notation ---------------------------------------------------

@dataclass(frozen=True)
class CellNames:
    """How one text names a cell's quantities and parameters (any page may use it).

    symbols: the engine's name of each gate, candidate and state -> its LaTeX letter ('i', 'f',
    'G', 'c~', 'c', 'h', 'x' for the LSTM; 'r', 'z', 'h~', 'h', 'x' for the GRU); params: every
    parameter's engine name (W_xi, ..., W_hy, b_y) -> LaTeX. base: the notation whose time
    indices, output layer and loss the cell's equations use (the text itself if `native`, else
    the engine's). native: the text writes this cell; else `note` says that the engine's names
    stand in. note: markdown on how the text writes the cell.
    """

    cell: str
    base: Notation
    symbols: dict
    params: dict
    native: bool
    note: str = ""

    def at(self, name: str, t: str) -> str:
        """A gate or state at time t, e.g. f_{t}, F_{t}, f^{(t)}."""
        return self.base.at(self.symbols[name], t)

    def param(self, name: str) -> str:
        return self.params[name]

    def mapping(self) -> str:
        """LaTeX pairing each symbol that differs from the engine's with the engine's (\text{...}
        when all agree), like Notation.mapping."""
        engine = _engine_names(self.cell)
        pairs = [(self.at(k, "t"), engine.at(k, "t")) for k in self.symbols]
        pairs += [(self.params[k], engine.params[k]) for k in self.params]
        text = r",\; ".join(f"{ours} = {theirs}" for ours, theirs in pairs if ours != theirs)
        return text or r"\text{the engine's own names}"


def _gated_params(cell: str, letters: dict, x_sym, h_sym, bias, out: Notation) -> dict:
    """{engine name: LaTeX} of a gated cell's parameters: gate letter g -> x_sym(g), h_sym(g),
    bias(g) (the weights on x, on h, the bias); the output layer's as in notation `out`."""
    names = {}
    for g in rc.get_cell(cell).gate_letters:
        names[f"W_x{g}"], names[f"W_h{g}"], names[f"b_{g}"] = x_sym(letters[g]), h_sym(letters[g]), bias(letters[g])
    names["W_hy"], names["b_y"] = out.W_hy, out.b_y
    return names


_ENGINE_LETTERS = {"lstm": {g: g for g in "ifoc"}, "gru": {g: g for g in "rzh"}}
_ENGINE_SYMBOLS = {"lstm": {"i": "i", "f": "f", "G": "G", "c~": r"\tilde{c}", "c": "c", "h": "h", "x": "x"},
                   "gru": {"r": "r", "z": "z", "h~": r"\tilde{h}", "h": "h", "x": "x"}}


def _engine_names(cell: str, note: str = "", native: bool = True) -> CellNames:
    letters = _ENGINE_LETTERS[cell]
    return CellNames(cell, ENGINE, _ENGINE_SYMBOLS[cell],
                     _gated_params(cell, letters, lambda g: f"W_{{x{g}}}", lambda g: f"W_{{h{g}}}",
                                   lambda g: f"b_{g}", ENGINE), native, note)


def _d2l_names(cell: str) -> CellNames:
    n = NOTATIONS["d2l"]
    symbols = ({"i": "I", "f": "F", "G": "O", "c~": r"\tilde{C}", "c": "C", "h": "H", "x": "X"} if cell == "lstm"
               else {"r": "R", "z": "Z", "h~": r"\tilde{H}", "h": "H", "x": "X"})
    section = "10.1" if cell == "lstm" else "10.2"
    note = (f"Dive into Deep Learning sec. {section} writes a minibatch as rows, "
            f"${symbols['x']}_t W_{{x{'i' if cell == 'lstm' else 'r'}}}$; here one sequence as columns, so each "
            "$W$ here is the transpose of the book's. Its letters are kept: "
            + ("$I_t, F_t, O_t$ the input, forget and output gates, $\\tilde{C}_t$ the candidate, $C_t$ the "
               "memory cell (the logits stay $o_t$)." if cell == "lstm" else
               "$R_t$ the reset gate, $Z_t$ the update gate, $\\tilde{H}_t$ the candidate."))
    return CellNames(cell, n, symbols,
                     _gated_params(cell, _ENGINE_LETTERS[cell], lambda g: f"W_{{x{g}}}", lambda g: f"W_{{h{g}}}",
                                   lambda g: f"b_{g}", n), True, note)


def _dlbook_names(cell: str) -> CellNames:
    n = NOTATIONS["dlbook"]
    if cell == "lstm":
        # the book's input gate is g, its output gate q, its memory s (10.40-10.44)
        letters, symbols = {"i": "g", "f": "f", "o": "o", "c": ""}, {
            "i": "g", "f": "f", "G": "q", "c~": r"\tilde{s}", "c": "s", "h": "h", "x": "x"}
        note = ("Goodfellow et al. sec. 10.10.1 name the input gate $g^{(t)}$, the output gate $q^{(t)}$ and "
                "the memory $s^{(t)}$, each gate's weights $U^{f}, W^{f}, b^{f}$ and the candidate's $U, W, b$. "
                "The book squashes the candidate with $\\sigma$; the engine (as most libraries) uses $\\tanh$, "
                "so here $\\tilde{s}^{(t)} = \\tanh(\\dots)$.")
    else:
        letters, symbols = {"r": "r", "z": "u", "h": ""}, {"r": "r", "z": "u", "h~": r"\tilde{h}", "h": "h", "x": "x"}
        note = ("Goodfellow et al. sec. 10.10.2 name the update gate $u^{(t)}$ and the reset gate $r^{(t)}$, and "
                "index both by $t-1$; here by $t$. The book squashes the candidate with $\\sigma$; the engine "
                "uses $\\tanh$.")
    sup = lambda g: f"^{{{g}}}" if g else ""   # noqa: E731 (the candidate's weights have no superscript)
    return CellNames(cell, n, symbols,
                     _gated_params(cell, letters, lambda g: "U" + sup(g), lambda g: "W" + sup(g),
                                   lambda g: "b" + sup(g), n), True, note)


def cell_names(n: Notation, cell: str) -> CellNames | None:
    """How notation n names a gated cell ('lstm', 'gru'); None for the vanilla cell (use n itself).

    D2L and the Deep Learning book have their own LSTM and GRU letters; the other notations have
    no standard gated form, so the engine's names stand in (with a note saying so)."""
    if cell == "rnn":
        return None
    if n.key == "d2l":
        return _d2l_names(cell)
    if n.key == "dlbook":
        return _dlbook_names(cell)
    if n.key == "wxh":
        return _engine_names(cell, "The engine's own names (rnn_core/cells)" + (
            ": $G_t$ is the output gate, since $o_t$ names the logits." if cell == "lstm" else "."))
    title = "LSTM" if cell == "lstm" else "GRU"
    return _engine_names(cell, f"The notation *{n.title}* has no standard {title} form: the {title} is "
                               "written in the engine's names (rnn_core/cells), with column vectors.", native=False)


def cell_param(n: Notation, cell: str, name: str) -> str:
    """LaTeX of parameter `name` (an engine name of `cell`'s parameters) in notation n: e.g.
    W_hf -> W_{hf} (engine, D2L), W^{f} (Deep Learning book); the vanilla cell's via n.param."""
    names = cell_names(n, cell)
    return n.param(name) if names is None else names.param(name)


def plain_cell_param(n: Notation, cell: str, name: str) -> str:
    """The same as plain text (tables, select boxes): W_hf, W^f."""
    return plain(cell_param(n, cell, name))
