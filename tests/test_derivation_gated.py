"""ui.derivation_gated and rnn_core.gate_parts: the LSTM's and the GRU's walk prints the engine's numbers.

Every printed value is read back from the LaTeX and compared with rnn_core's results (forward
trace, BPTTResult) and, for the gates' deltas, with their definitions written here in numpy, so
that the page cannot print a number the engine did not compute.
"""
import itertools

import numpy as np
import pytest

import rnn_core as rc
from katex_check import unbalanced
from rnn_core.cells import gru, lstm
from rnn_core.gate_parts import gate_pre_activations, indirect_parts, path_product, reset_input_gradient
from test_derivation import assert_printed, parse_matrices, parse_number, rounded
from ui import derivation, derivation_gated
from ui import notation as nt
from ui.stages import keys_of

NOTATIONS = list(nt.NOTATIONS)


def make_problem(cell, *, T=5, D=3, H=4, O=3, loss="softmax_ce", reduction="sum", seed=0):
    rng = np.random.default_rng(seed)
    params = rc.init_params(D, H, O, seed=seed, cell=cell)
    params = params.replace(b_y=0.1 * rng.standard_normal(O))
    xs = rng.standard_normal((T, D))
    ys = rng.integers(0, O, T) if loss == "softmax_ce" else rng.standard_normal((T, O))
    return derivation.Example(params, xs, ys, None, "tanh", loss, reduction)


def by_key(stages):
    eqs = [eq for stage in stages for eq in stage.equations]
    keys = [eq.key for eq in eqs]
    assert len(keys) == len(set(keys)), keys
    return dict(zip(keys, eqs))


def value(eq):
    """The last printed matrix of an equation (its value)."""
    return parse_matrices(eq.latex())[-1]


def sig_prime(s):
    return s * (1 - s)


def expected(problem, res, t, lr):
    """key -> the value the equation must print, from the engine's results and the definitions."""
    P, tr, i, T = problem.params, res.trace, t - 1, problem.T
    g = tr.gates
    h_prev = tr.h0 if t == 1 else tr.h[i - 1]
    e = {"o": tr.o[i], "dL_do": res.dL_do[i], "dL_dh": res.dL_dh[i], "dL_dh0": res.dL_dh0}
    for name in P.names():
        e[f"grad_{name}"] = getattr(res.grads, name)
    if res.cell == "lstm":
        c_prev = tr.c0 if t == 1 else tr.c[i - 1]
        dc, dh = res.dL_dc[i], res.dL_dh[i]
        e.update({"gate_i": g["i"][i], "gate_f": g["f"][i], "gate_G": g["G"][i], "gate_c~": g["c~"][i],
                  "c": tr.c[i], "h": tr.h[i], "dL_dc": dc, "dL_dc0": res.dL_dc0,
                  "delta_i": dc * g["c~"][i] * sig_prime(g["i"][i]),
                  "delta_f": dc * c_prev * sig_prime(g["f"][i]),
                  "delta_G": dh * np.tanh(tr.c[i]) * sig_prime(g["G"][i]),
                  "delta_c~": dc * g["i"][i] * (1 - g["c~"][i] ** 2),
                  "update_W_hf": P.W_hf - lr * res.grads.W_hf, "update_b_f": P.b_f - lr * res.grads.b_f})
        H = P.b_i.shape[0]
        for k, name in enumerate(("delta_i", "delta_f", "delta_G", "delta_c~")):   # the engine's own
            np.testing.assert_allclose(e[name], res.dL_da[i, k * H:(k + 1) * H], atol=1e-12)
    else:
        dh = res.dL_dh[i]
        d_h = dh * (1 - g["z"][i]) * (1 - g["h~"][i] ** 2)
        g_rh = P.W_hh.T @ d_h
        e.update({"gate_r": g["r"][i], "gate_z": g["z"][i], "gate_h~": g["h~"][i], "h": tr.h[i],
                  "delta_z": dh * (h_prev - g["h~"][i]) * sig_prime(g["z"][i]), "delta_h~": d_h,
                  "delta_rh": g_rh, "delta_r": g_rh * h_prev * sig_prime(g["r"][i]),
                  "update_W_hz": P.W_hz - lr * res.grads.W_hz, "update_b_z": P.b_z - lr * res.grads.b_z})
    return e


CASES = list(itertools.product(("lstm", "gru"), NOTATIONS, (1, 3, 5)))


