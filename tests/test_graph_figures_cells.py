"""The unrolled graph of the gated cells (LSTM, GRU) as pure figures: every colour, width, label
and number drawn is rnn_core's. References are the engine's arrays (np.linalg.norm of
result.dL_dh, dL_dc, ...), the gates of the forward trace, and rnn_core.bptt itself."""
import numpy as np
import pytest

import rnn_core as rc
from rnn_core import flow as engine_flow
from ui.config import max_trunc_k, parse
from ui.figures import graph as graph_figures
from ui.figures import graph_details, graph_sheet
from ui.notation import NOTATIONS
from ui.pages import graph as graph_page

NT = NOTATIONS["wxh"]
CELLS = ["lstm", "gru"]


def problem(cell, *, T=8, H=5, D=3, O=3, loss="mse", truncation=None, seed=0):
    p = rc.init_params(D, H, O, seed=seed, cell=cell)
    rng = np.random.default_rng(seed + 1)
    xs = rng.standard_normal((T, D))
    ys = rng.integers(0, O, T) if loss == "softmax_ce" else rng.standard_normal((T, O))
    return p, rc.bptt(p, xs, ys, loss=loss, truncation=truncation)


def figure(result, p, *, source=None, view=graph_figures.GraphView()):
    flow = engine_flow.full_flow(result, p) if source is None else engine_flow.single_source(result, p, source)
    sums = engine_flow.running_param_grads(flow, result.trace)
    return graph_figures.graph_figure(flow, result.trace, result.step_losses, result.loss, sums, NT, view), flow


def drawn_nodes(fig):
    """{(row, step): log10 norm or status} over every node trace."""
    nodes = {}
    for t in fig.data:
        if not str(t.meta).startswith("nodes:"):
            continue
        for k, (y, step) in enumerate(zip(t.y, t.customdata)):
            nodes[(y, step)] = float(t.marker.color[k]) if t.meta == "nodes:gradient" else t.meta[6:]
    return nodes


def gate_numbers(fig) -> list[tuple[str, float]]:
    """(text, x) of the gate means written under the recurrent edges."""
    return [pair for t in fig.data if t.meta == "gates" for pair in zip(t.text, t.x)]


@pytest.mark.parametrize("cell", CELLS)
def test_nodes_are_coloured_by_the_engines_total_gradients(cell):
    p, r = problem(cell)
    fig, _ = figure(r, p)
    rows = graph_figures.rows_of(engine_flow.full_flow(r, p))
    assert rows == (graph_figures.MEMORY_ROWS if cell == "lstm" else graph_figures.ROWS)
    nodes = drawn_nodes(fig)
    for t in range(1, 9):
        assert nodes[(rows["h"], t)] == pytest.approx(np.log10(np.linalg.norm(r.dL_dh[t - 1])), abs=1e-12)
        if cell == "lstm":
            assert nodes[(rows["c"], t)] == pytest.approx(np.log10(np.linalg.norm(r.dL_dc[t - 1])), abs=1e-12)
    assert nodes[(rows["h"], 0)] == pytest.approx(np.log10(np.linalg.norm(r.dL_dh0)), abs=1e-12)
    if cell == "lstm":
        assert nodes[(rows["c"], 0)] == pytest.approx(np.log10(np.linalg.norm(r.dL_dc0)), abs=1e-12)
    assert fig.layout.yaxis.ticktext == tuple(graph_figures.ROW_NAMES[k] for k in rows)
    assert ("memory" in fig.layout.yaxis.ticktext) == (cell == "lstm")
    assert graph_figures.CELL_TITLES[cell] in fig.layout.title.text


