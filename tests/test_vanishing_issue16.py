"""Issue 16 on the Vanishing page under AppTest: the memory horizon is one honest quantity,
stated the same way in the metric, the legends and the table, distinct per radius; exact
zeros are drawn as zeros; eq. (8) has the right matrix in row-vector notation."""
import pytest

from apptest_helpers import fresh_caches, open_app_page  # noqa: F401 (fresh_caches is a fixture)
from test_page_vanishing import charts, factor_text, open_page, stars, traces
from rnn_core.spectral import memory_horizon
from ui import state
from ui.pages import vanishing as service
from ui.config import to_query
from ui.presets import PRESETS

pytestmark = pytest.mark.usefixtures("fresh_caches")


def legend_horizons(figure: dict) -> dict[str, str]:
    return dict(t["name"].split(" · horizon ", 1) for t in traces(figure, "curve"))


def test_each_radius_has_its_own_horizon_stated_like_the_metric():
    at = open_page({"v_section": "sweeps"})
    horizons = legend_horizons(charts(at)["v_sweep_rho"])
    assert list(horizons) == ["ρ = 0.5", "ρ = 0.9", "ρ = 1", "ρ = 1.1", "ρ = 1.5"]
    assert len(set(horizons.values())) == 5, horizons        # once 'horizon 11' for 0.9 .. 1.5
    assert all("≥" not in h for h in horizons.values())
    # the sidebar's radius (0.9 is not the default: compare the row of the table and the metric)
    table = at.dataframe[0].value
    assert list(table["memory horizon"]) == list(horizons.values()) + list(legend_horizons(
        charts(at)["v_sweep_act"]).values())
    at_rho = open_page({"v_section": "sweeps", "rho": "1.1"})
    value, note = at_rho.metric[1].value, at_rho.metric[1].delta
    assert f"{value} ({note})" == legend_horizons(charts(at_rho)["v_sweep_rho"])["ρ = 1.1"]


def test_exploding_preset_says_there_is_no_horizon():
    at = open_page(to_query(PRESETS["exploding"].config()))
    assert (at.metric[1].value, at.metric[1].delta) == ("none", "it grows")
    figure = charts(at)["v_curve"]
    assert not stars(figure)                                  # no ★ claiming a horizon
    [curve] = traces(figure, "curve")
    # said in the legend, or on the line above the chart (the ρ scrubber's frames move that line)
    assert curve["name"].endswith("memory horizon: none (it grows)") or \
        factor_text(figure).removesuffix("</b>").endswith("memory horizon: none (it grows)")


def test_irnn_preset_draws_exact_zeros_as_zeros_with_a_label():
    at = open_page(to_query(PRESETS["irnn"].config()))
    figure = charts(at)["v_curve"]
    [zeros] = [t for t in traces(figure, "edge") if t["name"] == "curve: exactly 0"]
    assert zeros["yaxis"] == "y9" and set(zeros["y"]) == {0.0}     # a true 0, not a point at 1e-1
    assert figure["layout"]["yaxis9"]["range"] == [0.0, 1.0]
    assert any(a.get("text") == "exactly 0" for a in figure["layout"].get("annotations", [])) or \
        "exactly 0" in traces(figure, "zero_label")[0]["text"]          # the ρ scrubber's frames move it
    config = at.session_state["_config"]
    norms = service.norm_curve(state.params(config), state.data(config).xs, config.activation, config.v_norm)
    assert at.metric[1].value == f"{memory_horizon(norms)} steps"      # measured on the curve itself


def test_row_vector_notation_writes_the_transpose_in_eq_8():
    at = open_page({"notation": "row", "v_section": "steps"})
    eq8 = next(el.value for el in at.latex if "(8)" in el.value)
    assert r"\big)\, W_h^{\top}" in eq8, eq8                # diag(f'(a_t)) W_h^T, not diag(f'(a_t)) W_h
    caption = next(c.value for c in at.caption if "(eq. (8))" in c.value)      # "why it fades"
    assert r"^{\top}" in caption
    step = traces(charts(at)["v_fade"], "step")[0]
    assert "ᵀ" in step["name"]
    column = open_page({"notation": "wxh", "v_section": "steps"})
    assert r"\top" not in next(el.value for el in column.latex if "(8)" in el.value)


def test_the_factor_keeps_its_digits():
    at = open_page(to_query(PRESETS["irnn"].config()))
    assert at.metric[0].value == "×1.00" and at.metric[0].delta == "stable"     # not a bare '×1'
