"""ui/figures/model.py and ui/weights_table.py for the gated cells (issue 14): every parameter of
the LSTM and the GRU drawn once in a row per gate, in the notation's orientation; tables of any
cell's parameters round-trip; symbols in the reader's notation where it has them."""
import numpy as np
import pytest

import rnn_core as rc
from katex_check import katex_errors, requires_katex, unbalanced
from ui.figures.model import positions, weight_heatmaps
from ui.notation import NOTATIONS
from ui.weights_table import (array_from_table, cell_named, param_groups, param_html, param_latex, parameter_count,
                              table_of, units)

D, H, O = 3, 5, 2
GATED = ("lstm", "gru")


def gated(cell):
    return rc.init_params(D, H, O, seed=2, cell=cell)


@pytest.mark.parametrize("cell", rc.CELLS)
def test_groups_hold_every_parameter_once_in_the_cells_gate_order(cell):
    groups = param_groups(cell)
    names = [n for g in groups for n in g.names]
    assert sorted(names) == sorted(rc.get_cell(cell).param_names) and len(set(names)) == len(names)
    assert groups[-1].names == ("W_hy", "b_y")
    assert [g.names[1] for g in groups[:-1]] == [f"W_h{g}" for g in rc.get_cell(cell).gate_letters]
    assert cell_named(rc.get_cell(cell).param_names) == cell


@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("key", list(NOTATIONS))
def test_every_gated_parameter_is_drawn_once_in_the_notations_orientation(cell, key):
    n, p = NOTATIONS[key], gated(cell)
    fig = weight_heatmaps(p, n)
    traces = {t.name: t for t in fig.data if t.type == "heatmap"}
    assert len(traces) == len(rc.get_cell(cell).param_names)
    for name, array in p.items():
        z = np.asarray(traces[param_html(n, cell, name)].z)
        expected = array[:, None] if array.ndim == 1 else (array.T if n.row_vectors else array)
        np.testing.assert_array_equal(z, expected)


@pytest.mark.parametrize("cell", GATED)
def test_a_row_per_gate_named_on_its_axis_and_the_output_layer_below(cell):
    fig = weight_heatmaps(gated(cell), NOTATIONS["wxh"])
    places = positions(cell)
    rows = len(param_groups(cell))
    assert places["W_hy"] == (rows, 2) and places["b_y"] == (rows, 3)
    titles = [getattr(fig.layout, k).title.text for k in fig.layout if k.startswith("yaxis") and
              getattr(fig.layout, k).title.text]
    assert sorted(t.replace("<b>", "").replace("</b>", "") for t in titles) == sorted(g.title for g in param_groups(cell))
    assert fig.layout.height <= 300 * rows


def test_the_forget_bias_sets_the_shared_colour_scale():
    p = rc.init_params(D, H, O, seed=2, cell="lstm", forget_bias=3.0)
    fig = weight_heatmaps(p, NOTATIONS["wxh"])
    assert fig.layout.coloraxis.cmax == pytest.approx(max(3.0, max(np.abs(a).max() for _, a in p.items())))


@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("key", ["wxh", "row"])
def test_gated_tables_round_trip(cell, key):
    n, p = NOTATIONS[key], gated(cell)
    for name, array in p.items():
        np.testing.assert_array_equal(array_from_table(table_of(array, name, n), name, n), array)


def test_an_edited_gated_table_lands_on_the_engines_entry_in_row_notation():
    n, p = NOTATIONS["row"], gated("lstm")
    table = table_of(p.W_xf, "W_xf", n)           # shown (D, H): x rows, h columns
    assert list(table.index[:1]) == ["x1"] and list(table.columns[:2]) == ["h1", "h2"]
    table.loc["x1", "h2"] = 9.0
    assert array_from_table(table, "W_xf", n)[1, 0] == 9.0


def test_units_of_every_cells_names():
    assert units("W_xf") == ("h", "x") and units("W_hz") == ("h", "h") and units("b_c") == ("h", None)
    assert units("W_hy") == ("o", "h") and units("b_y") == ("o", None)
    with pytest.raises(ValueError):
        units("gamma")


def test_symbols_use_the_notation_for_the_vanilla_cell_and_the_output_layer():
    dlbook = NOTATIONS["dlbook"]
    assert param_latex(dlbook, "rnn", "W_hh") == "W" and param_latex(dlbook, "gru", "W_hh") == "W_{hh}"
    assert param_latex(dlbook, "lstm", "W_hy") == "V"
    assert param_latex(dlbook, "lstm", "b_y") == "b_y"      # the book's output bias c is the LSTM's memory c
    assert param_latex(NOTATIONS["d2l"], "lstm", "W_hy") == "W_{qh}"
    assert param_latex(NOTATIONS["wxh"], "lstm", "b_f") == "b_f"


@pytest.mark.parametrize("cell, blocks", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_the_parameter_count(cell, blocks):
    assert parameter_count(cell, D, H, O) == blocks * (H * D + H * H + H) + O * H + O


def gated_formulas() -> list[str]:
    from ui.pages.model import gated_block     # the page's service imports streamlit: only here
    return [gated_block(NOTATIONS[key], cell, loss=loss, reduction=reduction, every_step=every_step)
            for cell in GATED for key in NOTATIONS for loss in rc.LOSSES for reduction in ("sum", "mean")
            for every_step in (False, True)]


def test_the_gated_equations_are_balanced_and_name_every_gate():
    for formula in gated_formulas():
        assert unbalanced(formula) is None, formula
    lstm = gated_formulas()[0]
    for label in ("(L1)", "(L2)", "(L3)", "(L4)", "(L5)", "(L6)", "(3)", "(4)", "(5)"):
        assert rf"\text{{{label}}}" in lstm
    assert r"\Gamma_{o,t}" in lstm and r"f_{t} \odot c_{t-1}" in lstm


@requires_katex
def test_the_gated_equations_render_in_katex():
    assert katex_errors(gated_formulas()) == []


def test_large_matrices_are_drawn_without_gaps():
    small = weight_heatmaps(rc.init_params(3, 8, 2, seed=1, cell="lstm"), NOTATIONS["wxh"])
    big = weight_heatmaps(rc.init_params(3, 100, 2, seed=1, cell="lstm"), NOTATIONS["wxh"])
    assert all(t.xgap == 1 for t in small.data if t.type == "heatmap")
    gaps = {t.name: t.xgap for t in big.data if t.type == "heatmap"}
    assert gaps["W<sub>hf</sub>"] == 0 and gaps["W<sub>xf</sub>"] == 0      # (100, 3): a side of 100


@pytest.mark.parametrize("key", ["wxh", "row"])
def test_a_hand_edited_gate_entry_is_outlined_where_it_is_shown(key):
    n = NOTATIONS[key]
    fig = weight_heatmaps(gated("lstm"), n, edited={("W_hf", 1 * H + 2)})      # W_hf[h2, h3]
    [marks] = [t for t in fig.data if t.type == "scatter"]
    assert (list(marks.x), list(marks.y)) == ((["h2"], ["h3"]) if n.row_vectors else (["h3"], ["h2"]))
    heatmap = next(t for t in fig.data if t.type == "heatmap" and t.name == "W<sub>hf</sub>")
    assert (marks.xaxis, marks.yaxis) == (heatmap.xaxis, heatmap.yaxis)
