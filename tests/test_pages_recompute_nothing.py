"""Issue 13 on the Vanishing and Training pages: the notation, presentation mode and a page's
view-only choices recompute no engine result (every cache keys on Config.project of what it
depends on). Engine entry points are counted while the page reruns under AppTest."""
import pytest
from streamlit.testing.v1 import AppTest

import rnn_core
from apptest_helpers import fresh_caches, open_app_page  # noqa: F401 (fresh_caches is a fixture)
from ui.pages import training as training_service
from ui.pages import vanishing as vanishing_service

pytestmark = pytest.mark.usefixtures("fresh_caches")
ENGINE = ("bptt", "forward", "init_params", "jacobian_bound", "singular_values", "pairwise_jacobian_norms",
          "step_factor_stats", "jacobian_norms_to_last", "generate", "train")
# names the services imported from rnn_core's modules (called without `rc.`)
SERVICE_IMPORTS = {vanishing_service: ("iter_jacobian_norms_to_last", "pairwise_jacobian_norms", "step_factor_stats",
                                       "jacobian_bound", "singular_values"),
                   training_service: ("train", "generate")}


@pytest.fixture
def engine_calls(monkeypatch):
    """Start counting: {name: calls} of the engine's entry points the two pages use."""
    calls: dict[str, int] = {}

    def count(owner, name):
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return original(*args, **kwargs)
        monkeypatch.setattr(owner, name, counted)

    def start():
        for name in ENGINE:
            if hasattr(rnn_core, name):
                count(rnn_core, name)
        for module, names in SERVICE_IMPORTS.items():
            for name in names:
                count(module, name)
        return calls
    return start


def rerun_with(at: AppTest, **widgets) -> AppTest:
    """Set widgets by their config field (cfg_<name>) and rerun once."""
    for name, value in widgets.items():
        at.session_state[f"cfg_{name}"] = value
    at.run()
    assert not at.exception, at.exception
    config = at.session_state["_config"]
    assert all(getattr(config, name) == value for name, value in widgets.items()), config
    return at


def test_vanishing_notation_presentation_and_view_choices_recompute_nothing(engine_calls):
    at = open_app_page("views/vanishing.py", {"v_section": "all", "seed": "515151", "T": "40"})
    calls = engine_calls()
    rerun_with(at, notation="dlbook")
    rerun_with(at, presentation=True)
    rerun_with(at, v_axis="distance")
    rerun_with(at, v_section="spectrum")
    rerun_with(at, v_section="all", notation="row")
    assert calls == {}, calls
    assert at.get("plotly_chart"), "the page drew nothing"
    rerun_with(at, truncation="k_step", trunc_k=3)          # the gradient depends on it: dL/dh_t only
    assert calls == {"bptt": 1}, calls


def test_training_notation_presentation_and_section_recompute_nothing(engine_calls):
    at = open_app_page("views/training.py", {"tr_steps": "20", "seed": "515152", "T": "10"})
    at.button(key="tr_train").click().run()
    assert not at.exception and any(s.value.startswith("Trained 20 steps") for s in [*at.success, *at.warning])
    rerun_with(at, tr_view="truncation")
    rerun_with(at, tr_view="clipping")
    rerun_with(at, tr_view="train")
    calls = engine_calls()
    # the first batch is drawn on every run (not kept: a one-hot batch can be tens of MB); no
    # gradient, run, evaluation or comparison is computed again
    rerun_with(at, notation="dlbook")
    rerun_with(at, presentation=True)
    rerun_with(at, tr_view="truncation")
    rerun_with(at, tr_view="clipping", notation="row")
    rerun_with(at, tr_view="train", tr_lr=0.5)              # SGD settings: a new run to train, no comparison
    assert calls == {}, calls
