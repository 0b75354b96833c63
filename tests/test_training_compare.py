"""ui.pages.training (the Training page's service): the comparisons against rnn_core, the run spec and
the shared store of finished runs."""
import numpy as np
import pytest

import rnn_core as rc
from ui.config import DEFAULT
from ui.pages.training import (COMPARE_BUDGET, ResultStore, TrainSpec, affordable_batch, affordable_steps,
                               comparison_seconds, compare_clipping, compare_truncations, cosine_and_ratio, evaluate,
                               exploding_settings, flat, method_labels, randomized_p, run_training, text_digest,
                               window_lengths)


def batch_case(task="adding", T=9, B=5, H=6, rho=1.2, seed=0):
    data = rc.make_task_data(task, T=T, batch=B, seed=seed)
    params = rc.init_params(data.D, H, data.O, seed=seed, spectral_radius=rho)
    return params, data


def test_cosine_and_ratio():
    g = np.array([3.0, 4.0])
    assert cosine_and_ratio(2 * g, g) == pytest.approx((1.0, 2.0))
    assert cosine_and_ratio(np.array([-4.0, 3.0]), g) == pytest.approx((0.0, 1.0))
    assert np.isnan(cosine_and_ratio(g, np.zeros(2))[0])
    assert np.isnan(cosine_and_ratio(np.array([np.inf, 0.0]), g)[1])


def test_window_lengths_cover_1_to_T_and_the_chosen_k():
    ks = window_lengths(100, extra=37)
    assert ks[0] == 1 and ks[-1] == 100 and 37 in ks and len(ks) <= 15 and np.all(np.diff(ks) > 0)
    assert list(window_lengths(3)) == [1, 2, 3]
    assert window_lengths(5, extra=50)[-1] == 5
    assert np.isnan(randomized_p(1)) and randomized_p(4) == 0.75


@pytest.mark.parametrize("names", [rc.PARAM_NAMES, ("W_hh",)])
def test_k_at_least_T_is_full_bptt_and_values_match_rnn_core(names):
    params, data = batch_case()
    T = data.T
    table = compare_truncations(params, data.xs, data.ys, activation="tanh", loss="mse", mask=data.mask,
                                ks=np.array([1, 3, T, T + 4]), draws=4, names=names)
    for method in ("k-step", "chunked"):
        np.testing.assert_allclose(table.cosine[method][2:], 1.0, atol=1e-12)
        np.testing.assert_allclose(table.ratio[method][2:], 1.0, atol=1e-12)
    full = flat(rc.bptt(params, data.xs, data.ys, activation="tanh", loss="mse", mask=data.mask).grads, names)
    k3 = flat(rc.bptt(params, data.xs, data.ys, activation="tanh", loss="mse", mask=data.mask,
                      truncation=("k_step", 3)).grads, names)
    assert table.cosine["k-step"][1] == pytest.approx(k3 @ full / np.linalg.norm(k3) / np.linalg.norm(full))
    assert table.ratio["k-step"][1] == pytest.approx(np.linalg.norm(k3) / np.linalg.norm(full))
    assert table.full_norm == pytest.approx(np.linalg.norm(full))
    one, mean = method_labels(4)[2:]
    assert np.isnan(table.cosine[one][0]) and np.isnan(table.cosine[mean][0])   # k = 1: p = 0
    draw = flat(rc.bptt(params, data.xs, data.ys, activation="tanh", loss="mse", mask=data.mask,
                        truncation=("randomized", 2 / 3, 0)).grads, names)
    assert table.cosine[one][1] == pytest.approx(cosine_and_ratio(draw, full)[0])
    rows = table.rows()
    assert len(rows) == 4 * 4 and {r["method"] for r in rows} == set(method_labels(4))


def test_the_mean_of_randomized_draws_approaches_the_full_gradient():
    params, data = batch_case(T=12, rho=1.0)
    args = dict(activation="tanh", loss="mse", mask=data.mask, ks=np.array([3]), names=("W_hh",))
    few = compare_truncations(params, data.xs, data.ys, draws=1, **args)
    many = compare_truncations(params, data.xs, data.ys, draws=400, **args)
    label_few, label_many = method_labels(1)[3], method_labels(400)[3]
    assert 1 - many.cosine[label_many][0] < 0.2 * (1 - few.cosine[label_few][0])
    assert many.ratio[label_many][0] == pytest.approx(1.0, abs=0.05)


def test_clipping_bounds_the_applied_norm():
    params, data = batch_case(task="sine", T=25, rho=1.6)
    res = rc.bptt(params, data.xs, data.ys, activation="relu", loss="mse")
    raw = res.grads.global_norm()
    for c in (0.1, 1.0, 2 * raw):
        table = compare_clipping(res.grads, c)
        none, norm, value = table.applied_norm
        assert none == pytest.approx(raw) and norm == pytest.approx(min(c, raw))
        assert table.cosine[0] == pytest.approx(1.0) and table.cosine[1] == pytest.approx(1.0)
        assert value <= raw * (1 + 1e-12)
        assert np.all(np.abs(flat(res.grads.map(lambda g: np.clip(g, -c, c)))) <= c)
    small = compare_clipping(res.grads, 0.01)
    assert small.cosine[2] < 1.0                               # element-wise turns the direction
    assert small.rows()[1]["‖g applied‖ / ‖g raw‖"] == pytest.approx(0.01 / raw)


