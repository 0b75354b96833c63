"""The vanishing & exploding page: its config fields, its computations (ui.pages.vanishing) and the
page itself under AppTest, every preset and extreme settings. Charts are read back and
compared with rnn_core run here on the same config."""
import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import rnn_core as rc
from rnn_core.jacobians import jacobian_norms_to_last, pairwise_jacobian_norms, step_factor_stats
from rnn_core.spectral import memory_horizon
from apptest_helpers import fresh_caches, open_app_page  # noqa: F401 (fresh_caches is a fixture)
from ui.pages import vanishing as service
from ui.budget import Guard
from ui.config import DEFAULT, EXACT_NUMBERS, FIELD_BY_NAME, build_params, parse, to_query
from ui.presets import PRESETS
from ui.state import make_data

PAGE = "views/vanishing.py"
CHARTS = ("v_curve", "v_sweep_rho", "v_sweep_act", "v_cells", "v_spectrum", "v_pairwise", "v_pairs_row", "v_dl_dh", "v_fade", "v_df")


# ---- config fields -------------------------------------------------------------------------

def test_choices_field_round_trips_through_the_url_in_one_order():
    field = FIELD_BY_NAME["v_acts"]
    assert field.coerce("relu,tanh") == ("tanh", "relu")          # the options' order, always
    assert field.coerce(["identity", "tanh", "tanh"]) == ("tanh", "identity")
    assert field.coerce("") == ()
    assert field.encode(("tanh", "sigmoid")) == "tanh,sigmoid"
    with pytest.raises(ValueError, match="softmax"):
        field.coerce("tanh,softmax")
    config = DEFAULT.replace(v_acts=("relu",), v_radii=(0.5, 2.0), v_norm="fro", v_axis="distance")
    assert parse(to_query(config))[0] == config
    assert to_query(DEFAULT).get("v_acts") is None


def test_bad_page_values_in_a_url_get_a_message_and_a_safe_value():
    config, messages = parse({"v_acts": "tanh,gelu", "v_radii": "0.5,9", "v_norm": "inf"})
    assert config.v_acts == DEFAULT.v_acts and config.v_norm == DEFAULT.v_norm
    assert config.v_radii == (0.5, 5.0)                      # clamped to the schema's range
    assert len(messages) == 3 and any("gelu" in m for m in messages)


# ---- computations --------------------------------------------------------------------------

WORST = {"T": 500, "H": 256, "truncation": "k_step", "trunc_k": 499, "v_section": "all",
         "v_radii": "0.25,0.5,0.75,0.9,0.95,1,1.05,1.1,1.25,1.5,2,3", "v_acts": "tanh,relu,sigmoid,identity"}
# links that ask for the most of each thing the cost model counts
HOSTILE = [WORST, {**WORST, "v_section": "sweeps"}, {**WORST, "v_section": "pairs"}, {**WORST, "v_section": "steps"},
           {**WORST, "activation": "identity", "v_norm": "2"}, {**WORST, "H": "64", "v_norm": "2"},
           {**WORST, "T": "200", "H": "128"}, {**WORST, "H": "8"}, {**WORST, "H": "1", "trunc_k": "1"},
           {**WORST, "activation": "relu", "rho": "5"}, {"T": "500", "H": "32", "v_norm": "2", "v_section": "all"},
           {**WORST, "D": "64", "O": "64"}, {**WORST, "D": "64", "O": "64", "H": "1", "v_section": "sweeps"}]


def test_plan_keeps_everything_at_lecture_sizes():
    plan = service.plan(DEFAULT.replace(v_section="all"))
    assert (plan.norm, plan.main_window, plan.sweep_window, plan.pair_norm, plan.pair_window, plan.stats_window,
            plan.dl_dh_window) == ("2", 12, 12, "2", 12, 12, 12)
    assert plan.radii == DEFAULT.v_radii and plan.acts == DEFAULT.v_acts
    big = service.plan(DEFAULT.replace(T=200, H=64, v_norm="fro", v_section="sweeps"))
    assert (big.main_window, big.sweep_window, big.dl_dh_window) == (200, 200, 200)
    assert (big.pair_window, big.stats_window) == (0, 0)             # their sections are not on screen


