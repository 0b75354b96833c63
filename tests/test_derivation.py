"""ui.derivation: the numbers printed in each equation's LaTeX are rnn_core's, read back from the text.

Expected values are taken from rnn_core's results (and plain numpy) here, never from the
derivation module; a printed number must equal the true value rounded to the printed digits.
"""
import itertools
import re

import numpy as np
import pytest

import rnn_core as rc
from katex_check import unbalanced
from rnn_core.jacobians import jacobians_to_last, step_jacobians
from rnn_core.spectral import jacobian_bound
from ui import derivation
from ui.config import DEFAULT
from ui.pages import derivation as derivation_page
from ui.notation import NOTATIONS, PARAMS

NUM = r"-?\d+(?:\.\d+)?(?:\{\\times\}10\^\{-?\d+\})?|-?\\infty|\\mathrm\{nan\}"
BMATRIX = re.compile(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}"
                     r"(?:_\{\\lVert\\cdot\\rVert(?:_F)? = (" + NUM + r")\})?", re.S)
ELLIPSES = {r"\cdots", r"\vdots", r"\ddots"}


# ---- reading numbers back from LaTeX ------------------------------------------------------------

def parse_number(text: str) -> float:
    text = text.strip()
    assert re.fullmatch(NUM, text), f"not a printed number: {text!r}"
    if text.endswith(r"\infty"):
        return -np.inf if text.startswith("-") else np.inf
    if text == r"\mathrm{nan}":
        return np.nan
    mantissa, _, exponent = text.partition(r"{\times}10^{")
    return float(mantissa + (f"e{exponent.rstrip('}')}" if exponent else ""))


def parse_matrices(latex: str) -> list[tuple[list[list[float | None]], float | None]]:
    """Every bmatrix in order: (rows of entries, None for an ellipsis; the printed norm or None)."""
    out = []
    for body, norm in BMATRIX.findall(latex):
        rows = [[None if cell.strip() in ELLIPSES else parse_number(cell) for cell in row.split("&")]
                for row in body.split(r"\\")]
        out.append((rows, parse_number(norm) if norm else None))
    return out


def rounded(v: float) -> float:
    return float(f"{v:.{derivation.DIGITS}g}")


def assert_printed(parsed, expected, *, row=False, what=""):
    """A parsed bmatrix shows `expected` (vector as column, or row) to the printed digits."""
    rows, norm = parsed
    a = np.asarray(expected, dtype=float)
    M = a if a.ndim == 2 else (a.reshape(1, -1) if row else a.reshape(-1, 1))
    cut_r, cut_c = M.shape[0] > derivation.FULL_LIMIT, M.shape[1] > derivation.FULL_LIMIT
    shown = M[:derivation.PREVIEW if cut_r else None, :derivation.PREVIEW if cut_c else None]
    assert len(rows) == shown.shape[0] + cut_r, f"{what}: {len(rows)} rows printed for {M.shape}"
    for r, printed in enumerate(rows[:shown.shape[0]]):
        assert printed[:shown.shape[1]] == [rounded(v) for v in shown[r]], f"{what} row {r}: {printed} vs {shown[r]}"
        assert printed[shown.shape[1]:] == ([None] if cut_c else []), what
    if cut_r or cut_c:
        assert norm == rounded(np.linalg.norm(a)), f"{what}: norm {norm} vs {np.linalg.norm(a)}"
    else:
        assert norm is None, what


# ---- the cases -------------------------------------------------------------------------------------

def make_problem(*, T=6, D=3, H=4, O=3, loss="softmax_ce", activation="tanh", reduction="sum",
                 mask=None, seed=0):
    rng = np.random.default_rng(seed)
    params = rc.init_params(D, H, O, seed=seed, init="normal", spectral_radius=1.1)
    params = params.replace(b_h=0.1 * rng.standard_normal(H), b_y=0.1 * rng.standard_normal(O))
    xs = rng.standard_normal((T, D))
    ys = {"softmax_ce": lambda: rng.integers(0, O, T), "mse": lambda: rng.standard_normal((T, O)),
          "sigmoid_bce": lambda: rng.random((T, O))}[loss]()
    return derivation.Example(params, xs, ys, mask, activation, loss, reduction)


