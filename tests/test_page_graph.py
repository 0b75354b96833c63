"""AppTest of the Unrolled graph page: every preset, the page's controls, extreme settings.

The numbers in the chart JSON are checked against rnn_core run here on the same config.
"""
import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import rnn_core as rc
from apptest_helpers import fresh_caches, open_app_page  # noqa: F401 (fresh_caches is a fixture)
from ui import export
from ui.config import DEFAULT, build_params, parse, to_query
from ui.figures import graph as graph_figures
from ui.presets import PRESETS
from ui.state import make_data

PAGE = "views/graph.py"


pytestmark = pytest.mark.usefixtures("fresh_caches")


def open_page(query: dict | None = None) -> AppTest:
    return open_app_page(PAGE, query)


def graph(at: AppTest, *, compact: bool = False) -> dict:
    """The animated chart for a wide screen (or, with compact, the phone's)."""
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    found = [s for s in specs if s.get("frames") and (s["layout"]["meta"] == "compact") == compact]
    assert len(found) == 1, "expected one animated chart per screen size"
    return found[0]


def values(array) -> np.ndarray:
    if isinstance(array, dict):
        data = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
        return data.reshape([int(n) for n in str(array["shape"]).split(",")]) if "shape" in array else data
    return np.array(array, dtype=float)


def nodes(spec: dict) -> dict:
    """{(row, step): log10 norm or status} of the drawn nodes."""
    out = {}
    for trace in spec["data"]:
        meta = str(trace.get("meta", ""))
        if not meta.startswith("nodes:"):
            continue
        colours = trace["marker"]["color"]
        ys, steps = values(trace["y"]), values(trace["customdata"])
        for k, (y, step) in enumerate(zip(ys, steps)):
            out[(int(y), int(step))] = float(values(colours)[k]) if meta == "nodes:gradient" else meta[6:]
    return out


def engine(config):
    data = make_data(config)
    return rc.bptt(build_params(config), data.xs, data.ys, activation=config.activation, loss=config.loss,
                   reduction=config.reduction, mask=data.mask, truncation=config.truncation_spec)


def test_default_page_draws_the_engines_gradient_with_one_frame_per_step():
    at = open_page()
    assert at.header[0].value == "Unrolled graph"
    spec = graph(at)
    r = engine(DEFAULT)
    assert len(spec["frames"]) == DEFAULT.T
    drawn = nodes(spec)
    for t in range(1, DEFAULT.T + 1):
        assert drawn[(1, t)] == pytest.approx(np.log10(np.linalg.norm(r.dL_dh[t - 1])), abs=1e-9)
        assert drawn[(2, t)] == pytest.approx(np.log10(np.linalg.norm(r.dL_do[t - 1])), abs=1e-9)
    assert drawn[(1, 0)] == pytest.approx(np.log10(np.linalg.norm(r.dL_dh0)), abs=1e-9)
    assert [b["label"] for b in spec["layout"]["updatemenus"][0]["buttons"]] == ["▶ Play", "slow", "fast", "❚❚ Pause"]
    assert len(spec["layout"]["sliders"][0]["steps"]) == DEFAULT.T
    assert at.latex and r"\tag{7}" in at.latex[0].value
    assert not at.warning


def fronts(config) -> list[str]:
    """The frames' names: the steps drawn (at most 10 on a projector) the pass reaches, then 1."""
    view = graph_figures.GraphView(start=config.g_start, width=config.g_window, presentation=config.presentation)
    view = graph_figures.fitted_view(view, config.T, config.g_source)
    window = graph_figures.Window.of(config.T, view.start, view.width)
    return [str(f) for f in graph_figures.frame_fronts(window, config.g_source or None)]


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_every_preset(key):
    config = PRESETS[key].apply(DEFAULT)
    at = open_page(to_query(config))
    config = at.session_state["_config"]          # with the preset's view, if it sets one
    spec = graph(at)
    assert [f["name"] for f in spec["frames"]] == fronts(config)
    r = engine(config)
    drawn = nodes(spec)
    window = graph_figures.Window.of(config.T, config.g_start, config.g_window)
    rows = graph_figures.MEMORY_ROWS if config.cell == "lstm" else graph_figures.ROWS
    loss_nodes = sorted(step for (row, step) in drawn if row == rows["loss"])
    assert loss_nodes == [t for t in window.steps if r.weights[t - 1] > 0]
    for t in window.steps:
        if config.g_source:
            break                                  # one term alone: checked in test_figures_graph
        value = np.linalg.norm(r.dL_dh[t - 1])
        expected = np.log10(value) if value > 0 else "zero gradient"
        assert drawn[(rows["h"], t)] == (pytest.approx(expected, abs=1e-9) if value > 0 else expected)
    if config.loss_at == "last":
        assert any("only at the steps drawn with an L node" in i.value for i in at.info)


