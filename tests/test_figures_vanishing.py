"""The vanishing & exploding page's figure builders draw exactly rnn_core's numbers."""
import numpy as np
import pytest

import rnn_core as rc
from rnn_core.jacobians import (StepFactorStats, jacobian_norms_to_last,
                                pairwise_jacobian_norms, step_factor_stats)
from rnn_core.spectral import (classify_factor, fit_decay_factor, jacobian_bound, memory_horizon,
                               singular_values)
from ui.figures import vanishing as figures
from ui.pages import vanishing as service
from ui.notation import NOTATIONS

NT = NOTATIONS["wxh"]


def model(*, H=6, D=3, T=20, rho=0.9, seed=0, init="normal", bias=0.0):
    p = rc.init_params(D, H, 2, seed=seed, init=init, spectral_radius=rho)
    rng = np.random.default_rng(seed + 100)
    p = p.replace(b_h=bias * np.ones(H))
    return p, rng.standard_normal((T, D))


def traces(fig, meta):
    return [t for t in fig.data if t.meta == meta]


def one(fig, meta):
    found = traces(fig, meta)
    assert len(found) == 1, f"expected one trace with meta {meta!r}, got {[t.meta for t in fig.data]}"
    return found[0]


# ---- the main curve -----------------------------------------------------------------------

@pytest.mark.parametrize("ord", ["2", "fro"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "identity"])
def test_curve_values_equal_engine_norms(activation, ord):
    p, xs = model(T=15)
    norms = jacobian_norms_to_last(p, xs, activation=activation, ord=2 if ord == "2" else "fro")
    bound = service.bound_for_norm(jacobian_bound(p, activation, 15), ord, H=6)
    fig = figures.curve_figure(norms, bound, nt=NT, ord=ord)
    curve = one(fig, "curve")
    np.testing.assert_array_equal(np.asarray(curve.x), np.arange(1, 16))
    np.testing.assert_allclose(np.asarray(curve.y, dtype=float), norms, rtol=0, atol=0)
    np.testing.assert_allclose(np.asarray(one(fig, "bound").y, dtype=float), bound, rtol=0, atol=0)


def test_distance_axis_puts_k_at_T_minus_k():
    norms = 0.5 ** np.arange(9, -1, -1.0)        # entry k-1 = 0.5^(T-k), T = 10
    fig = figures.curve_figure(norms, norms, nt=NT, axis="distance")
    curve = one(fig, "curve")
    np.testing.assert_array_equal(np.asarray(curve.x), 10 - np.arange(1, 11))
    assert fig.layout.xaxis.autorange == "reversed"    # distance 0 (= k = T) stays on the right


@pytest.mark.parametrize("seed", range(12))
def test_bound_lies_above_the_measured_curve_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    activation = ["tanh", "relu", "sigmoid", "identity"][seed % 4]
    H, T = int(rng.integers(1, 9)), int(rng.integers(1, 30))
    p, xs = model(H=H, T=T, rho=float(rng.uniform(0.2, 2.0)), seed=seed, bias=float(rng.normal()))
    for ord in ("2", "fro"):
        norms = jacobian_norms_to_last(p, xs, activation=activation, ord=2 if ord == "2" else "fro")
        fig = figures.curve_figure(norms, service.bound_for_norm(jacobian_bound(p, activation, T), ord, H=H), nt=NT, ord=ord)
        measured = np.asarray(one(fig, "curve").y, dtype=float)
        bound = np.asarray(one(fig, "bound").y, dtype=float)
        drawn = np.isfinite(measured) & np.isfinite(bound)
        assert drawn[-1] and np.all(measured[drawn] <= bound[drawn] * (1 + 1e-10)), (activation, ord, measured, bound)


