"""Issue 17: the Vanishing page's scrubbers. The ρ family's frames are the engine's curves and
bounds at each radius (float64), the sidebar's ρ is the frame shown first and equals the main
curve, the family fits the page budget (shrunk, or dropped with a note, at large sizes), and the
page renders with it for every cell; the all-pairs row's frames are the map's rows."""
import json

import numpy as np
import pytest

import rnn_core as rc
from rnn_core.spectral import jacobian_bound
from apptest_helpers import fresh_caches  # noqa: F401 (a fixture)
from test_page_vanishing import charts, open_page, traces
from ui.config import DEFAULT, EXACT_NUMBERS, build_params, parse
from ui.figures import vanishing as figures
from ui.notation import NOTATIONS
from ui.pages import vanishing as service
from ui.state import make_data

NT = NOTATIONS[DEFAULT.notation]
SMALL = DEFAULT.replace(T=20, H=6, rho=0.93)


def engine_curve(config, rho: float, norm: str) -> np.ndarray:
    params = rc.init_params(config.D, config.H, config.O, seed=config.seed, init=config.init, spectral_radius=rho)
    return rc.jacobian_norms_to_last(params, make_data(config).xs, activation=config.activation,
                                     ord=2 if norm == "2" else "fro")


def decoded(value) -> np.ndarray:
    """A figure's array as plotly sends it ({dtype, bdata} in JSON) or as numpy."""
    if isinstance(value, dict) and "bdata" in value:
        import base64
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", flat.size)).split(",")]
        return flat.reshape(shape)
    return np.asarray(value, dtype=np.float64)


def test_scrub_grid_is_fine_and_holds_the_sidebars_rho_exactly():
    grid = service.scrub_grid(0.93, 0.05)
    assert grid[0] == 0.1 and grid[-1] == 2.0 and len(grid) == 40 and 0.93 in grid and 0.9 in grid
    assert service.scrub_grid(0.9, 0.05).count(0.9) == 1 and len(service.scrub_grid(0.9, 0.05)) == 39
    assert service.scrub_grid(3.0, 0.25)[-1] == 3.0                 # outside the range: added at its end


