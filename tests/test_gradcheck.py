"""rnn_core.gradcheck: its numbers against the independent helper in tests/fd.py, its subset
sampling, and that it fails when a gradient is wrong."""
import importlib
import itertools
import warnings

import numpy as np
import pytest

import rnn_core as rc
from rnn_core.gradcheck import gradcheck, relative_error
from cases import make_case
from fd import numerical_gradient

gradcheck_module = importlib.import_module("rnn_core.gradcheck")
ROW_NAMES = ["W_xh", "W_hh", "b_h", "W_hy", "b_y", "h0"]


@pytest.mark.parametrize("activation,loss", list(itertools.product(sorted(rc.ACTIVATIONS), sorted(rc.LOSSES))))
def test_correct_gradients_pass_for_every_activation_and_loss(activation, loss):
    p, xs, ys, h0 = make_case(T=4, B=2, loss=loss, seed=41, h0=True)
    kw = dict(activation=activation, loss=loss, reduction="mean", mask=[1.0, 0.0, 2.0, 1.0], h0=h0)
    report = gradcheck(p, xs, ys, **kw)
    assert report.passed, [(r.name, r.max_rel_error) for r in report.rows]
    assert [r.name for r in report.rows] == ROW_NAMES
    for r in report.rows:
        assert r.n_checked == r.n_total and r.max_rel_error < 1e-7, r.name


def test_rows_hold_the_analytic_and_an_independent_numeric_gradient():
    p, xs, ys, h0 = make_case(T=5, B=3, loss="softmax_ce", seed=42, h0=True)
    kw = dict(activation="tanh", loss="softmax_ce", reduction="sum", h0=h0)
    report = gradcheck(p, xs, ys, **kw)
    res = rc.bptt(p, xs, ys, **kw)
    assert report.loss == res.loss
    for name, value in p.items():
        row = report.row(name)
        assert row.shape == value.shape and row.n_total == value.size
        np.testing.assert_array_equal(row.indices, np.arange(value.size))
        np.testing.assert_array_equal(row.analytic, getattr(res.grads, name).ravel())
        numeric = numerical_gradient(lambda v: rc.bptt(p.replace(**{name: v}), xs, ys, **kw).loss, value)
        np.testing.assert_allclose(row.numeric, numeric.ravel(), rtol=1e-6, atol=1e-9)
    h_row = report.row("h0")
    assert h_row.shape == (3, p.sizes[1])
    np.testing.assert_array_equal(h_row.analytic, res.dL_dh0.ravel())
    numeric = numerical_gradient(lambda h: rc.bptt(p, xs, ys, **{**kw, "h0": h}).loss, h0)
    np.testing.assert_allclose(h_row.numeric, numeric.ravel(), rtol=1e-6, atol=1e-9)


def test_one_sequence_reports_h0_as_a_vector_and_defaults_to_zeros():
    p, xs, ys, _ = make_case(T=3, seed=43)
    report = gradcheck(p, xs, ys, activation="sigmoid", loss="mse")
    row = report.row("h0")
    assert row.shape == (p.sizes[1],) and report.passed
    np.testing.assert_array_equal(row.analytic, rc.bptt(p, xs, ys, activation="sigmoid", loss="mse").dL_dh0)


def test_a_wrong_gradient_fails_and_names_the_parameter(monkeypatch):
    real_bptt = gradcheck_module.bptt

    def bptt_with_a_bug(*args, **kwargs):
        res = real_bptt(*args, **kwargs)
        wrong = res.grads.replace(W_hh=res.grads.W_hh * (1 + 1e-4))
        return type(res)(**{**res.__dict__, "grads": wrong})

    monkeypatch.setattr(gradcheck_module, "bptt", bptt_with_a_bug)
    p, xs, ys, _ = make_case(T=4, seed=44)
    report = gradcheck(p, xs, ys, activation="tanh", loss="mse")
    assert not report.passed
    assert [r.name for r in report.rows if not r.passed] == ["W_hh"]
    assert 0.5e-4 < report.row("W_hh").max_rel_error < 1.5e-4


