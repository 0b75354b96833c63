"""Truncated BPTT (k-step, chunked, randomized) against brute-force references written here.

The references run the forward pass by hand, treating chosen states as constants (taken from
the unperturbed forward pass), and take central finite differences of the loss: what the
gradient of each truncated variant is *defined* to be in rnn_core/truncation.py.
"""
import itertools

import numpy as np
import pytest

import rnn_core as rc
from cases import make_case
from fd import assert_close, numerical_gradient

RESULT_ARRAYS = ("dL_do", "dL_dh", "dL_dh_direct", "dL_dh_indirect", "dL_da", "dL_dh0", "step_losses")


class Reference:
    """A case (model, data, options) and its loss with some states held constant."""

    def __init__(self, *, T=6, B=None, activation="tanh", loss="mse", reduction="sum", mask=None,
                 seed=0):
        self.p, self.xs, self.ys, self.h0 = make_case(T=T, B=B, H=3, D=2, O=2, loss=loss, seed=seed,
                                                      h0=True)
        self.T, self.batched = T, B is not None
        self.kw = dict(activation=activation, loss=loss, reduction=reduction, mask=mask, h0=self.h0)
        m = np.ones(T) if mask is None else np.asarray(mask, dtype=float)
        self.w = m if reduction == "sum" else m / m.sum()
        self.f = rc.get_activation(activation).f
        self.loss_value = rc.get_loss(loss).value
        self.states = self._states(self.p, self.h0)      # h_0 .. h_T of the unperturbed pass

    def _states(self, p, h0):
        hs = [h0]
        for t in range(1, self.T + 1):
            hs.append(self.f(self.xs[t - 1] @ p.W_xh.T + hs[-1] @ p.W_hh.T + p.b_h))
        return hs

    def loss(self, p, h0, *, detach=(), terms=None):
        """sum_t w_t L_t over `terms` (default all), where the state entering each step in
        `detach` is the constant from the unperturbed pass instead of a function of p, h0."""
        h, total = h0, 0.0
        for t in range(1, self.T + 1):
            if t in detach:
                h = self.states[t - 1]
            h = self.f(self.xs[t - 1] @ p.W_xh.T + h @ p.W_hh.T + p.b_h)
            if terms is None or t in terms:
                value = self.loss_value(h @ p.W_hy.T + p.b_y, self.ys[t - 1])
                total += self.w[t - 1] * np.mean(value)
        return total

    def gradients(self, *, detach=(), terms=None) -> dict:
        """Central differences of `loss` w.r.t. every parameter and h0 ((B, H) for a batch)."""
        out = {name: numerical_gradient(
            lambda v: self.loss(self.p.replace(**{name: v}), self.h0, detach=detach, terms=terms), value)
            for name, value in self.p.items()}
        h0 = np.broadcast_to(self.h0, self.states[1].shape)
        out["dL_dh0"] = numerical_gradient(lambda h: self.loss(self.p, h, detach=detach, terms=terms), h0)
        return out

    def bptt(self, truncation=None):
        return rc.bptt(self.p, self.xs, self.ys, truncation=truncation, **self.kw)


def add(a: dict, b: dict) -> dict:
    return {n: a[n] + b[n] for n in a}


def assert_matches(result, reference: dict, what: str):
    for name, g in reference.items():
        analytic = result.dL_dh0 if name == "dL_dh0" else getattr(result.grads, name)
        assert_close(analytic, g, rtol=1e-7, what=f"{what}: {name}")


def assert_same_result(a, b, what: str, rtol=1e-14):
    assert np.isclose(a.loss, b.loss, rtol=rtol, atol=0)
    for name, g in a.grads.items():
        np.testing.assert_allclose(g, getattr(b.grads, name), rtol=rtol, atol=0, err_msg=f"{what}: {name}")
    for name in RESULT_ARRAYS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=0,
                                   err_msg=f"{what}: {name}")


CASES = [  # (activation, loss, reduction, batch, mask)
    ("tanh", "mse", "sum", None, None),
    ("relu", "softmax_ce", "mean", 2, [1.0, 0.0, 2.0, 0.5, 1.0, 1.0]),
    ("sigmoid", "sigmoid_bce", "sum", 3, [0.0, 1.0, 1.0, 0.0, 3.0, 1.0]),
]


# ----------------------------------------------------------------------- k >= T is exact
@pytest.mark.parametrize("kind", ["k_step", "chunked"])
@pytest.mark.parametrize("k", [6, 7, 50])
@pytest.mark.parametrize("activation,loss,reduction,batch,mask", CASES)
def test_k_at_least_T_is_full_bptt(kind, k, activation, loss, reduction, batch, mask):
    ref = Reference(T=6, B=batch, activation=activation, loss=loss, reduction=reduction, mask=mask)
    assert_same_result(ref.bptt((kind, k)), ref.bptt(None), f"{kind} k={k}")


