"""Training (eq. (12)): clipping, the SGD step, the histories, divergence, and that it learns."""
import warnings

import numpy as np
import pytest

import rnn_core as rc
from rnn_core.training import (MAX_STEPS, clip_by_global_norm, clip_by_value, generate, sgd_step,
                               train)


def grads_with_norm(norm, seed=0):
    g = rc.init_params(3, 4, 2, seed=seed).replace(b_h=np.arange(4.0), b_y=np.ones(2))
    return g.map(lambda a: a * (norm / g.global_norm()))


def drop(result, k=10):
    """Relative drop of the mean loss from the first k steps to the last k."""
    return 1.0 - result.loss[-k:].mean() / result.loss[:k].mean()


# ---------------------------------------------------------------------------- clipping and SGD

def test_global_norm_clipping_gives_exactly_the_asked_norm_and_keeps_the_direction():
    g = grads_with_norm(10.0)
    clipped, before = clip_by_global_norm(g, 2.5)
    assert before == pytest.approx(10.0, rel=1e-14)
    assert clipped.global_norm() == pytest.approx(2.5, rel=1e-14)
    for name, a in g.items():
        assert np.allclose(getattr(clipped, name), a * 0.25, rtol=1e-14, atol=0)


def test_global_norm_clipping_leaves_a_smaller_gradient_unchanged():
    g = grads_with_norm(1.5)
    clipped, before = clip_by_global_norm(g, 2.0)
    assert clipped == g and before == pytest.approx(1.5)


def test_value_clipping_bounds_every_entry_and_keeps_small_ones():
    g = grads_with_norm(40.0)
    clipped = clip_by_value(g, 1.0)
    for name, a in g.items():
        c = getattr(clipped, name)
        assert np.all(np.abs(c) <= 1.0)
        small = np.abs(a) <= 1.0
        assert np.array_equal(c[small], a[small]) and np.all(np.abs(c[~small]) == 1.0)
    assert np.any(np.abs(g.W_hh) > 1.0)   # the case did clip something


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan, "5", True])
def test_clipping_thresholds_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(grads_with_norm(1.0), bad)
    with pytest.raises(ValueError, match="limit"):
        clip_by_value(grads_with_norm(1.0), bad)


def test_sgd_without_momentum_is_plain_gradient_descent():
    p, g = rc.init_params(3, 4, 2, seed=1), grads_with_norm(3.0)
    new, v = sgd_step(p, g, None, lr=0.1, momentum=0.0)
    assert all(np.array_equal(getattr(new, n), a - 0.1 * getattr(g, n)) for n, a in p.items())
    again, _ = sgd_step(p, g, v, lr=0.1)                   # an old velocity has no effect at mu = 0
    assert again == new


def test_momentum_accumulates_velocity():
    p, g1, g2 = rc.init_params(3, 4, 2, seed=1), grads_with_norm(1.0, seed=2), grads_with_norm(2.0, seed=3)
    p1, v1 = sgd_step(p, g1, None, lr=0.5, momentum=0.9)
    p2, v2 = sgd_step(p1, g2, v1, lr=0.5, momentum=0.9)
    for n, a in p.items():
        v_expected = 0.9 * (-0.5 * getattr(g1, n)) - 0.5 * getattr(g2, n)
        assert np.allclose(getattr(v2, n), v_expected, rtol=1e-14, atol=1e-15)
        assert np.allclose(getattr(p2, n), a - 0.5 * getattr(g1, n) + v_expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kwargs,match", [(dict(lr=0.0), "lr"), (dict(lr=np.nan), "lr"),
                                          (dict(lr=0.1, momentum=1.0), "momentum"),
                                          (dict(lr=0.1, momentum=-0.1), "momentum")])
def test_sgd_rejects_bad_hyperparameters(kwargs, match):
    p = rc.init_params(3, 4, 2)
    with pytest.raises(ValueError, match=match):
        sgd_step(p, p, None, **kwargs)


# ---------------------------------------------------------------------------- it learns

@pytest.mark.parametrize("task,kw,min_drop", [
    ("sine", dict(T=20, batch=8, lr=0.05, momentum=0.9), 0.5),
    ("pos_tagging", dict(T=16, batch=8, lr=0.3, momentum=0.9), 0.5),
    ("char_lm", dict(T=16, batch=8, lr=0.2, momentum=0.9), 0.3),
    ("adding", dict(T=10, batch=16, lr=0.05, momentum=0.9), 0.25),
])
def test_training_lowers_the_loss_on_each_task(task, kw, min_drop):
    d = rc.make_task_data(task, T=kw["T"])
    p = rc.init_params(d.D, 16, d.O, seed=0)
    r = train(p, task, steps=200, seed=0, clip=("norm", 5.0), **kw)
    assert r.steps_done == 200 and not r.diverged and not r.stopped
    assert drop(r) >= min_drop, f"{task}: loss {r.loss[:10].mean():.4f} -> {r.loss[-10:].mean():.4f}"


