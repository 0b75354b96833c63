"""AppTest of the Derivation page: every notation, every preset, the walk's controls, extreme settings.

The printed numbers are read back from the page's LaTeX and compared with rnn_core run here on the
same config; the gradient check table must pass on every preset.
"""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import rnn_core as rc
from test_derivation import assert_printed, parse_matrices, parse_number, rounded
from apptest_helpers import fresh_caches, open_app_page  # noqa: F401 (fresh_caches is a fixture)
from ui import derivation, derivation_code
from ui.pages import derivation as derivation_page
from ui.stages import keys_of, stages_of
from ui.config import build_params, parse, to_query
from ui.notation import NOTATIONS
from ui.presets import PRESETS
from ui.state import make_data

PAGE = "views/derivation.py"


pytestmark = pytest.mark.usefixtures("fresh_caches")


def open_page(query: dict | None = None) -> AppTest:
    return open_app_page(PAGE, query)


def engine(config):
    data = make_data(config)
    return data, rc.bptt(build_params(config), data.xs, data.ys, activation=config.activation,
                         loss=config.loss, reduction=config.reduction, mask=data.mask)


def equations(at: AppTest) -> list[str]:
    return [el.value.strip("$\n") for el in at.latex]


def equation(at: AppTest, lhs_start: str) -> str:
    found = [e for e in equations(at) if e.startswith(r"\begin{aligned} " + lhs_start)]
    assert found, f"no equation for {lhs_start!r} among {[e[:40] for e in equations(at)]}"
    return found[0]


def gradcheck_table(at: AppTest):
    [frame] = [df.value for df in at.dataframe if "max relative error" in df.value.columns]
    return frame


@pytest.mark.parametrize("notation", list(NOTATIONS))
def test_each_notation_writes_the_engines_numbers_in_its_own_letters(notation):
    query = {"notation": notation, "T": 6, "H": 4, "d_step": 3}
    at = open_page(query)
    config = parse(query)[0]
    n = NOTATIONS[notation]
    data, res = engine(config)
    assert len(at.latex) >= 6
    a3 = equation(at, n.at(n.a, "3"))
    assert n.pre_activation("3", "2") in a3            # the text's own letters and order
    value = a3.split("&= ")[-1]
    [printed] = parse_matrices(value)
    assert_printed(printed, res.trace.a[2], row=n.row_vectors)
    loss = equation(at, n.L + " &")
    assert parse_number(loss.split("&= ")[-1].split(r" \end")[0]) == rounded(res.loss)
    assert any(n.mapping() in c.value for c in at.caption)
    assert (gradcheck_table(at)["pass"] == derivation.PASS_MARK).all()


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_renders_and_its_gradient_check_passes(preset):
    config = PRESETS[preset].config()
    at = open_page(to_query(config))
    table = gradcheck_table(at)
    arrays = derivation_page.gradcheck_arrays(config.cell)      # every parameter and initial state
    assert len(table) == arrays and (table["pass"] == derivation.PASS_MARK).all(), table
    assert len(at.latex) >= 6
    assert not [w for w in at.warning if "overflow" in w.value]


def test_next_and_previous_walk_through_every_stage_in_order():
    at = open_page({"T": 5, "H": 3})
    seen = [at.subheader[0].value]
    for _ in derivation.STAGES[1:]:
        at.button(key="d_next").click().run()
        assert not at.exception
        seen.append(at.subheader[0].value)
    n = NOTATIONS["wxh"]
    assert seen == [f"{i}. {info.heading(n)} {info.tags}" for i, info in enumerate(derivation.STAGES, start=1)]
    assert at.button(key="d_next").disabled
    at.button(key="d_prev").click().run()
    assert at.subheader[0].value.startswith(f"{len(derivation.STAGES) - 1}.")
    assert at.query_params["d_stage"] == derivation.STAGE_KEYS[-2]     # the stage is in the share link


def test_the_double_sum_stage_shows_the_table_and_chart_adding_up():
    at = open_page({"T": 6, "H": 3, "d_step": 5, "d_stage": "double_sum"})
    config = parse({"T": 6, "H": 3})[0]
    data, res = engine(config)
    mask = np.zeros(config.T)
    mask[4] = res.weights[4]
    exact = rc.bptt(build_params(config), data.xs, data.ys, activation=config.activation,
                    loss=config.loss, reduction="sum", mask=mask).grads.W_hh
    eq = equation(at, r"\frac{\partial (w_{5} L_{5})}")
    [value] = parse_matrices(eq.split("&= ")[-1])
    assert_printed(value, exact)
    terms = eq.split("&= ")[2]                                      # with its continuation lines
    assert len(parse_matrices(terms)) == 5 and terms.count(r"\underbrace") == 5   # five terms written out
    [table] = [df.value for df in at.dataframe if "share" in df.value.columns]
    assert list(table["k"]) == [1, 2, 3, 4, 5]
    assert len(at.get("plotly_chart")) == 1


def test_step_slider_moves_every_equation_to_the_new_step():
    at = open_page({"T": 8, "H": 3})
    assert equation(at, "a_{5}")
    at.slider(key="cfg_d_step").set_value(2).run()
    assert equation(at, "a_{2}") and not [e for e in equations(at) if e.startswith(r"\begin{aligned} a_{5}")]


def test_show_all_draws_every_stage_and_the_export_holds_them():
    at = open_page({"T": 4, "H": 2, "d_all": "1", "notation": "row"})
    assert [h.value.split(".")[0] for h in at.subheader[:len(derivation.STAGES)]] == [str(i) for i in range(1, 9)]
    [download] = at.get("download_button")
    assert "derivation" in download.proto.label.lower()


