"""Exact cache keys: settings that Python's hash() confuses must never share a cache entry.

hash(-1.0) == hash(-2.0) and hash(x) == hash(x * 2**-61) in CPython; a cache keyed on hash()
served one visitor's numbers to another (issue 12). These tests fail on such a key.
"""
from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st_h

from ui import state
from ui.config import DEFAULT, Config, Edits, edits_between, parse
from ui.keys import exact_key
from ui.weights_table import editor_key

RHO_LIKE_ONE = 2.0 ** -61          # hashes like 1.0


def colliding_pairs() -> list[tuple[Config, Config]]:
    pairs = [
        (DEFAULT.replace(rho=1.0), DEFAULT.replace(rho=RHO_LIKE_ONE)),
        (DEFAULT.replace(rho=1.0, init="identity", activation="relu"),
         DEFAULT.replace(rho=4.336808689942018e-19, init="identity", activation="relu")),
        (DEFAULT.replace(edits=(("W_hh", 0, -1.0),)), DEFAULT.replace(edits=(("W_hh", 0, -2.0),))),
        (DEFAULT.replace(trunc_p=0.5), DEFAULT.replace(trunc_p=0.5 * 2.0 ** 61)),
    ]
    for a, b in pairs:
        assert plain_hash(a) == plain_hash(b) and a != b          # the trap the old key fell into
    return pairs


def plain_hash(config: Config) -> int:
    """hash() of the field values as plain Python values (edits as a tuple of triples)."""
    return hash(tuple(tuple(v) if isinstance(v, Edits) else v for v in config.as_dict().values()))


@pytest.mark.parametrize("a, b", colliding_pairs())
def test_hash_colliding_configs_have_different_keys(a, b):
    assert exact_key(a) != exact_key(b)


def test_equal_configs_have_equal_keys_across_instances():
    a, _ = parse({"rho": "1.25", "edits": "W_hh.3=0.5~b_h.0=-1.0"})
    b, _ = parse({"edits": "b_h.0=-1.0~W_hh.3=0.5", "rho": "1.25"})
    assert a == b and a is not b
    assert exact_key(a) == exact_key(b)


def test_key_tells_types_and_fields_apart():
    assert exact_key(DEFAULT.replace(seed=1)) != exact_key(DEFAULT.replace(T=1))
    assert exact_key(DEFAULT, ["rho"]) != exact_key(DEFAULT.replace(rho=0.0), ["rho"])
    assert exact_key(DEFAULT.replace(rho=1.0), ["seed"]) == exact_key(DEFAULT, ["seed"])


def test_minus_zero_in_a_link_is_zero():
    config, messages = parse({"rho": "-0"})
    assert messages == [] and str(config.rho) == "0.0"
    assert exact_key(config) == exact_key(DEFAULT.replace(rho=0.0))


@settings(max_examples=200, deadline=None)
@given(st_h.floats(0.0, 5.0), st_h.floats(0.0, 5.0))
def test_keys_differ_exactly_when_values_differ(x, y):
    assert (exact_key(DEFAULT.replace(rho=x)) == exact_key(DEFAULT.replace(rho=y))) == (x == y and str(x) == str(y))


@pytest.mark.parametrize("a, b", colliding_pairs()[:3])
def test_cached_model_follows_the_exact_settings(a, b):
    """The visitor who asks second gets their own weights, not the first visitor's."""
    first, second = state.params(a), state.params(b)
    for config, params in ((a, first), (b, second)):
        own = state.build_params(config)
        assert np.array_equal(params.W_hh, own.W_hh)
    assert not np.array_equal(first.W_hh, second.W_hh)


def test_cached_gradients_follow_an_edit_from_minus_one_to_minus_two():
    minus_one = DEFAULT.replace(edits=(("W_hh", 0, -1.0),))
    minus_two = DEFAULT.replace(edits=(("W_hh", 0, -2.0),))
    g1, g2 = state.bptt_result(minus_one), state.bptt_result(minus_two)
    assert g1.loss != g2.loss
    assert state.params(minus_two).W_hh[0, 0] == -2.0


def test_weight_editor_keys_change_with_the_exact_edit():
    minus_one = DEFAULT.replace(edits=(("W_hh", 0, -1.0),))
    minus_two = DEFAULT.replace(edits=(("W_hh", 0, -2.0),))
    assert editor_key(minus_one, "W_hh") != editor_key(minus_two, "W_hh")


def test_many_edits_digest_exactly():
    edits = tuple(("W_hh", i, float(i) / 7) for i in range(65536))
    a = DEFAULT.replace(H=256, edits=edits)
    b = DEFAULT.replace(H=256, edits=edits[:-1] + (("W_hh", 65535, np.nextafter(65535 / 7, 0)),))
    assert exact_key(a) != exact_key(b)


# ---- what a session holds: hand edits in compact form ----------------------------------------

def largest_upload() -> Config:
    config = DEFAULT.replace(D=64, H=256, O=64)
    uploaded = state.build_params(config.replace(seed=3))
    return config.replace(edits=edits_between(state.build_params(config), uploaded))


