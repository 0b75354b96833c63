"""Issue 14 on the Vanishing page: every cell under AppTest. A gated cell's ||ds_T/ds_k|| beside
its memory path (the keeping gates' product), its sections adapted or explained, the comparison
of the three cells on the same inputs (the lstm_carries preset makes its point as it opens),
and the cost model counting each cell's work. Charts are read back and compared with rnn_core
run here on the same configs."""
import numpy as np
import pytest

import rnn_core as rc
from apptest_helpers import fresh_caches, open_app_page  # noqa: F401 (fresh_caches is a fixture)
from test_page_vanishing import HOSTILE, PAGE, _decode, charts, open_page, traces
from ui.config import DEFAULT, EXACT_NUMBERS, build_params, parse, to_query
from ui.pages import vanishing as service
from ui.presets import PRESETS
from ui.state import make_data

pytestmark = pytest.mark.usefixtures("fresh_caches")
GATED = ("lstm", "gru")


def gated(cell: str, **fields):
    return DEFAULT.replace(cell=cell, init="orthogonal", **fields)


def engine(config, norm=2):
    params, xs = build_params(config), make_data(config).xs
    return (rc.jacobian_norms_to_last(params, xs, activation="tanh", ord=norm),
            None if config.cell == "rnn" else rc.gate_path_to_last(params, xs, ord=norm))


# ---- the page for a gated cell ----------------------------------------------------------------

@pytest.mark.parametrize("cell", GATED)
def test_a_gated_cell_draws_its_jacobian_beside_its_memory_path(cell):
    at = open_page({"cell": cell, "T": "30"})
    config = at.session_state["_config"]
    assert config.cell == cell
    figs = charts(at)
    assert set(figs) == {"v_curve", "v_cells", "v_spectrum", "v_pairwise", "v_pairs_row", "v_dl_dh", "v_df"}
    norms, path = engine(config)
    np.testing.assert_array_equal(traces(figs["v_curve"], "curve")[0]["y"], norms)
    np.testing.assert_allclose(traces(figs["v_curve"], "gate")[0]["y"], path.product_norm, rtol=1e-15)
    assert not traces(figs["v_curve"], "bound")                         # eq. (11) is the vanilla cell's
    assert "∂s<sub>T</sub>" in figs["v_curve"]["layout"]["yaxis"]["title"]["text"]
    words = service.GATE_WORDS[cell]
    assert [m.label for m in at.metric] == ["Fitted per-step factor", "Memory horizon (1 %)",
                                            f"Mean {words.gate} {words.letter}", f"{words.path.capitalize()} at k = 1"]
    assert at.metric[3].value == f"{path.product_norm[0] / path.product_norm[-1]:.1e}"
    verdict = next(i.value for i in at.info if i.value.startswith("At k = 1"))
    assert f"{words.path} alone keeps {path.product_norm[0]:.1g}" in verdict
    assert any("sweeps vary the vanilla RNN" in i.value for i in at.info)   # one line, no traceback
    gates = rc.forward(build_params(config), make_data(config).xs).gates[words.letter]
    np.testing.assert_array_equal(np.asarray(figs["v_df"]["data"][0]["z"]).reshape(config.H, 30), gates.T)
    blocks = {t["name"] for t in traces(figs["v_spectrum"], "eigenvalues")}
    assert len(blocks) == len(service.recurrent_blocks(cell)) == (4 if cell == "lstm" else 3)
    assert not at.exception and not at.warning
    assert any(r"\odot" in el.value for el in at.latex)
    assert not [b for b in at.button if b.key == "v_to_derivation"]        # eq. (8) is the vanilla cell's


@pytest.mark.parametrize("cell", GATED)
def test_a_gated_pairs_map_is_the_whole_states(cell):
    config = gated(cell, T=12)
    at = open_page(to_query(config.replace(v_section="pairs")))
    pairs = rc.pairwise_jacobian_norms(build_params(config), make_data(config).xs, ord=2)
    z = np.asarray(_decode(charts(at)["v_pairwise"]["data"][0]["customdata"]), dtype=float).reshape(12, 12)
    np.testing.assert_allclose(z[np.tril_indices(12)], pairs[np.tril_indices(12)], rtol=1e-15)


def test_choosing_the_lstm_changes_the_page():
    at = open_page({"v_section": "sweeps", "T": "30"})
    assert at.metric[2].label.startswith("Spectral radius") and "v_sweep_rho" in charts(at)
    at.sidebar.selectbox(key="cfg_cell").set_value("lstm").run()
    assert not at.exception
    assert at.session_state["_config"].cell == "lstm"
    assert at.metric[2].label == "Mean forget gate f" and set(charts(at)) == {"v_curve"}
    assert traces(charts(at)["v_curve"], "gate")


