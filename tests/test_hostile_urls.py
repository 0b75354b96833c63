"""Hostile share links: whatever a query string holds, the app runs on a valid config and says
what it replaced.

Two layers: a property-based test of the pure parser (ui.config.parse) against an independent
statement of what each field accepts, and AppTest runs of every page opened with fixed
adversarial links (few, since each costs a whole app run)."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from streamlit.testing.v1 import AppTest

import rnn_core as rc
from ui.config import (DEFAULT, FIELD_BY_NAME, FIELDS, GATED_VALUES, MAX_T, TASK_MIN_T, edits_fit, max_trunc_k,
                       parse, task_fixes, to_query)
from ui.state import CONFIG_KEY, MAX_WARNINGS, WORD_JOINER
from apptest_helpers import APP, compiled_once, page_files  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("compiled_once")
MAX_MESSAGE = 300
BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
              "off": False}

# Values an attacker or a careless hand might put in a link.
HOSTILE = [
    "", " ", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e308", "1e309", "-1e309", "9" * 400,
    "-" + "9" * 400, "1e-400", "5e-324", "0x10", "1_000", "1,5", "1.5", "7.0", "-1", "-0", "0", "+7", " 7 ",
    "\u0663", "\uff17", "true", "None", "null", "[]", "{}", "'; DROP TABLE x;--", "<script>alert(1)</script>",
    "[Log in](https://evil.example)", "$\\href{https://evil.example}{x}$", ":red[URGENT]", "../../etc/passwd",
    "\x00", "\n", "\u202e", "\U0001f642" * 50, "a" * 10_000, "tanh ", "TANH", "softplus", "relu,tanh",
    ",", ",,,", "W_hh.0=1~", "W_hh.3=", "~~~", "W_hh.0=1e999", "W_hh.0=nan", "b_h.99999999999999999999=1",
    "W_hh.1=2=3", "W_hh.x=1", "W_zz.0=1", "b_y.0=-0.5~b_y.0=0.25",
]


# ---- what each field accepts, stated independently of ui.config ------------------------------

def _number(text: str) -> float | None:
    try:
        return float(text)
    except (ValueError, OverflowError):
        return None


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip() != ""]


def accepted(field, text: str):
    """(True, value) if `text` is a valid value of `field` as typed, else (False, None)."""
    kind, lo, hi = field.kind, field.lo, field.hi
    if kind in ("int", "float"):
        v = _number(text)
        ok = v is not None and math.isfinite(v) and lo <= v <= hi and (kind == "float" or v.is_integer())
        return (ok, (int(v) if kind == "int" else v) if ok else None)
    if kind == "bool":
        word = text.strip().lower()
        return (word in BOOL_WORDS, BOOL_WORDS.get(word))
    if kind == "choice":
        return (text in field.options, text if text in field.options else None)
    if kind == "floats":
        values = [_number(item) for item in _items(text)]
        ok = bool(values) and all(v is not None and math.isfinite(v) and lo <= v <= hi for v in values)
        return (ok, tuple(sorted(set(values))) if ok else None)
    if kind == "choices":
        chosen = {item for item in _items(text)}
        ok = chosen <= set(field.options)
        return (ok, tuple(o for o in field.options if o in chosen) if ok else None)
    if kind == "edits":
        return (all(_edit_ok(item) for item in text.split("~") if item), None)
    raise AssertionError(kind)


def _edit_ok(item: str) -> bool:
    try:
        target, value = item.split("=")
        name, index = target.split(".")
        return name in rc.PARAM_NAMES and int(index) >= 0 and math.isfinite(float(value))
    except (ValueError, OverflowError):
        return False


def assert_valid(config) -> None:
    """Every field of `config` has its kind's type and lies within its limits."""
    for field in FIELDS:
        value = getattr(config, field.name)
        if field.kind == "int":
            assert type(value) is int and field.lo <= value <= field.hi, (field.name, value)
        elif field.kind == "float":
            assert type(value) is float and math.isfinite(value) and field.lo <= value <= field.hi, (field.name, value)
        elif field.kind == "bool":
            assert type(value) is bool, (field.name, value)
        elif field.kind == "choice":
            assert value in field.options, (field.name, value)
        elif field.kind == "floats":
            assert value and value == tuple(sorted(set(value))), (field.name, value)
            assert all(math.isfinite(v) and field.lo <= v <= field.hi for v in value), (field.name, value)
        elif field.kind == "choices":
            assert set(value) <= set(field.options), (field.name, value)
        elif field.kind == "edits":
            assert all(name in rc.get_cell(config.cell).param_names and index >= 0 and math.isfinite(v)
                       for name, index, v in value)
    for name, fixed in task_fixes(config.task).items():
        assert getattr(config, name) == fixed, (config.task, name)
    assert config.T >= TASK_MIN_T.get(config.task, 1)
    assert edits_fit(config)


