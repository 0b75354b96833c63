"""Issue 13 on the Graph, Derivation, Model and Home pages: the notation, presentation mode and a
page's view-only choices recompute no engine result (every cache keys on Config.project of what
it depends on). Engine entry points are counted while the page reruns under AppTest."""
import pytest
import rnn_core
from apptest_helpers import count_calls, fresh_caches, open_app_page, rerun_with  # noqa: F401 (a fixture)
from rnn_core import flow
from ui import derivation
from ui.pages import derivation as derivation_service
from ui.pages import graph as graph_service

pytestmark = pytest.mark.usefixtures("fresh_caches")
ENGINE = ("bptt", "forward", "init_params", "make_task_data", "jacobian_between", "jacobians_to_last",
          "singular_values", "spectral_radius", "contributions", "contribution_pieces", "gradcheck")
# engine functions the services and the derivation's builder imported by name (called without `rc.`)
IMPORTED = {graph_service: ("full_flow", "single_source", "running_param_grads", "full_param_grads"),
            derivation: ("outputs_carried_back",)}


@pytest.fixture
def engine_calls(monkeypatch):
    """Start counting: {name: calls} of the engine's entry points these pages use."""
    targets = [(rnn_core, name) for name in ENGINE] + \
              [(flow, name) for name in ("node_norms", "edge_flow", "outputs_carried_back")] + \
              [(module, name) for module, names in IMPORTED.items() for name in names]
    return lambda: count_calls(monkeypatch, targets)


def test_graph_notation_presentation_and_view_choices_recompute_nothing(engine_calls):
    at = open_app_page("views/graph.py", {"seed": "616161", "T": "20", "g_source": "20", "g_start": "5"})
    calls = engine_calls()
    rerun_with(at, notation="dlbook")
    rerun_with(at, presentation=True)
    rerun_with(at, g_split=True)
    rerun_with(at, g_step=7)
    rerun_with(at, notation="row", presentation=False)
    rerun_with(at, d_stage="factor", v_axis="distance", tr_view="clipping")    # other pages' views
    assert {name: n for name, n in calls.items() if name not in ("node_norms", "edge_flow")} == {}, calls
    assert at.get("plotly_chart"), "the page drew nothing"
    rerun_with(at, truncation="k_step", trunc_k=3)          # the gradient depends on it
    assert calls.get("bptt") == 1 and "init_params" not in calls, calls


def test_derivation_notation_presentation_and_stage_recompute_nothing(engine_calls):
    """At the service (the page's caches): the page's stage select box cannot be relabelled in
    place under AppTest, whose select box keeps its old labels when the notation changes."""
    at = open_app_page("views/derivation.py", {"seed": "616162", "d_step": "3", "d_stage": "factor"})
    config = at.session_state["_config"]
    calls = engine_calls()
    for change in ({"notation": "dlbook"}, {"presentation": True}, {"d_stage": "double_sum", "d_all": True},
                   {"notation": "row", "truncation": "chunked"}, {"g_split": True, "v_section": "all"}):
        view = config.replace(**change)
        key = derivation_service.key(view)
        derivation_service.solved(key)
        derivation_service.stages(key, view.notation, view.d_step, view.d_lr)
        derivation_service.double_sum(key, view.d_step)
        derivation_service.gradient_check(key)
    assert calls == {}, calls
    derivation_service.stages(derivation_service.key(config), "wxh", 4, config.d_lr)    # another step
    assert "init_params" not in calls and "gradcheck" not in calls, calls


def test_model_notation_presentation_and_other_views_recompute_nothing(engine_calls):
    at = open_app_page("views/model.py", {"seed": "616163"})
    calls = engine_calls()
    rerun_with(at, notation="row")
    rerun_with(at, presentation=True)
    rerun_with(at, g_split=True, d_stage="update")
    assert calls == {}, calls
    rerun_with(at, T=30)               # the mask is read again (the equations say which steps count) ...
    assert set(calls) == {"make_task_data"}, calls       # ... but the weights do not depend on T


def test_home_computes_nothing(engine_calls):
    at = open_app_page("views/home.py", {"seed": "616164"})
    calls = engine_calls()
    rerun_with(at, notation="dlbook")
    rerun_with(at, presentation=True)
    assert calls == {}, calls