def test_tagging_accuracy_rises_and_regression_has_none():
    p = rc.init_params(len(rc.tasks.POS_WORDS), 16, len(rc.tasks.POS_TAGS), seed=0)
    r = train(p, "pos_tagging", steps=150, T=16, batch=8, lr=0.3, momentum=0.9)
    assert r.accuracy.shape == (150,) and r.accuracy[-10:].mean() > r.accuracy[:10].mean() + 0.2
    assert train(rc.init_params(1, 4, 1), "sine", steps=2, T=5, lr=0.1).accuracy is None


# ---------------------------------------------------------------------------- the histories

def test_histories_match_bptt_on_the_first_batch():
    p = rc.init_params(2, 6, 1, seed=3)
    r = train(p, "adding", steps=3, T=8, batch=5, lr=0.1, clip=("norm", 0.01), seed=4)
    d = rc.make_task_data("adding", T=8, batch=5, seed=(4, 1))      # the batch of step 1
    res = rc.bptt(p, d.xs, d.ys, activation="tanh", loss="mse", reduction="mean", mask=d.mask)
    assert r.loss[0] == res.loss and r.grad_norm[0] == pytest.approx(res.grads.global_norm(), rel=1e-14)
    per_param = [np.linalg.norm(a) for _, a in res.grads.items()]
    assert r.param_grad_norms[0] == pytest.approx(per_param, rel=1e-14)
    assert r.applied_norm[0] == pytest.approx(min(0.01, r.grad_norm[0]), rel=1e-12)
    # ||dL/dh_t||, averaged over sequences, each sequence's own loss on its own
    per_seq = [np.linalg.norm(rc.bptt(p, d.xs[:, b], d.ys[:, b], activation="tanh", loss="mse",
                                      reduction="mean", mask=d.mask).dL_dh, axis=1) for b in range(5)]
    assert r.dL_dh_norms.shape == (3, 8)
    assert np.allclose(r.dL_dh_norms[0], np.mean(per_seq, axis=0), rtol=1e-12, atol=0)


def test_value_clipping_in_training_applies_the_clipped_gradient():
    p = rc.init_params(1, 5, 1, seed=0)
    r = train(p, "sine", steps=1, T=6, batch=3, lr=0.1, clip=("value", 1e-3), seed=2)
    d = rc.make_task_data("sine", T=6, batch=3, seed=(2, 1))
    g = rc.bptt(p, d.xs, d.ys, activation="tanh", loss="mse", reduction="mean").grads
    assert r.applied_norm[0] == pytest.approx(clip_by_value(g, 1e-3).global_norm(), rel=1e-14)
    expected, _ = sgd_step(p, clip_by_value(g, 1e-3), None, lr=0.1)
    assert r.params == expected


def test_same_seed_same_run_and_a_data_function_gives_the_same_run():
    p = rc.init_params(4, 5, 4, seed=1)
    kw = dict(steps=5, lr=0.2, momentum=0.5, activation="relu")
    a = train(p, "copy", T=9, batch=4, delay=3, seed=11, **kw)
    b = train(p, lambda s: rc.make_task_data("copy", T=9, batch=4, delay=3, seed=(11, s)), **kw)
    assert np.array_equal(a.loss, b.loss) and np.array_equal(a.dL_dh_norms, b.dL_dh_norms)
    assert a.params == b.params
    assert not np.array_equal(a.loss, train(p, "copy", T=9, batch=4, delay=3, seed=12, **kw).loss)


@pytest.mark.parametrize("truncation", [("k_step", 10), ("k_step", 25), ("chunked", 10)])
def test_truncation_with_k_at_least_T_gives_the_full_history(truncation):
    p = rc.init_params(1, 6, 1, seed=2)
    kw = dict(steps=8, T=10, batch=4, lr=0.1, momentum=0.9, seed=5)
    full, cut = train(p, "sine", **kw), train(p, "sine", truncation=truncation, **kw)
    for field in ("loss", "grad_norm", "applied_norm", "param_grad_norms", "dL_dh_norms"):
        assert np.array_equal(getattr(full, field), getattr(cut, field)), field
    assert full.params == cut.params


def test_short_truncation_changes_the_gradient():
    p = rc.init_params(2, 6, 1, seed=2)
    kw = dict(steps=3, T=10, batch=4, lr=0.1, seed=5)
    assert not np.array_equal(train(p, "adding", **kw).grad_norm,
                              train(p, "adding", truncation=("k_step", 2), **kw).grad_norm)


