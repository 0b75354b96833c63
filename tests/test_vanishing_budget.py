"""Issue 12 on the Vanishing page: the worst link stays within a few seconds of CPU, the guard
stops work past its time with a note, one link cannot thrash the curve cache."""
import time

import pytest
from streamlit.runtime.caching import cache_data_api

from apptest_helpers import fresh_caches, open_app_page  # noqa: F401 (fresh_caches is a fixture)
from test_page_vanishing import WORST, charts, open_page
from ui.pages import vanishing as service
from ui.budget import Guard, Stopped
from ui.config import MAX_RADII
import rnn_core as rc
import rnn_core.jacobians  # noqa: F401 (rc.jacobians.NORM_BLOCK)

pytestmark = pytest.mark.usefixtures("fresh_caches")
CPU_LIMIT = 2.0          # seconds of CPU for one cold run of the worst link (measured ~0.6 s; 3.2-4 s before)


def curve_cache():
    caches = cache_data_api.get_data_cache_stats_provider()._function_caches[None].values()
    return next(c for c in caches if c.display_name.endswith(".cached_curve"))


def test_worst_link_costs_a_few_seconds_of_cpu_and_says_what_it_shrank():
    start = time.process_time()
    at = open_page(WORST)
    spent = time.process_time() - start
    assert spent < CPU_LIMIT, spent
    notes = " ".join(i.value for i in at.info)
    assert "leaves out" in notes and "covers the last" in notes
    assert {"v_curve", "v_sweep_rho", "v_pairwise", "v_dl_dh", "v_fade"} <= set(charts(at))


def test_one_link_cannot_thrash_the_curve_cache():
    """The costliest link the schema lets through adds at most an eighth of the cache's entries."""
    at = open_page(WORST)
    config = at.session_state["_config"]
    assert len(config.v_radii) <= MAX_RADII and len(config.v_acts) <= len(rc.ACTIVATIONS)
    plan = service.plan(config)
    curves = 1 + len(plan.radii) + len(plan.acts)          # the main curve and the sweeps drawn
    assert 8 * curves <= curve_cache().max_entries


def test_guard_skips_what_is_left_and_cuts_the_main_curve_with_a_note(monkeypatch):
    monkeypatch.setattr(service, "GUARD_SECONDS", 0.0)
    at = open_page({"T": "100"})
    figures = charts(at)
    assert not at.exception and set(figures) == {"v_curve", "v_spectrum"}   # the spectrum is computed with it
    [curve] = [t for t in figures["v_curve"]["data"] if t.get("meta") == "curve"]
    assert list(curve["x"]) == list(range(100 - rc.jacobians.NORM_BLOCK + 1, 101))   # its first block: exact
    [warning] = [w.value for w in at.warning if "too busy" in w.value]
    assert "the main curve (its last 32 steps) cut short" in warning
    assert "the map of all pairs" in warning and "the gradient each step receives" in warning


def test_a_stopped_curve_is_the_exact_tail_and_is_never_cached():
    from ui.config import DEFAULT, build_params
    from ui.state import make_data
    config = DEFAULT.replace(T=100)
    params, xs = build_params(config), make_data(config).xs
    whole = service.norm_curve(params, xs, "tanh", "2")
    with pytest.raises(Stopped) as stopped:             # an exception: st.cache_data keeps no result
        service.norm_curve(params, xs, "tanh", "2", guard=Guard(0.0))
    assert stopped.value.partial.shape == (rc.jacobians.NORM_BLOCK,) and stopped.value.why == "budget"
    assert (stopped.value.partial == whole[-rc.jacobians.NORM_BLOCK:]).all()
    calls = []
    alive = Guard(60.0, alive=lambda: calls.append(1) is None)
    assert (service.norm_curve(params, xs, "tanh", "2", guard=alive) == whole).all()
    assert len(calls) == 100 // rc.jacobians.NORM_BLOCK               # asked between blocks only


def test_the_pages_work_stops_when_its_session_has_gone(monkeypatch):
    """Issue 12: a closed tab stops the page's computations (as Training's), through the Guard."""
    import ui.budget
    monkeypatch.setattr(ui.budget, "session_alive", lambda: False)
    at = open_page({"T": "100", "v_section": "all"})
    figures = charts(at)
    assert set(figures) == {"v_curve", "v_spectrum"}
    [curve] = [t for t in figures["v_curve"]["data"] if t.get("meta") == "curve"]
    assert len(curve["x"]) == rc.jacobians.NORM_BLOCK           # stopped after its first block
    assert not [w for w in at.warning if "too busy" in w.value]  # nobody is there to read it


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_gated_cells_worst_link_costs_a_few_seconds_of_cpu(cell):
    """Issue 14: the largest gated model (an LSTM Jacobian step is (2H)^2 per row pulled back)
    with every section on screen stays within the same CPU limit, saying what it shrank."""
    start = time.process_time()
    at = open_page({**WORST, "cell": cell})
    spent = time.process_time() - start
    assert spent < CPU_LIMIT, spent
    assert not at.exception and "v_curve" in charts(at)
    notes = " ".join(i.value for i in at.info)
    assert "covers the last" in notes and "would take too long" in notes


def test_the_lstm_default_view_at_t200_h64_is_within_its_budget():
    """Issue 14: <= 0.3 s of compute for the LSTM's default view at T = 200, H = 64 (measured
    0.08 s by bench/vanishing.py); here the whole AppTest run, Streamlit included, under 1 s of CPU."""
    open_page({"cell": "lstm", "init": "orthogonal", "T": "60", "H": "8"})      # compile and import once
    start = time.process_time()
    at = open_page({"cell": "lstm", "init": "orthogonal", "T": "200", "H": "64", "v_section": "sweeps"})
    spent = time.process_time() - start
    assert spent < 1.0, spent
    assert not at.exception and "v_curve" in charts(at)