def by_key(stages):
    eqs = [eq for stage in stages for eq in stage.equations]
    keys = [eq.key for eq in eqs]
    assert len(keys) == len(set(keys)), keys
    return dict(zip(keys, eqs))


def fprime(problem, res, t):
    """f'(a_t) from the definitions, independently of rnn_core's registry."""
    a, h = res.trace.a[t - 1], res.trace.h[t - 1]
    return {"tanh": 1 - h ** 2, "sigmoid": h * (1 - h), "relu": (a > 0).astype(float),
            "identity": np.ones_like(a)}[problem.activation]


def expected(problem: derivation.Example, res: rc.BPTTResult, t: int, lr: float) -> dict:
    """key -> (value, operands printed in the steps, in order) in the engine's column notation."""
    P, tr, i, T = problem.params, res.trace, t - 1, problem.T
    linear = problem.activation == "identity"     # no f' factors are printed
    h_prev = tr.h0 if t == 1 else tr.h[i - 1]
    out = rc.get_loss(problem.loss)
    y_hat = out.predict(tr.o[i])
    if problem.loss == "softmax_ce":
        onehot = np.eye(problem.params.W_hy.shape[0])[problem.ys[i]]
        dldo_operands = [y_hat, onehot]
    elif problem.loss == "mse":
        dldo_operands = [tr.o[i], problem.ys[i]]
    else:
        dldo_operands = [y_hat, problem.ys[i]]
    e = {
        "a": (tr.a[i], [P.W_xh, problem.xs[i], P.W_hh, h_prev, P.b_h]),
        "h": (tr.h[i], [tr.a[i]]),
        "o": (tr.o[i], [P.W_hy, tr.h[i], P.b_y]),
        "y_hat": (y_hat, [] if problem.loss == "mse" else [tr.o[i]]),
        "L_t": (res.step_losses[i], None),
        "L": (res.loss, None),
        "w": (res.weights[i], None),
        "dL_do": (res.dL_do[i], dldo_operands),
        "dL_dh_T": (res.dL_dh[T - 1], [P.W_hy.T, res.dL_do[T - 1]]),
        "delta": (res.dL_da[i], ([] if linear else [fprime(problem, res, t)]) + [res.dL_dh[i]]),
        "dL_dh0": (res.dL_dh0, [P.W_hh.T, res.dL_da[0]]),
        "jac_norm": (np.linalg.norm(jacobians_to_last(P, problem.xs, activation=problem.activation)[i], 2), []),
        "bound": (jacobian_bound(P, problem.activation, T)[i], None),
    }
    if t < T:
        fp = [] if linear else [fprime(problem, res, t + 1)]
        e["dL_dh"] = (res.dL_dh[i], [P.W_hy.T, res.dL_do[i], P.W_hh.T, *fp,
                                     res.dL_dh[i + 1], res.dL_dh_direct[i], res.dL_dh_indirect[i]])
    else:
        e["dL_dh"] = (res.dL_dh[i], [P.W_hy.T, res.dL_do[i]])
    if T > 1:
        j = min(t + 1, T)
        e["factor"] = (step_jacobians(P, problem.xs, activation=problem.activation)[j - 1],
                       ([] if linear else [fprime(problem, res, j)]) + [P.W_hh])
    # the sum over future outputs k = t..T: (dh_k/dh_t)^T W_hy^T dL/do_k, the same vector
    e["dL_dh_future"] = (res.dL_dh[i], None)
    if linear:
        e["jac_power"] = (np.linalg.matrix_power(P.W_hh, T - t), [])
    terms = {"W_xh": [res.dL_da[i], problem.xs[i]], "W_hh": [res.dL_da[i], h_prev], "b_h": [res.dL_da[i]],
             "W_hy": [res.dL_do[i], tr.h[i]], "b_y": [res.dL_do[i]]}
    new = {}
    for name in PARAMS:
        g = getattr(res.grads, name)
        e[f"grad_{name}"] = (g, terms[name])
        new[name] = getattr(P, name) - lr * g
        e[f"update_{name}"] = (new[name], [getattr(P, name), g])
    after = rc.bptt(rc.Params(**new), problem.xs, problem.ys, activation=problem.activation,
                    loss=problem.loss, reduction=problem.reduction, mask=problem.mask).loss
    e["L_new"] = (after, [])
    return e