def test_identity_curve_equals_matrix_powers():
    p, xs = model(H=5, T=25, rho=1.05, bias=0.3)
    for ord in ("2", "fro"):
        engine = jacobian_norms_to_last(p, xs, activation="identity", ord=2 if ord == "2" else "fro")
        independent = np.array([np.linalg.norm(np.linalg.matrix_power(p.W_hh, 25 - k), 2 if ord == "2" else "fro")
                                for k in range(1, 26)])
        powers = service.matrix_power_norms(p.W_hh, 25, ord)
        np.testing.assert_allclose(powers, independent, rtol=1e-12)
        assert service.relative_gap(engine, powers) < 1e-10
        fig = figures.curve_figure(engine, engine, nt=NT, ord=ord, matrix_powers=powers)
        np.testing.assert_allclose(np.asarray(one(fig, "powers").y, dtype=float), independent, rtol=1e-12)
    # with tanh the curve is not the matrix powers: the check can fail
    tanh = jacobian_norms_to_last(p, xs, activation="tanh", ord=2)
    assert service.relative_gap(tanh, service.matrix_power_norms(p.W_hh, 25, "2")) > 1e-3


def test_horizon_star_and_factor_label_sit_where_the_engine_says():
    p, xs = model(T=40, rho=0.7)
    norms = jacobian_norms_to_last(p, xs, activation="tanh", ord=2)
    horizon = memory_horizon(norms)
    kind, label = classify_factor(fit_decay_factor(norms))
    assert kind == "vanishing" and 0 < horizon < 39
    fig = figures.curve_figure(norms, jacobian_bound(p, "tanh", 40), nt=NT, horizon=horizon, factor_label=label)
    star = one(fig, "horizon")
    assert list(star.x) == [40 - horizon]
    assert star.y[0] == norms[40 - horizon - 1]
    assert star.y[0] >= 0.01 * norms[-1] and norms[40 - horizon - 2] < 0.01 * norms[-1]
    assert label in fig.layout.annotations[0].text


def test_zeros_are_true_zeros_and_overflow_sits_on_the_top_edge_never_a_fake_log_value():
    norms = np.array([np.inf, np.nan, 1e5, 10.0, 0.0, 0.0, 1.0])
    fig = figures.curve_figure(norms, np.ones(7), nt=NT)
    lo, hi = fig.layout.yaxis.range
    edges = traces(fig, "edge")
    top = [t for t in edges if t.marker.symbol == figures.OVERFLOW_SYMBOL]
    bottom = [t for t in edges if t.marker.symbol == figures.ZERO_SYMBOL]
    # both on the hidden linear 0..1 axis over the log axis: a zero is drawn as the value 0
    edge_axis = fig.layout["yaxis" + figures.EDGE_AXIS[1:]]
    assert edge_axis.overlaying == "y" and tuple(edge_axis.range) == (0.0, 1.0) and edge_axis.visible is False
    assert {t.yaxis for t in edges} == {figures.EDGE_AXIS}
    assert list(top[0].x) == [1, 2] and list(top[0].y) == [1.0, 1.0]
    assert list(bottom[0].x) == [5, 6] and list(bottom[0].y) == [0.0, 0.0]
    # the run of zeros is shaded and says so
    [band] = [s for s in fig.layout.shapes if s.type == "rect"]
    assert (band.x0, band.x1) == (4.5, 6.5)
    assert [a.text for a in fig.layout.annotations if a.text == "exactly 0"] == ["exactly 0"]
    assert lo < 0 < np.log10(1e5) < hi
    curve_y = np.asarray(one(fig, "curve").y, dtype=float)
    assert np.isnan(curve_y[[0, 1, 4, 5]]).all() and list(curve_y[[2, 3, 6]]) == [1e5, 10.0, 1.0]
    bound_top = [t for t in edges if t.name == "bound: overflow (inf/nan)"]
    assert bound_top == []                                  # this bound is finite everywhere
    fig = figures.curve_figure(np.array([0.5, 1.0]), np.array([np.inf, 1.0]), nt=NT)
    assert [list(t.x) for t in traces(fig, "edge") if t.name == "bound: overflow (inf/nan)"] == [[1]]
    notes = service.log_notes(norms, "the curve")
    assert len(notes) == 2 and "2 value(s)" in notes[0] and "overflowed" in notes[0] and "exactly 0" in notes[1]
    assert service.log_notes(np.ones(3), "x") == []


