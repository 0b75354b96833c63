"""Extreme numerics on every page: every lecture preset pushed to spectral radius 5, ReLU and
T = 500 (the maximum) renders without a traceback, and each page that shows gradients says
so when the numbers overflow, and does not claim an overflow that did not happen.

Whether the numbers overflow is decided here, independently of the pages, by running
rnn_core.bptt on the same config and looking for non-finite values."""
from __future__ import annotations

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import rnn_core as rc
from ui.config import MAX_FORGET_BIAS, MAX_RHO, MAX_T, build_params, parse, to_query
from ui.presets import PRESETS
from ui.state import CONFIG_KEY, make_data
from apptest_helpers import APP, compiled_once, page_files  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("compiled_once")

EXTREME = {"rho": repr(MAX_RHO), "activation": "relu", "T": str(MAX_T), "H": "64"}
# A gated cell has no rho or activation to push: its extremes are the length, and for the LSTM a
# forget gate shut off from forgetting (sigma(5) = 0.993), the memory at its longest.
GATED_EXTREME = {"lstm": {"T": str(MAX_T), "H": "64", "forget_bias": repr(MAX_FORGET_BIAS)},
                 "gru": {"T": str(MAX_T), "H": "64"}}
# pages that draw the current model's gradients, and so owe a note when they overflow
GRADIENT_PAGES = ("views/graph.py", "views/vanishing.py", "views/derivation.py")
CLAIM = re.compile(r"overflowed|values overflow", re.IGNORECASE)   # a statement that something overflowed


def extreme_query(key: str, **changes: str) -> dict[str, str]:
    config = PRESETS[key].config()
    return {**to_query(config), **GATED_EXTREME.get(config.cell, EXTREME), **changes}


def distinct_cases() -> dict[str, dict[str, str]]:
    """Every preset at the extremes, presets that become the same config merged (e.g. the
    vanishing and exploding presets differ only in what the extremes override)."""
    by_config: dict = {}
    for key in PRESETS:
        by_config.setdefault(parse(extreme_query(key))[0], []).append(key)
    cases = {" = ".join(keys): extreme_query(keys[0]) for keys in by_config.values()}
    # the linear RNN with its own identity activation: 5^500 overflows for certain
    cases["d2l_linear, identity"] = extreme_query("d2l_linear", activation="identity")
    return cases


CASES = distinct_cases()


def engine_overflow(query: dict[str, str]) -> dict[str, bool]:
    """Which of the config's numbers are not finite, by rnn_core.bptt run here."""
    config, _ = parse(query)
    data = make_data(config)
    with np.errstate(all="ignore"):
        result = rc.bptt(build_params(config), data.xs, data.ys, activation=config.activation, loss=config.loss,
                         reduction=config.reduction, mask=data.mask, truncation=config.truncation_spec)
        forward = not all(np.isfinite(x).all() for x in (result.trace.a, result.trace.h, result.trace.o)
                          if x is not None)    # a gated cell keeps gates, not a
        return {"forward": forward, "dL_dh": not np.isfinite(result.dL_dh).all(),
                "grads": not all(np.isfinite(g).all() for _, g in result.grads.items()),
                "loss": not np.isfinite(result.loss)}


def notes(at: AppTest) -> list[str]:
    return [e.value for e in list(at.warning) + list(at.info) + list(at.error)]


def test_the_cases_reach_the_limits_and_include_a_real_overflow():
    for name, query in CASES.items():
        config, messages = parse(query)
        assert messages == [] and (config.T, config.H) == (MAX_T, 64), name
        assert config.rho == MAX_RHO if config.cell == "rnn" else config.cell in GATED_EXTREME, name
    assert any(engine_overflow(q)["forward"] for q in CASES.values())
    assert sorted(k for name in CASES for k in name.split(" = ") if k in PRESETS) == sorted(PRESETS)
    assert not any(engine_overflow(extreme_query("vanishing")).values())   # ReLU at rho 5 stays finite (~1e259)


@pytest.mark.parametrize("page", page_files())
@pytest.mark.parametrize("case", list(CASES))
def test_every_preset_at_the_extremes_renders_with_honest_overflow_notes(case, page):
    query = CASES[case]
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(query)
    if page != "views/home.py":
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title or at.header, f"{page} drew nothing"
    assert at.session_state[CONFIG_KEY] == parse(query)[0]
    if page not in GRADIENT_PAGES:
        return
    overflow = engine_overflow(query)
    claims = [n for n in notes(at) if CLAIM.search(n)]
    if overflow["forward"] or overflow["dL_dh"]:
        assert claims, f"{page} shows no overflow note for {case}: {notes(at)}"
    if not overflow["forward"]:
        assert not [c for c in claims if "forward pass" in c], claims
    if not overflow["dL_dh"]:
        # a sweep curve of another radius or activation may overflow; this model's dL/dh_t did not
        wrong = [c for c in claims if "∂L/∂h_t" in c or "dL/dh_t" in c or "gradient overflowed" in c]
        assert not wrong, f"{page} claims an overflow of dL/dh_t, which is finite for {case}: {wrong}"
