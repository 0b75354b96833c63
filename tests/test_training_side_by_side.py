"""rnn_core.side_by_side: several models on the same batches, one step each in turn; each
model's histories are exactly what rnn_core.train records for it alone."""
import numpy as np
import pytest

import rnn_core as rc
from rnn_core.side_by_side import train_side_by_side

HISTORIES = ("loss", "grad_norm", "applied_norm", "param_grad_norms", "dL_dh_norms")


def models(D: int, O: int, H: int = 5, seed: int = 2) -> dict:
    return {"rnn": rc.init_params(D, H, O, seed=seed, init="orthogonal", spectral_radius=0.9),
            "lstm": rc.init_params(D, H, O, seed=seed, cell="lstm", forget_bias=1.0),
            "gru": rc.init_params(D, H, O, seed=seed, cell="gru")}


@pytest.mark.parametrize("task, D, O, options", [("adding", 2, 1, {}), ("copy", 4, 4, {"delay": 6})])
def test_each_model_trains_as_it_would_alone(task, D, O, options):
    common = dict(steps=7, lr=0.3, momentum=0.9, T=7 if task == "copy" else 9, batch=3, clip=("norm", 1.0),
                  seed=4, **options)
    together = train_side_by_side(models(D, O), task, **common)
    for name, params in models(D, O).items():
        alone = rc.train(params, task, activation="tanh" if name == "rnn" else None, **common)
        for field in HISTORIES:
            np.testing.assert_array_equal(getattr(together[name], field), getattr(alone, field), err_msg=field)
        if alone.accuracy is not None:
            np.testing.assert_array_equal(together[name].accuracy, alone.accuracy)
        for key, array in alone.params.items():
            np.testing.assert_array_equal(getattr(together[name].params, key), array)
        assert together[name].param_names == alone.param_names and not together[name].stopped


def test_every_model_sees_the_same_batch(monkeypatch):
    import rnn_core.side_by_side as sbs
    seen = []
    real = sbs.bptt
    monkeypatch.setattr(sbs, "bptt", lambda params, xs, ys, **kw: (seen.append(xs), real(params, xs, ys, **kw))[1])
    train_side_by_side(models(2, 1), "adding", steps=3, lr=0.1, T=6, batch=2)
    assert len(seen) == 9
    for s in range(3):
        assert seen[3 * s] is seen[3 * s + 1] is seen[3 * s + 2]          # one draw per step, for all


def test_a_diverging_model_stops_alone():
    big = models(1, 1)
    big["rnn"] = rc.init_params(1, 5, 1, seed=0, spectral_radius=1.0).map(lambda a: a * 1e155)
    runs = train_side_by_side(big, "sine", steps=4, lr=0.1, T=5, batch=2)
    assert runs["rnn"].diverged_step == 1 and runs["rnn"].steps_done == 1
    assert runs["lstm"].steps_done == runs["gru"].steps_done == 4 and not runs["gru"].diverged


def test_a_callback_stops_every_model():
    calls = []
    runs = train_side_by_side(models(1, 1), "sine", steps=10, lr=0.1, T=5, batch=2,
                              callback=lambda s, partial: calls.append(sorted(partial)) or s < 3)
    assert calls == [["gru", "lstm", "rnn"]] * 3
    assert all(r.stopped and r.steps_done == 3 for r in runs.values())


def test_models_must_share_their_sizes():
    with pytest.raises(ValueError, match="same D and O"):
        train_side_by_side({"a": rc.init_params(2, 3, 1), "b": rc.init_params(4, 3, 4)}, "adding", steps=1, lr=0.1,
                           T=4)
    with pytest.raises(ValueError, match="at least one"):
        train_side_by_side({}, "adding", steps=1, lr=0.1, T=4)