def test_relu_with_dead_units_gives_exact_zeros_that_are_drawn():
    p, xs = model(T=12, bias=-50.0)               # every pre-activation negative: all ReLUs dead
    norms = jacobian_norms_to_last(p, xs, activation="relu", ord=2)
    assert norms[-1] == 1.0 and np.all(norms[:-1] == 0.0)
    fig = figures.curve_figure(norms, jacobian_bound(p, "relu", 12), nt=NT)
    bottom = [t for t in traces(fig, "edge") if t.marker.symbol == figures.ZERO_SYMBOL]
    assert list(bottom[0].x) == list(range(1, 12))


# ---- sweeps -------------------------------------------------------------------------------

def test_sweep_has_one_trace_per_radius_with_the_engines_values():
    radii = (0.5, 0.9, 1.0, 1.1, 1.5)
    _, xs = model(T=30)
    curves, horizons = [], []
    for r in radii:
        p, _ = model(T=30, rho=r)                # same seed: only the radius changes
        norms = jacobian_norms_to_last(p, xs, activation="tanh", ord=2)
        curves.append((f"ρ = {r:g}", norms))
        horizons.append(memory_horizon(norms))
    fig = figures.sweep_figure(curves, nt=NT, horizons=horizons, horizon_texts=[f"{h} steps" for h in horizons],
                          highlight="ρ = 0.9")
    drawn = traces(fig, "curve")
    assert len(drawn) == len(radii)
    window = figures.sweep_figure(curves, nt=NT, first_step=71)      # the last 30 of T = 100 steps
    assert list(traces(window, "curve")[0].x) == list(range(71, 101))
    assert list(traces(figures.sweep_figure(curves, nt=NT, first_step=71, axis="distance"), "curve")[0].x) == \
        list(range(29, -1, -1))
    for trace, (name, norms), horizon in zip(drawn, curves, horizons):
        assert trace.name == f"{name} · horizon {horizon} steps"
        np.testing.assert_array_equal(np.asarray(trace.y, dtype=float), norms)
    assert drawn[1].line.width > drawn[0].line.width
    stars = one(fig, "horizon")
    assert list(stars.x) == [30 - h for h in horizons]
    assert horizons == sorted(horizons)          # a larger radius remembers at least as far back


def test_sweep_without_curves_is_an_empty_figure():
    fig = figures.sweep_figure([], nt=NT)
    assert traces(fig, "curve") == []


# ---- spectrum -----------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_spectrum_points_equal_numpy_eigenvalues_and_singular_values(activation):
    p, _ = model(H=7, rho=1.3, seed=3)
    ev = np.linalg.eigvals(p.W_hh)
    sv = singular_values(p.W_hh)
    gamma = rc.get_activation(activation).gamma
    fig = figures.spectrum_figure(ev, sv[::-1], gamma=gamma, rho=1.3, nt=NT)
    eig = one(fig, "eigenvalues")
    np.testing.assert_array_equal(np.asarray(eig.x), ev.real)
    np.testing.assert_array_equal(np.asarray(eig.y), ev.imag)
    np.testing.assert_array_equal(np.asarray(one(fig, "singular").y), np.linalg.svd(p.W_hh, compute_uv=False))
    rho_circle = one(fig, "rho")
    assert np.allclose(np.hypot(rho_circle.x, rho_circle.y), 1.3)
    assert np.isclose(np.max(np.abs(ev)), 1.3)           # the largest eigenvalue lies on the ρ circle
    inverse = traces(fig, "inv_gamma")
    if activation == "sigmoid":
        assert np.allclose(np.hypot(inverse[0].x, inverse[0].y), 4.0)
        assert fig.layout.xaxis.range[1] > 4.0
    else:
        assert inverse == [] and "γ = 1" in one(fig, "unit").name


# ---- all pairs, dL/dh ---------------------------------------------------------------------

def test_pairwise_heatmap_is_log10_of_the_engine_lower_triangle():
    p, xs = model(T=9)
    P = pairwise_jacobian_norms(p, xs, activation="tanh", ord=2)
    fig = figures.pairwise_figure(P, nt=NT)
    z = np.array(fig.data[0].z, dtype=float)
    lower = np.tril(np.ones((9, 9), dtype=bool))
    np.testing.assert_allclose(z[lower], np.log10(P[lower]), rtol=1e-14)
    assert np.isnan(z[~lower]).all()
    np.testing.assert_array_equal(np.array(fig.data[0].customdata, dtype=float)[lower], P[lower])


