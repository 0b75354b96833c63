"""The Training page with every cell (issue 14): a run, the truncation and clipping comparisons
per cell, and the "Compare cells" section (three cells on the same batches from the same seed),
its cost model, its words and its page (AppTest)."""
import json

import numpy as np
import pytest

import rnn_core as rc
import rnn_core.training
import ui.pages.training as service
from apptest_helpers import open_app_page, fresh_caches  # noqa: F401 (fresh_caches is a fixture)
from ui.config import DEFAULT, parse, to_query
from ui.pages.training import (CELLS_RECIPE, CellOutcome, CellsRecipe, TrainSpec, guard_seconds,
                               cells_sentence, cells_steps, cells_variants, compare_label, compared_names,
                               initial_params, run_training, spec_step_seconds, step_seconds)
from ui.presets import PRESETS

PAGE = "views/training.py"
CELLS = tuple(rc.CELLS)
pytestmark = pytest.mark.usefixtures("fresh_caches")


def gated(cell: str, **changes):
    """A valid config of `cell` (parse applies the gated cell's fixed choices)."""
    config, _ = parse({**to_query(DEFAULT.replace(**changes)), "cell": cell})
    return config


# ---------------------------------------------------------------------------- runs of every cell

@pytest.mark.parametrize("cell", CELLS)
def test_a_spec_builds_and_trains_its_cell(cell):
    spec = TrainSpec.from_config(gated(cell, tr_task="sine", T=6, H=4, tr_steps=3))
    assert spec.cell == cell
    params = initial_params(spec, 1, 1)
    assert rc.cell_of(params).name == cell
    result = run_training(spec, None)
    assert result.steps_done == 3 and result.param_names == rc.get_cell(cell).param_names


def test_the_lstm_start_reads_the_forget_bias():
    spec = TrainSpec.from_config(gated("lstm", forget_bias=2.5, tr_task="sine"))
    np.testing.assert_array_equal(initial_params(spec, 1, 1).b_f, 2.5)


def test_the_vanilla_spec_is_unchanged():
    """The vanilla cell's runs keep their numbers: same start as before the cells came."""
    spec = TrainSpec.from_config(DEFAULT.replace(tr_task="sine"))
    expected = rc.init_params(1, spec.H, 1, seed=spec.seed, init=spec.init, spectral_radius=spec.rho)
    for name, array in initial_params(spec, 1, 1).items():
        np.testing.assert_array_equal(array, getattr(expected, name))


def test_truncation_compares_each_cells_recurrent_matrices():
    assert compared_names("W_hh", "rnn") == ("W_hh",)
    assert compared_names("W_hh", "lstm") == ("W_hi", "W_hf", "W_ho", "W_hc")
    assert compared_names("W_hh", "gru") == ("W_hr", "W_hz", "W_hh")
    assert compared_names("all", "lstm") == rc.get_cell("lstm").param_names
    assert compare_label("W_hh", "rnn") == "W_hh only" and compare_label("all", "rnn") == "all five parameters"
    assert compare_label("all", "gru") == "all 11 parameters"
    assert compare_label("W_hh", "lstm") == "W_hi, W_hf, W_ho, W_hc only"


def test_a_gated_step_is_announced_as_dearer():
    """The cost model counts every cell's work: the LSTM's four blocks, the GRU's three."""
    rnn, lstm, gru = (step_seconds(100, 32, 64, 4, 4, cell=c) for c in CELLS)
    assert 3.0 * rnn < lstm <= 4.0 * rnn and 2.5 * rnn < gru < lstm


# ---------------------------------------------------------------------------- the comparison

def test_the_variants_differ_by_their_cell_only():
    variants = cells_variants(DEFAULT.replace(tr_task="copy", T=50, H=16, seed=3))
    specs = list(variants.values())
    assert list(variants) == ["vanilla RNN", "LSTM", "GRU"] and [s.cell for s in specs] == list(CELLS)
    assert len({s.replace(cell="rnn") for s in specs}) == 1
    spec = specs[0]
    assert (spec.task, spec.T, spec.H, spec.seed, spec.delay) == ("copy", 50, 16, 3, 49)
    assert (spec.lr, spec.momentum, spec.clip, spec.batch, spec.steps) == (
        CELLS_RECIPE.lr, CELLS_RECIPE.momentum, ("norm", CELLS_RECIPE.clip), CELLS_RECIPE.batch, CELLS_RECIPE.steps)
    assert spec.truncation is None and spec.activation == "tanh"


