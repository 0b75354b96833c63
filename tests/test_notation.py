"""ui.notation: every notation writes every equation, and KaTeX (Streamlit's own) renders it."""
import itertools

import pytest

import rnn_core as rc
from katex_check import katex_errors, requires_katex, unbalanced
from ui import notation as nt
from ui.notation import NOTATIONS, PARAMS, equations, to_html

COMBOS = list(itertools.product(NOTATIONS, sorted(rc.ACTIVATIONS), sorted(rc.LOSSES), ("sum", "mean")))


def all_formulas() -> list[tuple[str, str, str]]:
    """(notation, equation number, LaTeX) for every notation, activation, loss and reduction."""
    out = []
    for key, act, loss, red in COMBOS:
        for number, latex in equations(NOTATIONS[key], activation=act, loss=loss, reduction=red).items():
            out.append((key, number, latex))
        out.append((key, "mapping", NOTATIONS[key].mapping()))
    return out


def test_every_notation_has_all_equations():
    expected = {str(i) for i in range(1, 13)} | {"y_hat", "f'", "future"}
    for key in NOTATIONS:
        assert set(equations(NOTATIONS[key])) == expected, key


def test_formulas_are_well_formed():
    bad = [(key, number, latex) for key, number, latex in all_formulas()
           if "None" in latex or "{}" in latex or unbalanced(latex) is not None]
    assert bad == []


@requires_katex
def test_katex_renders_every_formula_of_every_notation():
    formulas = sorted({latex for _, _, latex in all_formulas()})
    assert len(formulas) > 5 * 13
    assert katex_errors(formulas) == []


@requires_katex
def test_katex_check_catches_a_broken_formula():
    # the check must be able to fail: a double superscript, as x^{(t)}^T would be
    errors = katex_errors([r"x^{(t)}^{\top}", r"\frac{a}{b", "a_t"])
    assert [f for f, _ in errors] == [r"x^{(t)}^{\top}", r"\frac{a}{b"]


def test_unbalanced_finds_problems():
    assert unbalanced(r"\frac{a}{b") is not None
    assert unbalanced(r"a}") is not None
    assert unbalanced(r"\begin{bmatrix} 1 \end{aligned}") is not None
    assert unbalanced(r"\left\{ x \right\} \begin{bmatrix}1\end{bmatrix}") is None


def test_existing_api_keeps_working():
    n = NOTATIONS["wxh"]
    assert n.at("h", "t") == "h_{t}" and n.param("W_hh") == "W_{hh}"
    dl = NOTATIONS["dlbook"]
    assert dl.at("h", "t-1") == "h^{(t-1)}" and dl.param("W_xh") == "U" and dl.param("b_y") == "c"
    with pytest.raises(ValueError, match="W_hh"):
        n.param("W_yy")


@pytest.mark.parametrize("key", NOTATIONS)
def test_symbols_are_distinct_within_a_notation(key):
    n = NOTATIONS[key]
    symbols = [n.param(p) for p in PARAMS]
    assert len(set(symbols)) == 5, symbols


def test_the_five_textbook_notations():
    eq1 = {key: equations(n)["1"] for key, n in NOTATIONS.items()}
    assert eq1["wxh"] == "a_{t} = W_{xh} x_{t} + W_{hh} h_{t-1} + b_h"
    assert eq1["dlbook"] == "a^{(t)} = b + W h^{(t-1)} + U x^{(t)}"     # Deep Learning Book (10.8)
    assert eq1["d2l"] == "a_{t} = W_{hx} x_{t} + W_{hh} h_{t-1} + b_h"
    assert eq1["vwu"] == "a_{t} = V x_{t} + W h_{t-1} + b_h"
    assert eq1["row"] == "a_{t} = x_{t} W_x + h_{t-1} W_h + b_h"       # vectors on the left
    assert equations(NOTATIONS["dlbook"])["3"] == "o^{(t)} = c + V h^{(t)}"
    assert equations(NOTATIONS["d2l"])["3"] == "o_{t} = W_{qh} h_{t} + b_q"


def test_row_notation_writes_the_transposed_forms_and_says_how_they_map():
    row = NOTATIONS["row"]
    eqs = equations(row)
    assert eqs["7"].endswith(r"\big(\frac{\partial L}{\partial h_{t+1}} \odot f'(a_{t+1})\big) W_h^{\top}")
    assert r"{x_{t}}^{\top} \delta_{t}" in eqs["10"]          # dL/dW_x = sum_t x_t^T delta_t
    mapping = row.mapping()
    for ours, engine in (("W_x", "W_{xh}"), ("W_h", "W_{hh}"), ("W_y", "W_{hy}")):
        assert f"{ours} = {engine}^{{\\top}}" in mapping


@pytest.mark.parametrize("key", [k for k in NOTATIONS if k != "wxh"])
def test_mapping_names_every_renamed_parameter(key):
    n = NOTATIONS[key]
    for p in PARAMS:
        if n.param(p) != nt.ENGINE.param(p):
            assert f"{n.param(p)} = {nt.ENGINE.param(p)}" in n.mapping()


def test_loss_templates_match_the_engine_losses():
    n = NOTATIONS["wxh"]
    assert nt.output_gradient(n, "softmax_ce") == r"\hat{y}_{t} - \operatorname{onehot}(y_{t})"
    assert nt.output_gradient(n, "mse") == "o_{t} - y_{t}"
    assert nt.output_gradient(n, "sigmoid_bce") == r"\sigma(o_{t}) - y_{t}"
    with pytest.raises(ValueError, match="loss"):
        nt.step_loss(n, "hinge")


@pytest.mark.parametrize("latex, html", [
    ("W_{hh}", "W<sub>hh</sub>"),
    ("h^{(t)}", "h<sup>(t)</sup>"),
    (r"\hat{y}_{t}", "y\u0302<sub>t</sub>"),
    (r"\frac{\partial L}{\partial h_{t}}", "∂L/∂h<sub>t</sub>"),
    (r"W_x^{\top}", "W<sub>x</sub><sup>ᵀ</sup>"),
    ("b_h", "b<sub>h</sub>"),
])
def test_to_html(latex, html):
    assert to_html(latex) == html


def test_html_labels_for_every_parameter_have_no_latex_left():
    for n in NOTATIONS.values():
        for p in PARAMS:
            label = n.html_param(p)
            assert "\\" not in label and "{" not in label and "_" not in label, label
        assert "\\" not in n.html_at(n.y_hat, "t")