@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: ",".join(f"{k}={v}" for k, v in q.items())[:60])
def test_plan_counts_everything_a_link_asks_for_and_stays_within_the_budget(query):
    config = parse(query)[0]
    plan = service.plan(config)
    # at H = 256 the floors (30 steps for a trend, 8 for a map) may pass a share by a little
    assert plan.seconds <= service.PAGE_BUDGET * 1.1, plan
    # what the estimate counts, recounted here part by part
    main = service.curve_seconds(plan.main_window, config.H, plan.norm) + \
        (service.powers_seconds(plan.main_window, config.H, plan.norm) if plan.powers else 0)
    fwd = service.forward_seconds(config.T, config.H, config.D)
    sweeps = (len(plan.radii) + len(plan.acts)) * (service.curve_seconds(plan.sweep_window, config.H, plan.norm) + fwd)
    dl_dh = service.dl_dh_seconds(plan.dl_dh_window, config.H, config.truncation, config.trunc_k, config.D, config.O)
    assert plan.seconds >= main + sweeps + dl_dh + 2 * fwd


def test_plan_shrinks_the_worst_link_and_keeps_the_sidebars_curves():
    config = parse(WORST)[0]
    plan = service.plan(config)
    assert plan.norm == "fro" and plan.main_window < 500 and plan.dl_dh_window < 500
    assert service.MIN_WINDOW <= plan.sweep_window < 500 and plan.pair_window < 500 and plan.stats_window < 500
    assert 1 <= len(plan.radii) < 12 and config.rho in plan.radii and config.activation in plan.acts
    # k-step truncation is counted: k = 499 costs far more than full BPTT at the same size
    assert service.plan(config.replace(truncation="full")).dl_dh_window == 500


def test_guard_stops_new_work_after_its_time_whatever_the_estimate():
    now = [0.0]
    guard = Guard(2.0, alive=lambda: True, clock=lambda: now[0])
    assert guard.allows("a") and not guard.skipped
    now[0] = 2.5
    assert not guard.allows("the map of all pairs") and guard.skipped == ["the map of all pairs"]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_windows_hold_the_full_runs_exact_values(activation):
    config = DEFAULT.replace(T=25, H=5, rho=1.2, activation=activation)
    params, xs = build_params(config), make_data(config).xs
    full = jacobian_norms_to_last(params, xs, activation=activation, ord=2)
    np.testing.assert_allclose(service.norm_curve(params, xs, activation, "2", 9), full[-9:], rtol=1e-12)
    np.testing.assert_array_equal(service.norm_curve(params, xs, activation, "2"), full)
    pairs = pairwise_jacobian_norms(params, xs, activation=activation, ord="fro")
    np.testing.assert_allclose(service.pairwise(params, xs, activation, "fro", 7), pairs[-7:, -7:], rtol=1e-12)
    stats = step_factor_stats(params, xs, activation=activation)
    window = service.factor_stats(params, xs, activation, 10)
    np.testing.assert_allclose(window.factor_norm, stats.factor_norm[-10:], rtol=1e-12)
    np.testing.assert_array_equal(window.saturated_fraction, stats.saturated_fraction[-10:])


def test_summary_and_horizon_text():
    s = service.summarise(0.5 ** np.arange(9, -1, -1.0))
    assert (s.kind, s.label, s.horizon, s.horizon_text) == ("vanishing", "vanishing: x0.50 per step", 6, "6 steps")
    short = service.summarise(0.9 ** np.arange(11, -1, -1.0))          # still 31 % at k = 1: extend the trend
    assert (short.horizon, short.horizon_text) == (None, "≈ 43 steps (extrapolated)")
    assert service.horizon_value(short) == ("≈ 43 steps", "extrapolated")
    assert service.summarise(np.ones(10)).horizon_text == "none (it does not fade)"
    assert service.summarise(1.3 ** np.arange(9, -1, -1.0)).horizon_text == "none (it grows)"
    dead = service.summarise(np.array([0.0, 0.0, 1.0]))
    assert dead.kind == "none" and dead.horizon == 0 and dead.horizon_text == "0 steps"
    blown = service.summarise(np.array([np.nan, np.inf, 1e300, 1.0]))      # overflow is growth, not silence
    assert (blown.kind, blown.horizon, blown.horizon_text) == ("exploding", None, "none (it grows)")
    assert service.summarise(np.array([np.nan, np.inf, 1.0])).label == "exploding: past the float64 range"
    assert service.summarise(np.ones(1)).horizon_text == "0 steps"


def test_sweep_configs_change_one_factor_only():
    config = DEFAULT.replace(v_radii=(0.5, 1.5), v_acts=("relu", "identity"), v_axis="distance", trunc_k=3)
    radii, acts = service.sweep_configs(config)
    assert [n for n, _ in radii] == ["ρ = 0.5", "ρ = 1.5"] and [n for n, _ in acts] == ["f = relu", "f = identity"]
    model = config.project(*EXACT_NUMBERS)
    for (_, c), r in zip(radii, (0.5, 1.5)):
        assert c == model.replace(rho=r)
    for (_, c), a in zip(acts, ("relu", "identity")):
        assert c == model.replace(activation=a)
    assert model.v_axis == DEFAULT.v_axis and model.trunc_k == DEFAULT.trunc_k      # view settings dropped
    np.testing.assert_array_equal(make_data(radii[0][1]).xs, make_data(radii[1][1]).xs)   # same inputs