# ------------------------------------------------------------------------- k-step truncation
@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("activation,loss,reduction,batch,mask", CASES)
def test_k_step_matches_a_per_term_windowed_reference(k, activation, loss, reduction, batch, mask):
    """Loss term t alone, with h_{t-k} a constant (when t > k): its gradient reaches exactly
    the states h_t .. h_{t-k+1}, and h0 only if t <= k. The sum over t is k-step BPTT."""
    ref = Reference(T=6, B=batch, activation=activation, loss=loss, reduction=reduction, mask=mask)
    expected = None
    for t in range(1, ref.T + 1):
        detach = (t - k + 1,) if t > k else ()
        g = ref.gradients(detach=detach, terms=(t,))
        expected = g if expected is None else add(expected, g)
    assert_matches(ref.bptt(("k_step", k)), expected, f"k_step k={k}")


def test_k_step_with_k_1_has_no_indirect_part():
    ref = Reference(T=6, B=2, activation="tanh")
    res = ref.bptt(("k_step", 1))
    assert np.all(res.dL_dh_indirect == 0.0)
    assert np.array_equal(res.dL_dh, res.dL_dh_direct)
    # each delta_t is f'(a_t) times the direct part only: dL/dW_hh = sum_t delta_t h_{t-1}^T
    df = 1.0 - res.trace.h ** 2
    delta = df * res.dL_dh_direct
    h_prev = np.concatenate([res.trace.h0[None], res.trace.h[:-1]])
    expected = sum(delta[t].T @ h_prev[t] for t in range(ref.T))
    assert_close(res.grads.W_hh, expected, rtol=1e-13, what="dL/dW_hh with k = 1")
    assert_close(res.dL_dh0, delta[0] @ ref.p.W_hh, rtol=1e-13, what="h0 hears L_1 only")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_h0_gets_the_gradient_of_L_t_only_if_t_is_at_most_k(k):
    T = 5
    for t in range(1, T + 1):
        only_t = np.eye(T)[t - 1]
        ref = Reference(T=T, B=2, activation="tanh", mask=only_t)
        dh0 = ref.bptt(("k_step", k)).dL_dh0
        if t <= k:
            assert np.all(np.abs(dh0).sum(axis=1) > 0), (t, k)
            assert_close(dh0, ref.bptt(None).dL_dh0, rtol=1e-13, what=f"h0 from L_{t}, k={k}")
        else:
            assert np.all(dh0 == 0.0), (t, k)


def test_row_t_of_k_step_reaches_back_exactly_k_states():
    """With only L_T in the loss, k-step truncation keeps dL/dh_t for t > T-k and zeroes the rest."""
    T, k = 7, 3
    ref = Reference(T=T, mask=np.eye(T)[-1])
    full, trunc = ref.bptt(None), ref.bptt(("k_step", k))
    np.testing.assert_allclose(trunc.dL_dh[T - k:], full.dL_dh[T - k:], rtol=1e-14)
    assert np.all(trunc.dL_dh[: T - k] == 0.0) and np.all(full.dL_dh[: T - k] != 0.0)


# ------------------------------------------------------------------------------- chunked
@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("activation,loss,reduction,batch,mask", CASES)
def test_chunked_matches_a_forward_run_in_detached_chunks(k, activation, loss, reduction, batch, mask):
    """Chunks 1..k, k+1..2k, ...: the state entering steps k+1, 2k+1, ... is a constant."""
    ref = Reference(T=6, B=batch, activation=activation, loss=loss, reduction=reduction, mask=mask)
    detach = tuple(range(k + 1, ref.T + 1, k))
    res = ref.bptt(("chunked", k))
    assert_matches(res, ref.gradients(detach=detach), f"chunked k={k}")
    assert np.isclose(res.loss, ref.loss(ref.p, ref.h0), rtol=1e-13)   # the loss is not truncated


def test_chunked_dL_dh_stops_at_each_boundary():
    T, k = 7, 3
    ref = Reference(T=T)
    res = ref.bptt(("chunked", k))
    for t in range(1, T + 1):
        crosses = t % k == 0 and t < T        # h_t feeds the detached entry of the next chunk
        assert (res.dL_dh_indirect[t - 1] == 0.0).all() == (crosses or t == T), t


# ---------------------------------------------------------------------------- randomized
def test_randomized_with_xi_all_ones_is_full_bptt():
    ref = Reference(T=6, B=2, activation="relu", loss="softmax_ce")
    assert_same_result(ref.bptt(("randomized", np.ones(6))), ref.bptt(None), "xi = 1")