def test_comparison_cost_model_bounds_the_batch():
    ks = window_lengths(500)
    assert comparison_seconds(50, 8, 32, 2, 1, ks) < comparison_seconds(500, 8, 32, 2, 1, ks)
    assert affordable_batch(12, 16, 8, 32, 32, window_lengths(12)) == 16
    batch = affordable_batch(500, 128, 256, 64, 64, ks)
    assert batch < 8 and comparison_seconds(500, batch, 256, 64, 64, ks) <= COMPARE_BUDGET
    assert comparison_seconds(500, batch + 1, 256, 64, 64, ks) > COMPARE_BUDGET


def test_spec_from_config_and_its_options():
    config = DEFAULT.replace(tr_task="copy", T=6, tr_delay=9, tr_clip="value", tr_clip_c=2.0,
                             truncation="k_step", trunc_k=3)
    spec = TrainSpec.from_config(config)
    assert spec.delay == 5 and spec.clip == ("value", 2.0) and spec.truncation == ("k_step", 3)
    assert spec.task_options(None) == {"delay": 5}
    lm = TrainSpec.from_config(DEFAULT, "some uploaded text")
    assert lm.text == text_digest("some uploaded text") != "builtin"
    assert lm.task_options("abc") == {"text": "abc"} and lm.clip == ("norm", 5.0) and lm.truncation is None
    assert TrainSpec.from_config(DEFAULT.replace(tr_clip="none")).clip is None
    assert hash(spec) == hash(TrainSpec.from_config(config))


def test_affordable_steps_shrinks_with_size():
    small = TrainSpec.from_config(DEFAULT)
    big = small.replace(T=500, H=256, batch=128)
    assert affordable_steps(small, 32, 32) > 2000 > affordable_steps(small.replace(T=200, H=64, batch=64), 32, 32)
    assert affordable_steps(big.replace(truncation=("k_step", 499)), 32, 32) == 0


def test_run_training_is_deterministic_and_learns_the_sine_task():
    spec = TrainSpec.from_config(DEFAULT.replace(tr_task="sine", T=12, H=16, tr_steps=200, tr_lr=0.05))
    calls = []
    a = run_training(spec, None, callback=lambda s, partial: calls.append(s))
    b = run_training(spec, None)
    assert calls == list(range(1, 201))
    np.testing.assert_array_equal(a.loss, b.loss)
    assert np.mean(a.loss[-20:]) < 0.7 * np.mean(a.loss[:20])
    ev = evaluate(spec, None, a.params)
    assert ev.loss < np.mean(a.loss[:20]) and ev.accuracy is None
    assert ev.examples.xs.shape == (12, 4, 1) and ev.outputs.shape == (12, 4, 1)


def test_evaluate_char_lm_generates_from_the_text():
    spec = TrainSpec.from_config(DEFAULT.replace(T=10, tr_steps=5))
    result = run_training(spec, None)
    ev = evaluate(spec, None, result.params)
    assert len(ev.sample_greedy) == len(ev.sample_drawn) == 240 and ev.prefix == rc.tasks.BUILTIN_TEXT[:24]
    assert set(ev.sample_drawn) <= set(rc.tasks.BUILTIN_TEXT) and 0 <= ev.accuracy <= 1


def test_exploding_settings_come_from_the_preset():
    assert exploding_settings() == {"activation": "relu", "init": "normal", "rho": 1.5}


def test_result_store_is_a_bounded_lru():
    store = ResultStore(entries=2)
    store.put("a", 1)
    store.put("b", 2)
    assert store.get("a") == 1          # a is now the most recent
    store.put("c", 3)
    assert "b" not in store and store.get("a") == 1 and store.get("c") == 3 and len(store) == 2
    assert store.get("missing") is None


def test_the_start_key_ignores_training_only_fields():
    """The comparisons' cache key (the config projected on what the initial model and batch read)."""
    from ui.pages.training import START_FIELDS, start_key
    other = DEFAULT.replace(tr_lr=0.5, tr_steps=10, tr_clip="none", truncation="k_step", notation="dlbook",
                            tr_view="clipping", presentation=True, D=7)
    assert TrainSpec.from_config(DEFAULT) != TrainSpec.from_config(other) and start_key(DEFAULT) == start_key(other)
    for name, value in (("tr_batch", 4), ("rho", 1.5), ("tr_task", "sine"), ("T", 20), ("seed", 3)):
        assert name in START_FIELDS and start_key(DEFAULT.replace(**{name: value})) != start_key(DEFAULT)
    spec, keyed = TrainSpec.from_config(DEFAULT), TrainSpec.from_config(start_key(other))
    assert all(getattr(spec, f) == getattr(keyed, f)
               for f in ("task", "T", "H", "activation", "init", "rho", "seed", "batch", "delay", "text"))


def test_every_trainable_task_has_a_display_of_known_blocks():
    """Per-task behaviour comes from one registry: every task the page trains has a preview and
    a result, made of blocks the view knows how to draw."""
    from ui.config import FIELD_BY_NAME
    from ui.pages.training import TASK_DISPLAYS, Block, first_batch
    assert set(TASK_DISPLAYS) == set(FIELD_BY_NAME["tr_task"].options)
    known = {"figure", "html", "subheader", "markdown", "caption", "code", "columns"}

    def kinds(blocks: list[Block]) -> set[str]:
        return {b.kind for b in blocks} | {k for b in blocks if b.kind == "columns" for col in b.body
                                           for k in kinds(col)}

    for task, display in TASK_DISPLAYS.items():
        spec = TrainSpec.from_config(DEFAULT.replace(tr_task=task, T=12, tr_steps=2, tr_batch=4))
        data = first_batch(spec, None)
        assert kinds(display.preview(data, 3, False)) <= known, task
        result = run_training(spec, None)
        assert kinds(display.result(evaluate(spec, None, result.params), True)) <= known, task