# ---- the page ------------------------------------------------------------------------------

pytestmark = pytest.mark.usefixtures("fresh_caches")


def open_page(query: dict | None = None) -> AppTest:
    """The page with every section drawn, unless the query picks one."""
    return open_app_page(PAGE, {"v_section": "all", **(query or {})})


def _decode(value):
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value, dtype=float) if isinstance(value, list) else value


def charts(at: AppTest) -> dict[str, dict]:
    """The page's plotly figures by their widget key, traces' arrays decoded."""
    found = {}
    for el in at.get("plotly_chart"):
        key = next(k for k in CHARTS if k in el.proto.id)
        figure = json.loads(el.proto.spec)
        for trace in figure["data"]:
            for name in ("x", "y", "z"):
                if name in trace:
                    trace[name] = _decode(trace[name])
        found[key] = figure
    return found


def traces(figure: dict, meta: str) -> list[dict]:
    return [t for t in figure["data"] if t.get("meta") == meta]


def engine_curve(config, norm="2"):
    params, xs = build_params(config), make_data(config).xs
    return jacobian_norms_to_last(params, xs, activation=config.activation, ord=2 if norm == "2" else "fro")


def assert_drawn(y, values):
    """A log-axis trace draws every positive finite value exactly and leaves the rest (zeros,
    overflow) to the edge markers."""
    shown = np.isfinite(values) & (values > 0)
    np.testing.assert_array_equal(y[shown], values[shown])
    assert np.isnan(y[~shown]).all()


SECTION_CHARTS = {"sweeps": {"v_sweep_rho", "v_sweep_act"}, "cells": {"v_cells"}, "spectrum": {"v_spectrum"},
                  "pairs": {"v_pairwise", "v_pairs_row", "v_dl_dh"}, "steps": {"v_fade", "v_df"}}


@pytest.mark.parametrize("section", sorted(SECTION_CHARTS))
def test_only_the_chosen_section_is_drawn_and_it_is_in_the_link(section):
    at = open_page({"v_section": section})
    assert set(charts(at)) == {"v_curve"} | SECTION_CHARTS[section]
    # the link holds the section unless it is the default one
    assert dict(at.query_params).get("v_section") == (None if section == "sweeps" else section)
    assert at.get("download_button")                      # the CSV still holds every curve


def test_section_control_switches_and_keeps_the_sidebar_settings():
    at = open_page({"v_section": "sweeps", "rho": "1.3"})
    at.segmented_control(key="cfg_v_section").set_value("steps").run()
    assert set(charts(at)) == {"v_curve", "v_fade", "v_df"} and not at.exception
    assert at.session_state["_config"].v_section == "steps" and at.session_state["_config"].rho == 1.3
    assert dict(at.query_params)["v_section"] == "steps"
    at.segmented_control(key="cfg_v_section").set_value(None).run()     # deselected: the section stays
    assert set(charts(at)) == {"v_curve", "v_fade", "v_df"} and not at.exception
    assert at.segmented_control(key="cfg_v_section").value == "steps" and not at.warning


GATED_CHARTS = {"v_curve", "v_cells", "v_spectrum", "v_pairwise", "v_pairs_row", "v_dl_dh", "v_df"}   # no sweeps, no per-step split


def assert_page_complete(at: AppTest, config) -> dict[str, dict]:
    figs = charts(at)
    expected = set(CHARTS) - (set() if config.v_acts else {"v_sweep_act"}) if config.cell == "rnn" else GATED_CHARTS
    if not service.plan(config.replace(v_section="all")).cells_window:     # too costly at this size: a note
        expected -= {"v_cells"}
    assert set(figs) == expected
    assert [m.label for m in at.metric][:2] == ["Fitted per-step factor", "Memory horizon (1 %)"]
    assert len(at.caption) >= 8 and not at.exception
    assert at.get("download_button")
    return figs


def factor_text(figure: dict) -> str:
    """The line above the main chart: an annotation, or the ρ scrubber's text trace (which its frames move)."""
    texts = [a["text"] for a in figure["layout"].get("annotations", []) if a.get("name") == "factor"]
    texts += [t["text"][0] for t in traces(figure, "factor")]
    [text] = texts
    return text


