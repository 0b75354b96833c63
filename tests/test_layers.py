"""The layers of issue 13 stay apart: figures draw (no engine calls, no matrix products), and no
module under ui/ or views/ of the Graph, Derivation, Model and Home pages multiplies a weight
matrix (the engine does: rnn_core.flow, rnn_core.jacobian_between, rnn_core.sgd_step)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ["ui/figures/graph.py", "ui/figures/graph_details.py", "ui/figures/graph_sheet.py",
           "ui/figures/derivation.py", "ui/figures/model.py", "ui/figures/style.py"]
UI = FIGURES + ["ui/config.py", "ui/state.py", "ui/keys.py", "ui/symbols.py", "ui/notation.py", "ui/sidebar.py",
                "ui/derivation.py", "ui/stages.py", "ui/presets.py", "ui/weights_io.py", "ui/weights_table.py",
                "ui/export.py", "ui/pages/__init__.py", "ui/pages/graph.py", "ui/pages/derivation.py",
                "ui/pages/model.py", "ui/pages/home.py", "views/graph.py", "views/derivation.py",
                "views/model.py", "views/home.py", "app.py"]
PRODUCT = re.compile(r"(?<!\()\s@\s|np\.(dot|matmul|einsum|tensordot|inner|outer)\(|\.dot\(")


def code_lines(path: str) -> list[tuple[int, str]]:
    """(number, line) of the code, comments and docstring-only lines left out."""
    lines, in_doc = [], False
    for number, line in enumerate((ROOT / path).read_text().splitlines(), start=1):
        stripped = line.strip()
        quotes = stripped.count('"""')
        if in_doc or (quotes == 1 and stripped.startswith('"""')):
            in_doc = in_doc != (quotes == 1)
            continue
        if stripped.startswith("#") or (quotes == 2 and stripped.startswith('"""')):
            continue
        lines.append((number, line.split("  #")[0]))
    return lines


@pytest.mark.parametrize("path", UI)
def test_no_matrix_product_outside_the_engine(path):
    found = [f"{path}:{n}: {line.strip()}" for n, line in code_lines(path) if PRODUCT.search(line)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("path", FIGURES)
def test_figures_ask_the_engine_for_nothing(path):
    found = [f"{path}:{n}: {line.strip()}" for n, line in code_lines(path) if re.search(r"\brc\.[a-z_]+\(", line)]
    assert not found, "\n".join(found)
    assert "import streamlit" not in (ROOT / path).read_text()
