"""The unrolled graph's numbers and figures: every colour, width and frame is rnn_core's.

References are computed here independently of rnn_core.flow: norms with
np.linalg.norm of the engine's arrays, one loss term by re-running rnn_core.bptt with a mask
that keeps only that term, running sums by an explicit loop over steps.
"""
import numpy as np
import pytest

import rnn_core as rc
from ui import export
from ui.derivation import number
from ui.figures import graph as graph_figures
from ui.figures import graph_details
from ui.pages import graph as graph_page
from rnn_core import flow as engine_flow
from ui.figures import graph_sheet
from ui.figures import style
from ui.notation import NOTATIONS

NT = NOTATIONS["wxh"]
TRUNCATIONS = [None, ("k_step", 3), ("chunked", 3), ("randomized", 0.5, 1)]


def problem(*, T=8, H=5, D=3, O=3, activation="tanh", loss="mse", rho=0.9, seed=0, mask=None,
            truncation=None, reduction="sum", init="normal"):
    p = rc.init_params(D, H, O, seed=seed, init=init, spectral_radius=rho)
    rng = np.random.default_rng(seed + 1)
    p = p.replace(b_h=0.1 * rng.standard_normal(H))
    xs = rng.standard_normal((T, D))
    ys = rng.integers(0, O, T) if loss == "softmax_ce" else rng.standard_normal((T, O))
    result = rc.bptt(p, xs, ys, activation=activation, loss=loss, mask=mask, truncation=truncation,
                     reduction=reduction)
    return p, xs, ys, result


def figure(result, p, *, source=None, view=graph_figures.GraphView(), notation=NT):
    flow = engine_flow.full_flow(result, p) if source is None else engine_flow.single_source(result, p, source)
    sums = engine_flow.running_param_grads(flow, result.trace)
    return graph_figures.graph_figure(flow, result.trace, result.step_losses, result.loss, sums, notation, view), flow


def traces(fig, meta):
    return [t for t in fig.data if t.meta == meta]


def one(fig, meta):
    found = traces(fig, meta)
    assert len(found) == 1, f"expected one trace {meta!r}, got {[t.meta for t in fig.data]}"
    return found[0]


def drawn_nodes(fig):
    """{(row, step): (status, marker colour)} over every node trace."""
    nodes = {}
    for t in fig.data:
        if not str(t.meta).startswith("nodes:"):
            continue
        colours = t.marker.color
        for k, (y, step) in enumerate(zip(t.y, t.customdata)):
            colour = colours[k] if isinstance(colours, (tuple, list, np.ndarray)) else colours
            nodes[(y, step)] = (t.meta.split(":")[1], colour)
    return nodes


def norm(v):
    with np.errstate(all="ignore"):
        return float(np.linalg.norm(v))


# ---- rnn_core.flow: the numbers ----------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "identity"])
def test_node_norms_are_the_engines(activation):
    p, _, _, r = problem(activation=activation, mask=np.array([1, 0, 2, 1, 1, 0, 0.5, 1.0]))
    norms = engine_flow.node_norms(engine_flow.full_flow(r, p))
    np.testing.assert_allclose(norms.h, [norm(v) for v in r.dL_dh], rtol=1e-12)
    np.testing.assert_allclose(norms.o, [norm(v) for v in r.dL_do], rtol=1e-12)
    np.testing.assert_allclose(norms.x, [norm(p.W_xh.T @ d) for d in r.dL_da], rtol=1e-12)
    assert norms.h0 == pytest.approx(norm(r.dL_dh0), rel=1e-12)
    np.testing.assert_array_equal(norms.loss, r.weights)
    assert norms.total == 1.0


