"""The app's shell through streamlit.testing.v1.AppTest: home, presets, the model page, the URL
and widget round trip, and page-level widgets kept across page switches."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import (ButtonGroup, Multiselect, Radio, Selectbox, SelectSlider, Slider,
                                               Widget)

from apptest_helpers import page_files

from ui.config import DEFAULT, FIELDS, PAGE, parse
from ui.presets import PRESETS
from ui.sidebar import MODEL_FIELDS
from ui.weights_table import editor_key

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60


def run_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def config_of(at: AppTest):
    return at.session_state["_config"]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def test_home_renders_what_bptt_is_the_presets_and_the_share_link():
    at = run_app()
    assert_clean(at)
    assert at.title[0].value == "BPTT Explorer"
    assert "Backpropagation through time" in at.markdown[0].value
    assert [b.label for b in at.button if b.key and b.key.startswith("preset_")] == \
        [p.title for p in PRESETS.values()]
    assert at.code[0].value.startswith("http") and at.code[0].value.endswith("/")   # defaults: no query
    assert config_of(at) == DEFAULT


@pytest.mark.parametrize("key", list(PRESETS))
def test_every_preset_runs_and_sets_its_values(key):
    # a view of a page the preset does not open: not the preset's business
    other_view = ("g_window", 7) if PRESETS[key].page == "views/training.py" else ("tr_view", "clipping")
    at = run_app({"presentation": "1", other_view[0]: str(other_view[1])})
    at.button(key=f"preset_{key}").click().run()
    assert_clean(at)
    config, expected = config_of(at), PRESETS[key].config()
    for name, _ in PRESETS[key].settings:
        assert getattr(config, name) == getattr(expected, name), name
    assert config.presentation and getattr(config, other_view[0]) == other_view[1]
    assert at.slider(key="cfg_T").value == expected.T            # the widgets show it
    assert parse(dict(at.query_params)) == (config, [])           # and so does the URL


def test_presets_are_valid_configs():
    for preset in PRESETS.values():
        config, messages = parse({k: str(v) for k, v in preset.settings})
        assert messages == [], preset.key
        assert preset.config() != DEFAULT


def test_model_page_renders_equations_heatmaps_and_tables():
    at = run_app({"activation": "relu", "notation": "dlbook"})
    at.switch_page("views/model.py").run()
    assert_clean(at)
    assert at.title[0].value == "Model & weights"
    latex = " ".join(e.value for e in at.latex)
    assert r"\mathrm{ReLU}" in latex and "U x^{(t)}" in latex       # the chosen activation and notation
    charts = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert len(charts) == 1 and len([t for t in charts[0]["data"] if t["type"] == "heatmap"]) == 5
    assert [t.label for t in at.tabs] == ["W_xh", "W_hh", "b_h", "W_hy", "b_y"]
    assert len(at.dataframe) == 1 and at.dataframe[0].value.shape == (8, 3)     # only the open tab: W_xh
    at.session_state["m_editor_tab"] = "b_h"
    at.run()
    assert len(at.dataframe) == 1 and at.dataframe[0].value.shape == (8, 1)


def test_url_params_reach_the_config_and_the_widgets():
    at = run_app({"T": "7", "H": "5", "activation": "sigmoid", "rho": "1.25", "seed": "3"})
    assert_clean(at)
    config = config_of(at)
    assert (config.T, config.H, config.activation, config.rho, config.seed) == (7, 5, "sigmoid", 1.25, 3)
    assert at.slider(key="cfg_T").value == 7 and at.slider(key="cfg_rho").value == 1.25
    assert not at.warning


def test_bad_url_params_show_one_warning_each_and_use_safe_values():
    at = run_app({"T": "9999", "H": "lots", "zzz": "1"})
    assert_clean(at)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 3
    assert any("Sequence length T = 9999" in w and "using 500 instead" in w for w in warnings)
    assert any("Hidden units H = 'lots'" in w and "using 8 instead" in w for w in warnings)
    assert config_of(at).T == 500 and config_of(at).H == 8
    assert dict(at.query_params) == {"T": "500"}                  # the URL now says what is used


def test_deselecting_a_segmented_control_keeps_the_choice_without_a_warning():
    at = run_app({"activation": "relu"})
    at.sidebar.segmented_control(key="cfg_activation").set_value(None).run()
    assert_clean(at)
    assert config_of(at).activation == "relu" and at.sidebar.segmented_control(key="cfg_activation").value == "relu"
    assert not at.warning and dict(at.query_params) == {"activation": "relu"}


def test_a_sidebar_change_reaches_the_config_and_the_url():
    at = run_app()
    at.slider(key="cfg_H").set_value(16).run()
    at.selectbox(key="cfg_loss").set_value("mse").run()
    assert_clean(at)
    assert (config_of(at).H, config_of(at).loss) == (16, "mse")
    assert dict(at.query_params) == {"H": "16", "loss": "mse"}


def test_a_weight_edit_via_session_state_reaches_the_config_and_the_url():
    at = run_app()
    at.switch_page("views/model.py").run()
    at.session_state["m_editor_tab"] = "W_hh"           # only the open tab's table is drawn
    at.run()
    at.session_state[editor_key(config_of(at), "W_hh")] = {
        "edited_rows": {0: {"h2": 0.5}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert_clean(at)
    assert config_of(at).edits == (("W_hh", 1, 0.5),)
    assert at.query_params["edits"] == "W_hh.1=0.5"
    assert at.metric[-1].label == "edited" and at.metric[-1].value == "1"


def test_edits_in_row_notation_land_on_the_transposed_entry():
    at = run_app({"notation": "row"})
    at.switch_page("views/model.py").run()
    # the row notation's W_x is W_xh transposed: its cell [x1, h2] is W_xh[h2, x1], flat index D
    at.session_state[editor_key(config_of(at), "W_xh")] = {
        "edited_rows": {0: {"h2": -2.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert config_of(at).edits == (("W_xh", DEFAULT.D, -2.0),)


def test_reset_removes_the_edits():
    at = run_app({"edits": "W_hh.1=0.5~b_y.0=2.0"})
    at.switch_page("views/model.py").run()
    at.button[0].click().run()
    assert at.button[0].label == "Reset to the initialiser"
    assert config_of(at).edits == () and "edits" not in at.query_params


def test_settings_survive_page_switches():
    at = run_app({"T": "21", "activation": "relu"})
    at.slider(key="cfg_H").set_value(4).run()
    at.switch_page("views/model.py").run()
    at.switch_page("views/home.py").run()
    assert_clean(at)
    config = config_of(at)
    assert (config.T, config.H, config.activation) == (21, 4, "relu")
    assert at.slider(key="cfg_H").value == 4


def test_choosing_a_task_fixes_and_disables_its_sizes():
    at = run_app()
    at.selectbox(key="cfg_task").set_value("sine").run()
    assert_clean(at)
    config = config_of(at)
    assert (config.D, config.O, config.loss) == (1, 1, "mse")
    assert at.slider(key="cfg_D").disabled and at.slider(key="cfg_D").value == 1
    assert not at.warning                                        # the caption says it, no warning


# ---- page-level widgets (state.view_widget) ------------------------------------------------------

VIEW_FIELD = next(f for f in FIELDS if f.role == PAGE and f.page == "vanishing" and f.kind == "choice")


def view_script(name):
    import streamlit as st

    from ui import state

    state.start_run()
    if st.session_state.get("show_widget", True):
        state.view_widget(name)
    state.sync_url()
    st.write(getattr(state.config(), name))


def test_view_widget_keeps_its_value_when_not_drawn():
    other = VIEW_FIELD.options[-1]
    at = AppTest.from_function(view_script, default_timeout=TIMEOUT, args=(VIEW_FIELD.name,))
    at.run()
    at.selectbox(key=f"cfg_{VIEW_FIELD.name}").set_value(other).run()
    assert at.query_params[VIEW_FIELD.name] == other
    at.session_state["show_widget"] = False                      # another page: the widget is gone
    at.run()
    at.run()
    assert at.markdown[0].value == other and at.query_params[VIEW_FIELD.name] == other
    at.session_state["show_widget"] = True                       # back: drawn with the kept value
    at.run()
    assert at.selectbox(key=f"cfg_{VIEW_FIELD.name}").value == other


def test_view_widget_refuses_sidebar_fields():
    # .streamlit/config.toml redacts error messages for viewers; a test reads the whole message
    from streamlit import config as st_config
    at = AppTest.from_function(view_script, default_timeout=TIMEOUT, args=("T",))
    previous = st_config.get_option("client.showErrorDetails")
    st_config.set_option("client.showErrorDetails", "full")
    try:
        at.run()
    finally:
        st_config.set_option("client.showErrorDetails", previous)
    assert at.exception and "drawn by the sidebar" in at.exception[0].message


def test_reset_all_brings_every_setting_back_but_presentation_mode():
    at = run_app({"T": "40", "activation": "relu", "rho": "1.7", "edits": "W_hh.0=-2.0", "notation": "dlbook",
                  "v_section": "pairs", "presentation": "1"})
    assert config_of(at) != DEFAULT
    at.button(key="reset_all").click().run()
    assert_clean(at)
    assert config_of(at) == DEFAULT.replace(presentation=True)
    assert dict(at.query_params) == {"presentation": "1"}
    assert at.button(key="reset_all").disabled


def test_reset_all_is_drawn_before_a_failing_page_runs(monkeypatch):
    """A page that raises on some settings still leaves the way back on screen."""
    import ui.state

    def broken(*_args, **_kwargs):
        raise FloatingPointError("a page failed on these settings")

    monkeypatch.setattr(ui.state, "bptt_result", broken)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["rho"] = "3"
    at.run()
    at.switch_page("views/graph.py").run()
    assert at.exception                                   # the page failed ...
    at.button(key="reset_all").click().run()              # ... and the reset is there and works
    assert config_of(at) == DEFAULT


def test_a_shared_link_survives_a_first_run_cut_short(monkeypatch):
    """A click in the navigation while the first run is still starting cuts that run short and
    reruns with an empty query string: the link's settings must still be the session's."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException
    import streamlit as st

    real, calls = st.set_page_config, []

    def cut_short_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise StopException()
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", cut_short_once)
    at = run_app({"notation": "dlbook", "loss": "mse", "T": "30"})
    assert "_config" not in at.session_state                      # the first run never got to it
    at.query_params.clear()
    at.run()
    assert_clean(at)
    assert (config_of(at).notation, config_of(at).loss, config_of(at).T) == ("dlbook", "mse", 30)
    assert parse(dict(at.query_params))[0] == config_of(at)        # and the URL says so again


