"""Issue 16's "wrong or misleading maths", checked on the pure builders and on the pages (AppTest):
the weight of eq. (9), the row-vector Jacobian, D2L's linear model, prose in the reader's
notation, the conventions note, a step that survives a new T, keyboard walking of the stages."""
import re

import numpy as np
import pytest

from apptest_helpers import fresh_caches, open_app_page  # noqa: F401 (fresh_caches is a fixture)
from katex_check import inline_math
from ui import derivation
from ui import notation as nt
from ui.config import build_params, to_query
from ui.notation import NOTATIONS
from ui.presets import PRESETS
from ui.state import make_data

DERIVATION, MODEL, HOME = "views/derivation.py", "views/model.py", "views/home.py"


def build(config, t: int, notation: str | None = None):
    data = make_data(config)
    problem = derivation.Example(build_params(config), data.xs, data.ys, data.mask, config.activation,
                         config.loss, config.reduction)
    result = problem.solve()
    return derivation.build(problem, result, t=t, notation=notation or config.notation, lr=0.1,
                    double_sum=derivation.double_sum_terms(problem, result, t))


def by_key(stages) -> dict:
    return {eq.key: eq for stage in stages for eq in stage.equations}


# ---- eq. (9) keeps the weight w_t ---------------------------------------------------------------

@pytest.mark.parametrize("key", NOTATIONS)
def test_eq_9_starts_from_the_weighted_loss_term(key):
    n = NOTATIONS[key]
    assert nt.d(rf"({n.at('w', 't')} {n.at(n.L, 't')})", n.at(n.h, "t")) in nt.equations(n)["9"]
    eqs = by_key(build(PRESETS["d2l_linear"].config(), t=3, notation=key))   # 'mean': w_t = 1/T
    double_sum = eqs["double_sum"]
    assert nt.d(rf"({n.at('w', '3')} {n.at(n.L, '3')})", n.at(n.h, "3")) in double_sum.rhs
    assert double_sum.lhs == nt.d(rf"({n.at('w', '3')} {n.at(n.L, '3')})", n.W_hh)


# ---- row vectors: one Jacobian, diag(f'(a_t)) W_h^T, everywhere ----------------------------------

def test_row_notation_writes_one_step_jacobian_everywhere():
    row = NOTATIONS["row"]
    assert row.step_jacobian("t") == r"\operatorname{diag}\!\big(f'(a_{t})\big)\, W_h^{\top}"
    assert row.jacobian_power("T-k") == r"(W_h^{\top})^{T-k}"
    eqs = nt.equations(row)
    assert eqs["8"].endswith(r"W_h^{\top}")
    assert eqs["7"].endswith(r"\big(\frac{\partial L}{\partial h_{t+1}} \odot f'(a_{t+1})\big) W_h^{\top}")
    # the Jacobian stands on the right of a row gradient in the unrolled sum
    assert eqs["future"].endswith(r"W_y^{\top}\, \frac{\partial h_{k}}{\partial h_{t}}")


def test_the_double_sum_note_stays_in_row_form():
    stages = build(PRESETS["vanishing"].config().replace(T=6, H=3), t=4, notation="row")
    note = by_key(stages)["double_sum"].note
    assert r"{h_{k-1}}^{\top} \big(\frac{\partial (w_{4} L_{4})}{\partial h_{4}}\, " in note
    assert r"h_{k-1}^{\top}" not in note.replace(r"{h_{k-1}}^{\top}", "")
    assert r"{h_{k-1}}^{\top} \delta_{k}" in note            # a piece of dL/dW_h = sum_k h_{k-1}^T delta_k


def test_the_column_double_sum_note_transposes_the_jacobian():
    note = by_key(build(PRESETS["vanishing"].config().replace(T=6, H=3), t=4, notation="wxh"))["double_sum"].note
    assert r"\Big(\frac{\partial h_{4}}{\partial h_{k}}\Big)^{\top}" in note and r"\delta_{k} {h_{k-1}}^{\top}" in note


# ---- D2L's linear model as D2L writes it --------------------------------------------------------

def test_the_d2l_preset_shows_d2ls_model_and_equations():
    config = PRESETS["d2l_linear"].config()
    assert (config.notation, config.activation, config.reduction) == ("d2l", "identity", "mean")
    eqs = by_key(build(config, t=3))
    assert eqs["a"].rhs == "W_{hx} x_{3} + W_{hh} h_{2}"           # no bias
    assert eqs["o"].rhs == "W_{qh} h_{3}"
    assert "f'" not in eqs["dL_dh"].rhs and "f'" not in eqs["factor"].rhs and "f'" not in eqs["delta"].rhs
    assert eqs["w"].rhs.endswith(r"= \frac{1}{T}")
    assert eqs["dL_dh_future"].rhs == (r"\sum_{i=3}^{T} (W_{hh}^{\top})^{T-i} W_{qh}^{\top} "
                                       r"\frac{\partial L}{\partial o_{T+3-i}}")    # (9.7.15)
    assert eqs["jac_power"].rhs == f"W_{{hh}}^{{{config.T}-3}}"
    assert not {"grad_b_h", "grad_b_y", "update_b_h", "update_b_y"} & set(eqs)
    # the closed form's numbers are the matrix power
    T = config.T
    W = build_params(config).W_hh
    assert eqs["jac_power"].value == derivation.array(np.linalg.matrix_power(W, T - 3))


