"""Render LaTeX with the KaTeX that Streamlit itself ships, through node, for the tests.

`katex_errors(formulas)` returns (formula, message) for every formula KaTeX refuses, rendered in
display mode with throwOnError, as st.latex would show it. `available()` says whether node and
Streamlit's katex bundle are there; `requires_katex` skips a test without them, except in CI
(the CI environment variable set, as .ci/run does after installing Debian's nodejs), where a
missing node is a failure. KaTeX itself comes from the streamlit wheel (pip), nothing else.
`unbalanced(latex)` is a structural check that needs neither: braces and environments must
pair up.

`page_formulas()` collects every formula the app's pure builders can hand to a page, in every
notation: the notation module's equations and prose, the Model page's block, every stage of
the derivation for every activation, loss and reduction, the Home page's texts and the
presets' sentences; inline $...$ of markdown included.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import streamlit

import rnn_core as rc
from ui import derivation, derivation_code, derivation_gated
from ui import notation as nt
from ui.presets import PRESETS

_BUNDLE = sorted((Path(streamlit.__file__).parent / "static" / "static" / "js").glob("katex.*.js"))

_SCRIPT = """
import katex from %s;
let input = '';
process.stdin.on('data', chunk => input += chunk);
process.stdin.on('end', () => {
  const errors = [];
  for (const formula of JSON.parse(input)) {
    try { katex.renderToString(formula, {throwOnError: true, displayMode: true, strict: 'ignore'}); }
    catch (e) { errors.push([formula, String(e.message)]); }
  }
  process.stdout.write(JSON.stringify(errors));
});
"""


def available() -> bool:
    return bool(_BUNDLE) and shutil.which("node") is not None


requires_katex = pytest.mark.skipif(not available() and not os.environ.get("CI"),
                                    reason="needs node and Streamlit's katex bundle (CI installs them)")


def katex_errors(formulas: list[str]) -> list[tuple[str, str]]:
    """(formula, KaTeX's message) for each formula that does not render."""
    script = _SCRIPT % json.dumps(_BUNDLE[-1].as_uri())
    done = subprocess.run(["node", "--input-type=module", "-e", script], input=json.dumps(formulas),
                          capture_output=True, text=True, timeout=120, check=True)
    return [tuple(e) for e in json.loads(done.stdout)]


def unbalanced(latex: str) -> str | None:
    """A description of the first unpaired brace or \\begin/\\end in latex, or None if all pair up."""
    depth = 0
    for i, ch in enumerate(re.sub(r"\\[{}]", "", latex)):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return f"a '}}' closes nothing at character {i}"
    if depth:
        return f"{depth} '{{' never closed"
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", latex):
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            return f"\\end{{{env}}} does not match"
    return f"\\begin{{{stack[-1]}}} never ended" if stack else None


# ---- every formula the pages can show --------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
_INLINE = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$", re.S)


def inline_math(markdown: str) -> list[str]:
    """The $...$ formulas of a markdown text, in order."""
    return _INLINE.findall(markdown)


def page_formulas() -> dict[str, str]:
    """formula -> where it comes from (the first place found), over every notation."""
    found: dict[str, str] = {}

    def add(where: str, *formulas: str) -> None:
        for formula in formulas:
            found.setdefault(formula, where)

    def add_markdown(where: str, *texts: str) -> None:
        for text in texts:
            add(where, *inline_math(text))

    for key, n in nt.NOTATIONS.items():
        _notation_formulas(key, n, add, add_markdown)
        _derivation_formulas(key, add, add_markdown)
        _gated_formulas(key, n, add, add_markdown)
    return found


def _notation_formulas(key, n, add, add_markdown) -> None:
    for act, loss, red, biases, every in itertools.product(
            sorted(rc.ACTIVATIONS), sorted(rc.LOSSES), ("sum", "mean"), (True, False), (True, False)):
        model = dict(activation=act, loss=loss, reduction=red, biases=biases, every_step=every)
        add(f"{key} equations {model}", *nt.equations(n, **model).values())
        add(f"{key} Model page block {model}", nt.model_block(n, **model))
        add_markdown(f"{key} double-sum note {act}", f"${nt.double_sum_piece(n, activation=act)}$")
    add(f"{key} mapping", n.mapping())
    add_markdown(f"{key} prose", n.convention, nt.immediate_definition(n), *nt.summary(n))
    add_markdown(f"{key} Home page", *(nt.fill(text, n) for _, text in _home_summaries()))
    add_markdown(f"{key} presets", *(preset.text(key) for preset in PRESETS.values()))


def _home_summaries() -> list[tuple[str, str]]:
    """The Home page's PAGE_SUMMARIES (its service, ui/pages/home.py)."""
    from ui.pages.home import PAGE_SUMMARIES
    return list(PAGE_SUMMARIES)


def _problem(activation: str, loss: str, reduction: str, *, T=3, H=2, D=2, O=2, biases=True, mask=None):
    rng = np.random.default_rng(0)
    params = rc.init_params(D, H, O, seed=0, init="normal", spectral_radius=1.1)
    if biases:
        params = params.replace(b_h=0.1 * rng.standard_normal(H), b_y=0.1 * rng.standard_normal(O))
    xs = rng.standard_normal((T, D))
    ys = {"softmax_ce": lambda: rng.integers(0, O, T), "mse": lambda: rng.standard_normal((T, O)),
          "sigmoid_bce": lambda: rng.random((T, O))}[loss]()
    return derivation.Example(params, xs, ys, mask, activation, loss, reduction)


def _derivation_formulas(key, add, add_markdown) -> None:
    """Every stage at the first, a middle and the last step, for every model kind; a model too
    big to print whole; D2L's model without biases; a masked 'mean'."""
    problems = [_problem(*kind) for kind in itertools.product(sorted(rc.ACTIVATIONS), sorted(rc.LOSSES),
                                                                ("sum", "mean"))]
    problems += [_problem("tanh", "softmax_ce", "sum", T=8, H=8, D=7, O=8),
                 _problem("identity", "mse", "mean", biases=False),
                 _problem("relu", "mse", "mean", mask=np.array([0.0, 1.0, 2.0]))]
    for problem in problems:
        result = problem.solve()
        for t in sorted({1, (problem.T + 1) // 2, problem.T}):
            terms = derivation.double_sum_terms(problem, result, t)
            where = f"{key} derivation {problem.activation}/{problem.loss}/{problem.reduction} t={t}"
            for stage in derivation.build(problem, result, t=t, notation=key, lr=0.1, double_sum=terms):
                add(where, *(eq.latex(inline_tag=True) for eq in stage.equations),
                    *(eq.latex() for eq in stage.equations))
                add_markdown(where, stage.title, stage.intro, *stage.notes,
                             *(eq.note for eq in stage.equations))


def _gated_problem(cell: str, loss: str, reduction: str, *, T=3, H=2, D=2, O=2):
    rng = np.random.default_rng(0)
    params = rc.init_params(D, H, O, seed=0, cell=cell)
    xs = rng.standard_normal((T, D))
    ys = rng.integers(0, O, T) if loss == "softmax_ce" else (
        rng.random((T, O)) if loss == "sigmoid_bce" else rng.standard_normal((T, O)))
    return derivation.Example(params, xs, ys, None, "tanh", loss, reduction)


def _gated_formulas(key, n, add, add_markdown) -> None:
    """The LSTM's and the GRU's walk at the first, a middle and the last step for every loss and
    reduction (and a model too big to print whole), the cell's names, and the engine's loops
    beside their equations, in notation `key`."""
    for cell in ("lstm", "gru"):
        names = nt.cell_names(n, cell)
        add(f"{key} {cell} names", names.mapping())
        add_markdown(f"{key} {cell} names", names.note)
        problems = [_gated_problem(cell, loss, red) for loss, red in
                    itertools.product(sorted(rc.LOSSES), ("sum", "mean"))]
        problems.append(_gated_problem(cell, "softmax_ce", "sum", T=4, H=8, D=7, O=8))
        for problem in problems:
            result = problem.solve()
            for t in sorted({1, 2, problem.T}):
                where = f"{key} derivation {cell} {problem.loss}/{problem.reduction} t={t}"
                for stage in derivation_gated.build(problem, result, t=t, notation=key, lr=0.1):
                    add(where, *(eq.latex(inline_tag=True) for eq in stage.equations),
                        *(eq.latex() for eq in stage.equations))
                    add_markdown(where, stage.title, stage.intro, *stage.notes,
                                 *(eq.note for eq in stage.equations))
    for cell in ("rnn", "lstm", "gru"):
        loop = derivation_code.loop(cell)
        for loss in sorted(rc.LOSSES):
            eqs = derivation_code.equations(cell, key, loss=loss)
            add(f"{key} code panel {cell} {loss}", derivation_code.aligned(loop, eqs),
                *(derivation_code.block_latex(block, eqs) for block in derivation_code.blocks(loop)))
