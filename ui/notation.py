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

import rnn_core as rc

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

    def pre_activation(self, t: str = "t", prev: str = "t-1") -> str:
        """The right side of eq. (1) at time t."""
        x, h_prev = self.at(self.x, t), self.at(self.h, prev)
        terms = [self.times("W_xh", x), self.times("W_hh", h_prev), self.b_h]
        if self.bias_first:
            terms = terms[::-1]
        return " + ".join(terms)

    def output(self, t: str = "t") -> str:
        """The right side of eq. (3) at time t."""
        terms = [self.times("W_hy", self.at(self.h, t)), self.b_y]
        return " + ".join(terms[::-1] if self.bias_first else terms)

    def jacobian_factor(self, t: str = "t+1") -> str:
        """The right side of eq. (8): dh_t/dh_{t-1} = diag(f'(a_t)) W_hh (row: diag(f'(a_t)) W_h^T).

        In every notation the Jacobian's entry [r, c] is d h_t[r] / d h_{t-1}[c].
        """
        W = self.param("W_hh") + (r"^{\top}" if self.row_vectors else "")
        return rf"\operatorname{{diag}}\!\big(f'({self.at(self.a, t)})\big)\, {W}"

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


def d(num: str, den: str) -> str:
    """LaTeX of the partial derivative d num / d den."""
    return rf"\frac{{\partial {num}}}{{\partial {den}}}"


# ---- the five notations ------------------------------------------------------------------------

NOTATIONS: dict[str, Notation] = {
    n.key: n
    for n in (
        Notation("wxh", "W_xh, W_hh, W_hy", "min-char-rnn, most lecture notes", False,
                 W_xh="W_{xh}", W_hh="W_{hh}", b_h="b_h", W_hy="W_{hy}", b_y="b_y"),
        Notation("dlbook", "U, W, V with b, c", "Goodfellow, Bengio & Courville, Deep Learning, ch. 10",
                 False, W_xh="U", W_hh="W", b_h="b", W_hy="V", b_y="c", superscript_time=True,
                 bias_first=True),
        Notation("d2l", "W_hx, W_hh, W_qh", "Dive into Deep Learning, sec. 9.7", False,
                 W_xh="W_{hx}", W_hh="W_{hh}", b_h="b_h", W_hy="W_{qh}", b_y="b_q"),
        Notation("vwu", "V, W, U with b_h, b_y", "lecture slides writing h_t = f(V x_t + W h_{t-1} + b_h)",
                 False, W_xh="V", W_hh="W", b_h="b_h", W_hy="U", b_y="b_y"),
        Notation("row", "W_x, W_h, W_y (row vectors)", "notes writing h_t = tanh(x_t W_x + h_{t-1} W_h + b_h)",
                 True, W_xh="W_x", W_hh="W_h", b_h="b_h", W_hy="W_y", b_y="b_y"),
    )
}
ENGINE = NOTATIONS["wxh"]   # the names rnn_core uses


# ---- the equations (1)-(12) as each text writes them -------------------------------------------

def y_hat_definition(n: Notation, loss: str, t: str = "t") -> str:
    """The right side of y-hat_t = ... for a loss of rnn_core.LOSSES."""
    o = n.at(n.o, t)
    return {"softmax_ce": rf"\operatorname{{softmax}}({o})", "mse": o,
            "sigmoid_bce": rf"\sigma({o})"}[_loss(loss)]


def step_loss(n: Notation, loss: str, t: str = "t") -> str:
    """The right side of eq. (4), L_t = ..., in symbols."""
    loss = _loss(loss)
    if loss == "softmax_ce":
        return rf"-\log {n.entry(n.y_hat, t, n.at(n.y, t))}"
    if loss == "mse":
        return rf"\tfrac12 \lVert {n.at(n.o, t)} - {n.at(n.y, t)} \rVert^2"
    y, p = n.entry(n.y, t, "j"), n.entry(n.y_hat, t, "j")
    return rf"-\sum_j \big[{y} \log {p} + (1 - {y}) \log(1 - {p})\big]"


def output_gradient(n: Notation, loss: str, t: str = "t") -> str:
    """dL_t/do_t of eq. (6) in symbols: y-hat - onehot(y), o - y or sigma(o) - y."""
    loss = _loss(loss)
    if loss == "softmax_ce":
        return rf"{n.at(n.y_hat, t)} - \operatorname{{onehot}}({n.at(n.y, t)})"
    if loss == "mse":
        return rf"{n.at(n.o, t)} - {n.at(n.y, t)}"
    return rf"\sigma({n.at(n.o, t)}) - {n.at(n.y, t)}"