def test_pairwise_heatmap_colours_zeros_and_overflow_at_the_ends():
    P = np.tril(np.full((4, 4), 2.0))
    P[3, 0], P[2, 0] = 0.0, np.inf
    fig = figures.pairwise_figure(P, nt=NT)
    z = np.array(fig.data[0].z, dtype=float)
    assert z[3, 0] == fig.data[0].zmin and z[2, 0] == fig.data[0].zmax
    assert np.isclose(z[1, 1], np.log10(2.0))


def test_dl_dh_curve_equals_the_bptt_result():
    p, xs = model(T=10)
    ys = np.random.default_rng(1).integers(0, 2, 10)
    res = rc.bptt(p, xs, ys, activation="tanh", loss="softmax_ce")
    fig = figures.dl_dh_figure(service.step_norms(res.dL_dh), nt=NT)
    np.testing.assert_allclose(np.asarray(one(fig, "curve").y, dtype=float), np.linalg.norm(res.dL_dh, axis=1),
                               rtol=1e-14)
    assert np.isinf(service.step_norms(np.array([[np.nan, 1.0], [3.0, 4.0]]))[0])
    assert service.step_norms(np.array([[3.0, 4.0]]))[0] == 5.0


# ---- why it fades -------------------------------------------------------------------------

def test_fade_figure_draws_the_engines_step_statistics():
    p, xs = model(T=14, rho=1.2)
    stats = step_factor_stats(p, xs, activation="tanh")
    fig = figures.fade_figure(stats, activation="tanh", rho=1.2, nt=NT)
    np.testing.assert_array_equal(np.asarray(one(fig, "step").y, dtype=float), stats.factor_norm)
    np.testing.assert_array_equal(np.asarray(one(fig, "activation").y, dtype=float), stats.fprime_max)
    np.testing.assert_array_equal(np.asarray(one(fig, "weight").y, dtype=float), np.full(14, stats.W_hh_norm))
    np.testing.assert_array_equal(np.asarray(one(fig, "rho").y, dtype=float), np.full(14, 1.2))
    np.testing.assert_allclose(np.asarray(one(fig, "saturated").y, dtype=float), 100 * stats.saturated_fraction)
    assert "saturated" in one(fig, "saturated").name
    assert "dead" in one(figures.fade_figure(stats, activation="relu", rho=1.2, nt=NT), "saturated").name


def test_derivative_heatmap_is_units_by_time():
    df = np.random.default_rng(0).random((11, 4))
    fig = figures.derivative_heatmap(df, gamma=1.0, nt=NT)
    np.testing.assert_array_equal(np.array(fig.data[0].z), df.T)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0.0, 1.0)


def stats_with(saturated, gamma=1.0, T=5):
    return StepFactorStats(W_hh_norm=1.0, fprime_max=np.ones(T), fprime_mean=np.ones(T),
                           saturated_fraction=np.full(T, float(saturated)), factor_norm=np.ones(T),
                           gamma=gamma, overflow_step=None)


def test_fade_verdict_names_the_cause():
    def verdict(stats, **kw):
        return service.fade_verdict(stats, np.array([0.1, 0.5, 1.0]), **kw)
    assert "mainly from the weights" in verdict(stats_with(0), activation="tanh", factor=0.5, rho=0.55)
    assert "dead ReLUs (60 %" in verdict(stats_with(0.6), activation="relu", factor=0.3, rho=1.2)
    assert "f′ averages 1 (at most γ = 1) and 80 % of units are saturated" in verdict(
        stats_with(0.8), activation="tanh", factor=0.2, rho=0.9)
    assert "at most γ = 0.25" in verdict(stats_with(0, gamma=0.25), activation="sigmoid", factor=0.2, rho=0.9)
    assert "explodes" in verdict(stats_with(0.1), activation="relu", factor=1.3, rho=1.5)
    assert "neither fades nor grows" in verdict(stats_with(0), activation="tanh", factor=1.01, rho=1.0)
    assert "too few" in verdict(stats_with(0), activation="relu", factor=float("nan"), rho=1.5)
    cut = service.fade_verdict(stats_with(1), np.array([0, 0, 0.5, 1.0]), activation="relu", factor=0.5, rho=1.0)
    assert "Beyond distance 2 (k ≤ 2) the gradient is exactly 0: at step 3 every unit" in cut