@pytest.mark.parametrize("norm", ["2", "fro"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_familys_rows_are_the_engines_curves_at_each_radius(norm, activation):
    config = SMALL.replace(activation=activation)
    model = config.project(*EXACT_NUMBERS)
    radii = service.scrub_grid(config.rho, 0.25)
    family = service.radius_family(model, radii, norm, config.T)
    assert family.norms.dtype == np.float64 and family.norms.shape == (len(radii), config.T)
    for rho, row, bound in zip(radii, family.norms, family.bounds):
        np.testing.assert_allclose(row, engine_curve(config, rho, norm), rtol=1e-12, atol=0)
        params = build_params(model.replace(rho=rho))
        expected = service.bound_for_norm(jacobian_bound(params, activation, config.T), norm, H=config.H)
        np.testing.assert_allclose(bound, expected, rtol=1e-12)
    assert radii[family.selected] == config.rho
    # the sidebar's row is exactly the page's main curve
    main = service.norm_curve(build_params(model), make_data(model).xs, activation, norm)
    np.testing.assert_array_equal(family.norms[family.selected], main)


@pytest.mark.usefixtures("fresh_caches")
def test_every_radius_of_a_grid_shares_one_family_and_selects_its_own_row(monkeypatch):
    """A hall spread over the grid computes the family once; each viewer's row is its own ρ."""
    grid = service.scrub_grid(0.9, 0.25)
    computed = []
    original = service.radius_family
    monkeypatch.setattr(service, "radius_family", lambda *a, **k: computed.append(a) or original(*a, **k))
    for rho in (0.35, 0.9, 1.6):
        model = SMALL.replace(rho=rho).project(*EXACT_NUMBERS)
        family = service.shared_family(model, grid, "2", SMALL.T)
        assert family.radii == grid and grid[family.selected] == rho
        expected = original(model, grid, "2", SMALL.T)
        np.testing.assert_array_equal(family.norms, expected.norms)
        np.testing.assert_array_equal(family.bounds, expected.bounds)
        assert family.selected == expected.selected
    assert len(computed) == 1


def test_a_window_family_is_the_tail_of_the_whole_curves():
    model = SMALL.project(*EXACT_NUMBERS)
    radii = (0.5, 0.93, 1.5)
    whole, tail = service.radius_family(model, radii, "2", 20), service.radius_family(model, radii, "2", 7)
    np.testing.assert_allclose(tail.norms, whole.norms[:, -7:], rtol=1e-12)
    np.testing.assert_allclose(tail.bounds, whole.bounds[:, -7:], rtol=1e-12)


def scrub_fig(config, norm="2"):
    model = config.project(*EXACT_NUMBERS)
    family = service.radius_family(model, service.scrub_grid(config.rho, 0.25), norm, config.T)
    words = service.scrub_words(family)
    return family, figures.scrub_curve_figure(
        family.norms, family.bounds, family.radii, selected=family.selected, horizons=[s.horizon for s in words],
        factor_texts=[service.scrub_text(s) for s in words], nt=NT, ord=norm)


def test_the_figures_frames_carry_each_radius_and_the_sidebars_comes_first():
    family, fig = scrub_fig(SMALL)
    slots = [t.meta for t in fig.data]
    curve, bound, factor = slots.index("curve"), slots.index("bound"), slots.index("factor")
    assert len(fig.frames) == len(family.radii)
    for rho, frame, row, b in zip(family.radii, fig.frames, family.norms, family.bounds):
        assert frame.name == f"{rho:g}" and list(frame.traces) == list(range(len(slots)))
        np.testing.assert_array_equal(frame.data[curve].y, row)
        np.testing.assert_array_equal(frame.data[bound].y, b)
        summary = service.summarise(row)
        assert summary.label in frame.data[factor].text[0] and summary.horizon_text in frame.data[factor].text[0]
    # shown first: the sidebar's radius, its data, its slider step
    np.testing.assert_array_equal(fig.data[curve].y, family.norms[family.selected])
    [slider] = fig.layout.sliders
    assert slider.active == family.selected and "the sidebar's" in slider.steps[family.selected].label
    assert [s.args[0][0] for s in slider.steps] == [f.name for f in fig.frames]
    # no layout redraw: what a frame changes is in its traces, the legend's names are fixed
    assert all(s.method == "animate" and not s.args[1]["frame"]["redraw"] for s in slider.steps)
    assert all(set(t.to_plotly_json()) <= {"type", "x", "y", "text"} for f in fig.frames for t in f.data)
    assert not any(f.layout.to_plotly_json() for f in fig.frames)


def test_frames_ship_float64_arrays_and_the_payload_stays_small():
    """plotly 6 sends numpy arrays as base64 typed arrays: exact float64, no JSON lists of digits."""
    _, fig = scrub_fig(DEFAULT.replace(T=200, H=16))
    spec = json.loads(fig.to_json())
    curve = [t.get("meta") for t in spec["data"]].index("curve")
    y = spec["frames"][0]["data"][curve]["y"]
    assert isinstance(y, dict) and y["dtype"] == "f8"
    assert len(fig.to_json()) < 120_000


def test_the_plan_shrinks_or_drops_the_family_within_the_budget():
    small, target = service.plan(DEFAULT), service.plan(DEFAULT.replace(T=200, H=64))
    assert len(small.scrub) == 39 and small.scrub_step == 0.05 and DEFAULT.rho in small.scrub
    assert len(target.scrub) >= 39 and target.main_window == 200 and target.seconds <= service.PAGE_BUDGET
    worst = service.plan(parse({"T": "500", "H": "256"})[0])
    assert worst.scrub == () and worst.seconds <= service.PAGE_BUDGET * 1.1
    mid = service.plan(parse({"T": "500", "H": "48", "v_section": "all"})[0])
    assert mid.seconds <= service.PAGE_BUDGET * 1.1 and (mid.scrub == () or mid.scrub_step > 0.05 or
                                                         mid.main_window < 500 or mid.norm == "fro")
    assert service.plan(DEFAULT.replace(cell="lstm", init="orthogonal")).scrub == ()


@pytest.mark.usefixtures("fresh_caches")
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_page_renders_with_the_scrubber_for_each_cell(cell):
    query = {"cell": cell, "T": "30", "v_section": "pairs"} | ({} if cell == "rnn" else {"init": "orthogonal"})
    at = open_page(query)
    assert not at.exception
    figs = charts(at)
    assert {"v_curve", "v_pairs_row"} <= set(figs)
    [spec] = [json.loads(el.proto.spec) for el in at.get("plotly_chart") if "v_curve" in el.proto.id]
    captions = " ".join(c.value for c in at.caption)
    infos = " ".join(i.value for i in at.info)
    if cell == "rnn":
        assert len(spec["frames"]) == 39
        [curve] = traces(figs["v_curve"], "curve")
        selected = spec["frames"][spec["layout"]["sliders"][0]["active"]]
        assert selected["name"] == "0.9"
        index = [t.get("meta") for t in spec["data"]].index("curve")
        np.testing.assert_array_equal(decoded(selected["data"][index]["y"]), curve["y"])
        assert "Scrub ρ" in captions and "ρ = 0.9" in captions
    else:
        assert "frames" not in spec or not spec["frames"]
        assert "scrubber is the vanilla RNN's" in infos
    # the row scrubber: its frames are the map's rows, t = T first
    [row] = [json.loads(el.proto.spec) for el in at.get("plotly_chart") if "v_pairs_row" in el.proto.id]
    pairs = decoded(figs["v_pairwise"]["data"][0]["customdata"])
    W = pairs.shape[0]
    assert len(row["frames"]) == W and row["layout"]["sliders"][0]["active"] == W - 1
    for i in (0, W // 2, W - 1):
        np.testing.assert_array_equal(decoded(row["frames"][i]["data"][0]["y"]), pairs[i, :i + 1])


def test_a_size_without_a_scrubber_says_so():
    at = open_page({"T": "500", "H": "256"})
    assert not at.exception
    assert "has no ρ scrubber" in " ".join(i.value for i in at.info)


def test_a_sent_figure_is_turned_into_a_dict_once_and_says_the_same():
    """st.plotly_chart calls to_dict() on every rerun: the cached scrub figure makes its dict once."""
    import plotly
    _, fig = scrub_fig(SMALL)
    fresh = fig.to_json()
    from ui.pages import SentFigure
    sent = service.sent(fig)
    assert isinstance(sent, SentFigure) and sent.to_dict() is sent.to_dict()
    shipped = plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(sent, validate_figure=True),
                                validate=False)
    assert json.loads(shipped) == json.loads(fresh)
