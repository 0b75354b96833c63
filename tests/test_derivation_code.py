"""ui.derivation_code: every line of the engine's readable loops is shown beside its equation.

The mapping reads the loops' source with inspect; these tests fail as soon as an edit of a loop
leaves a computing line without its equation (or an entry of the table without its line).
"""
import inspect

import pytest

from katex_check import unbalanced
from ui import derivation_code as dc
from ui import notation as nt

CELLS = ("rnn", "lstm", "gru")


@pytest.mark.parametrize("cell", CELLS)
def test_every_loop_line_has_its_equation_in_every_notation(cell):
    loop = dc.loop(cell)
    body = [line for line in loop.lines if line.in_loop]
    assert body and all(line.tags or "zeros_like" in line.code for line in body)
    assert loop.source == inspect.getsource(dc.LOOPS[cell])
    for notation in nt.NOTATIONS:
        eqs = dc.equations(cell, notation)
        for tag in loop.tags():
            assert eqs[tag], (cell, notation, tag)
        for block in dc.blocks(loop):
            latex = dc.block_latex(block, eqs)
            assert unbalanced(latex) is None and f"line{'s' if len(block.numbers) > 1 else ''} {block.numbers[0]}" in latex
        assert unbalanced(dc.aligned(loop, eqs)) is None


@pytest.mark.parametrize("cell", CELLS)
def test_the_forward_lines_carry_the_engines_own_equation_numbers(cell):
    """Where the engine's comment names an equation, the tag agrees with it."""
    for line in dc.loop(cell).tagged():
        for number in ("(L1)", "(L2)", "(L3)", "(L4)", "(L5)", "(L6)", "(G1)", "(G2)", "(G3)", "(G4)",
                       "(1)", "(2)", "(3)"):
            if f"# {number}" in line.code:
                assert number.strip("()") in line.tags, (line.code, line.tags)


def test_the_blocks_cover_every_tagged_line_once():
    for cell in CELLS:
        loop = dc.loop(cell)
        numbers = [n for block in dc.blocks(loop) for n in block.numbers]
        assert numbers == [line.number for line in loop.tagged()]
    deltas = [b for b in dc.blocks(dc.loop("lstm")) if b.tags == ("L9",)]
    assert len(deltas) == 1 and deltas[0].code.count("\n") == 3          # the four deltas in one row


def _with_source(monkeypatch, cell, edit):
    source = inspect.getsource(dc.LOOPS[cell])
    monkeypatch.setattr(dc.inspect, "getsource", lambda fn: edit(source))


def test_a_changed_line_loses_its_equation_and_fails(monkeypatch):
    _with_source(monkeypatch, "lstm", lambda s: s.replace("dc_next = f[t] * dc", "dc_next = dc * f[t]"))
    with pytest.raises(ValueError, match="match"):
        dc.loop("lstm")


def test_a_new_line_without_an_equation_fails(monkeypatch):
    _with_source(monkeypatch, "gru", lambda s: s.replace("        dh = p.W_hy.T @ do + dh_next",
                                                         "        dh = p.W_hy.T @ do + dh_next\n        dh = 2 * dh"))
    with pytest.raises(ValueError, match="line"):
        dc.loop("gru")


def test_the_annotated_source_marks_only_what_its_comments_do_not_say():
    text = dc.loop("lstm").annotated()
    assert "# (L1)\n" in text                          # the engine's own mark, not repeated
    assert "# dL/dc_t  → (L8)" in text and "→ (L10)" in text and "L10:out" not in text


@pytest.mark.parametrize("cell", CELLS)
def test_the_export_carries_the_loop_and_its_equations(cell):
    from ui.pages import derivation as service
    text = service.loop_markdown(cell, "dlbook", "mse")
    assert "```python\n" + dc.loop(cell).annotated() + "\n```" in text
    assert text.count("$$") == 2 and unbalanced(text) is None