@pytest.mark.parametrize("cell, notation, t", CASES)
def test_every_printed_value_is_the_engines(cell, notation, t):
    problem = make_problem(cell)
    res = problem.solve()
    stages = derivation_gated.build(problem, res, t=t, notation=notation, lr=0.1)
    assert [s.key for s in stages] == list(keys_of(cell))
    eqs = by_key(stages)
    for key, want in expected(problem, res, t, 0.1).items():
        assert key in eqs, (key, list(eqs))
        assert_printed(value(eqs[key]), want, what=f"{cell} {notation} t={t} {key}")
    L_after = problem.solve(rc.sgd_step(problem.params, res.grads, lr=0.1)[0]).loss
    assert parse_number(eqs["L_new"].latex().split("&= ")[-1].split(r" \end")[0]) == rounded(L_after)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_gates_pre_activations_and_the_backward_paths_add_up(cell):
    problem = make_problem(cell)
    res = problem.solve()
    P, t, i = problem.params, 3, 2
    eqs = by_key(derivation_gated.build(problem, res, t=t, notation="wxh", lr=0.1))
    h_prev = res.trace.h[i - 1]
    letter = "f" if cell == "lstm" else "z"
    pre = P.W_xf @ problem.xs[i] + P.W_hf @ h_prev + P.b_f if cell == "lstm" else \
        P.W_xz @ problem.xs[i] + P.W_hz @ h_prev + P.b_z
    gate = "f" if cell == "lstm" else "z"
    [printed_pre, _] = parse_matrices(eqs[f"gate_{gate}"].latex())
    assert_printed(printed_pre, pre, what=f"pre-activation of {letter}")
    # dL/dh_t: direct + each path = the two parts = the value
    matrices = parse_matrices(eqs["dL_dh"].latex())
    parts = indirect_parts(P, res, t)
    names = ("i", "f", "o", "c") if cell == "lstm" else ("carry", "h", "r", "z")
    shown = [res.dL_dh_direct[i]] + [parts[k] for k in names] + [res.dL_dh_direct[i], res.dL_dh_indirect[i],
                                                                 res.dL_dh[i]]
    for printed, want in zip(matrices[-len(shown):], shown):
        assert_printed(printed, want)
    if cell == "lstm":
        matrices = parse_matrices(eqs["dL_dc"].latex())
        tanh_c = np.tanh(res.trace.c[i])
        operands = [res.dL_dh[i], res.trace.gates["G"][i], 1 - tanh_c ** 2, res.trace.gates["f"][i + 1],
                    res.dL_dc[i + 1], res.dL_dc_direct[i], res.dL_dc_indirect[i], res.dL_dc[i]]
        for printed, want in zip(matrices, operands):
            assert_printed(printed, want)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_big_model_prints_previews_with_norms_and_t_equal_T_has_no_indirect_part(cell):
    problem = make_problem(cell, T=4, H=8, D=7, O=8)
    res = problem.solve()
    eqs = by_key(derivation_gated.build(problem, res, t=4, notation="d2l", lr=0.1))
    assert_printed(value(eqs["dL_dh"]), res.dL_dh[3])
    assert "indirect part is 0" in eqs["dL_dh"].note
    assert_printed(value(eqs["grad_W_hy"]), res.grads.W_hy)


@pytest.mark.parametrize("cell, notation", list(itertools.product(("lstm", "gru"), NOTATIONS)))
def test_every_stage_is_well_formed_latex_in_the_notations_letters(cell, notation):
    problem = make_problem(cell, loss="mse", reduction="mean")
    stages = derivation_gated.build(problem, problem.solve(), t=2, notation=notation, lr=0.1)
    names = nt.cell_names(nt.NOTATIONS[notation], cell)
    text = " ".join(eq.latex() for s in stages for eq in s.equations)
    for eq in (eq for s in stages for eq in s.equations):
        latex = eq.latex()
        assert "None" not in latex and "nan" not in latex, latex
        assert unbalanced(latex) is None, (unbalanced(latex), latex)
    forget = "W_hf" if cell == "lstm" else "W_hz"
    assert names.param(forget) in text
    if notation == "d2l" and cell == "lstm":
        assert "F_{2}" in text and r"\tilde{C}_{2}" in text and "W_{hf}" in text
    if notation == "dlbook":
        assert "W^{f}" in text if cell == "lstm" else "W^{u}" in text
    assert names.native == (notation in ("wxh", "d2l", "dlbook"))