def check_equation(eq, value, operands, *, row=False):
    """The value (and the substituted operands, when given) are the expected numbers."""
    if np.ndim(value) == 0:
        assert parse_number(eq.value) == rounded(value), (eq.key, eq.value, value)
    else:
        [parsed] = parse_matrices(eq.value)
        assert_printed(parsed, value, row=row, what=f"{eq.key} value")
    if operands is None:
        return
    printed = parse_matrices(" ".join(eq.steps))
    # a vector printed transposed (h^T in delta h^T) is a row: orientation is checked by shape
    assert len(printed) == len(operands), (eq.key, len(printed), len(operands))
    for k, (parsed, op) in enumerate(zip(printed, operands)):
        as_row = np.ndim(op) == 1 and len(parsed[0][0]) > 1
        assert_printed(parsed, op, row=as_row, what=f"{eq.key} operand {k}")


# ---- tests -------------------------------------------------------------------------------------------

CASES = [
    dict(loss="softmax_ce", activation="tanh", reduction="sum"),
    dict(loss="mse", activation="relu", reduction="mean"),
    dict(loss="sigmoid_bce", activation="sigmoid", reduction="sum"),
    dict(loss="softmax_ce", activation="identity", reduction="mean", mask=np.array([0, 1, 0, 2.0, 1, 0.5])),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['loss']}-{c['activation']}-{c['reduction']}")
@pytest.mark.parametrize("t", [1, 3, 5])
def test_printed_numbers_are_the_engines(case, t):
    problem = make_problem(**case)
    res = problem.solve()
    eqs = by_key(derivation.build(problem, res, t=t, notation="wxh", lr=0.25))
    exp = expected(problem, res, t, 0.25)
    assert set(exp) <= set(eqs), set(exp) - set(eqs)
    for key, (value, operands) in exp.items():
        check_equation(eqs[key], value, operands)


def test_large_sizes_print_first_entries_an_ellipsis_and_the_norm():
    problem = make_problem(T=9, D=7, H=10, O=8)
    res = problem.solve()
    eqs = by_key(derivation.build(problem, res, t=4, notation="wxh", lr=0.1))
    exp = expected(problem, res, 4, 0.1)
    for key, (value, operands) in exp.items():
        check_equation(eqs[key], value, None if key == "dL_dh" else operands)
    # too wide for one line: f'(a_5) * dL/dh_5 is printed as one vector
    P, fp = problem.params, fprime(problem, res, 5)
    check_equation(eqs["dL_dh"], res.dL_dh[3], [P.W_hy.T, res.dL_do[3], P.W_hh.T, fp * res.dL_dh[4],
                                                 res.dL_dh_direct[3], res.dL_dh_indirect[3]])
    assert r"\vdots" in eqs["a"].value and r"\lVert\cdot\rVert = " in eqs["a"].value
    assert r"\ddots" in eqs["grad_W_hh"].value and r"\lVert\cdot\rVert_F" in eqs["grad_W_hh"].value


def test_row_notation_prints_rows_and_transposed_parameters():
    problem = make_problem()
    res = problem.solve()
    t, i = 3, 2
    eqs = by_key(derivation.build(problem, res, t=t, notation="row", lr=0.1))
    P, tr = problem.params, res.trace
    # a_t = x_t W_x + h_{t-1} W_h + b_h with W_x = W_xh^T, all vectors rows
    printed = parse_matrices(" ".join(eqs["a"].steps))
    for parsed, op, row in zip(printed, [problem.xs[i], P.W_xh.T, tr.h[i - 1], P.W_hh.T, P.b_h],
                               [True, False, True, False, True]):
        assert_printed(parsed, op, row=row)
    check_equation(eqs["a"], tr.a[i], None, row=True)
    for name in PARAMS:   # dL/dW_x = (dL/dW_xh)^T
        g = getattr(res.grads, name)
        check_equation(eqs[f"grad_{name}"], g.T if g.ndim == 2 else g, None, row=True)
    # the Jacobian is the same matrix in every notation: diag(f') W_h^T = diag(f') W_hh
    check_equation(eqs["factor"], step_jacobians(P, problem.xs, activation="tanh")[t], None)