@pytest.mark.parametrize("cell", GATED)
def test_a_gated_window_holds_the_full_runs_exact_values(cell):
    config = gated(cell, T=25, H=5)
    params, xs = build_params(config), make_data(config).xs
    full = rc.jacobian_norms_to_last(params, xs, ord=2)
    np.testing.assert_allclose(service.norm_curve(params, xs, "tanh", "2", 9), full[-9:], rtol=1e-12)
    path = rc.gate_path_to_last(params, xs, ord=2)
    np.testing.assert_allclose(service.gate_product(params, xs, "2", 9).norms, path.product_norm[-9:], rtol=1e-12)
    pairs = rc.pairwise_jacobian_norms(params, xs, ord="fro")
    np.testing.assert_allclose(service.pairwise(params, xs, "tanh", "fro", 7), pairs[-7:, -7:], rtol=1e-12)
    data = make_data(config)
    whole = rc.bptt(params, data.xs, data.ys, loss=config.loss).dL_dh
    np.testing.assert_allclose(service.dl_dh(params, data, config, 8), whole[-8:], rtol=1e-12, atol=1e-300)


# ---- compare cells ----------------------------------------------------------------------------

def test_the_lstm_preset_compares_three_cells_and_makes_its_point():
    config = PRESETS["lstm_carries"].apply()
    at = open_app_page(PAGE, to_query(config))
    assert at.session_state["_config"].v_section == "cells"
    figs = charts(at)
    assert set(figs) == {"v_curve", "v_cells"}
    drawn = traces(figs["v_cells"], "curve")
    assert [t["name"].split(" ·")[0] for t in drawn] == ["vanilla RNN", "LSTM", "GRU"]
    kept = {}
    for trace, (cell, model) in zip(drawn, service.cell_configs(config)):
        norms, _ = engine(model)
        np.testing.assert_array_equal(trace["y"], norms)
        kept[cell] = norms[0] / norms[-1]
    assert kept["lstm"] > 1e6 * kept["rnn"]                 # the point, on the defaults, without fiddling
    sentence = next(i.value for i in at.info if i.value.startswith("At T = 100"))
    assert f"the vanilla RNN keeps {kept['rnn']:.1g}" in sentence and f"the LSTM keeps {kept['lstm']:.1g}" in sentence
    assert "The LSTM keeps" in sentence and "times as much as the vanilla RNN" in sentence
    table = at.dataframe[0].value
    assert list(table["setting"]) == ["vanilla RNN", "LSTM", "GRU"]
    assert all(h in {t["name"].split(" · horizon ")[1] for t in drawn} for h in table["memory horizon"])
    np.testing.assert_array_equal(traces(figs["v_curve"], "curve")[0]["y"], drawn[1]["y"])  # the same LSTM


def test_each_cell_in_the_comparison_has_its_own_defaults_on_the_same_inputs():
    config = DEFAULT.replace(activation="relu", rho=1.3, T=20, edits=(("W_hh", 0, 0, 0.5),))
    by_cell = dict(service.cell_configs(config))
    model = config.project(*EXACT_NUMBERS)
    assert by_cell["rnn"] == model                                         # the sidebar's own cell, edits too
    assert by_cell["lstm"].init == by_cell["gru"].init == "orthogonal"
    assert by_cell["lstm"].activation == "tanh" and by_cell["lstm"].rho == DEFAULT.rho
    assert by_cell["lstm"].forget_bias == 1.0 and by_cell["lstm"].edits == ()
    for c in by_cell.values():
        assert (c.T, c.H, c.D, c.seed, c.task) == (20, DEFAULT.H, DEFAULT.D, DEFAULT.seed, DEFAULT.task)
        np.testing.assert_array_equal(make_data(c).xs, make_data(model).xs)
    from_lstm = dict(service.cell_configs(gated("lstm", forget_bias=3.0)))
    assert from_lstm["lstm"].forget_bias == 3.0
    assert (from_lstm["rnn"].init, from_lstm["rnn"].activation, from_lstm["rnn"].rho) == \
        (DEFAULT.init, "tanh", DEFAULT.rho)


def test_cells_sentence_follows_the_numbers():
    curves = [("rnn", np.array([1e-9, 1e-3, 1.0])), ("lstm", np.array([0.2, 0.5, 1.0])),
              ("gru", np.array([np.inf, 2.0, 1.0]))]
    sentence = service.cells_sentence(3, curves)
    assert sentence.startswith("At T = 3, 2 steps back (k = 1), of the gradient each cell has at k = T the vanilla "
                               "RNN keeps 1e-09, the LSTM keeps 0.2 and the GRU overflows (it explodes).")
    assert "The LSTM keeps 2 × 10⁸ times as much as the vanilla RNN." in sentence
    assert service.times(37.2, 1.0) == "37" and service.times(8.2e11, 1.0) == "8 × 10¹¹"
    assert service.times(9.7e5, 1.0) == "1 × 10⁶" and service.times(1e300, 1e-300) == "1 × 10⁶⁰⁰"
    # a ratio past the float range (ReLU, rho = 5: one cell explodes, another vanishes) is still said
    wide = service.cells_sentence(2, [("rnn", np.array([1e300, 1.0])), ("gru", np.array([1e-300, 1.0]))])
    assert "the vanilla RNN grows it 1e+300-fold" in wide
    assert "The vanilla RNN keeps 1 × 10⁶⁰⁰ times as much as the GRU." in wide
    assert "times as much" not in service.cells_sentence(3, [("rnn", np.array([0.5, 1.0])),
                                                            ("gru", np.array([0.6, 1.0]))])