def test_cell_names_are_general_and_fall_back_to_the_engines():
    for key, n in nt.NOTATIONS.items():
        assert nt.cell_names(n, "rnn") is None
        assert nt.cell_param(n, "rnn", "W_hh") == n.param("W_hh")
        for cell in ("lstm", "gru"):
            names = nt.cell_names(n, cell)
            assert set(names.params) == set(rc.get_cell(cell).param_names)
            assert len(set(names.params.values())) == len(names.params), names.params   # all distinct
            assert names.note
            if not names.native:
                assert "no standard" in names.note and names.base is nt.ENGINE
    assert nt.plain_cell_param(nt.NOTATIONS["dlbook"], "lstm", "W_hf") == "W^f"
    assert nt.cell_param(nt.NOTATIONS["d2l"], "gru", "W_xh") == "W_{xh}"     # D2L 10.2's, not its W_{hx}
    assert nt.cell_param(nt.NOTATIONS["d2l"], "lstm", "W_hy") == "W_{qh}"


# ---- rnn_core.gate_parts -------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_paths_into_h_add_up_to_the_engines_indirect_part(cell):
    problem = make_problem(cell, T=7, H=5)
    res = problem.solve()
    for t in range(0, problem.T + 1):
        total = sum(indirect_parts(problem.params, res, t).values())
        want = res.dL_dh0 if t == 0 else res.dL_dh_indirect[t - 1]
        np.testing.assert_allclose(total, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_paths_into_h0_add_up_to_the_reference_loops_gradient(cell):
    """The readable loop (rnn_core/cells/*.py reference_bptt) is the independent reference."""
    problem = make_problem(cell, T=4, H=3, loss="mse")
    P, loss, zeros = problem.params, rc.get_loss("mse"), np.zeros(3)
    if cell == "lstm":
        _, _, dh0, _ = lstm.reference_bptt(P, problem.xs, problem.ys, loss=loss, h0=zeros, c0=zeros)
    else:
        _, _, dh0 = gru.reference_bptt(P, problem.xs, problem.ys, loss=loss, h0=zeros)
    np.testing.assert_allclose(sum(indirect_parts(P, problem.solve(), 0).values()), dh0, rtol=1e-10)


def test_the_reset_states_gradient_is_W_hh_transposed_times_the_candidates_delta():
    problem = make_problem("gru", H=3)
    res = problem.solve()
    for t in range(1, problem.T + 1):
        np.testing.assert_allclose(reset_input_gradient(problem.params, res, t),
                                   problem.params.W_hh.T @ res.dL_da[t - 1, 6:9], rtol=1e-12)


def test_gate_parts_refuse_what_they_cannot_split():
    problem = make_problem("gru")
    res = problem.solve()
    with pytest.raises(ValueError):
        indirect_parts(problem.params, res, problem.T + 1)
    with pytest.raises(ValueError):
        reset_input_gradient(make_problem("lstm").params, make_problem("lstm").solve(), 1)
    vanilla = rc.init_params(3, 4, 3, seed=0)
    xs = np.zeros((3, 3))
    with pytest.raises(ValueError):
        indirect_parts(vanilla, rc.bptt(vanilla, xs, np.zeros(3, dtype=int), loss="softmax_ce"), 1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_pre_activations_squash_to_the_traces_gates_and_the_path_is_their_product(cell):
    problem = make_problem(cell, T=6, H=3)
    tr = problem.solve().trace
    for t in range(1, problem.T + 1):
        pres = gate_pre_activations(problem.params, tr, t)
        for gate, pre in pres.items():
            squash = np.tanh if gate.endswith("~") else (lambda a: 1 / (1 + np.exp(-a)))
            np.testing.assert_allclose(squash(pre), tr.gates[gate][t - 1], rtol=1e-12)
    gate = "f" if cell == "lstm" else "z"
    np.testing.assert_allclose(path_product(tr, 2), tr.gates[gate][2] * tr.gates[gate][3] * tr.gates[gate][4]
                               * tr.gates[gate][5], rtol=1e-12)
    np.testing.assert_array_equal(path_product(tr, problem.T), np.ones(3))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_step_one_unit(cell):
    problem = make_problem(cell, T=1, H=1, D=1, O=2)
    res = problem.solve()
    eqs = by_key(derivation_gated.build(problem, res, t=1, notation="dlbook", lr=0.1))
    assert_printed(value(eqs["dL_dh"]), res.dL_dh[0])
    assert_printed(value(eqs["dL_dh0"]), res.dL_dh0)
    if cell == "lstm":
        assert_printed(value(eqs["dL_dc"]), res.dL_dc[0])
        assert "only the path through" in eqs["dL_dc"].note