def assert_messages_are_short(messages: list[str]) -> None:
    """Short, whatever was asked for (a quoted value may hold a newline: the page shows it escaped)."""
    for message in messages:
        assert isinstance(message, str) and 0 < len(message) < MAX_MESSAGE, message


# ---- the parser: property tests -------------------------------------------------------------

def good_text(field):
    """Valid values of `field`, written as a link would carry them (with harmless variants)."""
    if field.kind == "int":
        return st.integers(int(field.lo), int(min(field.hi, 10**6))).map(str) | \
            st.integers(int(field.lo), int(min(field.hi, 10**6))).map(lambda v: f" {v}.0 ")
    if field.kind == "float":
        return st.floats(field.lo, field.hi, allow_nan=False).map(repr)
    if field.kind == "bool":
        return st.sampled_from(sorted(BOOL_WORDS) + ["TRUE", " Off "])
    if field.kind == "choice":
        return st.sampled_from(field.options)
    if field.kind == "floats":
        return st.lists(st.floats(field.lo, field.hi, allow_nan=False).map(repr), min_size=1, max_size=5).map(",".join)
    if field.kind == "choices":
        return st.lists(st.sampled_from(field.options), unique=True).map(",".join)
    return st.just("W_hh.0=0.5~b_h.1=-1.25")


def hostile_text():
    return st.sampled_from(HOSTILE) | st.text(max_size=80) | st.text(alphabet="0123456789.,-+eEinfaW_hb~= ", max_size=30)


field_names = st.sampled_from([f.name for f in FIELDS])
unknown_keys = st.text(max_size=60).filter(lambda k: k not in FIELD_BY_NAME) | \
    st.sampled_from(["colour", "T ", "t", "ACTIVATION", "<b>x</b>", "\x00", "k" * 5000])


@st.composite
def hostile_queries(draw):
    """(query, which keys are expected to be accepted as typed)."""
    query = {}
    for name in draw(st.lists(field_names, unique=True, max_size=8)):
        query[name] = draw(good_text(FIELD_BY_NAME[name]) | hostile_text())
    for key in draw(st.lists(unknown_keys, unique=True, max_size=3)):
        query[key] = draw(hostile_text())
    return query


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_queries())
def test_any_query_gives_a_valid_config_and_names_every_rejected_value(query):
    config, messages = parse(query)
    assert_valid(config)
    assert_messages_are_short(messages)
    assert len(messages) <= len(query) + len(task_fixes(config.task)) + 2
    assert parse(to_query(config)) == (config, [])            # the URL the app writes back is clean
    fixed_by_task = set(task_fixes(config.task)) | ({"T"} if config.task in TASK_MIN_T else set())
    fixed_by_task |= set(config.unused_fields()) | (set(GATED_VALUES) if config.cell != "rnn" else set())
    for key, text in query.items():
        field = FIELD_BY_NAME.get(key)
        if field is None:
            assert any(f"'{key[:40]}'" in m for m in messages), (key, messages)
            continue
        ok, value = accepted(field, text)
        if not ok:
            label = "hand-edited weights" if field.kind == "edits" else field.label.lower()
            assert any(label in m.lower() for m in messages), (key, text, messages)
        elif field.kind != "edits" and key not in fixed_by_task:
            assert getattr(config, key) == value, (key, text)