# ---- the cost model counts each cell ------------------------------------------------------------

def test_a_gated_step_is_counted_at_its_cost():
    for norm in ("2", "fro"):
        vanilla = service.curve_seconds(100, 64, norm)
        assert service.curve_seconds(100, 64, norm, "lstm") > 5 * vanilla
        assert service.curve_seconds(100, 64, norm, "gru") > 1.5 * vanilla
    assert service.forward_seconds(100, 256, 3, "lstm") > 2.5 * service.forward_seconds(100, 256, 3)
    assert service.pairs_seconds(20, 64, "fro", "lstm") > 8 * service.pairs_seconds(20, 64, "fro")
    # the vanilla cell's numbers are the ones the model always had
    assert service.curve_seconds(10, 8, "2") == 10 * (8 ** 3 * 5 / service.MATMUL_RATE + service.STEP_SECONDS)


@pytest.mark.parametrize("cell", GATED)
def test_default_view_and_comparison_fit_at_t200_h64(cell):
    config = gated(cell, T=200, H=64)
    plan = service.plan(config)
    assert plan.main_window == 200 and plan.seconds <= service.PAGE_BUDGET
    cells = service.plan(config.replace(v_section="cells"))
    assert cells.cells_window == 200
    assert service.cells_seconds(200, config, cells.cells_norm) <= service.SECTIONS_SHARE * service.PAGE_BUDGET


@pytest.mark.parametrize("cell", GATED)
@pytest.mark.parametrize("query", HOSTILE[:4] + HOSTILE[6:8], ids=lambda q: ",".join(
    f"{k}={v}" for k, v in q.items() if k in ("T", "H", "v_section")))
def test_gated_hostile_links_stay_within_the_budget(query, cell):
    config = parse({**query, "cell": cell})[0]
    plan = service.plan(config)
    assert plan.seconds <= service.PAGE_BUDGET * 1.1, plan
    assert plan.sweep_window == 0 and plan.stats_window == 0            # the vanilla cell's sections
    assert plan.seconds >= service.curve_seconds(plan.main_window, config.H, plan.norm, cell)


def test_a_comparison_that_cannot_fit_says_so():
    at = open_page({"cell": "lstm", "T": "300", "H": "256", "v_section": "cells"})
    assert "v_cells" not in charts(at) and not at.exception
    assert any("comparison of the three cells would take too long" in i.value for i in at.info)


def test_an_exploding_vanilla_cell_beside_vanishing_gated_ones_is_said_not_raised():
    """ReLU at rho = 5: the vanilla curve reaches 1e264 while the GRU's falls to 1e-74; their
    ratio is past the float range and is still worded (a regression: it raised)."""
    at = open_page({"activation": "relu", "rho": "5", "T": "500", "H": "16", "v_section": "cells"})
    assert "v_cells" in charts(at) and not at.exception
    sentence = next(i.value for i in at.info if i.value.startswith("At T = 500"))
    assert "the vanilla RNN grows it" in sentence and "times as much as the GRU" in sentence


def test_view_choices_recompute_nothing_for_a_gated_cell(monkeypatch):
    """Notation, presentation, axis and section of an LSTM view ask the engine for nothing new
    (every cache keys on the model's config); the comparison's LSTM is the main curve's entry."""
    at = open_page({"cell": "lstm", "T": "30", "seed": "616161"})
    calls: dict[str, int] = {}
    for name in ("iter_jacobian_norms_to_last", "pairwise_jacobian_norms", "gate_product_to_last"):
        original = getattr(service, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _original(*args, **kwargs)
        monkeypatch.setattr(service, name, counted)
    for name, value in (("notation", "dlbook"), ("presentation", True), ("v_axis", "distance"),
                        ("v_section", "spectrum"), ("v_section", "all")):
        at.session_state[f"cfg_{name}"] = value
        at.run()
        assert not at.exception and getattr(at.session_state["_config"], name) == value
    assert calls == {}, calls
    assert "v_cells" in charts(at)


@pytest.mark.parametrize("query, expect", [
    ({"cell": "lstm", "T": "1", "H": "1"}, None),
    ({"cell": "gru", "T": "2", "H": "1"}, "1 step back"),
    ({"cell": "lstm", "forget_bias": "-5", "T": "300", "H": "64"}, "product of gates fell below the smallest float64"),
    ({"cell": "lstm", "edits": "W_hf.0=50.0~b_f.0=-80", "T": "20"}, "the other paths"),
])
def test_extreme_gated_settings_give_notes_not_tracebacks(query, expect):
    at = open_page(query)
    assert not at.exception and "v_curve" in charts(at)
    notes = " ".join(i.value for i in at.info)
    assert "its bound" not in notes                                  # a gated cell has no bound (11)
    if expect:
        assert expect in notes, notes
