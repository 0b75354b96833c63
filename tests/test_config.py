"""ui.config: the URL round trip of every valid config, and every invalid value replaced with
one clear message (parse never raises)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rnn_core as rc
from ui.config import (DEFAULT, FIELD_BY_NAME, FIELDS, GATED_VALUES, max_trunc_k, MAX_H, MAX_RHO, MAX_T, MAX_URL_EDITS_CHARS, TASK_MIN_T,
                       build_params, edits_between, link_is_complete, param_shapes, parse, task_fixes,
                       to_query)

MAX_MESSAGE = 300


# ---- random valid configs -----------------------------------------------------------------------

def field_values(field):
    if field.kind == "int":
        return st.integers(int(field.lo), int(field.hi))
    if field.kind == "float":
        return st.floats(field.lo, field.hi, allow_nan=False)
    if field.kind == "bool":
        return st.booleans()
    if field.kind == "choice":
        return st.sampled_from(field.options)
    if field.kind == "floats":
        return st.lists(st.floats(field.lo, field.hi, allow_nan=False), min_size=1, max_size=6).map(
            lambda v: tuple(sorted(set(v))))
    if field.kind == "choices":
        return st.lists(st.sampled_from(field.options), unique=True).map(
            lambda v: tuple(o for o in field.options if o in v))
    raise AssertionError(field.kind)


@st.composite
def valid_configs(draw, max_edits=12):
    values = {f.name: draw(field_values(f)) for f in FIELDS if f.kind != "edits"}
    values.update(task_fixes(values["task"]))
    values["T"] = max(values["T"], TASK_MIN_T.get(values["task"], 1))
    values["H"] = draw(st.integers(1, 12))            # small models keep build_params fast
    if values["cell"] != "rnn":                       # a gated cell's fixed choices
        values.update({name: default for name, default in GATED_VALUES.items()
                       if name != "init" or values["init"] not in rc.GATED_INITIALISERS})
    values.update({name: FIELD_BY_NAME[name].default for name in DEFAULT.replace(cell=values["cell"]).unused_fields()})
    if values["truncation"] == "k_step":
        values["trunc_k"] = min(values["trunc_k"], max_trunc_k(values["cell"], values["T"], values["H"]))
    config = DEFAULT.replace(**values)
    shapes = param_shapes(config)
    edits = {}
    for _ in range(draw(st.integers(0, max_edits))):
        name = draw(st.sampled_from(sorted(shapes)))
        index = draw(st.integers(0, math.prod(shapes[name]) - 1))
        edits[(name, index)] = draw(st.floats(-1e6, 1e6, allow_nan=False))
    return config.replace(edits=tuple((n, i, v) for (n, i), v in sorted(edits.items())))


@settings(max_examples=150, deadline=None)
@given(valid_configs())
def test_url_round_trip_is_exact(config):
    query = to_query(config)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in query.items())
    assert parse(query) == (config, [])


def test_defaults_give_an_empty_query():
    assert to_query(DEFAULT) == {}
    assert parse({}) == (DEFAULT, [])


@settings(max_examples=50, deadline=None)
@given(valid_configs())
def test_same_config_same_numbers(config):
    first, second = build_params(config), build_params(parse(to_query(config))[0])
    assert first == second
    for name, index, value in config.edits:
        assert getattr(first, name).reshape(-1)[index] == value


@settings(max_examples=50, deadline=None)
@given(valid_configs())
def test_edits_between_recovers_the_edits(config):
    base = build_params(config.replace(edits=()))
    recovered = edits_between(base, build_params(config))
    # an edit that happens to equal the initial value is no change at all
    assert set(recovered) <= set(config.edits)
    assert build_params(config.replace(edits=recovered)) == build_params(config)


def test_too_many_edits_leave_the_url_and_say_so():
    config = DEFAULT.replace(H=64, edits=tuple(("W_hh", i, 0.123456789 + i) for i in range(400)))
    assert not link_is_complete(config)
    query = to_query(config)
    assert "edits" not in query and query["H"] == "64"
    small = DEFAULT.replace(edits=(("W_hh", 3, 0.5),))
    assert link_is_complete(small) and len(to_query(small)["edits"]) < MAX_URL_EDITS_CHARS


# ---- every kind of invalid value ---------------------------------------------------------------

def only_message(raw):
    config, messages = parse(raw)
    assert len(messages) == 1, messages
    assert len(messages[0]) < MAX_MESSAGE and "\n" not in messages[0]
    return config, messages[0]


def test_unknown_key_is_ignored_with_a_message():
    config, message = only_message({"colour": "blue"})
    assert config == DEFAULT and "colour" in message


@pytest.mark.parametrize("key, text, reason", [
    ("T", "abc", "is not a number"),
    ("T", "7.5", "is not a whole number"),
    ("T", "nan", "is not a whole number"),
    ("T", "inf", "is not a whole number"),
    ("rho", "nan", "is not a finite number"),
    ("rho", "-inf", "is not a finite number"),
    ("rho", "1.2.3", "is not a number"),
    ("activation", "softplus", "is not one of"),
    ("activation", "", "is not one of"),
    ("presentation", "maybe", "is not true or false"),
    ("v_radii", "0.5,abc", "is not a number"),
    ("v_radii", "nan", "is not a list of finite numbers"),
    ("v_radii", ",", "is not a list of finite numbers"),
    ("v_acts", "tanh,softplus", "softplus"),
])
def test_unreadable_values_keep_the_default_and_name_both(key, text, reason):
    config, message = only_message({key: text})
    field = FIELD_BY_NAME[key]
    assert getattr(config, key) == field.default
    assert reason in message and field.label in message
    assert f"using {field.encode(field.default)} instead" in message


@pytest.mark.parametrize("key, text, used", [
    ("T", "1e30", MAX_T),
    ("T", "0", 1),
    ("H", "-3", 1),
    ("H", "100000", MAX_H),
    ("seed", "-1", 0),
    ("rho", "1e308", MAX_RHO),
    ("rho", "-0.5", 0.0),
    ("trunc_p", "0", 0.05),
])
def test_out_of_range_numbers_are_clamped_with_a_message(key, text, used):
    config, message = only_message({key: text})
    assert getattr(config, key) == used
    assert "is outside" in message and f"using {FIELD_BY_NAME[key].encode(used)} instead" in message


def test_long_strings_are_cut_in_messages():
    config, message = only_message({"T": "9" * 10_000 + "x"})
    assert config.T == DEFAULT.T and len(message) < MAX_MESSAGE
    config, message = only_message({"k" * 10_000: "1"})
    assert len(message) < MAX_MESSAGE


@pytest.mark.parametrize("text", [
    "W_hh.3", "W_zz.1=2", "W_hh.-1=2", "W_hh.1=nan", "W_hh.1=inf", "W_hh.1=1e999", "garbage",
    "W_hh.1.2=3", "W_hh.x=1", "=~=", "W_hh.1=2=3",
])
def test_bad_edits_are_dropped_with_a_message(text):
    config, message = only_message({"edits": text})
    assert config.edits == () and "Hand-edited weights" in message


def test_edits_that_do_not_fit_the_sizes_are_dropped():
    config, message = only_message({"edits": "W_hh.9999=1.5"})         # fits H = 100, not H = 8
    assert config.edits == () and "do not fit" in message
    config, messages = parse({"edits": "W_hh.63=1.5", "H": "8"})
    assert config.edits == (("W_hh", 63, 1.5),) and messages == []


def test_a_task_fixes_sizes_and_loss_and_says_so():
    config, messages = parse({"task": "sine", "D": "5", "loss": "softmax_ce"})
    assert (config.D, config.O, config.loss) == (1, 1, "mse")
    assert len(messages) == 2 and all("Noisy sine waves" in m for m in messages)
    config, messages = parse({"task": "adding"})
    assert (config.D, config.O, config.loss_at) == (2, 1, "last") and messages == []
    config, messages = parse({"task": "copy", "T": "1"})
    assert config.T == 2 and "T >= 2" in messages[0]


def test_mask_is_the_last_step_only_for_many_to_one():
    assert DEFAULT.mask is None
    np.testing.assert_array_equal(DEFAULT.replace(T=4, loss_at="last").mask, [0, 0, 0, 1])


# ---- parse never raises ------------------------------------------------------------------------

names = st.sampled_from([f.name for f in FIELDS]) | st.text(max_size=20)


@settings(max_examples=250, deadline=None)
@given(st.dictionaries(names, st.text(max_size=60), max_size=8))
def test_parse_never_raises_on_text(raw):
    config, messages = parse(raw)
    assert parse(to_query(config))[0] == config
    assert all(isinstance(m, str) and len(m) < MAX_MESSAGE for m in messages)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(names, st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.lists(st.text(max_size=5), max_size=3),
    st.text(alphabet="0123456789.,-+einfaW_hb~=", max_size=40)), max_size=8))
def test_parse_never_raises_on_widget_like_values(raw):
    config, _ = parse(raw)
    assert parse(to_query(config))[0] == config


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_gated_cells_k_step_work_is_capped_with_a_message(cell):
    config, messages = parse({"cell": cell, "T": "500", "H": "256", "truncation": "k_step", "trunc_k": "499"})
    assert config.trunc_k == max_trunc_k(cell, 500, 256) < 499
    assert any(f"using k = {config.trunc_k}" in m for m in messages)
    assert parse({"T": "500", "H": "256", "truncation": "k_step", "trunc_k": "499"}) [0].trunc_k == 499   # vanilla
    assert parse({"cell": cell, "T": "500", "H": "256", "truncation": "chunked", "trunc_k": "499"})[0].trunc_k == 499
