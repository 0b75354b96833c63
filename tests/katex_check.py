"""Render LaTeX with the KaTeX that Streamlit itself ships, through node, for the tests.

`katex_errors(formulas)` returns (formula, message) for every formula KaTeX refuses, rendered in
display mode with throwOnError, as st.latex would show it. `available()` says whether node and
Streamlit's katex bundle are there (tests skip otherwise). `unbalanced(latex)` is a structural
check that needs neither: braces and environments must pair up.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import streamlit

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