def test_lstm_memory_path_edges_carry_f_times_dL_dc_and_show_the_forget_gate():
    p, r = problem("lstm")
    fig, _ = figure(r, p)
    hover = next(t for t in fig.data if t.meta == "edge-hover")
    memory = {step: value for kind, step, value in hover.customdata if kind == "memory"}
    f = r.trace.gates["f"]
    for t in range(2, 9):        # the edge c_t -> c_{t-1} carries f_t * dL/dc_t into c_{t-1}
        assert memory[t - 1] == pytest.approx(np.linalg.norm(f[t - 1] * r.dL_dc[t - 1]), rel=1e-12)
    assert memory[0] == pytest.approx(np.linalg.norm(r.dL_dc0), rel=1e-12)
    cells = {step: value for kind, step, value in hover.customdata if kind == "cell"}
    assert cells[3] == pytest.approx(np.linalg.norm(r.dL_dc_direct[2]), rel=1e-12)
    drawn = set(gate_numbers(fig))
    for t in range(1, 9):       # the mean forget gate under each memory edge, at its middle
        assert (f"{f[t - 1].mean():.2f}", t - 0.5) in drawn
    memory_lines = [t for t in fig.data if t.meta == "edges" and t.line.color == graph_figures.MEMORY_COLOUR]
    assert memory_lines, "the memory path has its own colour"
    assert any("memory path" in (t.name or "") for t in fig.data if t.meta == "legend")


def test_gru_recurrent_edges_name_the_update_gate_and_its_part():
    p, r = problem("gru")
    fig, flow = figure(r, p)
    hover = next(t for t in fig.data if t.meta == "edge-hover")
    passed = engine_flow.update_gate_part(flow, r.trace)
    for text, (kind, step, _) in zip(hover.hovertext, hover.customdata):
        if kind == "recurrent" and step >= 1:
            assert "z<sub>" in text and f"{passed[step]:.3g}" in text
    z = r.trace.gates["z"]
    assert [text for text, _ in gate_numbers(fig)] == [f"{z[t - 1].mean():.2f}" for t in range(1, 9)]


@pytest.mark.parametrize("cell", CELLS)
def test_gate_numbers_are_left_out_when_too_many_steps_are_in_view(cell):
    p, r = problem(cell, T=40)
    fig, _ = figure(r, p, view=graph_figures.GraphView(width=30))
    assert not gate_numbers(fig)
    fig, _ = figure(r, p, view=graph_figures.GraphView(width=10, start=31))
    assert [x for _, x in gate_numbers(fig)] == [t - 0.5 for t in range(32, 41)]


@pytest.mark.parametrize("cell", CELLS)
def test_one_term_alone_is_drawn_and_nothing_after_it(cell):
    p, r = problem(cell)
    fig, flow = figure(r, p, source=5)
    rows = graph_figures.rows_of(flow)
    nodes = drawn_nodes(fig)
    assert nodes[(rows["h"], 6)] == "zero gradient"
    assert nodes[(rows["h"], 5)] == pytest.approx(np.log10(np.linalg.norm(flow.dL_dh[4])), abs=1e-12)
    assert [f.name for f in fig.frames][0] == "5"


@pytest.mark.parametrize("cell", CELLS)
def test_split_colours_the_memory_path_as_an_indirect_part(cell):
    p, r = problem(cell)
    fig, _ = figure(r, p, view=graph_figures.GraphView(split=True))
    names = {t.name for t in fig.data if t.meta == "legend"}
    assert {"direct part", "indirect part"} <= names
    colours = {t.line.color for t in fig.data if t.meta == "edges"}
    assert graph_figures.MEMORY_COLOUR not in colours


@pytest.mark.parametrize("cell", CELLS)
def test_the_sheet_holds_every_gate_blocks_running_sums(cell):
    p, r = problem(cell, loss="softmax_ce")
    flow = engine_flow.full_flow(r, p)
    letters = rc.get_cell(cell).gate_letters
    sheet = graph_sheet.Sheet(3, 5, 3, letters)
    filled = sheet.fill(engine_flow.running_param_grads(flow, r.trace))
    sizes = sheet.sizes()
    for name, (row, col) in sheet.offsets().items():
        rows, cols = sizes[name]
        engine = getattr(r.grads, name).reshape(rows, cols)
        np.testing.assert_allclose(filled[-1, row:row + rows, col:col + cols], engine, rtol=1e-6, atol=1e-7)
    assert sheet.shape == (len(letters) * 6 + 3, 3 + 1 + 5 + 1 + 1)