@pytest.mark.parametrize("query", [
    {"T": 1, "H": 1},                                            # one step, one unit
    {"T": 500, "H": 256, "d_step": 250, "d_stage": "double_sum"},  # the largest model
    {"T": 40, "activation": "relu", "rho": 5.0, "d_stage": "factor"},   # exploding
    {"T": 500, "activation": "identity", "rho": 5.0, "d_all": "1"},  # overflow to inf
    {"loss_at": "last", "reduction": "mean", "d_step": 3, "d_stage": "output"},  # masked step
    {"truncation": "k_step", "trunc_k": 2},
    {"d_step": 400, "T": 10},                                    # a step beyond T is clamped
])
def test_extreme_settings_give_notes_not_tracebacks(query):
    at = open_page(query)
    assert len(at.latex) >= 1
    config = parse(query)[0]
    if config.activation == "identity" and config.rho == 5.0:
        assert any("overflow" in w.value for w in at.warning)
    if config.H == 256:
        assert any("left out" in c.value for c in at.caption)
        assert gradcheck_table(at)["entries checked"].max() == derivation_page.gradcheck_entries(500, 256)
    if config.truncation != "full":
        assert any("exact gradient" in i.value for i in at.info)
    if query.get("d_step") == 400:
        assert equation(at, "a_{10}")


# ---- the gated cells -------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_each_gated_cell_walks_its_own_stages_with_the_engines_numbers(cell):
    query = {"cell": cell, "T": 6, "H": 4, "d_step": 3}
    at = open_page(query)
    config = parse(query)[0]
    data, res = engine(config)
    n = NOTATIONS["wxh"]
    gate = "f" if cell == "lstm" else "z"
    [printed] = parse_matrices(equation(at, f"{gate}_{{3}}"))[-1:]
    assert_printed(printed, res.trace.gates[gate][2])
    seen = [at.subheader[0].value]
    for _ in stages_of(cell)[1:]:
        at.button(key="d_next").click().run()
        assert not at.exception
        seen.append(at.subheader[0].value)
    assert seen == [f"{i}. {info.heading(n)} {info.tags}" for i, info in enumerate(stages_of(cell), start=1)]
    assert at.button(key="d_next").disabled
    table = gradcheck_table(at)
    assert len(table) == derivation_page.gradcheck_arrays(cell) and (table["pass"] == derivation.PASS_MARK).all()
    loop = derivation_code.loop(cell)
    python = [c for c in at.code if c.language == "python"]
    assert len(python) == len(derivation_code.blocks(loop)) + 1          # a row per block, the whole function
    assert python[-1].value == loop.annotated()


def test_the_lstm_memory_stage_prints_the_carousel():
    query = {"cell": "lstm", "T": 6, "H": 4, "d_step": 2, "d_stage": "memory"}
    at = open_page(query)
    _, res = engine(parse(query)[0])
    eq = equation(at, r"\frac{\partial L}{\partial c_{2}}")
    assert "f_{3}" in eq
    assert_printed(parse_matrices(eq)[-1], res.dL_dc[1])
    assert any("between" in c.value for c in at.caption)               # the forget gates' product


@pytest.mark.parametrize("cell, stage, shown", [("lstm", "factor", "memory"), ("lstm", "double_sum", "params"),
                                               ("gru", "last", "hidden"), ("gru", "memory", "hidden"),
                                               ("rnn", "memory", "recursion"), ("rnn", "gates", "params")])
def test_another_cells_stage_in_a_link_opens_its_nearest_stage(cell, stage, shown):
    at = open_page({"cell": cell, "d_stage": stage})
    assert at.query_params["d_stage"] == shown
    keys = keys_of(cell)
    assert at.subheader[0].value.startswith(f"{keys.index(shown) + 1}. ")


def test_a_notation_without_a_gated_form_says_so_and_uses_the_engines_names():
    at = open_page({"cell": "gru", "notation": "vwu"})
    assert any("no standard GRU form" in c.value for c in at.caption)
    assert equation(at, "r_{5}")
    at = open_page({"cell": "lstm", "notation": "d2l"})
    assert equation(at, "I_{5}") and any("Dive into Deep Learning" in c.value for c in at.caption)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_largest_gated_model_stays_within_the_check_budget(cell):
    at = open_page({"cell": cell, "T": 500, "H": 256, "d_all": "1"})
    assert len(at.latex) > 10
    table = gradcheck_table(at)
    assert table["entries checked"].max() == derivation_page.gradcheck_entries(500, 256, cell)
    big = parse({"cell": cell, "T": 500, "H": 256})[0]
    plan, vanilla = derivation_page.plan(big, 250), derivation_page.plan(big.replace(cell="rnn"), 250)
    assert plan.gradcheck_entries == derivation_page.GATED_MIN_ENTRIES and not plan.double_sum
    assert vanilla.seconds < plan.seconds < 6 * vanilla.seconds       # the gates' work is counted


@pytest.mark.parametrize("query", [
    {"cell": "lstm", "T": 1, "H": 1, "d_all": "1"},                       # one step, one unit
    {"cell": "gru", "T": 10, "d_step": 400, "d_stage": "gates"},          # a step beyond T is clamped
    {"cell": "lstm", "forget_bias": -5.0, "T": 60, "d_stage": "memory", "d_step": 1},   # a fading carousel
    {"cell": "gru", "truncation": "k_step", "trunc_k": 2, "notation": "row"},
])
def test_gated_extremes_give_notes_not_tracebacks(query):
    at = open_page(query)
    assert len(at.latex) >= 1
    config = parse(query)[0]
    if config.truncation != "full":
        assert any("exact gradient" in i.value for i in at.info)
    if query.get("d_step") == 400:
        assert equation(at, r"\delta_{z,10}")