@pytest.mark.parametrize("notation", [k for k in NOTATIONS if k != "row"])
def test_column_notations_print_the_same_numbers(notation):
    problem = make_problem(loss="mse")
    res = problem.solve()
    base = by_key(derivation.build(problem, res, t=2, notation="wxh", lr=0.1))
    other = by_key(derivation.build(problem, res, t=2, notation=notation, lr=0.1))
    for key, eq in base.items():
        if NOTATIONS[notation].bias_first and key in ("a", "o"):
            # b + W h + U x: the same numbers, the terms in the text's order
            assert sorted(map(str, parse_matrices(" ".join(other[key].steps)))) == \
                sorted(map(str, parse_matrices(" ".join(eq.steps))))
            assert other[key].value == eq.value
        else:
            assert (other[key].steps, other[key].value) == (eq.steps, eq.value), key


def test_every_notation_and_stage_is_well_formed_latex():
    formulas = []
    for notation, loss in itertools.product(NOTATIONS, sorted(rc.LOSSES)):
        problem = make_problem(loss=loss, T=4, H=3)
        stages = derivation.build(problem, problem.solve(), t=2, notation=notation, lr=0.1)
        assert [s.key for s in stages] == list(derivation.STAGE_KEYS)
        for stage in stages:
            for eq in stage.equations:
                latex = eq.latex()
                assert "None" not in latex and "nan" not in latex, latex
                assert unbalanced(latex) is None, (unbalanced(latex), latex)
                formulas.append(latex)
    assert formulas     # KaTeX renders them all: tests/test_notation_katex.py


def test_t_equal_T_and_T_equal_1():
    problem = make_problem(T=1)
    res = problem.solve()
    stages = derivation.build(problem, res, t=1, notation="dlbook", lr=0.1)
    eqs = by_key(stages)
    assert "factor" not in eqs
    assert any("no recurrence" in note for s in stages for note in s.notes)
    check_equation(eqs["dL_dh"], res.dL_dh[0], [problem.params.W_hy.T, res.dL_do[0]])
    with pytest.raises(ValueError, match="t must lie in"):
        derivation.build(problem, res, t=2, notation="wxh", lr=0.1)


def test_overflow_prints_infinity_not_a_traceback():
    problem = make_problem(T=200, activation="identity", loss="mse")
    big = problem.params.replace(W_hh=problem.params.W_hh * 50)
    problem = derivation.Example(big, problem.xs, problem.ys, None, "identity", "mse")
    res = problem.solve()
    assert res.overflow
    stages = derivation.build(problem, res, t=1, notation="wxh", lr=0.1)
    text = " ".join(eq.latex() for s in stages for eq in s.equations)
    assert r"\infty" in text or r"\mathrm{nan}" in text


@pytest.mark.parametrize("value, latex", [
    (0.123456, "0.1235"), (-1.23456e-5, r"-1.235{\times}10^{-5}"), (12345.6, r"1.235{\times}10^{4}"),
    (-0.0, "0"), (np.inf, r"\infty"), (-np.inf, r"-\infty"), (np.nan, r"\mathrm{nan}"), (2.0, "2"),
])
def test_number_format(value, latex):
    assert derivation.number(value) == latex
    if np.isfinite(value):
        assert parse_number(latex) == rounded(value)


def test_markdown_export_has_every_equation_as_display_math():
    problem = make_problem()
    stages = derivation.build(problem, problem.solve(), t=2, notation="d2l", lr=0.1)
    md = derivation.to_markdown(stages, title="BPTT at t = 2", header=["Model: test"],
                        tables={"Gradient check": [{"parameter": "W_hh", "pass": "yes"}]})
    n_eqs = sum(len(s.equations) for s in stages)
    assert md.count("$$\n") == 2 * n_eqs
    assert md.startswith("# BPTT at t = 2") and "| parameter | pass |" in md
    for stage in stages:
        assert stage.title in md


# ---- the double sum (9) -----------------------------------------------------------------------------