def test_randomized_truncation_draws_a_new_xi_every_step():
    p = rc.init_params(1, 6, 1, seed=2)
    kw = dict(steps=4, T=12, batch=4, lr=0.1, seed=5)
    fresh = train(p, "sine", truncation=("randomized", 0.5, 3), **kw)
    fixed = train(p, "sine", truncation=("randomized", rc.draw_xi(12, 0.5, [3, 1])), **kw)
    assert fresh.loss[0] == fixed.loss[0] and fresh.grad_norm[0] == fixed.grad_norm[0]
    assert not np.array_equal(fresh.dL_dh_norms[1:], fixed.dL_dh_norms[1:])


# ---------------------------------------------------------------------------- control and failure

def test_callback_sees_every_step_and_can_stop_training():
    seen = []

    def callback(step, partial):
        seen.append((step, partial.steps_done, partial.loss[-1]))
        return step < 3

    r = train(rc.init_params(1, 4, 1), "sine", steps=10, T=5, lr=0.1, callback=callback)
    assert [s for s, _, _ in seen] == [1, 2, 3] and [n for _, n, _ in seen] == [1, 2, 3]
    assert r.stopped and r.steps_done == 3 and seen[-1][2] == r.loss[-1]


def test_huge_learning_rate_is_flagged_as_divergence_without_exception_or_warning():
    p = rc.init_params(1, 8, 1, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = train(p, "sine", steps=50, T=10, batch=4, lr=1e200, activation="relu")
    assert r.diverged and r.steps_done == r.diverged_step < 50
    assert all(np.isfinite(a).all() for _, a in r.params.items())   # the last finite parameters
    assert np.all(np.isfinite(r.loss[:-1]))


@pytest.mark.parametrize("kwargs,match", [
    (dict(steps=0), "steps must be an integer in \\[1, 5000\\]"),
    (dict(steps=MAX_STEPS + 1), "steps must be"),
    (dict(clip=("norm", -1.0)), "clip \\('norm', c\\)"),
    (dict(clip=("median", 1.0)), "clip must be"),
    (dict(lr=-0.1), "lr must be"),
    (dict(momentum=1.5), "momentum"),
    (dict(truncation=("k_step", 0)), "k >= 1"),
    (dict(activation="swish"), "activation"),
    (dict(callback=3), "callback"),
    (dict(T=None), "T must be"),
])
def test_train_rejects_bad_arguments(kwargs, match):
    base = dict(steps=5, T=6, lr=0.1)
    with pytest.raises(ValueError, match=match):
        train(rc.init_params(1, 4, 1), "sine", **{**base, **kwargs})


def test_train_names_a_size_mismatch_between_params_and_task():
    with pytest.raises(ValueError, match="params have D=3, O=3 but task 'sine' needs D=1, O=1"):
        train(rc.init_params(3, 4, 3), "sine", steps=2, T=5, lr=0.1)


def test_random_task_takes_its_sizes_from_params():
    r = train(rc.init_params(3, 4, 2), "random", steps=2, T=5, lr=0.1, loss="sigmoid_bce")
    assert r.steps_done == 2 and r.accuracy is None


# ---------------------------------------------------------------------------- generating text

@pytest.fixture(scope="module")
def char_model():
    d = rc.make_task_data("char_lm", T=16)
    p = rc.init_params(d.D, 16, d.O, seed=0)
    return train(p, "char_lm", steps=60, T=16, batch=8, lr=0.2, momentum=0.9).params, d.info


def test_generate_returns_n_characters_of_the_vocabulary(char_model):
    params, info = char_model
    greedy = generate(params, info, "The ", 40, activation="tanh")
    sample = dict(activation="tanh", greedy=False, temperature=0.8, seed=1)
    sampled = generate(params, info, "The ", 40, **sample)
    for text in (greedy, sampled):
        assert len(text) == 40 and set(text) <= set(info["vocab"])
    assert greedy == generate(params, info, "The ", 40, activation="tanh")
    assert sampled == generate(params, info, "The ", 40, **sample)
    assert sampled != generate(params, info, "The ", 40, **{**sample, "seed": 2})
    assert generate(params, info, "a", 0, activation="tanh") == ""


@pytest.mark.parametrize("kwargs,match", [
    (dict(prefix="@"), "prefix holds characters not in the vocabulary: '@'"),
    (dict(prefix=""), "prefix must be a non-empty str"),
    (dict(n=-1), "n must be"),
    (dict(greedy=False, temperature=0.0), "temperature"),
    (dict(info={}), "info must be"),
])
def test_generate_rejects_bad_arguments(kwargs, match, char_model):
    params, info = char_model
    args = {"info": info, "prefix": "a", "n": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        generate(params, args.pop("info"), args.pop("prefix"), args.pop("n"), activation="tanh", **args)


def test_generate_needs_params_sized_to_the_vocabulary():
    info = rc.make_task_data("char_lm", T=5).info
    with pytest.raises(ValueError, match="D = O = "):
        generate(rc.init_params(3, 4, 3), info, "a", 3, activation="tanh")
