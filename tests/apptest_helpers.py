"""Shared by the AppTest test modules: the app's page list, opening one page with a URL query,
emptying the caches between tests, and a fixture that makes many AppTest runs cheaper.

Every AppTest builds a fresh ScriptCache, so each run re-reads and re-compiles app.py and the
page (Streamlit's "magic" rewrites the AST, ~0.1 s per script). The files do not change during
a test session, so `compiled_once` keeps the compiled code for the whole module. Use with
`pytestmark = pytest.mark.usefixtures("compiled_once")` after `from apptest_helpers import compiled_once`."""
import ast
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest

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


def open_app_page(page: str, query: dict | None = None, *, timeout: float = 180) -> AppTest:
    """The app opened with `query` in its URL, then switched to `page` (e.g. "views/graph.py");
    asserts the run raised nothing."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = str(value)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def fresh_caches():
    """Every test starts with empty caches (results are shared across sessions otherwise)."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield


def count_calls(monkeypatch, targets) -> dict[str, int]:
    """Count calls from now on: {name: calls} of every (module, function name) in `targets`
    (e.g. (rnn_core, "bptt"), or a service module and an engine function it imported by name),
    each still doing its work. For tests that a rerun asks the engine for nothing."""
    calls: dict[str, int] = {}
    for owner, name in targets:
        original = getattr(owner, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _original(*args, **kwargs)
        monkeypatch.setattr(owner, name, counted)
    return calls


def rerun_with(at: AppTest, **settings) -> AppTest:
    """Change settings (config field names) and rerun once: through the widget when the page
    draws it (as a reader would), else through its session state (another page's view); asserts
    the run raised nothing and the config took every value."""
    for name, value in settings.items():
        key = f"cfg_{name}"
        drawn = next((w for kind in ("selectbox", "toggle", "slider", "segmented_control", "select_slider",
                                     "number_input") for w in at.get(kind) if getattr(w, "key", None) == key), None)
        if drawn is not None:
            drawn.set_value(value)
        else:
            at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    config = at.session_state["_config"]
    assert all(getattr(config, name) == value for name, value in settings.items()), config
    return at