def step_weight(n: Notation, reduction: str, t: str = "t") -> str:
    """w_t of eq. (5) in symbols."""
    m = n.at("m", t)
    if reduction == "sum":
        return m
    if reduction == "mean":
        return rf"\frac{{{m}}}{{\sum_s {n.at('m', 's')}}}"
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def recursion(n: Notation, t: str = "t", nxt: str = "t+1") -> tuple[str, str]:
    """The two parts of eq. (7), (direct, indirect), in symbols."""
    L = n.L
    dL_do, dL_dh_next = d(L, n.at(n.o, t)), d(L, n.at(n.h, nxt))
    fprime = f"f'({n.at(n.a, nxt)})"
    direct = n.times("W_hy", dL_do, transpose=True)
    if n.row_vectors:
        inner = rf"\big({dL_dh_next} \odot {fprime}\big)"
    else:
        inner = rf"\big({fprime} \odot {dL_dh_next}\big)"
    return direct, n.times("W_hh", inner, transpose=True)


def delta(n: Notation, t: str = "t") -> str:
    """The right side of delta_t = f'(a_t) * dL/dh_t, eq. (10)."""
    return rf"f'({n.at(n.a, t)}) \odot {d(n.L, n.at(n.h, t))}"


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


def double_sum_term(n: Notation, t: str = "t", k: str = "k") -> str:
    """One term of eq. (9): dL_t/dh_t (prod_{i=k+1}^{t} dh_i/dh_{i-1}) d+h_k/dW_hh."""
    prod = rf"\Big(\prod_{{i={k}+1}}^{{{t}}} {d(n.at(n.h, 'i'), n.at(n.h, 'i-1'))}\Big)"
    return rf"{d(n.at(n.L, t), n.at(n.h, t))} {prod} \frac{{\partial^{{+}} {n.at(n.h, k)}}}{{\partial {n.W_hh}}}"


def equations(n: Notation, *, activation: str = "tanh", loss: str = "softmax_ce",
              reduction: str = "sum") -> dict[str, str]:
    """Equations (1)-(12) of rnn_core/__init__.py in notation n, keyed by their number.

    Also "y_hat" (the prediction; unnumbered). Each value is one LaTeX display formula.
    """
    f = rc.get_activation(activation).latex
    at, L = n.at, n.L
    direct, indirect = recursion(n)
    grads = r" \qquad ".join(
        rf"{d(L, n.param(p))} = \sum_{{t=1}}^{{T}} {gradient_term(n, p)}" for p in PARAMS)
    theta, dlt = r"\theta", r"\delta"
    return {
        "1": rf"{at(n.a, 't')} = {n.pre_activation()}",
        "2": rf"{at(n.h, 't')} = {f}({at(n.a, 't')})",
        "3": rf"{at(n.o, 't')} = {n.output()}",
        "y_hat": rf"{at(n.y_hat, 't')} = {y_hat_definition(n, loss)}",
        "4": rf"{at(L, 't')} = {step_loss(n, loss)}",
        "5": rf"{L} = \sum_{{t=1}}^{{T}} {at('w', 't')} {at(L, 't')},\quad {at('w', 't')} = {step_weight(n, reduction)}",
        "6": rf"{d(L, at(n.o, 't'))} = {at('w', 't')} \big({output_gradient(n, loss)}\big)",
        "7": rf"{d(L, at(n.h, 't'))} = {direct} + {indirect}",
        "8": rf"{d(at(n.h, 't+1'), at(n.h, 't'))} = {n.jacobian_factor()}",
        "9": rf"{d(L, n.W_hh)} = \sum_{{t=1}}^{{T}} \sum_{{k=1}}^{{t}} {double_sum_term(n)}",
        "10": rf"{at(dlt, 't')} = {delta(n)} \qquad {grads}",
        "11": (rf"\Big\lVert {d(at(n.h, 'T'), at(n.h, 'k'))} \Big\rVert \le "
               rf"\big(\gamma\, \sigma_{{\max}}({n.W_hh})\big)^{{T-k}}"),
        "12": rf"{theta} \leftarrow {theta} - \eta\, {d(L, theta)}",
    }


def _loss(loss: str) -> str:
    """The loss's name once rnn_core knows it (its templates are written out below)."""
    return rc.get_loss(loss).name


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