def test_the_three_cells_train_on_the_same_batches(monkeypatch):
    """The claim of the section: the sampler is built alike and asked for the same seeds, and
    each cell's bptt sees bitwise the same batches, step by step."""
    built, seeds, seen = [], [], {}
    sampler, bptt = rnn_core.training.make_task_sampler, rnn_core.training.bptt

    def recording_sampler(*args, **kwargs):
        built.append((args, kwargs))
        sample = sampler(*args, **kwargs)
        return lambda seed: (seeds.append(seed), sample(seed))[1]

    def recording_bptt(params, xs, ys, **kwargs):
        seen.setdefault(rc.cell_of(params).name, []).append((xs.copy(), ys.copy()))
        return bptt(params, xs, ys, **kwargs)

    monkeypatch.setattr(rnn_core.training, "make_task_sampler", recording_sampler)
    monkeypatch.setattr(rnn_core.training, "bptt", recording_bptt)
    variants = cells_variants(DEFAULT.replace(tr_task="adding", T=20, H=4), recipe=CellsRecipe(steps=4, batch=3))
    for spec in variants.values():
        run_training(spec, None)
    assert built[0] == built[1] == built[2]
    assert seeds == [(0, s) for s in range(1, 5)] * 3
    for s in range(4):
        for cell in ("lstm", "gru"):
            np.testing.assert_array_equal(seen[cell][s][0], seen["rnn"][s][0])
            np.testing.assert_array_equal(seen[cell][s][1], seen["rnn"][s][1])