@st.composite
def valid_queries(draw):
    names = draw(st.lists(field_names.filter(lambda n: n not in ("task", "edits")), unique=True, max_size=8))
    query = {name: draw(good_text(FIELD_BY_NAME[name])) for name in names}
    query = {name: text for name, text in query.items() if fits_the_cell(name, text, query.get("cell", "rnn"))}
    if "trunc_k" in query and int(float(query["trunc_k"])) > k_step_cap(query):
        del query["trunc_k"]      # more k-step work than the cell may do: capped with a message
    return query


def k_step_cap(query):
    if query.get("truncation", DEFAULT.truncation) != "k_step":
        return MAX_T
    size = {name: int(float(query.get(name, getattr(DEFAULT, name)))) for name in ("T", "H")}
    return max_trunc_k(query.get("cell", "rnn"), size["T"], size["H"])


def fits_the_cell(name, text, cell):
    """Whether the cell reads the setting, and takes this value of it (a gated cell: tanh, no IRNN)."""
    if name in DEFAULT.replace(cell=cell).unused_fields():
        return False
    return cell == "rnn" or name not in GATED_VALUES or text in ("tanh", *rc.GATED_INITIALISERS)


@settings(max_examples=100, deadline=None)
@given(valid_queries())
def test_a_query_of_valid_values_is_taken_silently(query):
    config, messages = parse(query)
    assert messages == []
    for name, text in query.items():
        assert getattr(config, name) == accepted(FIELD_BY_NAME[name], text)[1]


BAD_BY_KIND = {
    "int": ["abc", "7.5", "nan", "inf", "-1e400", "1e400", "9" * 400, "\u202e3", ""],
    "float": ["abc", "nan", "-inf", "1e400", "-1e400", "1.2.3", ""],
    "bool": ["maybe", "2", "", "\U0001f642", "yes please"],
    "choice": ["softplus", "", "TANH", "tanh ", "[x](https://evil.example)", "a" * 5000],
    "floats": ["nan", "0.5,abc", ",", "inf,1", "-1e400"],
    "choices": ["gelu", "tanh,softmax", "<script>"],
    "edits": ["W_hh.3", "W_zz.1=2", "W_hh.-1=2", "W_hh.1=nan", "garbage", "W_hh.1.2=3"],
}


@pytest.mark.parametrize("field", FIELDS, ids=[f.name for f in FIELDS])
def test_every_field_replaces_every_kind_of_bad_value_and_says_so(field):
    for text in BAD_BY_KIND[field.kind]:
        ok, _ = accepted(field, text)
        config, messages = parse({field.name: text})
        assert_valid(config)
        assert_messages_are_short(messages)
        if ok:                                     # e.g. "" is an empty (valid) list of choices
            continue
        assert len(messages) == 1, (field.name, text, messages)
        assert getattr(config, field.name) == field.default, (field.name, text)
        label = "hand-edited weights" if field.kind == "edits" else field.label.lower()
        assert label in messages[0].lower()


def test_messages_quote_at_most_a_short_prefix_of_a_huge_value():
    config, messages = parse({"activation": "x" * 1_000_000, "k" * 1_000_000: "1", "T": "9" * 100_000})
    assert config.activation == DEFAULT.activation and config.T == DEFAULT.T
    assert len(messages) == 3
    assert_messages_are_short(messages)


# ---- every page, opened with an adversarial link (AppTest) ------------------------------------

def _every_field_bad() -> dict[str, str]:
    return {f.name: BAD_BY_KIND[f.kind][0] for f in FIELDS}


