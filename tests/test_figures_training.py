"""ui.figures.training: what each builder draws equals the engine's numbers (no server)."""
import numpy as np
import pytest

import rnn_core as rc
from rnn_core.training import train
from ui.figures import training as figures
from ui.notation import NOTATIONS
from ui.pages.training import compare_clipping, compare_truncations


@pytest.fixture(scope="module")
def run():
    data = rc.make_task_data("sine", T=10, batch=4)
    params = rc.init_params(data.D, 6, data.O, seed=1, spectral_radius=0.9)
    return train(params, "sine", steps=12, lr=0.05, T=10, batch=4, clip=("norm", 0.5))


def ys(trace) -> np.ndarray:
    return np.asarray(trace.y, dtype=float)


def test_loss_figure_draws_each_curve_with_gaps_for_nonfinite_values(run):
    curve = run.loss.copy()
    curve[3] = np.inf
    fig = figures.loss_figure({"a": run.loss, "b": curve}, diverged={"b": 4})
    np.testing.assert_array_equal(ys(fig.data[0]), run.loss)
    drawn = ys(fig.data[1])
    assert np.isnan(drawn[3]) and np.array_equal(drawn[:3], run.loss[:3])
    marker = fig.data[2]
    assert list(marker.x) == [4] and marker.y[0] == run.loss[2] and "diverged at step 4" in marker.text[0]
    assert fig.layout.showlegend is True
    assert figures.loss_figure({"only": run.loss}).layout.showlegend is False


def test_log_loss_figure_hides_non_positive_values():
    fig = figures.loss_figure({"x": np.array([1.0, 0.0, -1.0, 2.0])}, log_y=True)
    np.testing.assert_array_equal(np.isnan(ys(fig.data[0])), [False, True, True, False])
    assert fig.layout.yaxis.type == "log"


@pytest.mark.parametrize("notation", sorted(NOTATIONS))
def test_grad_norms_figure_per_parameter_in_the_notation(run, notation):
    fig = figures.grad_norms_figure(run.param_grad_norms, run.param_names, total=run.grad_norm,
                                 applied=run.applied_norm, threshold=0.5, notation=notation)
    for j, name in enumerate(run.param_names):
        np.testing.assert_array_equal(ys(fig.data[j]), run.param_grad_norms[:, j])
        assert NOTATIONS[notation].html_param(name) in fig.data[j].name
    np.testing.assert_array_equal(ys(fig.data[5]), run.grad_norm)
    np.testing.assert_array_equal(ys(fig.data[6]), run.applied_norm)
    assert np.all(run.applied_norm <= 0.5 + 1e-12)           # what the chart shows is bounded by c
    assert list(ys(fig.data[7])) == [0.5, 0.5] and "c = 0.5" in fig.data[7].name
    assert fig.layout.yaxis.type == "log" and not fig.layout.annotations


def test_heatmap_is_log10_of_dL_dh_norms_with_steps(run):
    rows = np.array([0, 5, 11])
    fig = figures.dL_dh_heatmap(run.dL_dh_norms[rows], steps=rows + 1, notation="dlbook")
    heat = fig.data[0]
    np.testing.assert_allclose(np.asarray(heat.z), np.log10(run.dL_dh_norms[rows]))
    assert list(heat.y) == [1, 6, 12] and list(heat.x) == list(range(1, 11))
    assert "h<sup>(t)</sup>" in fig.layout.title.text


def test_heatmap_blanks_zeros_and_overflow():
    norms = np.array([[1.0, 0.0], [np.inf, 10.0]])
    z = np.asarray(figures.dL_dh_heatmap(norms).data[0].z, dtype=float)
    assert np.isnan(z[0, 1]) and np.isnan(z[1, 0]) and z[1, 1] == 1.0