def test_max_entries_checks_a_seeded_subset_of_each_array():
    p, xs, ys, _ = make_case(T=4, H=6, D=5, O=4, seed=45)
    kw = dict(activation="tanh", loss="mse")
    report = gradcheck(p, xs, ys, max_entries=7, seed=3, **kw)
    res = rc.bptt(p, xs, ys, **kw)
    sizes = {"W_xh": 30, "W_hh": 36, "b_h": 6, "W_hy": 24, "b_y": 4, "h0": 6}
    for r in report.rows:
        assert r.n_total == sizes[r.name] and r.n_checked == min(7, sizes[r.name])
        assert len(np.unique(r.indices)) == r.n_checked and np.all(np.diff(r.indices) > 0)
        assert 0 <= r.indices.min() and r.indices.max() < r.n_total
        full = res.dL_dh0 if r.name == "h0" else getattr(res.grads, r.name)
        np.testing.assert_array_equal(r.analytic, full.ravel()[r.indices])
    again = gradcheck(p, xs, ys, max_entries=7, seed=3, **kw)
    other = gradcheck(p, xs, ys, max_entries=7, seed=4, **kw)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(report.rows, again.rows))
    assert not np.array_equal(report.row("W_hh").indices, other.row("W_hh").indices)
    assert report.passed


def test_relative_error_is_normwise():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert np.isclose(relative_error([1.0, 2.0], [1.0, 2.002]), 0.002 / 2.002, rtol=1e-12)
    # a tiny entry off by 100% of itself counts against the largest entry, not against itself
    assert np.isclose(relative_error([1.0, 1e-9], [1.0, 2e-9]), 1e-9, rtol=1e-9)
    assert np.isnan(relative_error([1.0, np.nan], [1.0, 1.0]))
    with pytest.raises(ValueError, match=r"a and b must have the same shape, got \(2,\) and \(3,\)"):
        relative_error([1.0, 2.0], [1.0, 2.0, 3.0])


def test_exact_truncations_are_accepted_and_truncated_ones_refused():
    p, xs, ys, _ = make_case(T=5, seed=46)
    kw = dict(activation="tanh", loss="mse")
    for exact in [("full",), ("k_step", 5), ("chunked", 9), ("randomized", np.ones(5))]:
        assert gradcheck(p, xs, ys, truncation=exact, **kw).passed, exact
    for truncated in [("k_step", 2), ("chunked", 3), ("randomized", 0.5, 1), ("randomized", np.full(5, 2.0))]:
        with pytest.raises(ValueError, match=r"truncation must give the exact gradient .*got \("):
            gradcheck(p, xs, ys, truncation=truncated, **kw)


@pytest.mark.parametrize("kwargs,match", [
    (dict(eps=0.0), r"eps must be a finite number > 0, got 0.0"),
    (dict(eps=np.inf), r"eps must be a finite number > 0, got inf"),
    (dict(max_entries=0), r"max_entries must be None or an integer >= 1, got 0"),
    (dict(max_entries=2.5), r"max_entries must be None or an integer >= 1, got 2.5"),
    (dict(truncation=("k_step", 0)), r"k >= 1, got 0"),
    (dict(loss="hinge"), r"loss must be one of .*'hinge'"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    p, xs, ys, _ = make_case(T=3, seed=47)
    with pytest.raises(ValueError, match=match):
        gradcheck(p, xs, ys, **{"activation": "tanh", "loss": "mse", **kwargs})


def test_overflow_fails_the_check_without_a_warning():
    T = 300
    p = rc.init_params(3, 4, 2, seed=1, spectral_radius=40.0)
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((T, 3)), rng.standard_normal((T, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = gradcheck(p, xs, ys, activation="relu", loss="mse", max_entries=2)
    assert not report.passed and not np.isfinite(report.loss)