def test_input_gradient_matches_finite_differences():
    p, xs, ys, r = problem(T=5, activation="tanh")
    flow = engine_flow.full_flow(r, p)
    eps = 1e-6
    for t, j in [(0, 0), (2, 1), (4, 2)]:
        up, down = xs.copy(), xs.copy()
        up[t, j] += eps
        down[t, j] -= eps
        loss = lambda x: rc.bptt(p, x, ys, activation="tanh", loss="mse").loss  # noqa: E731
        assert flow.dL_dx[t, j] == pytest.approx((loss(up) - loss(down)) / (2 * eps), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_single_sources_add_up_to_the_engines_gradient(truncation, activation):
    mask = np.array([1, 0, 2, 1, 1, 0.5, 1, 1.0])
    p, _, _, r = problem(activation=activation, truncation=truncation, mask=mask)
    flows = [engine_flow.single_source(r, p, s) for s in range(1, 9)]
    np.testing.assert_allclose(sum(f.dL_dh for f in flows), r.dL_dh, atol=1e-12)
    np.testing.assert_allclose(sum(f.indirect for f in flows), r.dL_dh_indirect, atol=1e-12)
    np.testing.assert_allclose(sum(f.dL_dh0 for f in flows), r.dL_dh0, atol=1e-12)
    full = engine_flow.full_param_grads(engine_flow.full_flow(r, p), r.trace)
    for name in rc.PARAM_NAMES:
        per_source = sum(engine_flow.full_param_grads(f, r.trace)[name] for f in flows)
        np.testing.assert_allclose(per_source[0], getattr(r.grads, name), atol=1e-12)
        np.testing.assert_allclose(full[name][0], getattr(r.grads, name), atol=1e-12)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_single_source_equals_bptt_with_only_that_term(reduction):
    p, xs, ys, r = problem(T=7, loss="softmax_ce", reduction=reduction)
    for s in (1, 4, 7):
        only = np.zeros(7)
        only[s - 1] = r.weights[s - 1]            # the term's own weight w_s, summed alone
        alone = rc.bptt(p, xs, ys, activation="tanh", loss="softmax_ce", mask=only, reduction="sum")
        flow = engine_flow.single_source(r, p, s)
        np.testing.assert_allclose(flow.dL_dh, alone.dL_dh, atol=1e-13)
        np.testing.assert_allclose(flow.dL_dh0, alone.dL_dh0, atol=1e-13)
        np.testing.assert_allclose(flow.dL_da, alone.dL_da, atol=1e-13)


def test_single_source_parameter_gradients_are_the_rows_of_the_double_sum():
    from rnn_core.contributions import contribution_pieces

    p, xs, ys, r = problem(T=6, loss="softmax_ce", mask=np.array([1, 0, 1, 2, 1, 1.0]))
    for param in ("W_hh", "W_xh", "b_h"):
        pieces = contribution_pieces(p, xs, ys, activation="tanh", loss="softmax_ce",
                                     mask=np.array([1, 0, 1, 2, 1, 1.0]), param=param)
        for s in range(1, 7):
            mine = engine_flow.full_param_grads(engine_flow.single_source(r, p, s), r.trace)[param][0]
            np.testing.assert_allclose(mine, pieces[s - 1].sum(axis=0), atol=1e-13)


def test_single_source_fades_by_the_recurrent_factor():
    # identity activation, orthogonal W_hh scaled to 0.5: each step back halves the norm exactly
    p, _, _, r = problem(T=10, activation="identity", init="orthogonal", rho=0.5)
    flow = engine_flow.single_source(r, p, 9)
    norms = np.array([norm(v) for v in flow.dL_dh])
    np.testing.assert_allclose(norms[:8] / norms[1:9], 0.5, rtol=1e-10)
    assert norms[9] == 0.0                              # after the source: nothing
    assert norm(flow.dL_dh0) == pytest.approx(0.5 * norms[0], rel=1e-10)


def test_single_source_with_k_step_truncation_stops_after_k_states():
    p, _, _, r = problem(T=9, truncation=("k_step", 3))
    flow = engine_flow.single_source(r, p, 7)
    reached = [t for t in range(1, 10) if norm(flow.dL_dh[t - 1]) > 0]
    assert reached == [5, 6, 7]
    assert norm(flow.dL_dh0) == 0.0
    assert norm(engine_flow.single_source(r, p, 2).dL_dh0) > 0   # s <= k reaches h_0


def test_single_source_rejects_bad_steps():
    p, _, _, r = problem(T=4)
    for s in (0, 5, 2.0, True):
        with pytest.raises(ValueError, match="s must be a step"):
            engine_flow.single_source(r, p, s)


def test_running_sums_are_the_sums_over_the_steps_reached():
    p, xs, _, r = problem(T=6, H=4)
    flow = engine_flow.full_flow(r, p)
    sums = engine_flow.running_param_grads(flow, r.trace)
    h_prev = np.vstack([np.zeros(4), r.trace.h[:-1]])
    for j in range(6):
        steps = range(6 - 1 - j, 6)                    # indices of t >= T - j
        np.testing.assert_allclose(sums["W_hh"][j], sum(np.outer(r.dL_da[i], h_prev[i]) for i in steps), atol=1e-13)
        np.testing.assert_allclose(sums["W_xh"][j], sum(np.outer(r.dL_da[i], xs[i]) for i in steps), atol=1e-13)
        np.testing.assert_allclose(sums["W_hy"][j], sum(np.outer(r.dL_do[i], r.trace.h[i]) for i in steps), atol=1e-13)
        np.testing.assert_allclose(sums["b_h"][j], sum(r.dL_da[i] for i in steps), atol=1e-13)
        np.testing.assert_allclose(sums["b_y"][j], sum(r.dL_do[i] for i in steps), atol=1e-13)
    for name in rc.PARAM_NAMES:
        np.testing.assert_allclose(sums[name][-1], getattr(r.grads, name), atol=1e-12)


def test_norms_of_huge_and_non_finite_values():
    flow_like = np.array([[1e200, 1e200], [np.inf, 1.0], [np.nan, np.inf], [0.0, 0.0]])
    norms = engine_flow.row_norms(flow_like)
    assert norms[0] == pytest.approx(np.sqrt(2) * 1e200)
    assert norms[1] == np.inf and np.isnan(norms[2]) and norms[3] == 0.0


# ---- the graph figure ------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "identity"])
@pytest.mark.parametrize("loss", ["mse", "softmax_ce", "sigmoid_bce"])
def test_node_colours_are_log_norms_of_the_engines_gradients(activation, loss):
    if loss == "sigmoid_bce":
        p, xs, _, _ = problem(activation=activation)
        ys = (np.random.default_rng(3).random((8, 3)) > 0.5).astype(float)
        r = rc.bptt(p, xs, ys, activation=activation, loss=loss)
    else:
        p, _, _, r = problem(activation=activation, loss=loss)
    fig, _ = figure(r, p)
    nodes = drawn_nodes(fig)
    expected = {(0, t): norm(p.W_xh.T @ r.dL_da[t - 1]) for t in range(1, 9)}
    expected |= {(1, t): norm(r.dL_dh[t - 1]) for t in range(1, 9)}
    expected |= {(2, t): norm(r.dL_do[t - 1]) for t in range(1, 9)}
    expected |= {(3, t): r.weights[t - 1] for t in range(1, 9)}
    expected |= {(1, 0): norm(r.dL_dh0), (4, 9): 1.0}
    assert set(nodes) == set(expected)
    for key, value in expected.items():
        status, colour = nodes[key]
        if value == 0:
            assert (status, colour) == ("zero gradient", graph_figures.ZERO_COLOUR), key
        else:
            assert status == "gradient", key
            assert colour == pytest.approx(np.log10(value), abs=1e-12), key


def test_frames_are_one_per_step_and_light_exactly_the_steps_reached():
    p, _, _, r = problem(T=8)
    fig, _ = figure(r, p)
    assert [f.name for f in fig.frames] == [str(8 - j) for j in range(8)]
    veil = traces(fig, "veil")[0]
    veil_index = list(fig.data).index(veil)
    h0_x = graph_figures.Window.of(8, 1, 16).x_h0
    for j, frame in enumerate(fig.frames):
        k = list(frame.traces).index(veil_index)
        x_end = max(frame.data[k].x)
        reached = {t for t in range(1, 9) if t > x_end}
        assert reached == set(range(8 - j, 9)), j
        assert (h0_x > x_end) == (j == 7), j            # h_0 only in the last frame
    # the static figure is the last frame: nothing veiled
    assert max(veil.x) < h0_x


def test_frames_of_a_window_sweep_the_window_then_reach_h0():
    """Issue 16: no frame is spent on steps out of view (they changed nothing in view, so Play
    looked frozen for most of the pass): the first frame already lights the window's last step."""
    p, _, _, r = problem(T=40, H=3)
    view = graph_figures.GraphView(start=11, width=10)
    fig, _ = figure(r, p, view=view)
    assert [f.name for f in fig.frames] == [*map(str, range(20, 10, -1)), "1"]
    window = graph_figures.Window.of(40, 11, 10)
    drawn = {step for (_, step) in drawn_nodes(fig)}
    assert drawn == {0, 41, *range(11, 21)}
    veil_index = list(fig.data).index(one(fig, "veil"))
    for j, frame in enumerate(fig.frames):
        x_end = max(frame.data[list(frame.traces).index(veil_index)].x)
        front = int(frame.name)
        lit = {t for t in window.steps if t > x_end}
        assert lit == {t for t in window.steps if t >= front}, j
        assert (window.x_h0 > x_end) == (front == 1), j
    assert fig.layout.sliders[0].active == len(fig.frames) - 1         # the static view: all reached


def test_following_one_term_starts_the_pass_at_it():
    p, _, _, r = problem(T=40, H=3)
    fig, _ = figure(r, p, source=25, view=graph_figures.GraphView(start=11, width=20))
    assert [f.name for f in fig.frames] == [*map(str, range(25, 10, -1)), "1"]
    fig, _ = figure(r, p, source=5, view=graph_figures.GraphView(start=11, width=20))
    assert [f.name for f in fig.frames] == ["1"]                       # nothing in view is reached


@pytest.mark.parametrize("T, start, width, source, expected", [
    (30, 1, 16, 30, 15),     # the term outside: the window comes to end at it
    (30, 1, 16, 10, 1),      # inside: the window stays
    (30, 20, 16, 3, 1),      # left of the window: it starts at 1
    (500, 1, 30, 250, 221),
    (10, 1, 16, 10, 1),      # everything in view
    (30, 5, 16, 0, 5),       # the whole loss: no move
])
def test_window_moves_only_to_show_the_followed_term(T, start, width, source, expected):
    assert graph_figures.window_start_showing(T, width, start, source) == expected


def test_follow_term_view_is_a_valid_view_for_a_preset():
    from ui.config import DEFAULT, parse, to_query
    view = graph_figures.follow_term_view(30)
    assert view == {"g_source": 30, "g_start": 15, "g_window": 16}
    config, messages = parse(to_query(DEFAULT.replace(T=30, **view)))
    assert not messages and (config.g_source, config.g_start) == (30, 15)
    assert graph_figures.follow_term_view(8)["g_start"] == 1 and graph_figures.follow_term_view(500, 100, 30)["g_start"] == 71


def test_sheet_frames_hold_the_running_sums_at_their_places():
    p, _, _, r = problem(T=6, H=4, D=2, O=3)
    flow = engine_flow.full_flow(r, p)
    sums = engine_flow.running_param_grads(flow, r.trace)
    fig, _ = figure(r, p)
    sheet_index = list(fig.data).index(one(fig, "sheet"))
    offsets = graph_sheet.Sheet(2, 4, 3).offsets()
    for frame in fig.frames:
        j = 6 - int(frame.name)                 # the pass has reached step 6 - j
        z = np.asarray(frame.data[list(frame.traces).index(sheet_index)].z, dtype=float)
        for name, (row, col) in offsets.items():
            block = sums[name][j] if sums[name][j].ndim == 2 else sums[name][j][:, None]
            np.testing.assert_allclose(z[row:row + block.shape[0], col:col + block.shape[1]], block, rtol=1e-6)
    final = np.asarray(one(fig, "sheet").z, dtype=float)
    row, col = offsets["W_hh"]
    np.testing.assert_allclose(final[row:row + 4, col:col + 4], r.grads.W_hh, rtol=1e-6)


def test_large_sheets_stay_static_and_say_so():
    assert graph_sheet.sheet_is_linked(100, 3, 32, 3)
    assert not graph_sheet.sheet_is_linked(500, 3, 64, 3)
    p, _, _, r = problem(T=6, H=4)
    flow = engine_flow.full_flow(r, p)
    fig = graph_figures.graph_figure(flow, r.trace, r.step_losses, r.loss, engine_flow.full_param_grads(flow, r.trace), NT)
    assert all(len(f.data) == 1 for f in fig.frames)        # the veil only
    assert any("full sums" in a.text for a in fig.layout.annotations)


def _edge_segments(fig):
    """{((x0, y0), (x1, y1)): (width, colour, dash)} of every drawn edge."""
    out = {}
    for t in traces(fig, "edges"):
        xs, ys = list(t.x), list(t.y)
        for k in range(0, len(xs), 3):
            out[((xs[k], ys[k]), (xs[k + 1], ys[k + 1]))] = (t.line.width, t.line.color, t.line.dash)
    return out


def test_edges_carry_the_direct_and_indirect_parts_and_widths_follow_them():
    p, _, _, r = problem(T=10, H=4, rho=1.3, activation="tanh")
    fig, _ = figure(r, p)
    hover = one(fig, "edge-hover")
    carried = {(kind, step): value for kind, step, value in hover.customdata}
    for t in range(1, 11):
        assert carried[("direct", t)] == pytest.approx(norm(r.dL_dh_direct[t - 1]), rel=1e-12)
        assert carried[("output", t)] == pytest.approx(norm(r.dL_do[t - 1]), rel=1e-12)
    for t in range(1, 10):                      # the edge h_{t+1} -> h_t: indirect part of dL/dh_t
        assert carried[("recurrent", t)] == pytest.approx(norm(r.dL_dh_indirect[t - 1]), rel=1e-12)
    assert carried[("recurrent", 0)] == pytest.approx(norm(r.dL_dh0), rel=1e-12)
    segments = _edge_segments(fig)
    recurrent = sorted((carried[("recurrent", t - 1)], segments[((t - 1, 1), (t, 1))][0]) for t in range(2, 11))
    direct = sorted((carried[("direct", t)], segments[((t, 1), (t, 2))][0]) for t in range(1, 11))
    for pairs in (recurrent, direct, sorted(recurrent + direct)):
        widths = [w for _, w in pairs]
        assert widths == sorted(widths)           # more gradient, never a thinner edge
    assert recurrent[0][1] < recurrent[-1][1]     # and the spread is visible


def test_split_colours_direct_and_indirect_edges():
    p, _, _, r = problem(T=5)
    fig, _ = figure(r, p, view=graph_figures.GraphView(split=True))
    segments = _edge_segments(fig)
    assert segments[((2, 1), (3, 1))][1] == style.INDIRECT_COLOUR
    assert segments[((3, 1), (3, 2))][1] == style.DIRECT_COLOUR
    assert segments[((3, 0), (3, 1))][1] == graph_figures.NEUTRAL_EDGE
    assert {t.name for t in traces(fig, "legend")} == {"direct part", "indirect part"}
    plain = _edge_segments(figure(r, p)[0])
    assert plain[((2, 1), (3, 1))][1] == graph_figures.NEUTRAL_EDGE


def test_many_to_one_draws_only_the_last_loss_and_its_paths():
    mask = np.zeros(8)
    mask[-1] = 1.0
    p, _, _, r = problem(mask=mask)
    fig, _ = figure(r, p)
    nodes = drawn_nodes(fig)
    assert [step for (row, step) in nodes if row == 3] == [8]
    assert [step for (row, step) in nodes if row == 2] == [8]
    kinds = [(kind, step) for kind, step, _ in one(fig, "edge-hover").customdata]
    assert [s for k, s in kinds if k in ("direct", "output", "loss")] == [8, 8, 8]
    assert one(fig, "bus").x[0] == 8


def test_overflow_is_drawn_in_its_colour_and_named():
    p, _, _, r = problem(T=500, H=6, activation="relu", rho=5.0, loss="mse")
    assert r.overflow
    fig, flow = figure(r, p, view=graph_figures.GraphView(start=1, width=16))
    statuses = {status for status, _ in drawn_nodes(fig).values()}
    assert "overflow (inf/nan)" in statuses
    assert one(fig, "nodes:overflow (inf/nan)").marker.color == style.OVERFLOW_COLOUR
    notes = graph_page.overflow_notes(r, flow)
    step = r.grad_overflow_step or r.overflow_step
    assert any(f"t = {step}" in n for n in notes)
    if r.grad_overflow_step == 500:              # nothing finite below: the empty panels say why
        assert sum("inf/nan everywhere" in a.text for a in fig.layout.annotations) == 2


def test_zero_gradient_nodes_are_grey_for_dead_relus():
    p, xs, ys, _ = problem(T=6, activation="relu")
    p = p.replace(b_h=np.full(5, -100.0))             # every unit dead: no gradient reaches h_t's input
    r = rc.bptt(p, xs, ys, activation="relu", loss="mse")
    nodes = drawn_nodes(figure(r, p)[0])
    assert all(nodes[(0, t)] == ("zero gradient", graph_figures.ZERO_COLOUR) for t in range(1, 7))
    assert nodes[(1, 0)] == ("zero gradient", graph_figures.ZERO_COLOUR)


def test_single_source_figure_greys_the_other_terms():
    p, _, _, r = problem(T=6)
    fig, flow = figure(r, p, source=4)
    nodes = drawn_nodes(fig)
    assert nodes[(3, 4)][0] == "gradient"
    assert all(nodes[(3, t)][0] == "zero gradient" for t in (1, 2, 3, 5, 6))
    assert all(nodes[(1, t)][0] == "zero gradient" for t in (5, 6))
    assert nodes[(1, 2)][1] == pytest.approx(np.log10(norm(flow.dL_dh[1])))
    assert "L<sub>4</sub>" in fig.layout.title.text


def test_labels_use_the_chosen_notation():
    p, _, _, r = problem(T=4)
    fig, _ = figure(r, p, notation=NOTATIONS["dlbook"])
    labels = set(one(fig, "labels").text)
    assert {"U", "W", "V"} <= labels
    assert "h<sup>(2)</sup>" in drawn_nodes_labels(fig)


def drawn_nodes_labels(fig):
    return {label for t in fig.data if str(t.meta).startswith("nodes:") for label in t.text}


def test_window_links_hidden_steps_to_h0_and_L():
    p, _, _, r = problem(T=30, H=3)
    fig, _ = figure(r, p, view=graph_figures.GraphView(start=10, width=8))
    window = graph_figures.Window.of(30, 10, 8)
    assert (window.start, window.end) == (10, 17)
    hidden = [s for s, (w, c, dash) in _edge_segments(fig).items() if dash == "dot" and c != graph_figures.ZERO_COLOUR]
    assert ((window.x_h0, 1), ((window.x_h0 + 10) / 2, 1)) in hidden
    assert ((17, 1), (17.6, 1)) in hidden
    assert list(fig.layout.xaxis.ticktext) == ["0", *map(str, range(10, 18))]


# ---- details of a step ----------------------------------------------------------------------

def test_step_equation_writes_the_engines_numbers():
    p, _, _, r = problem(T=5, H=graph_page.SHOWN_ENTRIES)
    flow = engine_flow.full_flow(r, p)
    latex = graph_page.step_equation(flow, 2, NT)
    assert r"\tag{7}" in latex and r"\frac{\partial L}{\partial h_{2}}" in latex
    for values in (r.dL_dh_direct[1], r.dL_dh_indirect[1], r.dL_dh[1]):
        assert " & ".join(number(v) for v in values) in latex
    last = graph_page.step_equation(flow, 5, NT)
    assert "+ 0" in last and " & ".join(number(v) for v in r.dL_dh[4]) in last


def test_step_equation_shows_first_entries_and_norm_for_large_H():
    p, _, _, r = problem(T=3, H=4)
    latex = graph_page.step_equation(engine_flow.full_flow(r, p), 1, NT)
    assert r"\cdots" in latex and number(norm(r.dL_dh[0])) in latex
    assert " & ".join(number(v) for v in r.dL_dh[0][:graph_page.SHOWN_ENTRIES]) + r" & \cdots" in latex


def test_step_equation_of_one_source_and_row_notation():
    p, _, _, r = problem(T=5)
    latex = graph_page.step_equation(engine_flow.single_source(r, p, 4), 2, NOTATIONS["row"])
    assert r"\partial (w_{4} L_{4})" in latex and r"^{\top}}_{\text{direct}}" not in latex
    with pytest.raises(ValueError, match="t must be a step"):
        graph_page.step_equation(engine_flow.full_flow(r, p), 6, NT)


def test_step_equations_render_with_streamlits_katex():
    from tests import katex_check

    p, _, _, r = problem(T=4, H=8)
    full, one_term = engine_flow.full_flow(r, p), engine_flow.single_source(r, p, 3)
    formulas = [graph_page.step_equation(flow, t, nt) for nt in NOTATIONS.values() for flow in (full, one_term)
                for t in (1, 4)]
    assert all(katex_check.unbalanced(f) is None for f in formulas)
    if not katex_check.available():
        pytest.skip("node or Streamlit's KaTeX bundle is missing")
    assert katex_check.katex_errors(formulas) == []


@pytest.mark.parametrize("loss", ["mse", "softmax_ce"])
def test_step_strips_hold_the_forward_values_and_the_split(loss):
    p, _, ys, r = problem(T=5, H=4, loss=loss)
    flow = engine_flow.full_flow(r, p)
    out = rc.get_loss(loss)
    target = np.eye(3)[ys[2]] if out.integer_targets else ys[2]
    fig = graph_details.step_details_figure(flow, r.trace, 3, NT, prediction=out.predict(r.trace.o[2]), target=target)
    forward, output, gradient = (np.asarray(t.z, dtype=float) for t in fig.data)
    np.testing.assert_array_equal(forward, [r.trace.a[2], r.trace.h[2]])
    np.testing.assert_array_equal(output[0], r.trace.o[2])
    np.testing.assert_allclose(output[1], rc.get_loss(loss).predict(r.trace.o[2]))
    np.testing.assert_array_equal(gradient, [r.dL_dh[2], r.dL_dh_direct[2], r.dL_dh_indirect[2]])
    if loss == "softmax_ce":
        np.testing.assert_array_equal(output[2], np.eye(3)[ys[2]])


# ---- export ----------------------------------------------------------------------------------

def test_at_frame_applies_the_frame_and_drops_the_buttons():
    p, _, _, r = problem(T=5)
    fig, _ = figure(r, p)
    still = export.at_frame(fig, "3")
    veil = list(fig.data).index(one(fig, "veil"))
    assert list(still.data[veil].x) == list(fig.frames[2].data[0].x)
    np.testing.assert_array_equal(np.asarray(still.data[veil + 1].z), np.asarray(fig.frames[2].data[1].z))
    assert still.layout.sliders[0].active == 2 and not still.layout.updatemenus and not still.frames
    with pytest.raises(ValueError, match="name must be one of"):
        export.at_frame(fig, "9")


def test_gif_keeps_at_most_the_frame_budget_and_the_last_frame():
    p, _, _, r = problem(T=130, H=2)
    names = export.gif_frame_names(figure(r, p, view=graph_figures.GraphView(start=101, width=30))[0])
    assert len(names) <= export.MAX_GIF_FRAMES + 1 and names[0] == "130" and names[-1] == "1"


@pytest.mark.skipif(export.kaleido_problem() is not None, reason="kaleido or a browser is missing")
def test_png_and_gif_render_with_kaleido():
    from PIL import Image
    import io

    p, _, _, r = problem(T=3, H=3)
    fig, _ = figure(r, p)
    png = export.frame_png(fig, "2", width=600, height=440)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    gif = Image.open(io.BytesIO(export.animation_gif(fig, 200, width=600, height=440)))
    assert gif.format == "GIF" and gif.n_frames == 3


def test_step_details_from_the_cached_layout_equal_a_fresh_drawing():
    """The strips' layout is made once per shape (issue 17): another model's strips drawn in
    between leave nothing in the next figure, and each strip keeps its own colour scale."""
    import plotly.io as pio

    def strips(rho):
        p, _, ys, r = problem(rho=rho)
        flow = engine_flow.full_flow(r, p)
        return graph_details.step_details_figure(flow, r.trace, 3, NT, prediction=r.trace.o[2], target=ys[2])

    graph_details._layout.cache_clear()
    fresh = pio.to_json(strips(0.9))
    other = strips(3.0)
    again = strips(0.9)
    assert pio.to_json(again) == fresh
    assert [t.zmax for t in again.data] != [t.zmax for t in other.data]
    assert [(t.xaxis, t.yaxis) for t in again.data] == [("x", "y"), ("x2", "y2"), ("x3", "y3")]
