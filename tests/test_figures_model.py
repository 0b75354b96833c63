"""ui/figures/model.py and ui/weights_table.py: heatmaps and tables show the engine's arrays
in the notation's orientation, and edited tables come back as the right engine entries."""
import numpy as np
import pytest

import rnn_core as rc
from ui.config import DEFAULT
from ui.figures.model import weight_heatmaps
from ui.notation import NOTATIONS
from ui.weights_table import array_from_table, editor_key, table_of

D, H, O = 3, 5, 2


@pytest.fixture
def params():
    p = rc.init_params(D, H, O, seed=1)
    return p.replace(b_h=np.arange(H, dtype=float), b_y=-np.arange(O, dtype=float) - 7.0)


def heatmap_traces(fig):
    return {t.name: t for t in fig.data if t.type == "heatmap"}


@pytest.mark.parametrize("key", list(NOTATIONS))
def test_five_heatmaps_hold_the_arrays_in_the_notations_orientation(params, key):
    n = NOTATIONS[key]
    traces = heatmap_traces(weight_heatmaps(params, n))
    assert len(traces) == 5
    for name, array in params.items():
        z = np.asarray(traces[n.html_param(name)].z)
        if array.ndim == 1:
            expected = array[:, None]
        else:
            expected = array.T if n.row_vectors else array
        np.testing.assert_array_equal(z, expected)


def test_one_colour_scale_centred_on_zero(params):
    fig = weight_heatmaps(params, NOTATIONS["wxh"])
    largest = max(np.abs(a).max() for _, a in params.items())
    assert fig.layout.coloraxis.cmin == -largest and fig.layout.coloraxis.cmax == largest
    assert all(t.coloraxis == "coloraxis" for t in heatmap_traces(fig).values())


@pytest.mark.parametrize("key", ["wxh", "row"])
def test_edit_marks_sit_on_the_edited_cells(params, key):
    n = NOTATIONS[key]
    fig = weight_heatmaps(params, n, edited={("W_xh", 1), ("b_y", 1)})   # W_xh[h1, x2], b_y[o2]
    marks = [t for t in fig.data if t.type == "scatter"]
    cells = sorted((y, x) for t in marks for x, y in zip(t.x, t.y))
    expected_w = ("x2", "h1") if n.row_vectors else ("h1", "x2")
    assert cells == sorted([expected_w, ("o2", "b_y")])


def test_no_marks_without_edits(params):
    assert not [t for t in weight_heatmaps(params, NOTATIONS["wxh"]).data if t.type == "scatter"]


@pytest.mark.parametrize("key", list(NOTATIONS))
def test_tables_round_trip_and_edits_land_on_the_engine_entry(params, key):
    n = NOTATIONS[key]
    for name, array in params.items():
        table = table_of(array, name, n)
        np.testing.assert_array_equal(array_from_table(table, name, n), array)
    table = table_of(params.W_hy, "W_hy", n)
    table.loc["h3" if n.row_vectors else "o2", "o2" if n.row_vectors else "h3"] = 9.5
    assert array_from_table(table, "W_hy", n)[1, 2] == 9.5      # W_hy[o2, h3]


def test_emptied_cells_become_nan(params):
    table = table_of(params.b_h, "b_h", NOTATIONS["wxh"])
    table.iloc[2, 0] = None
    assert np.isnan(array_from_table(table, "b_h", NOTATIONS["wxh"])[2])


def test_editor_key_changes_with_the_shown_numbers_only():
    key = editor_key(DEFAULT, "W_hh")
    assert editor_key(DEFAULT.replace(T=30), "W_hh") == key                # T does not change weights
    for change in ({"seed": 1}, {"H": 9}, {"rho": 1.1}, {"edits": (("W_hh", 0, 1.0),)}, {"notation": "row"}):
        assert editor_key(DEFAULT.replace(**change), "W_hh") != key, change
    assert editor_key(DEFAULT, "W_xh") != key


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_a_figure_from_the_cached_layout_equals_one_drawn_afresh(cell):
    """The layout is made once per shape (issue 17): drawing other weights (another scale, edits)
    in between must leave nothing of theirs in the next figure."""
    import plotly.io as pio

    from ui.figures import model as figures
    first, other = rc.init_params(D, H, O, seed=1, cell=cell), rc.init_params(D, H, O, seed=2, cell=cell)
    other = other.replace(W_hy=other.W_hy * 40)
    figures._grid.cache_clear()
    fresh = pio.to_json(weight_heatmaps(first, NOTATIONS["wxh"]))
    weight_heatmaps(other, NOTATIONS["wxh"], edited={("W_hy", 0)})
    again = weight_heatmaps(first, NOTATIONS["wxh"])
    assert pio.to_json(again) == fresh
    assert again.layout.coloraxis.cmax == pytest.approx(max(np.abs(a).max() for _, a in first.items()))