HOSTILE_URLS = {
    "unknown_keys": {"colour": "blue", "\u043a\u043b\u044e\u0447": "\u0437\u043d\u0430\u0447\u0435\u043d\u0438\u0435",
                     "<b>x</b>": "1", "T ": "7"},
    "wrong_types": {"T": "abc", "H": "1.5", "rho": "fast", "presentation": "maybe", "seed": "0x10"},
    # T and H overflow to inf (kept at their defaults); clamping them to the maximum is test_extremes' job
    "huge_numbers": {"T": "1e400", "H": "9" * 400, "D": "1e308", "O": "1e999", "rho": "1e308", "seed": "9e99",
                     "trunc_k": str(10**30)},
    "negative_sizes": {"T": "-5", "H": "-1", "D": "0", "O": "-100", "trunc_k": "-3", "seed": "-1"},
    "nan_inf": {"rho": "nan", "T": "inf", "trunc_p": "-inf", "d_lr": "NaN", "tr_lr": "Infinity", "H": "nan"},
    "long_strings": {"T": "9" * 5000 + "x", "activation": "x" * 100_000, "k" * 5000: "1"},
    "unknown_choices": {"activation": "softplus", "loss": "hinge", "init": "xavier", "notation": "klingon",
                        "task": "imagenet", "truncation": "sometimes", "reduction": "max", "loss_at": "never"},
    "malformed_edits": {"edits": "W_hh.3=~W_zz.1=2~W_hh.-1=nan~garbage"},
    "edits_not_fitting": {"edits": "W_hh.99999=1.5~b_y.0=2", "H": "2"},
    "markup_injection": {"activation": "[Log in](https://evil.example)", "notation": "<img src=x onerror=alert(1)>",
                         "init": "$\\href{https://evil.example}{x}$", "loss": ":red[URGENT] www.evil.example",
                         "seed": "**1**"},
    "control_and_unicode": {"T": "\x00", "activation": "tanh\u200b", "loss": "\uff4d\uff53\uff45",
                            "notation": "\u202ewxh", "H": "\u0663"},
    "task_conflicts": {"task": "copy", "T": "1", "D": "9", "loss": "mse", "O": "64"},
    "view_fields": {"g_step": "9999", "g_window": "1", "g_source": "-4", "d_stage": "nope", "d_step": "0",
                    "v_radii": "nan,abc", "v_acts": "gelu", "v_norm": "inf", "tr_steps": "-1", "tr_lr": "0",
                    "tr_task": "imagenet", "tr_view": "admin", "tr_clip_c": "1e9", "d_all": "maybe"},
    "every_field_bad": _every_field_bad(),
    "many_bad_values": {**{f"junk{i}": str(i) for i in range(200)}, "T": "-1", "rho": "nan"},
}


def run_page(page: str, query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    if page != "views/home.py":
        at.switch_page(page)
    return at.run()


def test_the_fixed_links_cover_every_field():
    covered = {key for query in HOSTILE_URLS.values() for key in query}
    assert {f.name for f in FIELDS} <= covered
    assert len(HOSTILE_URLS) == 15


@pytest.mark.parametrize("page", page_files())
@pytest.mark.parametrize("name", list(HOSTILE_URLS))
def test_every_page_survives_a_hostile_link_with_a_warning(name, page):
    at = run_page(page, HOSTILE_URLS[name])
    assert not at.exception, [e.message for e in at.exception]
    assert at.title or at.header, f"{page} drew nothing"
    config = at.session_state[CONFIG_KEY]
    assert_valid(config)
    warnings = [w.value for w in at.warning]
    assert 1 <= len(warnings), f"no warning for {name} on {page}"
    link_warnings = [w for w in warnings if "instead" in w or "Ignored" in w or "ignored" in w or "dropped" in w
                     or "fixes" in w or "needs" in w]
    assert 1 <= len(link_warnings) <= MAX_WARNINGS
    for text in link_warnings:          # quoted values are shown literally: no link, HTML or LaTeX
        assert text.replace(WORD_JOINER, "").isprintable(), text
        assert "://" not in text and "www." not in text.lower() and "@" not in text.replace("@" + WORD_JOINER, "")
        for mark in "[]()<>$*:":
            assert all(text[i - 1] == "\\" for i, c in enumerate(text) if c == mark and i > 0), (mark, text)
    assert parse(dict(at.query_params)) == (config, [])          # the URL now holds what is used


@pytest.mark.parametrize("edits", ["W_hh.99999999999999999999=1", "b_h.9223372036854775808=1", "W_xh.65536=2"])
def test_an_edit_index_beyond_every_parameter_is_refused_with_a_message(edits):
    """An index past int64 used to raise OverflowError before the sidebar (and its reset) was drawn."""
    config, messages = parse({"edits": edits})
    assert config.edits == () and len(messages) == 1 and "invalid entry" in messages[0]
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["edits"] = edits
    at.run()
    assert not at.exception and at.session_state["_config"].edits == ()
    assert any("Hand-edited weights" in w.value.replace("\\", "") for w in at.warning)