def test_truncation_figure_shows_the_comparison():
    data = rc.make_task_data("adding", T=8, batch=3)
    params = rc.init_params(2, 5, 1, seed=0, spectral_radius=1.1)
    table = compare_truncations(params, data.xs, data.ys, activation="tanh", loss="mse", mask=data.mask,
                                ks=np.array([1, 2, 4, 8]), draws=3)
    fig = figures.truncation_figure(table.ks, table.cosine, table.ratio, T=8, k_marker=2)
    cosine_traces = [t for t in fig.data if t.xaxis == "x"]
    ratio_traces = [t for t in fig.data if t.xaxis == "x2"]
    for trace, method in zip(cosine_traces, table.cosine):
        assert trace.name == method
        np.testing.assert_array_equal(ys(trace), table.cosine[method])
    for trace, method in zip(ratio_traces, table.ratio):
        np.testing.assert_array_equal(ys(trace), table.ratio[method])
    assert ys(cosine_traces[0])[-1] == pytest.approx(1.0)     # k-step at k = T
    assert {s.x0 for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1} == {8, 2}
    assert list(fig.layout.xaxis.tickvals) == [1, 2, 4, 8]


def test_clipping_figure_bars_equal_the_comparison():
    params = rc.init_params(3, 6, 2, seed=0, spectral_radius=1.8)
    xs = np.random.default_rng(0).standard_normal((15, 3))
    res = rc.bptt(params, xs, np.zeros((15, 2)), activation="relu", loss="mse")
    table = compare_clipping(res.grads, 1.0)
    fig = figures.clipping_figure(table.labels, table.cosine, table.applied_norm, threshold=1.0)
    np.testing.assert_allclose(ys(fig.data[0]), table.cosine)
    np.testing.assert_allclose(ys(fig.data[1]), table.applied_norm)
    assert ys(fig.data[1])[1] == pytest.approx(1.0)            # global norm: exactly c
    assert fig.layout.shapes[0].y0 == 1.0 and not [a for a in fig.layout.annotations if "c =" in a.text[:4]]


def test_sine_and_adding_figures_draw_the_task_data():
    data = rc.make_task_data("sine", T=12, batch=3, seed=2)
    fig = figures.sine_figure(data.xs[:, :, 0])
    for s in range(3):
        np.testing.assert_array_equal(ys(fig.data[s]), data.xs[:, s, 0])
    fig = figures.sine_figure(data.xs[:, :1, 0], target=data.ys[:, 0, 0], prediction=data.ys[:, 0, 0] + 0.1)
    np.testing.assert_array_equal(ys(fig.data[1]), data.ys[:, 0, 0])
    add = rc.make_task_data("adding", T=10, batch=2, seed=3)
    fig = figures.adding_figure(add.xs[:, :, 0], add.xs[:, :, 1], add.ys[-1, :, 0])
    for s in range(2):
        np.testing.assert_array_equal(ys(fig.data[s]), add.xs[:, s, 0])
        marked = [c != "#c8c8c8" for c in fig.data[s].marker.color]
        np.testing.assert_array_equal(marked, add.xs[:, s, 1] > 0)
        assert f"target {add.ys[-1, s, 0]:.2f}" in fig.layout.annotations[s].text


def test_adding_scatter_and_accuracy():
    fig = figures.adding_scatter(np.array([0.5, 1.2]), np.array([0.4, np.nan]))
    np.testing.assert_array_equal(ys(fig.data[1])[:1], [0.4])
    assert np.isnan(ys(fig.data[1])[1])
    acc = figures.accuracy_figure(np.array([0.25, 0.5, 1.0]))
    np.testing.assert_array_equal(ys(acc.data[0]), [0.25, 0.5, 1.0])


def test_tagged_sentence_marks_right_and_wrong_and_escapes():
    html = figures.tagged_sentence_html(["the", "<b>fish"], ["DET", "NOUN"], ["DET", "VERB"])
    assert "DET ✓" in html and "VERB ✗ (NOUN)" in html
    assert figures.CORRECT_COLOUR in html and figures.WRONG_COLOUR in html
    assert "<b>fish" not in html and "&lt;b&gt;fish" in html
    plain = figures.tagged_sentence_html(["a"], ["DET"])
    assert "✓" not in plain and "DET" in plain