@pytest.mark.parametrize("T", [50, 100])
def test_the_comparison_fits_the_plan(T):
    variants = cells_variants(DEFAULT.replace(tr_task="adding", T=T, H=16))
    steps = cells_steps(variants, 2, 1)
    assert steps >= 1
    planned = sum(steps * spec_step_seconds(v, 2, 1) for v in variants.values())
    assert planned <= service.PLAN_SECONDS
    assert steps == min(CELLS_RECIPE.steps, int(service.PLAN_SECONDS // (planned / steps)))


def test_the_guard_holds_the_announced_time():
    assert guard_seconds(20.0) == 30.0
    assert guard_seconds(100.0) == service.TIME_BUDGET
    assert guard_seconds(0.1) == service.MIN_GUARD


def test_the_sentence_comes_from_the_numbers():
    outcomes = [CellOutcome("vanilla RNN", 0.08, 0.083, 0.083, False, 1e-9),
                CellOutcome("LSTM", 0.001, 0.0007, 0.083, True, 0.2),
                CellOutcome("GRU", 0.001, 0.0006, 0.083, True, 0.3)]
    text = cells_sentence(outcomes, "adding", 50, 3000)
    assert "the LSTM and GRU learned the task (held-out loss 0.0007 and 0.0006)" in text
    assert "the vanilla RNN did not (0.083)" in text and "After 3000 steps" in text
    assert "predicting the mean sum" in text
    none = cells_sentence([CellOutcome("vanilla RNN", 1.4, 1.39, 1.386, False, 1e-9),
                           CellOutcome("GRU", 1.0, float("nan"), 1.386, False, 0.0)], "copy", 100, 10)
    assert "none of the 2 cells learned the task (held-out loss 1.39 and diverged)" in none
    assert "need more steps than the comparison ran" in none and "guessing by the symbols' frequencies" in none


# ---------------------------------------------------------------------------- the page

def charts(at) -> dict[str, dict]:
    out = {}
    for el in at.get("plotly_chart"):
        fig = json.loads(el.proto.spec)
        out[(fig["layout"].get("title") or {}).get("text", "")] = fig
    return out


def test_the_preset_opens_the_comparison_and_trains_three_cells(monkeypatch):
    monkeypatch.setattr(service, "CELLS_RECIPE", CellsRecipe(steps=60))
    at = open_app_page(PAGE, to_query(PRESETS["gru_adding"].apply(DEFAULT)))
    assert at.session_state["_config"].tr_view == "cells"
    assert any("Train the three cells" in i.value for i in at.info)
    at.button(key="tr_train_cells").click().run()
    assert not at.exception, at.exception
    figs = charts(at)
    curves = figs["Loss, same seed and batches"]["data"]
    assert [c["name"] for c in curves][:3] == ["vanilla RNN", "LSTM", "GRU"]
    assert curves[3]["name"].startswith("predicting the mean sum")
    heat = next(f for t, f in figs.items() if t.startswith("‖∂L/∂"))["data"]
    assert len(heat) == 3 and len({(h["zmin"], h["zmax"]) for h in heat}) == 1
    text = " ".join(m.value for m in at.markdown)
    assert "After 60 steps on the same batches at T = 50" in text and "‖∂L/∂h_1‖ / ‖∂L/∂h_T‖" in text
    again = open_app_page(PAGE, to_query(PRESETS["gru_adding"].apply(DEFAULT)))      # kept: no button
    assert "Loss, same seed and batches" in charts(again)


def test_the_comparison_asks_for_a_memory_task():
    at = open_app_page(PAGE, {"tr_view": "cells"})
    assert any("made for the adding and delayed-recall tasks" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "tr_train_cells"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("view", ["train", "truncation", "clipping", "cells"])
def test_every_section_renders_for_every_cell(cell, view):
    query = {**to_query(gated(cell, T=10, tr_steps=5, tr_task="adding" if view == "cells" else "char_lm")),
             "tr_view": view}
    at = open_app_page(PAGE, query)
    assert at.session_state["_config"].cell == cell
    assert len(at.get("plotly_chart")) + len(at.info) + len(at.warning) > 0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_a_gated_cell_draws_its_parameters(cell):
    at = open_app_page(PAGE, to_query(gated(cell, T=8, tr_steps=6)))
    at.button(key="tr_train").click().run()
    assert not at.exception, at.exception
    grads = charts(at)["Gradient norms per parameter"]["data"]
    assert len([g for g in grads if g["name"].startswith("‖∂L/∂")]) == len(rc.get_cell(cell).param_names)


def test_the_gated_clipping_comparison_raises_the_weight_scale():
    at = open_app_page(PAGE, {**to_query(gated("lstm", T=30)), "tr_view": "clipping"})
    text = " ".join(m.value for m in at.markdown) + " ".join(w.value for w in at.warning)
    assert "weight scale s" in text and "N(0, s²)" in text


def test_a_comparison_stopped_at_its_budget_stops_the_three_at_one_step(monkeypatch):
    monkeypatch.setattr(service, "CELLS_RECIPE", CellsRecipe(steps=3000))
    monkeypatch.setattr(service, "guard_seconds", lambda estimate: 0.5)
    at = open_app_page(PAGE, {"tr_view": "cells", "tr_task": "adding", "T": "20", "H": "4"})
    at.button(key="tr_train_cells").click().run()
    assert not at.exception, at.exception
    stopped = next(w.value for w in at.warning if w.value.startswith("Stopped at the time budget of 0.5 s"))
    assert "of 3000 steps each, on the same batches" in stopped
    curves = [c for c in charts(at)["Loss, same seed and batches"]["data"][:3]]
    assert len({len(c["x"]["bdata"]) if isinstance(c["x"], dict) else len(c["x"]) for c in curves}) == 1


def test_the_stored_runs_are_what_each_cell_trains_alone(monkeypatch):
    monkeypatch.setattr(service, "CELLS_RECIPE", CellsRecipe(steps=5, batch=4))
    variants = cells_variants(DEFAULT.replace(tr_task="copy", T=12, H=3))
    together = service.train_cells(variants, None, lambda *a: None, budget=60.0)
    for name, spec in variants.items():
        alone = run_training(spec, None)
        np.testing.assert_array_equal(together[name].loss, alone.loss)
        assert service.store().get(spec) is together[name]
    assert service.cells_runs(variants) == together


def test_the_copy_comparison_states_its_delay():
    at = open_app_page(PAGE, {"tr_view": "cells", "tr_task": "copy", "T": "50", "tr_delay": "5"})
    assert "**Recall delay:** 49 = T − 1 in the comparison" in " ".join(m.value for m in at.markdown)
    assert not [s for s in at.slider if s.key == "cfg_tr_delay"]
    assert "recall delay 49 (T − 1)" in " ".join(c.value for c in at.caption)


def test_a_single_run_stops_at_one_and_a_half_times_its_estimate(monkeypatch):
    """Not at TIME_BUDGET whatever it announced: the guard holds the announced time."""
    monkeypatch.setattr(service, "MIN_GUARD", 0.3)
    monkeypatch.setattr(service, "LOAD_MARGIN", 1e-6)          # an estimate far too low
    at = open_app_page(PAGE, to_query(gated("lstm", T=40, H=32, tr_steps=2000)))
    assert "the run stops at 0.3 s (1.5 times that, at least 0.3 s)" in " ".join(c.value for c in at.caption)
    at.button(key="tr_train").click().run()
    stopped = next(w.value for w in at.warning if w.value.startswith("Stopped at its time budget"))
    assert "in the 0.3 s the run may take" in stopped


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_an_overflowed_comparison_advises_what_the_cell_has(cell):
    table = service.TruncationComparison(ks=np.array([1]), p=np.array([1.0]), full_norm=float("inf"),
                                         cosine={}, ratio={})
    text = service.truncation_overflow(table, cell).text
    assert ("spectral radius" in text) == (cell == "rnn") and "Lower" in text
    finite = service.TruncationComparison(ks=np.array([1]), p=np.array([1.0]), full_norm=1.0, cosine={}, ratio={})
    assert service.truncation_overflow(finite, cell) is None