def test_many_to_one_window_at_the_end_shows_the_single_loss():
    config = PRESETS["many_to_one"].apply(DEFAULT)
    at = open_page({**to_query(config), "g_start": config.T - 15})
    drawn = nodes(graph(at))
    assert sorted(step for (row, step) in drawn if row == 3) == [config.T]


def test_controls_change_what_is_drawn():
    at = open_page({"T": 30})
    at.slider(key="cfg_g_start").set_value(10).run()
    drawn = nodes(graph(at))
    assert {step for (_, step) in drawn} == {0, 31, *range(10, 26)}
    at.toggle(key="cfg_g_split").set_value(True).run()
    colours = {t["line"]["color"] for t in graph(at)["data"] if t.get("meta") == "edges"}
    assert "#E69F00" in colours and "#0072B2" in colours
    at.button_group(key="g_follow").set_value("one").run()
    at.select_slider(key="cfg_g_source").set_value(20).run()
    spec = graph(at)
    assert "L<sub>20</sub>" in spec["layout"]["title"]["text"]
    assert nodes(spec)[(1, 25)] == "zero gradient"          # after the source: nothing
    at.slider(key="cfg_g_step").set_value(7).run()
    assert not at.exception
    assert r"\partial h_{7}" in at.latex[0].value and r"(w_{20} L_{20})" in at.latex[0].value
    assert at.query_params["g_step"] == "7" and at.query_params["g_source"] == "20"


def test_step_details_show_the_engines_numbers():
    at = open_page({"g_step": 4})
    r = engine(DEFAULT)
    details = [json.loads(el.proto.spec) for el in at.get("plotly_chart") if not json.loads(el.proto.spec).get("frames")]
    gradient = values(details[0]["data"][2]["z"]).reshape(3, -1)
    np.testing.assert_allclose(gradient, [r.dL_dh[3], r.dL_dh_direct[3], r.dL_dh_indirect[3]], rtol=1e-12)


def test_source_falls_back_when_its_loss_term_disappears():
    at = open_page({"g_source": 5, "loss_at": "last"})
    assert at.button_group(key="g_follow").value == "whole"
    assert "g_source" not in at.query_params


# ---- issue 16: the page shows vanishing on its own ---------------------------------------------

def test_following_one_term_is_one_click_and_brings_it_into_view():
    """The switch follows L_T (the longest way back) and moves the window to end at it."""
    at = open_page({"T": 30, "rho": 0.5})
    at.button_group(key="g_follow").set_value("one").run()
    assert at.query_params["g_source"] == "30" and at.query_params["g_start"] == "15"
    spec = graph(at)
    assert "L<sub>30</sub>" in spec["layout"]["title"]["text"]
    drawn = nodes(spec)
    assert (1, 30) in drawn and (3, 30) in drawn
    fade = drawn[(1, 30)] - drawn[(1, 15)]
    assert fade > 3                       # the lesson in view: 15 steps back, 1000x smaller
    # a term outside the window brings the window to it; one inside leaves the window alone
    at.select_slider(key="cfg_g_source").set_value(5).run()
    assert at.query_params["g_source"] == "5" and "g_start" not in at.query_params
    at.select_slider(key="cfg_g_source").set_value(12).run()
    assert "g_start" not in at.query_params
    at.button_group(key="g_follow").set_value("whole").run()
    assert "g_source" not in at.query_params
    assert "through the unrolled RNN" in graph(at)["layout"]["title"]["text"]