def single_term_gradient(problem, res, t):
    """d(w_t L_t)/dW_hh from bptt on the whole sequence with a mask selecting term t alone."""
    mask = np.zeros(problem.T)
    mask[t - 1] = res.weights[t - 1]
    return rc.bptt(problem.params, problem.xs, problem.ys, activation=problem.activation,
                   loss=problem.loss, reduction="sum", mask=mask).grads.W_hh


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['loss']}-{c['activation']}-{c['reduction']}")
def test_double_sum_terms_add_up_to_the_gradient_of_one_loss_term(case):
    problem = make_problem(T=6, **case)
    res = problem.solve()
    totals = np.zeros_like(res.grads.W_hh)
    for t in range(1, 7):
        terms = derivation.double_sum_terms(problem, res, t)
        exact = single_term_gradient(problem, res, t)
        assert terms.pieces.shape == (t,) + exact.shape
        np.testing.assert_allclose(terms.pieces.sum(axis=0), exact, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(terms.total, exact, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(terms.norms, [np.linalg.norm(p) for p in terms.pieces], rtol=1e-10, atol=1e-14)
        if terms.norms.sum() > 0:
            np.testing.assert_allclose(terms.shares.sum(), 1.0)
        totals += terms.total
    np.testing.assert_allclose(totals, res.grads.W_hh, rtol=1e-10, atol=1e-14)   # eq. (9) = eq. (10)


def test_double_sum_of_a_late_step_has_norms_but_no_written_out_pieces():
    problem = make_problem(T=12, H=5, reduction="mean")
    res = problem.solve()
    all_norms = rc.contributions(problem.params, problem.xs, problem.ys, activation="tanh",
                                 loss="softmax_ce", reduction="mean")
    terms = derivation.double_sum_terms(problem, res, 9)
    np.testing.assert_allclose(terms.norms, all_norms[8, :9], rtol=1e-10)
    np.testing.assert_allclose(terms.total, single_term_gradient(problem, res, 9), rtol=1e-10, atol=1e-14)
    assert terms.pieces.shape == (0, 5, 5)


def test_double_sum_beyond_the_budget_is_left_out_with_a_note(monkeypatch):
    assert derivation_page.double_sum_affordable(500, 32) and not derivation_page.double_sum_affordable(500, 64)
    problem = make_problem(T=3, H=3)
    res = problem.solve()
    monkeypatch.setattr(derivation_page, "DOUBLE_SUM_WORK", 8 * 9)   # t^2 H^2 = 81 at t = 3
    config = DEFAULT.replace(T=3, H=3)
    assert not derivation_page.plan(config, 3).double_sum and derivation_page.plan(config, 2).double_sum
    stage = derivation.build(problem, res, t=3, notation="wxh", lr=0.1, double_sum=None)[5]
    assert stage.key == "double_sum" and "left out" in stage.notes[0]


def test_double_sum_stage_prints_each_term_and_their_sum():
    problem = make_problem(T=5, H=3)
    res = problem.solve()
    t = 4
    terms = derivation.double_sum_terms(problem, res, t)
    for notation in ("wxh", "row"):
        eq = by_key(derivation.build(problem, res, t=t, notation=notation, lr=0.1, double_sum=terms))["double_sum"]
        printed = parse_matrices(" ".join(eq.steps))
        assert len(printed) == t
        flip = (lambda M: M.T) if notation == "row" else (lambda M: M)
        for parsed, piece in zip(printed, terms.pieces):
            assert_printed(parsed, flip(piece))
        [value] = parse_matrices(eq.value)
        assert_printed(value, flip(single_term_gradient(problem, res, t)))


def test_double_sum_rows():
    problem = make_problem(T=4)
    res = problem.solve()
    terms = derivation.double_sum_terms(problem, res, 3)
    rows = derivation.double_sum_rows(terms)
    assert [r["k"] for r in rows] == [1, 2, 3] and [r["distance t − k"] for r in rows] == [2, 1, 0]
    assert [float(r["‖term‖_F"]) for r in rows] == [rounded(v) for v in terms.norms]


# ---- the gradient check ----------------------------------------------------------------------------

def test_gradient_check_rows_name_parameters_in_the_notation():
    problem = make_problem(T=4, H=3)
    report = derivation.gradient_check(problem, max_entries=derivation_page.gradcheck_entries(problem.T, 3))
    assert report.passed
    rows = derivation.gradcheck_rows(report, "dlbook")
    assert [r["gradient"] for r in rows] == ["∂L/∂U (∂L/∂W_xh)", "∂L/∂W (∂L/∂W_hh)", "∂L/∂b (∂L/∂b_h)",
                                            "∂L/∂V (∂L/∂W_hy)", "∂L/∂c (∂L/∂b_y)", "∂L/∂h^(0) (∂L/∂h_0)"]
    assert [r["gradient"] for r in derivation.gradcheck_rows(report, "wxh")][:2] == ["∂L/∂W_xh", "∂L/∂W_hh"]
    assert all(r["pass"] == derivation.PASS_MARK for r in rows)
    assert rows[1]["entries"] == rows[1]["entries checked"] == 9


def test_gradient_check_would_fail_on_a_wrong_gradient():
    # the table reports what rnn_core.gradcheck found; a wrong analytic value must show as a fail
    problem = make_problem(T=4, H=3)
    report = derivation.gradient_check(problem, max_entries=derivation_page.gradcheck_entries(problem.T, 3))
    row = report.rows[1]
    broken = rc.GradcheckRow(row.name, row.shape, row.n_total, row.n_checked, row.indices,
                             row.analytic * 1.01, row.numeric, row.max_abs_error, 0.01, False)
    bad = rc.GradcheckReport((broken,) + report.rows[2:], report.loss, report.eps, report.rtol, report.atol)
    assert derivation.gradcheck_rows(bad, "wxh")[0]["pass"] == derivation.FAIL_MARK


def test_live_check_checks_everything_of_a_small_model_and_a_few_entries_of_a_big_one():
    assert derivation_page.gradcheck_entries(12, 8) >= 64            # the default model: every entry
    assert derivation_page.gradcheck_entries(500, 256) == derivation_page.GRADCHECK_MIN_ENTRIES
    problem = make_problem(T=40, H=40, D=5, O=5)
    report = derivation.gradient_check(problem, max_entries=derivation_page.gradcheck_entries(40, 40))
    assert report.passed
    assert report.row("W_hh").n_checked == derivation_page.gradcheck_entries(40, 40) < 1600


def test_long_sums_break_at_their_signs_and_short_ones_do_not():
    wide = by_key(derivation.build(make_problem(H=6, D=6), make_problem(H=6, D=6).solve(), t=3, notation="wxh", lr=0.1))
    steps = wide["a"].steps
    assert len(steps) == 3 and steps[1].startswith("+ ") and steps[2].startswith("+ ")
    assert r"\phantom{=}" in wide["a"].latex() and all(derivation.width(s) <= derivation.LINE_CHARS for s in steps[1:])
    narrow_problem = make_problem(H=2, D=1, O=2)
    narrow = by_key(derivation.build(narrow_problem, narrow_problem.solve(), t=3, notation="wxh", lr=0.1))
    assert len(narrow["a"].steps) == 1 and derivation.width(narrow["a"].steps[0]) <= derivation.LINE_CHARS
    assert derivation.width(derivation.array(np.full((2, 3), -0.1234))) == 3 * (7 + 2)


def test_a_product_beyond_the_budget_is_left_out_but_the_bound_stays(monkeypatch):
    problem = make_problem(T=6, H=4)
    res = problem.solve()
    monkeypatch.setattr(derivation_page, "PRODUCT_WORK", 3 * 4 ** 3)      # distance 3 fits, 4 does not
    config = DEFAULT.replace(T=6, H=4)
    assert derivation_page.plan(config, 3).product and not derivation_page.plan(config, 2).product
    near = by_key(derivation.build(problem, res, t=3, notation="wxh", lr=0.1))
    check_equation(near["jac_norm"], expected(problem, res, 3, 0.1)["jac_norm"][0], None)
    left_out = derivation.numbers(problem, res, t=2, lr=0.1, product=False)
    stage = derivation.build(problem, res, t=2, notation="wxh", lr=0.1, numbers_=left_out)[4]
    keys = [eq.key for eq in stage.equations]
    assert "jac_norm" not in keys and "bound" in keys
    assert any("left out" in note for note in stage.notes)