def test_fade_verdict_on_engine_cases():
    p, xs = model(T=30, rho=0.5)
    norms = jacobian_norms_to_last(p, xs, activation="identity", ord=2)
    stats = step_factor_stats(p, xs, activation="identity")
    text = service.fade_verdict(stats, norms, activation="identity", factor=fit_decay_factor(norms), rho=0.5)
    assert "the weights alone decide" in text
    for H, bias, expected in ((16, 0.0, "taken by dead ReLUs"), (6, -0.5, "the gradient is exactly 0"),
                              (6, -3.0, "too few nonzero points")):
        p, xs = model(H=H, T=30, rho=1.5, bias=bias)
        norms = jacobian_norms_to_last(p, xs, activation="relu", ord=2)
        stats = step_factor_stats(p, xs, activation="relu")
        text = service.fade_verdict(stats, norms, activation="relu", factor=fit_decay_factor(norms), rho=1.5)
        assert stats.saturated_fraction.mean() > 0.3 and expected in text, (bias, text)


# ---- export and labels --------------------------------------------------------------------

def test_curves_frame_holds_every_curve_per_step():
    norms, bound, dl = np.array([0.1, 0.5, 1.0]), np.array([0.25, 0.5, 1.0]), np.array([3.0, 2.0, 1.0])
    frame = service.curves_frame(norms, bound, dl, [("ρ = 0.5", np.array([0.01, 0.1, 1.0]))])
    assert list(frame.columns) == ["step", "distance_T_minus_k", "norm_dhT_dhk", "bound", "norm_dL_dh_t",
                                   "sweep ρ = 0.5"]
    assert list(frame["distance_T_minus_k"]) == [2, 1, 0]
    np.testing.assert_array_equal(frame["norm_dhT_dhk"], norms)
    assert "inf" in service.curves_frame(np.array([np.inf, 1.0]), np.ones(2), np.ones(2)).to_csv()


def test_bound_for_the_frobenius_norm_is_scaled_by_sqrt_H():
    b = np.array([4.0, 2.0, 1.0])
    np.testing.assert_array_equal(service.bound_for_norm(b, "2", H=9), b)
    np.testing.assert_array_equal(service.bound_for_norm(b, "fro", H=9), 3 * b)


def test_labels_follow_the_notation():
    assert figures.jacobian_label(NOTATIONS["dlbook"], "T", "k", "2") == \
        "‖∂h<sup>(T)</sup>/∂h<sup>(k)</sup>‖<sub>2</sub>"
    assert figures.jacobian_label(NT, "T", "k", "fro") == "‖∂h<sub>T</sub>/∂h<sub>k</sub>‖<sub>F</sub>"
    p, _ = model(H=3)
    fig = figures.spectrum_figure(np.linalg.eigvals(p.W_hh), singular_values(p.W_hh), gamma=1.0, rho=0.9,
                             nt=NOTATIONS["dlbook"])
    assert "eigenvalues of W" in fig.layout.annotations[0].text


def test_presentation_mode_enlarges_fonts():
    norms = np.array([0.5, 1.0])
    small = figures.curve_figure(norms, norms, nt=NT)
    big = figures.curve_figure(norms, norms, nt=NT, presentation=True)
    assert big.layout.font.size > small.layout.font.size and big.layout.height > small.layout.height