def test_presentation_mode_enlarges_fonts(run):
    small = figures.loss_figure({"l": run.loss}).layout.font.size
    big = figures.loss_figure({"l": run.loss}, presentation=True).layout.font.size
    assert big > small


def test_log_loss_figure_caps_the_axis_and_keeps_the_marker_inside():
    exploding = np.array([1.0, 10.0, 1e50, np.inf])
    fig = figures.loss_figure({"calm": np.array([1.0, 0.5, 0.4, 0.3]), "exploding": exploding},
                           diverged={"exploding": 4}, log_y=True, y_max=1e3)
    assert tuple(fig.layout.yaxis.range) == pytest.approx((np.log10(0.3) - 0.1, 3.0))
    marker = fig.data[2]
    assert marker.y[0] == 1e3 and "exploding: diverged at step 4" in marker.text[0]
    np.testing.assert_array_equal(ys(fig.data[1])[:3], exploding[:3])   # the data itself is not clipped


# ---------------------------------------------------------------------------- issue 14: the cells

def test_cells_loss_figure_draws_each_cell_and_the_baseline():
    x = np.arange(5, 11)
    curves = {"vanilla RNN": (x, np.full(6, 0.08)), "LSTM": (x, np.geomspace(0.08, 1e-3, 6)),
              "GRU": (x, np.array([0.08, 0.0, 0.05, np.inf, 0.01, 0.001]))}
    fig = figures.cells_loss_figure(curves, baseline=0.083, baseline_label="predicting the mean sum, 1.0")
    assert [t.name for t in fig.data] == ["vanilla RNN", "LSTM", "GRU", "predicting the mean sum, 1.0 (0.083)"]
    np.testing.assert_array_equal(fig.data[1].x, x)
    np.testing.assert_array_equal(np.isnan(ys(fig.data[2])), [False, True, False, True, False, False])
    assert list(fig.data[3].y) == [0.083, 0.083] and list(fig.data[3].x) == [1, 10]
    assert fig.layout.yaxis.type == "log" and len({t.line.color for t in fig.data[:3]}) == 3
    assert len(figures.cells_loss_figure(curves, baseline=float("nan")).data) == 3


def test_cells_heatmaps_share_one_colour_scale():
    norms = {"vanilla RNN": np.array([[1e-9, 1e-3, 1.0]]), "LSTM": np.array([[1e-2, 1e-1, 1.0], [0.0, 1.0, 2.0]]),
             "GRU": np.array([[np.nan, 0.5, 10.0]])}
    fig = figures.cells_heatmaps(norms, {"LSTM": np.array([1, 7])}, notation="wxh")
    assert len(fig.data) == 3 and [a.text for a in fig.layout.annotations][:3] == list(norms)
    assert {(t.zmin, t.zmax) for t in fig.data} == {(-9.0, 1.0)}
    assert [t.showscale for t in fig.data] == [True, False, False]
    np.testing.assert_array_equal(fig.data[1].y, [1, 7])
    z = np.array(fig.data[1].z, dtype=float)
    assert np.isnan(z[1, 0]) and z[0, 1] == -1.0        # a zero is a gap on a log scale


def test_a_gated_cells_parameters_by_their_names():
    names = rc.get_cell("lstm").param_names
    fig = figures.grad_norms_figure(np.ones((3, len(names))), names, notation="dlbook")
    lines = fig.data[:len(names)]
    assert [t.name for t in lines][:3] == ["‖∂L/∂W<sub>xi</sub>‖", "‖∂L/∂W<sub>hi</sub>‖", "‖∂L/∂b<sub>i</sub>‖"]
    assert lines[0].line.color == lines[1].line.color != lines[3].line.color     # a colour per gate
    assert (lines[0].line.dash, lines[1].line.dash, lines[2].line.dash) == ("solid", "dash", "dot")
    vanilla = figures.grad_norms_figure(np.ones((3, 5)), rc.PARAM_NAMES, notation="wxh")
    assert len({t.line.color for t in vanilla.data}) == 5
