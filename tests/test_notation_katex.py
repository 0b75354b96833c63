"""Every formula any page can show, in every notation, renders in KaTeX (Streamlit's own).

The formulas are collected from the pure builders (tests/katex_check.py: page_formulas), not
from a list written by hand, so a new equation or a new notation is checked as soon as it exists.
"""
from katex_check import katex_errors, page_formulas, requires_katex
from ui import notation as nt


@requires_katex
def test_every_formula_of_every_page_in_every_notation_renders():
    formulas = page_formulas()
    assert len(formulas) > 1000
    errors = katex_errors(list(formulas))
    assert [(formulas[f], f, message) for f, message in errors] == []


@requires_katex
def test_the_deep_learning_books_derivative_of_tanh_renders():
    # 1 - h^{(t)}^{2} is a double superscript: the whole Model page block was red source
    dl = nt.NOTATIONS["dlbook"]
    formula = nt.equations(dl, activation="tanh")["f'"]
    assert formula == r"f'(a^{(t)}) = 1 - \big(h^{(t)}\big)^{2}"
    assert katex_errors([formula, nt.model_block(dl, activation="tanh")]) == []


def test_the_collection_reaches_every_notation_and_stage():
    where = set(page_formulas().values())
    for key in nt.NOTATIONS:
        assert any(w.startswith(f"{key} derivation") for w in where), key
        assert any(w.startswith(f"{key} Model page block") for w in where), key
    assert any(" presets" in w for w in where) and any(" Home page" in w for w in where)
    for key, n in nt.NOTATIONS.items():
        for cell in ("lstm", "gru"):
            if nt.cell_names(n, cell).native:       # the others write the engine's formulas, found first
                assert any(w.startswith(f"{key} derivation {cell}") for w in where), (key, cell)
                assert any(w.startswith(f"{key} code panel {cell}") for w in where), (key, cell)