def test_a_nonzero_bias_brings_the_biases_back():
    n = NOTATIONS["d2l"]
    assert nt.shows_biases(n, "identity", np.zeros(2), np.zeros(1)) is False
    assert nt.shows_biases(n, "identity", np.array([0, 0.5]), np.zeros(1)) is True
    assert nt.shows_biases(n, "tanh", np.zeros(2), np.zeros(1)) is True          # D2L 9.4 has biases
    assert nt.shows_biases(NOTATIONS["wxh"], "identity", np.zeros(2), np.zeros(1)) is True


def test_the_model_page_shows_the_d2l_preset_without_biases(fresh_caches):
    at = open_app_page(MODEL, to_query(PRESETS["d2l_linear"].config()))
    block = at.latex[0].value
    assert "b_h" not in block and "b_q" not in block and r"\frac{1}{T}" in block, block


# ---- prose in the reader's notation ----------------------------------------------------------------

SUBSCRIPT_TIME = re.compile(r"(?<![A-Za-z\\])(?:[haoxyLmw]|\\delta)_\{?(?:[0-9]|[tTk]\b|[tTk][+-])")


@pytest.mark.parametrize("t", [1, 3])
def test_the_deep_learning_book_prose_has_no_subscript_time(t):
    n = NOTATIONS["dlbook"]
    stages = build(PRESETS["dlbook"].config().replace(T=4, H=3), t=t)
    texts = [s.title for s in stages] + [s.intro for s in stages] + [x for s in stages for x in s.notes]
    texts += [eq.note for s in stages for eq in s.equations]
    texts += [n.convention, nt.immediate_definition(n), *nt.summary(n)]
    texts += [p.text("dlbook") for p in PRESETS.values() if p.key != "d2l_linear"]
    found = [(m, text[:60]) for text in texts for m in inline_math(text) if SUBSCRIPT_TIME.search(m)]
    assert found == []
    assert [info.label(n) for info in derivation.STAGES if "∂" in info.label(n)] == \
        ["Where the recursion starts: ∂L/∂h^(T)", "The factor ∂h^(t+1)/∂h^(t)"]


def test_the_immediate_derivative_is_defined_where_it_is_used():
    stages = build(PRESETS["vanishing"].config().replace(T=4, H=3), t=3, notation="vwu")
    double_sum = next(s for s in stages if s.key == "double_sum")
    assert r"\partial^{+} h_{k}}{\partial W}" in by_key(stages)["double_sum"].rhs
    assert "*immediate* partial derivative" in double_sum.intro and r"\partial^{+} h_{k}" in double_sum.intro


def test_home_and_sidebar_speak_the_readers_notation(fresh_caches):
    at = open_app_page(HOME, {"notation": "dlbook", "init": "orthogonal"})
    intro = at.markdown[0].value
    assert "a^{(t)} = b + W h^{(t-1)} + U x^{(t)}" in intro and "W_{hh}" not in intro
    rho = next(s for s in at.sidebar.slider if s.key == "cfg_rho")
    init = next(s for s in at.sidebar.selectbox if s.key == "cfg_init")
    assert rho.label == "Spectral radius of W" and "W_hh" not in (rho.help or "")
    assert "orthogonal W" in init.options and not any("W_hh" in o for o in init.options)
    d2l = PRESETS["d2l_linear"].text("dlbook")          # in its own notation, D2L's
    captions = " ".join(c.value for c in at.main.caption if c.value != d2l)
    assert "W_{hh}" not in captions and r"\partial h^{(T)}/\partial h^{(k)}" in captions


# ---- the conventions, once, next to the notation ---------------------------------------------------------

@pytest.mark.parametrize("key, says", [("wxh", "swap"), ("dlbook", r"\tau"), ("d2l", r"\frac{1}{T}"),
                                       ("vwu", "k = 0"), ("row", "t = 0")])
def test_the_derivation_page_states_the_texts_conventions_once(fresh_caches, key, says):
    at = open_app_page(DERIVATION, {"notation": key, "T": 4, "H": 3})
    notes = [c.value for c in at.caption if c.value.startswith("**Conventions.**")]
    assert len(notes) == 1 and says in notes[0], notes
    assert at.caption[[c.value for c in at.caption].index(notes[0]) - 1].value.startswith("Notation *")


# ---- the derivation's controls ------------------------------------------------------------------------

def step_slider(at):
    return next(s for s in at.slider if s.key.endswith("d_step"))


def test_a_new_T_keeps_a_valid_step(fresh_caches):
    at = open_app_page(DERIVATION, {"T": 20, "d_step": 8})
    at.sidebar.slider(key="cfg_T").set_value(12).run()
    assert step_slider(at).value == 8 and dict(at.query_params)["d_step"] == "8"
    assert at.subheader[0].value.startswith("1.") and "a_{8}" in at.latex[0].value
    at.run()
    assert step_slider(at).value == 8
    at.sidebar.slider(key="cfg_T").set_value(5).run()        # now 8 > T: the last step
    assert step_slider(at).value == 5 and dict(at.query_params).get("d_step", "5") == "5"   # 5: the default


def test_page_up_and_down_walk_the_stages_in_presentation_mode_only(fresh_caches):
    at = open_app_page(DERIVATION, {"T": 4, "H": 3, "presentation": 1})
    shortcuts = (at.button(key="d_prev").proto.shortcut, at.button(key="d_next").proto.shortcut)
    assert tuple(s.lower() for s in shortcuts) == ("pageup", "pagedown")
    at = open_app_page(DERIVATION, {"T": 4, "H": 3})          # a reader scrolls with them
    assert not at.button(key="d_prev").proto.shortcut and not at.button(key="d_next").proto.shortcut