def test_fade_figure_keeps_zero_factors_and_marks_unknown_steps():
    stats = StepFactorStats(W_hh_norm=2.0, fprime_max=np.array([1.0, 0.0, np.nan]),
                            fprime_mean=np.array([0.5, 0.0, np.nan]), saturated_fraction=np.array([0.5, 1.0, np.nan]),
                            factor_norm=np.array([1.5, 0.0, np.nan]), gamma=1.0, overflow_step=3)
    fig = figures.fade_figure(stats, activation="relu", rho=1.0, nt=NT, first_step=8)
    step = one(fig, "step")
    assert list(step.x) == [8, 9, 10] and step.y[1] == 0.0 and np.isnan(step.y[2])   # 0 is drawn: all dead
    top = [t for t in traces(fig, "edge") if t.marker.symbol == figures.OVERFLOW_SYMBOL]
    assert top and all(list(t.x) == [10] for t in top)
    assert fig.layout.yaxis.range[1] >= 2.0


def test_log_axes_label_powers_of_ten_only():
    lo, hi = figures.log_range(np.array([0.3, 1.0]))
    assert hi - lo >= figures.MIN_DECADES and lo < np.log10(0.3) and hi > 0
    assert figures.log_axis(lo, hi)["dtick"] == 1
    assert figures.log_axis(-300.0, 10.0)["dtick"] == 39          # ~8 labels over 310 decades
    lo, hi = figures.log_range(np.array([1e-320, 1.7e308]))       # the float64 range: edge markers stay finite
    assert np.isfinite(10.0 ** hi) and 10.0 ** lo > 0
    fig = figures.curve_figure(np.array([np.inf, 1.7e308, 1.0]), np.ones(3), nt=NT)
    assert np.isfinite([t.y[0] for t in traces(fig, "edge")]).all()
    fig = figures.curve_figure(np.array([0.5, 1.0]), np.array([0.9, 1.0]), nt=NT)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.dtick == 1


# ---- issue 16: nothing over the curve, nothing under the toolbar, the right matrix in every notation ----

def test_factor_label_sits_above_the_plot_not_over_the_curve():
    norms = 0.5 ** np.arange(9, -1, -1.0)
    for presentation in (False, True):
        fig = figures.curve_figure(norms, np.ones(10), nt=NT, factor_label="vanishing: x0.50 per step",
                              horizon=6, horizon_text="6 steps", presentation=presentation)
        [label] = [a for a in fig.layout.annotations if a.name == "factor"]
        assert (label.yref, label.y, label.yanchor) == ("paper", 1.0, "bottom")     # in the top margin
        assert one(fig, "horizon").name == "memory horizon: 6 steps"
        assert fig.layout.margin.t >= figures.MODEBAR_PX + (22 if presentation else 15)  # the toolbar's strip and a line


def test_titles_start_below_the_toolbar_strip():
    curves = [("ρ = 0.5", 0.5 ** np.arange(9, -1, -1.0))]
    for presentation in (False, True):
        fig = figures.sweep_figure(curves, nt=NT, title="f = tanh, ρ varied", presentation=presentation)
        title = fig.layout.title
        assert (title.yref, title.y, title.yanchor, title.pad.t) == ("container", 1.0, "top", figures.MODEBAR_PX)
        assert fig.layout.margin.t >= figures.MODEBAR_PX + (22 if presentation else 15)
    spectrum = figures.spectrum_figure(np.array([0.5 + 0j]), np.array([0.5]), gamma=1.0, rho=0.5, nt=NT)
    assert spectrum.layout.margin.t >= figures.MODEBAR_PX + 15                      # its two sub-titles


def test_step_factor_is_written_with_the_transpose_in_row_vector_notation():
    p, xs = model(T=10)
    stats = step_factor_stats(p, xs, activation="tanh")
    row = figures.fade_figure(stats, activation="tanh", rho=0.9, nt=NOTATIONS["row"])
    [step] = traces(row, "step")
    assert "W<sub>h</sub><sup>ᵀ</sup>" in step.name                 # diag(f'(a_t)) W_h^T
    column = figures.fade_figure(stats, activation="tanh", rho=0.9, nt=NT)
    assert "ᵀ" not in one(column, "step").name
    dlbook = figures.fade_figure(stats, activation="tanh", rho=0.9, nt=NOTATIONS["dlbook"])
    assert "a<sup>(t)</sup>" in one(dlbook, "step").name
    powers = figures.curve_figure(np.ones(3), np.ones(3), nt=NOTATIONS["row"], matrix_powers=np.ones(3))
    assert "(W<sub>h</sub><sup>ᵀ</sup>)<sup>T−k</sup>" in one(powers, "powers").name