def _default_is_value(widget) -> bool:
    """Whether the default a widget was sent with is its current value: what Streamlit's frontend
    draws it at when it has dropped the widget's state."""
    default = widget.proto.default
    if isinstance(widget, (Selectbox, Radio)):
        return default == widget.index
    if isinstance(widget, (ButtonGroup, Multiselect)):
        return list(default) == list(widget.indices)
    if isinstance(widget, SelectSlider):
        return [widget.proto.options[i] for i in default] == [widget.format_func(widget.value)]
    if isinstance(widget, Slider):
        return list(default) == [widget.value]
    return default == widget.value


@pytest.mark.parametrize("page", page_files())
def test_every_settings_widget_is_sent_with_the_configs_value_as_its_default(page):
    """A widget whose state the frontend drops (a page switch or a relabelling run meeting a run
    in flight) is drawn at its default: that must be the config's value, never the slider's
    minimum or the first option, which the next rerun would read back as the user's choice."""
    at = run_app({"T": "7", "H": "5", "D": "2", "activation": "relu", "rho": "1.25", "seed": "3",
                  "loss": "mse", "notation": "row", "init": "orthogonal", "reduction": "mean"})
    at.switch_page(page).run()
    assert_clean(at)
    widgets = [w for w in _all_nodes(at._tree) if isinstance(w, Widget) and (w.key or "").startswith("cfg_")]
    assert len(widgets) >= len(MODEL_FIELDS)
    assert [w.key for w in widgets if not _default_is_value(w)] == []


def _all_nodes(node):
    children = getattr(node, "children", {})
    for child in (children.values() if isinstance(children, dict) else children):
        yield child
        yield from _all_nodes(child)