def stars(figure: dict) -> list:
    """The ★ markers drawn (the ρ scrubber's chart keeps an empty horizon trace for its frames)."""
    return [x for t in traces(figure, "horizon") for x in t["x"]]


def test_default_page_draws_the_engines_numbers():
    at = open_page()
    config = DEFAULT
    figs = assert_page_complete(at, config)
    norms = engine_curve(config)
    [curve] = traces(figs["v_curve"], "curve")
    np.testing.assert_array_equal(curve["y"], norms)
    # T = 12 is too short for the default curve to fall to 1 %: its horizon is extrapolated (no ★ on it)
    assert norms[0] >= 0.01 * norms[-1] and not stars(figs["v_curve"])
    assert (at.metric[1].value, at.metric[1].delta) == service.horizon_value(service.summarise(norms))
    star_at = open_page({"T": "40"})
    [star] = traces(charts(star_at)["v_curve"], "horizon")
    assert star["x"][0] == 40 - memory_horizon(engine_curve(DEFAULT.replace(T=40)))
    eig = traces(figs["v_spectrum"], "eigenvalues")[0]
    ev = np.linalg.eigvals(build_params(config).W_hh)
    np.testing.assert_array_equal(eig["x"], ev.real)
    np.testing.assert_array_equal(eig["y"], ev.imag)
    assert len(traces(figs["v_sweep_rho"], "curve")) == len(config.v_radii)
    assert len(traces(figs["v_sweep_act"], "curve")) == len(config.v_acts)
    res = rc.bptt(build_params(config), *(lambda d: (d.xs, d.ys))(make_data(config)), activation="tanh",
                  loss=config.loss)
    np.testing.assert_allclose(traces(figs["v_dl_dh"], "curve")[0]["y"], np.linalg.norm(res.dL_dh, axis=1),
                               rtol=1e-14)
    assert at.metric[0].delta == "vanishing"


def test_radius_sweep_follows_the_multiselect_and_the_url():
    at = open_page({"v_radii": "0.5,2"})
    assert len(traces(charts(at)["v_sweep_rho"], "curve")) == 2
    at.multiselect(key="v_radii_pick").set_value([0.75, 1.0, 1.25]).run()
    figs = charts(at)
    drawn = traces(figs["v_sweep_rho"], "curve")
    assert [t["name"].split(" ·")[0] for t in drawn] == ["ρ = 0.75", "ρ = 1", "ρ = 1.25"]
    for trace, r in zip(drawn, (0.75, 1.0, 1.25)):
        np.testing.assert_array_equal(trace["y"], engine_curve(DEFAULT.replace(rho=r)))
    assert at.session_state["_config"].v_radii == (0.75, 1.0, 1.25)
    at.multiselect(key="v_radii_pick").set_value([]).run()         # refused: the radii stay
    assert len(traces(charts(at)["v_sweep_rho"], "curve")) == 3
    assert any("Spectral radii to sweep" in w.value for w in at.warning)
    at.multiselect(key="v_radii_pick").set_value([0.5, "1.3", "9"]).run()   # typed values, one too large
    assert [t["name"].split(" ·")[0] for t in traces(charts(at)["v_sweep_rho"], "curve")] == \
        ["ρ = 0.5", "ρ = 1.3", "ρ = 5"]
    assert any("outside" in w.value for w in at.warning)


def test_activation_sweep_and_its_empty_choice():
    at = open_page({"v_acts": "sigmoid,identity"})
    drawn = traces(charts(at)["v_sweep_act"], "curve")
    assert [t["name"].split(" ·")[0] for t in drawn] == ["f = sigmoid", "f = identity"]
    np.testing.assert_array_equal(drawn[0]["y"], engine_curve(DEFAULT.replace(activation="sigmoid")))
    at.multiselect(key="cfg_v_acts").set_value([]).run()
    assert "v_sweep_act" not in charts(at)
    assert any("Pick one or more activations" in i.value for i in at.info)


def test_identity_activation_says_the_curve_is_the_matrix_powers():
    at = open_page({"activation": "identity", "rho": "1.1", "T": "20"})
    [ok] = at.success
    assert r"= W_{hh}^{T-k}$ exactly" in ok.value
    gap = float(ok.value.split("largest relative difference here ")[1].rstrip("."))
    assert gap < 1e-10
    figs = charts(at)
    W = build_params(parse({"activation": "identity", "rho": "1.1", "T": "20"})[0]).W_hh
    powers = [np.linalg.norm(np.linalg.matrix_power(W, 20 - k), 2) for k in range(1, 21)]
    np.testing.assert_allclose(traces(figs["v_curve"], "powers")[0]["y"], powers, rtol=1e-12)
    np.testing.assert_allclose(traces(figs["v_curve"], "curve")[0]["y"], powers, rtol=1e-10)