def test_a_preset_can_open_the_page_on_its_lesson():
    """follow_term_view gives the view a preset sets (for ui/presets.py): L_T alone, window ending at it."""
    config = PRESETS["vanishing"].apply(DEFAULT)
    config = config.replace(**graph_figures.follow_term_view(config.T))
    at = open_page(to_query(config))
    spec = graph(at)
    drawn = nodes(spec)
    assert {step for (row, step) in drawn if row == 1} == {0, *range(config.T - 15, config.T + 1)}
    assert drawn[(1, config.T)] - drawn[(1, config.T - 15)] > 3
    assert [f["name"] for f in spec["frames"]][0] == str(config.T)


@pytest.mark.parametrize("query", [{"T": 30}, {"T": 30, "g_start": 10}, {"T": 500, "g_start": 200, "g_source": 300}])
def test_the_animation_starts_in_the_window(query):
    """Every frame changes what is in view: the first one lights the window's last step."""
    at = open_page(query)
    config = at.session_state["_config"]
    spec = graph(at)
    names = [f["name"] for f in spec["frames"]]
    assert names == fronts(config)
    window = graph_figures.Window.of(config.T, config.g_start, config.g_window)
    assert names[0] == str(min(window.end, config.g_source or window.end)) and names[-1] == "1"
    assert len(names) <= config.g_window + 1


def test_a_step_opens_the_derivation_at_that_step():
    at = open_page({"T": 20, "g_step": 7})
    [button] = [b for b in at.button if b.label.startswith("Derive it") and "t = 7" in b.label]
    button.click().run()
    assert not at.exception
    config = at.session_state["_config"]
    assert (config.d_step, config.d_stage) == (7, "recursion")
    assert at.slider(key="cfg_d_step").value == 7             # the Derivation page's own control
    assert at.query_params["d_step"] == "7"


@pytest.mark.parametrize("query", [
    {"T": 1},
    {"T": 500, "H": 256, "activation": "relu", "rho": 5.0},
    {"T": 500, "activation": "relu", "rho": 5.0, "g_start": 485},
    {"T": 40, "truncation": "k_step", "trunc_k": 3, "g_source": 30},
    {"T": 40, "truncation": "chunked", "trunc_k": 7, "reduction": "mean"},
    {"T": 20, "truncation": "randomized", "loss": "sigmoid_bce", "notation": "row"},
    {"T": 12, "activation": "relu", "init": "identity", "rho": 0.0, "presentation": 1},
])
def test_extreme_settings_never_break(query):
    at = open_page(query)
    config, _ = parse({k: str(v) for k, v in query.items()})
    spec = graph(at)
    assert [f["name"] for f in spec["frames"]] == fronts(config)
    r = engine(config)
    if r.overflow:
        step = r.grad_overflow_step or r.overflow_step
        assert any(f"t = {step}" in w.value for w in at.warning)
    if config.H == 256:
        texts = [a["text"] for a in spec["layout"]["annotations"]]
        assert any("full sums" in t for t in texts)


@pytest.mark.skipif(export.kaleido_problem() is not None, reason="kaleido or a browser is missing")
def test_png_export_offers_a_download():
    at = open_page({"T": 4, "H": 3, "g_step": 2})
    at.button[0].click().run()
    assert not at.exception
    assert at.get("download_button"), "no download button after rendering"


def test_the_steps_strips_are_not_drawn_again_when_only_the_graph_changes(monkeypatch):
    """Issue 17: the graph's own controls (here the colour switch) leave the step's heat strips
    as they are (cached); moving the step in detail draws them again."""
    from apptest_helpers import count_calls
    from ui.figures import graph_details
    at = open_page()
    calls = count_calls(monkeypatch, [(graph_details, "step_details_figure")])
    at.toggle(key="cfg_g_split").set_value(not at.session_state["_config"].g_split).run()
    assert not at.exception
    assert calls == {}
    at.slider(key="cfg_g_step").set_value(2).run()
    assert calls == {"step_details_figure": 1}