def test_an_upload_of_the_largest_model_holds_a_few_megabytes_not_thirteen():
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        config = largest_upload()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(config.edits) > 95_000
    assert held < 2.5e6, f"{held / 1e6:.1f} MB"          # as tuples: ~13 MB
    assert np.array_equal(state.build_params(config).W_hh, state.build_params(config.replace(seed=3)).W_hh)


def test_edits_compare_as_their_triples_and_keep_the_last_value():
    edits = Edits.of([("b_h", 2, 1.5), ("W_hh", 7, -1.0), ("b_h", 2, 2.5)])
    assert edits == (("W_hh", 7, -1.0), ("b_h", 2, 2.5)) and len(edits) == 2
    assert edits[1] == ("b_h", 2, 2.5) and bool(Edits.of(())) is False
    assert DEFAULT.replace(edits=(("b_h", 2, 2.5), ("W_hh", 7, -1.0))).edits == edits
    assert pickle.loads(pickle.dumps(edits)) == edits and hash(Edits.of(edits)) == hash(edits)
    with pytest.raises((AttributeError, ValueError)):
        edits.values[0] = 3.0


# ---- caches key on what a result depends on (the schema's roles) ------------------------------

ENGINE_CALLS = ("bptt", "forward", "init_params", "make_task_data", "jacobians_to_last",
                "jacobian_norms_to_last", "contributions", "contribution_pieces", "gradcheck")

# Changes that only touch the display or one page's view: no engine result may be recomputed.
DISPLAY_AND_VIEW_CHANGES = (
    {"notation": "dlbook"}, {"notation": "row"}, {"presentation": True},
    {"g_step": 3, "g_start": 2, "g_window": 8, "g_split": True, "g_source": 4},
    {"d_stage": "factor", "d_step": 2, "d_lr": 0.5, "d_all": True},
    {"v_norm": "fro", "v_axis": "distance", "v_section": "all", "v_radii": (0.5, 2.0), "v_acts": ("relu",)},
    {"tr_view": "clipping", "tr_lr": 0.5, "tr_steps": 10, "tr_task": "sine"},
)


@pytest.fixture
def engine_calls(monkeypatch):
    """{name: calls} of the engine's entry points, counted from here on (rnn_core's module
    attributes, which ui.state and the page services call through `rc.`)."""
    import rnn_core

    calls = dict.fromkeys(ENGINE_CALLS, 0)
    for name in ENGINE_CALLS:
        original = getattr(rnn_core, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)
        monkeypatch.setattr(rnn_core, name, counted)
    return calls


def test_notation_and_view_changes_recompute_no_engine_result(engine_calls):
    base = DEFAULT.replace(seed=424242, rho=0.77)        # a model no other test has cached
    state.params(base), state.data(base), state.bptt_result(base)
    assert engine_calls["bptt"] == 1 and engine_calls["init_params"] == 1
    engine_calls.update(dict.fromkeys(engine_calls, 0))
    for change in DISPLAY_AND_VIEW_CHANGES:
        config = base.replace(**change)
        assert state.bptt_result(config).loss == state.bptt_result(base).loss
        state.params(config), state.data(config)
    assert sum(engine_calls.values()) == 0, engine_calls


def test_a_truncation_change_recomputes_the_gradient_but_not_the_model(engine_calls):
    base = DEFAULT.replace(seed=424243)
    state.bptt_result(base)
    engine_calls.update(dict.fromkeys(engine_calls, 0))
    truncated = state.bptt_result(base.replace(truncation="k_step", trunc_k=2))
    assert engine_calls["bptt"] == 1 and engine_calls["init_params"] == 0 and engine_calls["make_task_data"] == 0
    assert not np.array_equal(truncated.grads.W_hh, state.bptt_result(base).grads.W_hh)


def test_project_keeps_exactly_the_fields_of_its_roles():
    from ui.config import DATA, DISPLAY, FIELDS, NUMBERS, PAGE, WEIGHTS
    changed = DEFAULT.replace(T=5, task="sine", truncation="chunked", notation="row", presentation=True,
                              g_step=2, tr_lr=0.5)
    kept = {f.name for f in FIELDS if getattr(changed.project(*NUMBERS), f.name) != f.default}
    assert kept == {"T", "task", "truncation"}
    assert changed.project(WEIGHTS, also=("notation",)).notation == "row"
    assert changed.project(WEIGHTS).T == DEFAULT.T and changed.project(WEIGHTS).notation == DEFAULT.notation
    assert changed.project(DISPLAY).presentation and changed.project(DISPLAY).T == DEFAULT.T
    assert changed.project(PAGE).g_step == 2 and changed.project(DATA).task == "sine"
    assert changed.project(*NUMBERS).project(*NUMBERS) is changed.project(*NUMBERS)    # memoised, idempotent
    with pytest.raises(ValueError):
        DEFAULT.project("colour")