def test_rho_moves_the_label_from_vanishing_to_exploding():
    at = open_page({"activation": "relu", "T": "30"})
    assert at.metric[0].delta == "vanishing"
    at.sidebar.slider(key="cfg_rho").set_value(2.0).run()
    assert at.metric[0].delta == "exploding"
    assert (at.metric[1].value, at.metric[1].delta) == ("none", "it grows")
    assert "exploding" in factor_text(charts(at)["v_curve"])


def test_norm_and_axis_controls():
    at = open_page({"v_norm": "fro", "v_axis": "distance"})
    figs = charts(at)
    [curve] = traces(figs["v_curve"], "curve")
    np.testing.assert_array_equal(curve["y"], engine_curve(DEFAULT, "fro"))
    np.testing.assert_array_equal(curve["x"], DEFAULT.T - np.arange(1, DEFAULT.T + 1))
    bound = traces(figs["v_curve"], "bound")[0]["y"]
    assert bound[-1] == pytest.approx(np.sqrt(DEFAULT.H))           # √H times the spectral bound
    assert np.all(curve["y"] <= bound * (1 + 1e-12))


@pytest.mark.parametrize("key", list(PRESETS))
def test_every_preset(key):
    config = PRESETS[key].config()
    at = open_page(to_query(config))
    figs = assert_page_complete(at, config)
    assert_drawn(traces(figs["v_curve"], "curve")[0]["y"], engine_curve(config))
    assert not at.warning


@pytest.mark.parametrize("query, expect", [
    ({"T": "1", "H": "1"}, "too few nonzero points"),
    ({"activation": "relu", "rho": "5", "T": "500", "H": "32"}, "overflowed"),
    ({"activation": "relu", "T": "10", "H": "2", "edits": "b_h.0=-50.0~b_h.1=-50.0"}, "exactly 0"),
    ({"activation": "sigmoid", "rho": "5", "T": "300", "H": "128"}, "covers the last"),
])
def test_extreme_settings_give_notes_not_tracebacks(query, expect):
    at = open_page(query)
    config = parse(query)[0]
    figs = assert_page_complete(at, config)
    notes = " ".join(i.value for i in at.info)
    assert expect in notes, notes
    if expect == "overflowed":
        edges = traces(figs["v_dl_dh"], "edge") + [t for f in figs.values() for t in traces(f, "edge")]
        assert edges
    if expect == "exactly 0":
        bottom = [t for t in traces(figs["v_curve"], "edge") if t["marker"]["symbol"] == "triangle-down"]
        assert list(bottom[0]["x"]) == list(range(1, 10))


def test_labels_follow_the_chosen_notation():
    at = open_page({"notation": "dlbook"})
    figs = charts(at)
    assert "h<sup>(T)</sup>" in figs["v_curve"]["layout"]["yaxis"]["title"]["text"]
    assert any("the same $W$ and inputs" in c.value for c in at.caption)
    assert any(r"h^{(T)}" in c.value for c in at.caption)
    assert any(r"h^{(T)}" in el.value for el in at.latex)


def test_the_curve_links_to_the_derivation_of_its_factor():
    at = open_page({"T": 20, "d_all": "1", "d_stage": "forward"})
    at.button(key="v_to_derivation").click().run()
    assert not at.exception
    config = at.session_state["_config"]
    assert (config.d_stage, config.d_step, config.d_all) == ("factor", 19, False)
    assert at.subheader[0].value.startswith("5.")                # the Derivation page, at stage 5
    assert at.query_params["d_stage"] == "factor"


def test_a_rerun_that_changes_nothing_drawn_builds_no_sweep_or_cells_figure(fresh_caches, monkeypatch):
    """The sweep and compare-cells charts are kept across reruns, keyed on the curves they draw."""
    from ui.figures import vanishing as figures
    built = []
    real = figures.sweep_figure
    monkeypatch.setattr(figures, "sweep_figure", lambda *args, **kwargs: built.append(1) or real(*args, **kwargs))
    at = open_app_page(PAGE, {"v_section": "all"})
    first = len(built)
    assert first == 3                                   # the radius sweep, the activation sweep, the cells
    at.run()
    assert len(built) == first
    at.sidebar.slider(key="cfg_rho").set_value(1.1).run()
    assert not at.exception and len(built) == first + 3  # a new rho: new curves, new charts