@pytest.mark.parametrize("xi", [[1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 1, 1], [1, 0, 0, 0, 1, 0]])
def test_randomized_zeros_detach_the_state_entering_that_step(xi):
    ref = Reference(T=6, B=2, activation="tanh", loss="mse", reduction="mean")
    detach = tuple(t for t in range(1, 7) if xi[t - 1] == 0)
    res = ref.bptt(("randomized", np.array(xi, dtype=float)))
    assert_matches(res, ref.gradients(detach=detach), f"xi = {xi}")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_randomized_zeros_at_chunk_starts_equal_chunked(k):
    ref = Reference(T=7, B=2, activation="sigmoid", loss="sigmoid_bce")
    xi = np.ones(7)
    xi[k::k] = 0.0                      # steps k+1, 2k+1, ...
    assert_same_result(ref.bptt(("randomized", xi)), ref.bptt(("chunked", k)), f"chunked k={k}")


def grad_vector(result) -> np.ndarray:
    return np.concatenate([g.ravel() for _, g in result.grads.items()] + [result.dL_dh0.ravel()])


def test_randomized_expectation_over_every_xi_is_the_full_gradient():
    """T = 4: average over all 2^4 patterns of xi in {0, 1/p}, weighted by their probability."""
    T, p = 4, 0.3
    ref = Reference(T=T, B=2, activation="tanh")
    expected = np.zeros_like(grad_vector(ref.bptt(None)))
    for keep in itertools.product([0, 1], repeat=T):
        prob = np.prod([p if kept else 1 - p for kept in keep])
        expected += prob * grad_vector(ref.bptt(("randomized", np.array(keep) / p)))
    np.testing.assert_allclose(expected, grad_vector(ref.bptt(None)), rtol=1e-12, atol=1e-14)


def test_randomized_mean_over_seeds_is_close_to_the_full_gradient():
    """Monte Carlo with seeds 0..N-1 (fixed, so the test is deterministic).

    Tolerance: each entry of the mean must lie within 5 standard errors (sample standard
    deviation / sqrt(N)) of the exact gradient. For an unbiased estimator a |z| > 5 has
    probability ~6e-7 per entry (~3e-5 over the ~50 entries), so a correct implementation
    passes for practically any seed set; a biased one is caught as the standard error
    shrinks like 1/sqrt(N): without the 1/p rescaling, the same draws miss by > 20 errors.
    """
    T, p, N = 6, 0.5, 1500
    ref = Reference(T=T, B=2, activation="tanh")
    full = grad_vector(ref.bptt(None))
    draws = np.array([grad_vector(ref.bptt(("randomized", p, seed))) for seed in range(N)])
    unscaled = np.array([grad_vector(ref.bptt(("randomized", rc.draw_xi(T, p, seed) * p)))
                         for seed in range(N)])

    def worst_z(samples):
        se = samples.std(axis=0, ddof=1) / np.sqrt(N)
        err = np.abs(samples.mean(axis=0) - full)
        tiny = 1e-12 * np.abs(full).max()
        varying = se > tiny              # W_hy, b_y do not depend on xi (only rounding varies)
        assert np.all(err[~varying] <= tiny)
        return np.max(err[varying] / se[varying])

    assert worst_z(draws) < 5.0
    assert worst_z(unscaled) > 20.0


# ------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("truncation,match", [
    (("k_step", 0), r"\('k_step', k\) needs an integer k >= 1, got 0"),
    (("k_step", -2), r"k >= 1, got -2"),
    (("chunked", 0), r"\('chunked', k\) needs an integer k >= 1, got 0"),
    (("chunked", 2.5), r"k >= 1, got 2.5"),
    (("randomized", 0.0), r"needs 0 < p <= 1, got 0.0"),
    (("randomized", -0.5), r"needs 0 < p <= 1, got -0.5"),
    (("randomized", 1.5, 3), r"needs 0 < p <= 1, got 1.5"),
    (("randomized", np.ones(5)), r"xi of shape \(6,\) .*got shape \(5,\)"),
    (("randomized", np.ones((6, 1))), r"xi of shape \(6,\) .*got shape \(6, 1\)"),
    (("randomized", 0.5, np.ones(4)), r"xi of shape \(6,\) .*got shape \(4,\)"),
    (("randomized", -np.ones(6)), r"xi of shape \(6,\) with finite values >= 0"),
    (("dropout", 2), r"truncation must be None or a tuple starting with one of .*'dropout'"),
    ("k_step", r"truncation must be None or a tuple"),
    (("k_step",), r"truncation \('k_step',\) has the wrong arguments"),
])
def test_bad_truncation_arguments_raise_value_error_naming_them(truncation, match):
    ref = Reference(T=6)
    with pytest.raises(ValueError, match=match):
        ref.bptt(truncation)