def test_a_large_gated_sheet_is_pooled_to_the_largest_entry_of_each_tile():
    assert graph_sheet.Sheet.fitted(64, 256, 64).pool == 1                       # the vanilla cell's largest
    big = graph_sheet.Sheet.fitted(64, 256, 64, ("i", "f", "o", "c"))
    assert big.pool == 2 and np.prod(big.shape) <= graph_sheet.SHEET_MAX_CELLS
    sheet = graph_sheet.Sheet(2, 3, 1, ("r", "z", "h"), pool=2)
    grads = {name: np.zeros((1, *shape)) for name, shape in
             zip(rc.get_cell("gru").param_names, [(3, 2), (3, 3), (3,)] * 3 + [(1, 3), (1,)])}
    grads["W_hz"][0] = [[0.1, -0.5, 0.2], [0.3, 0.0, 0.0], [0.0, 0.0, -0.05]]
    filled = sheet.fill(grads)
    row, col = sheet.offsets()["W_hz"]
    np.testing.assert_allclose(filled[0, row:row + 2, col:col + 2], [[-0.5, 0.2], [0.0, -0.05]])
    assert sheet.labels(NT)[row][col].endswith("(largest)")


@pytest.mark.parametrize("cell", CELLS)
def test_step_details_show_the_gates_and_the_memory_gradient(cell):
    p, r = problem(cell)
    flow = engine_flow.full_flow(r, p)
    fig = graph_details.step_details_figure(flow, r.trace, 3, NT, prediction=np.zeros(3), target=np.zeros(3))
    forward, _, gradient = [t for t in fig.data]
    expected = [g[2] for g in r.trace.gates.values()] + ([r.trace.c[2]] if cell == "lstm" else []) + [r.trace.h[2]]
    np.testing.assert_allclose(np.asarray(forward.z, dtype=float), np.stack(expected))
    assert len(forward.y) == len(expected) and "gate" in forward.y[1]
    rows = [r.dL_dh[2], r.dL_dh_direct[2], r.dL_dh_indirect[2]]
    if cell == "lstm":
        rows += [r.dL_dc[2], r.dL_dc_direct[2], r.dL_dc_indirect[2]]
    np.testing.assert_allclose(np.asarray(gradient.z, dtype=float), np.stack(rows))


@pytest.mark.parametrize("cell", CELLS)
def test_the_step_equation_is_the_cells_recursion_with_the_engines_numbers(cell):
    p, r = problem(cell)
    flow = engine_flow.full_flow(r, p)
    text = graph_page.step_equation(flow, 2, NT)
    assert r"\tag{7}" not in text and graph_page.vector(NT, r.dL_dh[1]) in text
    if cell == "lstm":
        assert r"\tanh'" in text and "f_{3}" in text and graph_page.vector(NT, r.dL_dc[1]) in text
        assert graph_page.vector(NT, r.dL_dc_indirect[1]) in text
    else:
        assert r"z_{3} \odot" in text
    last = graph_page.step_equation(flow, 8, NT)
    assert "+ 0" in last and "f_{9}" not in last


def test_the_cost_model_counts_the_gate_blocks():
    vanilla, _ = parse({"T": "100", "H": "32"})
    lstm, _ = parse({"T": "100", "H": "32", "cell": "lstm"})
    gru, _ = parse({"T": "100", "H": "32", "cell": "gru"})
    plan = graph_page.plan
    assert plan(vanilla).engine < plan(gru).engine < plan(lstm).engine
    assert plan(lstm).engine > 3 * plan(vanilla).engine - 4 * 100 * graph_page.STEP_SECONDS * 3
    assert plan(lstm, 50).flow > plan(vanilla, 50).flow > 0
    big, _ = parse({"T": "500", "H": "256", "D": "64", "O": "64", "cell": "lstm", "truncation": "k_step",
                    "trunc_k": "499"})
    # k = 499 would cost the LSTM ~9.8 s of CPU in the engine: the config caps k, and the plan counts it
    assert big.trunc_k == max_trunc_k("lstm", 500, 256) < 499
    vanilla_big = big.replace(cell="rnn")
    assert plan(vanilla_big).engine < plan(big).engine < 4.0