def test_no_label_box_sits_on_the_per_step_factors():
    p, xs = model(T=10)
    fig = figures.fade_figure(step_factor_stats(p, xs, activation="tanh"), activation="tanh", rho=0.9, nt=NT)
    assert not fig.layout.annotations                        # the level 1 is named in the legend instead
    assert list(one(fig, "one").y) == [1.0, 1.0] and "neither grows nor shrinks" in one(fig, "one").name


# ---- gated cells ----------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_curve_draws_the_memory_path_instead_of_the_bound(cell):
    p = rc.init_params(3, 5, 2, seed=1, cell=cell)
    xs = np.random.default_rng(2).standard_normal((16, 3))
    path = rc.gate_path_to_last(p, xs, ord=2)
    fig = figures.curve_figure(path.jacobian_norm, None, nt=NT, gate=path.product_norm,
                               gate_label=service.gate_label(cell), state="s", first_step=1)
    np.testing.assert_array_equal(one(fig, "curve").y, path.jacobian_norm)
    gate = one(fig, "gate")
    np.testing.assert_array_equal(gate.y, path.product_norm)
    assert gate.line.dash == "dash" and service.GATE_WORDS[cell].path in gate.name
    assert not traces(fig, "bound")
    assert "∂s<sub>T</sub>/∂s<sub>k</sub>" in fig.layout.yaxis.title.text
    lo, hi = fig.layout.yaxis.range                        # the axis reaches the path's smallest value
    assert lo <= np.log10(path.product_norm.min())


def test_gated_curve_marks_an_underflowed_path_as_zero():
    fig = figures.curve_figure(np.array([1e-3, 1e-1, 1.0]), None, nt=NT, gate=np.array([0.0, 0.5, 1.0]),
                               gate_label="memory path", state="s")
    [zero] = [t for t in traces(fig, "edge") if t.name == "memory path: exactly 0"]
    assert list(zero.x) == [1]


def test_blocks_spectrum_figure_draws_each_block():
    p = rc.init_params(3, 6, 2, seed=0, cell="lstm", init="normal")
    blocks = [(n, np.linalg.eigvals(getattr(p, n)), singular_values(getattr(p, n))) for n in ("W_hi", "W_hf")]
    fig = figures.blocks_spectrum_figure(blocks)
    eig = traces(fig, "eigenvalues")
    assert [t.name for t in eig] == ["W<sub>hi</sub>", "W<sub>hf</sub>"]
    np.testing.assert_array_equal(eig[1].x, blocks[1][1].real)
    np.testing.assert_array_equal(traces(fig, "singular")[0].y, np.sort(blocks[0][2])[::-1])
    assert eig[0].marker.color != eig[1].marker.color


def test_state_letter_in_labels():
    assert figures.jacobian_label(NT, "T", "k", "2") == "‖∂h<sub>T</sub>/∂h<sub>k</sub>‖<sub>2</sub>"
    assert figures.jacobian_label(NT, "T", "k", "fro", "s") == "‖∂s<sub>T</sub>/∂s<sub>k</sub>‖<sub>F</sub>"
    fig = figures.sweep_figure([("LSTM", np.array([0.1, 1.0]))], nt=NT, state="s")
    assert "∂s<sub>T</sub>" in fig.layout.yaxis.title.text


def test_gate_heatmap_takes_its_label_and_steps():
    values = np.full((4, 3), 0.7)
    fig = figures.derivative_heatmap(values, gamma=1.0, nt=NT, label="f<sub>t</sub>", first_step=7)
    heat = fig.data[0]
    assert list(heat.x) == [7, 8, 9, 10] and heat.colorbar.title.text == "f<sub>t</sub>" and heat.zmax == 1.0


def test_curves_frame_of_a_gated_cell_has_its_memory_path_not_a_bound():
    frame = service.curves_frame(np.array([0.1, 1.0]), None, np.ones(2), memory_path=np.array([0.01, 1.0]))
    assert list(frame.columns) == ["step", "distance_T_minus_k", "norm_dhT_dhk", "norm_memory_path", "norm_dL_dh_t"]
