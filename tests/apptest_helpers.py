"""Shared by the AppTest-heavy test modules (test_hostile_urls, test_hostile_uploads,
test_extremes): the app's page list, and a fixture that makes many AppTest runs cheaper.

Every AppTest builds a fresh ScriptCache, so each run re-reads and re-compiles app.py and the
page (Streamlit's "magic" rewrites the AST, ~0.1 s per script). The files do not change during
a test session, so `compiled_once` keeps the compiled code for the whole module. Use with
`pytestmark = pytest.mark.usefixtures("compiled_once")` after `from apptest_helpers import compiled_once`."""
import ast
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner.script_cache import ScriptCache

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def page_files() -> list[str]:
    """The pages app.py registers (its PAGES table), read without running it."""
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets):
            return [file for file, _, _ in ast.literal_eval(node.value) if (ROOT / file).exists()]
    raise AssertionError("app.py has no PAGES table")


@pytest.fixture(scope="module")
def compiled_once():
    compiled: dict[str, object] = {}
    original = ScriptCache.get_bytecode

    def get_bytecode(self, script_path: str):
        if script_path not in compiled:
            compiled[script_path] = original(self, script_path)
        return compiled[script_path]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ScriptCache, "get_bytecode", get_bytecode)
        yield
