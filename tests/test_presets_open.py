"""AppTest of the lecture presets (issue 16): a preset button on Home opens the page it is about
with that page's view set (followed loss term, window, stage), and Home marks the preset in use
until a setting changes."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import compiled_once  # noqa: F401  (a fixture)
from ui.config import DEFAULT, FIELD_BY_NAME, parse, to_query
from ui.presets import PRESETS
from ui.state import to_widget_value

pytestmark = pytest.mark.usefixtures("compiled_once")

APP = str(Path(__file__).resolve().parents[1] / "app.py")
HOME = "views/home.py"
# What each target page puts first (the graph page has a header, the others a title)
HEADING = {"views/graph.py": "Unrolled graph", "views/vanishing.py": "Vanishing & exploding gradients",
           "views/derivation.py": "Step-by-step derivation", "views/training.py": "Training & truncation"}
WIDGET_TYPES = ("slider", "select_slider", "selectbox", "radio", "segmented_control", "toggle", "number_input")
READER = {"presentation": "1", "notation": "row", "tr_view": "clipping"}   # not the presets' business
TRAINING_READER = {**READER, "tr_view": "train", "g_window": "7"}           # ... for a preset opening Training


def reader_of(preset) -> dict[str, str]:
    """The reader's own settings before the preset: a view of a page the preset does not open."""
    return TRAINING_READER if preset.page == "views/training.py" else READER


def run_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def click_preset(at: AppTest, key: str) -> AppTest:
    at.button(key=f"preset_{key}").click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def headings(at: AppTest) -> list[str]:
    return [t.value for t in at.title] + [h.value for h in at.header]


def drawn_values(at: AppTest) -> dict:
    """{widget key: value} of every input widget drawn on the page and the sidebar."""
    return {w.key: w.value for kind in WIDGET_TYPES for w in at.get(kind) if w.key}


def preset_buttons(at: AppTest) -> dict[str, str]:
    """{preset key: 'primary' or 'secondary'} of Home's preset buttons."""
    return {b.key.removeprefix("preset_"): b.proto.type for b in at.button if b.key and b.key.startswith("preset_")}


@pytest.mark.parametrize("key", list(PRESETS))
def test_a_preset_opens_its_page_with_its_view(key):
    preset = PRESETS[key]
    at = click_preset(run_app(reader_of(preset)), key)
    config = at.session_state["_config"]
    assert HEADING[preset.page] in headings(at)                   # the page it is about, not Home
    assert "BPTT Explorer" not in headings(at)
    for name, value in preset.view_values().items():              # the page's view, as the preset set it
        assert getattr(config, name) == value, name
    assert preset.is_active(config)
    other = ("g_window", 7) if preset.page == "views/training.py" else ("tr_view", "clipping")
    assert config.presentation and getattr(config, other[0]) == other[1]   # the reader's own settings stay
    assert config.notation == dict(preset.settings).get("notation", "row")
    assert parse(dict(at.query_params)) == (config, [])           # the URL says exactly this
    drawn = drawn_values(at)
    shown = {name for name in preset.view_values() if f"cfg_{name}" in drawn}
    assert shown, "none of the preset's view fields is drawn on its page"
    for name in shown:                                            # the widgets show the preset's view
        assert drawn[f"cfg_{name}"] == to_widget_value(FIELD_BY_NAME[name], getattr(config, name)), name


def graph_titles(at: AppTest) -> list[str]:
    return [json.loads(el.proto.spec)["layout"].get("title", {}).get("text", "") for el in at.get("plotly_chart")]


@pytest.mark.parametrize("key", ["vanishing", "irnn", "many_to_one"])
def test_graph_presets_follow_the_last_loss_term(key):
    at = click_preset(run_app(), key)
    T = PRESETS[key].config().T
    assert f"single loss term L<sub>{T}</sub> alone" in graph_titles(at)[0]
    assert at.segmented_control(key="g_follow").value == "one"


def test_the_exploding_preset_plots_against_the_distance():
    at = click_preset(run_app(), "exploding")
    charts = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert charts[0]["layout"]["xaxis"]["title"]["text"].startswith("distance T − k")
    assert any("Sweeps" in h for h in headings(at))


@pytest.mark.parametrize("key, subheader", [("d2l_linear", "5. The factor"), ("dlbook", "2. Output gradient"),
                                            ("mse_sine", "2. Output gradient")])
def test_derivation_presets_open_at_their_stage(key, subheader):
    at = click_preset(run_app({"d_all": "1", "d_step": "3"}), key)
    assert at.subheader[0].value.startswith(subheader)            # one stage, not 'show every stage'
    assert at.slider(key="cfg_d_step").value == dict(PRESETS[key].view)["d_step"]


def test_home_marks_the_preset_in_use_until_a_sidebar_setting_changes():
    at = run_app()
    assert set(preset_buttons(at).values()) == {"secondary"}       # the defaults are no preset
    click_preset(at, "vanishing")
    at.switch_page(HOME).run()
    assert preset_buttons(at) == {k: "primary" if k == "vanishing" else "secondary" for k in PRESETS}
    assert at.button(key="preset_vanishing").proto.icon == ":material/check_circle:"
    at.slider(key="cfg_H").set_value(12).run()
    assert set(preset_buttons(at).values()) == {"secondary"}


def test_a_preset_stops_being_in_use_when_its_view_changes():
    at = click_preset(run_app(), "dlbook")
    at.selectbox(key="cfg_d_stage").set_value("recursion").run()   # on the Derivation page
    at.switch_page(HOME).run()
    assert preset_buttons(at)["dlbook"] == "secondary"


def test_a_preset_stays_in_use_across_other_pages_and_other_pages_views():
    at = click_preset(run_app(), "exploding")
    at.switch_page("views/derivation.py").run()
    at.selectbox(key="cfg_d_stage").set_value("recursion").run()   # not the exploding preset's page
    at.switch_page(HOME).run()
    assert preset_buttons(at)["exploding"] == "primary"


def test_clicking_the_preset_in_use_opens_its_page_again():
    at = click_preset(run_app(), "many_to_one")
    at.switch_page(HOME).run()
    click_preset(at, "many_to_one")
    assert HEADING["views/graph.py"] in headings(at)


def test_a_shared_link_of_a_preset_shows_it_in_use_on_home():
    at = run_app(to_query(PRESETS["d2l_linear"].apply(DEFAULT)))
    assert preset_buttons(at)["d2l_linear"] == "primary"
