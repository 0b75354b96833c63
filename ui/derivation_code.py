"""The engine's readable reference loops beside the equations they implement, line by line.

Each cell's `reference_bptt` (rnn_core/cells/rnn.py, lstm.py, gru.py) is BPTT as a short loop,
tested equal to the fast path (tests/test_cells_api.py). `loop(cell)` reads its source with
inspect and tags every line of its loop bodies with the equations it computes, from LINE_TAGS:
a fragment of the line and its tags. A line of a loop body that no fragment matches, or a fragment
that matches no line or several, is an error (tests/test_derivation_code.py), so an edit of the
engine's loop that loses a line's equation fails the tests instead of showing a wrong tag.
Pure: no streamlit.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from rnn_core.cells import gru, lstm, rnn
from ui import derivation_gated as dg
from ui import notation as nt

LOOPS = {"rnn": rnn.reference_bptt, "lstm": lstm.reference_bptt, "gru": gru.reference_bptt}

# fragment of a loop-body line -> the equations it computes; () for bookkeeping (a reset).
# "10:out" is the output layer's part of (10) (the same number on the page: `label`)
LINE_TAGS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "rnn": (
        ("as_[t] = params.W_xh @ xs[t]", ("1",)),
        ("hs[t] = f(as_[t])", ("2",)),
        ("os_[t] = params.W_hy @ hs[t]", ("3",)),
        ("L += float(loss.value(", ("4", "5")),
        ("do = loss.grad(", ("6",)),
        ('g["W_hy"] += np.outer(do, hs[t])', ("10:out",)),
        ("dh = params.W_hy.T @ do + dh_next", ("7",)),
        ("da = df(as_[t], hs[t]) * dh", ("10",)),
        ('g["W_xh"] += np.outer(da, xs[t])', ("10",)),
        ("dh_next = params.W_hh.T @ da", ("7",)),
    ),
    "lstm": (
        ("i[t] = sig(p.W_xi @ xs[t]", ("L1",)),
        ("f[t] = sig(p.W_xf @ xs[t]", ("L2",)),
        ("G[t] = sig(p.W_xo @ xs[t]", ("L3",)),
        ("cc[t] = np.tanh(p.W_xc @ xs[t]", ("L4",)),
        ("c[t] = f[t] * c[t - 1] + i[t] * cc[t]", ("L5",)),
        ("h[t] = G[t] * np.tanh(c[t])", ("L6",)),
        ("o[t] = p.W_hy @ h[t] + p.b_y", ("3",)),
        ("L += float(loss.value(", ("4", "5")),
        ("do = loss.grad(", ("6",)),
        ('g["W_hy"] += np.outer(do, h[t])', ("L10:out",)),
        ("dh = p.W_hy.T @ do + dh_next", ("L7",)),
        ("dc = dh * G[t] * (1 - np.tanh(c[t]) ** 2) + dc_next", ("L8",)),
        ('deltas = {"i": dc * cc[t] * i[t] * (1 - i[t])', ("L9",)),
        ('"f": dc * c[t - 1] * f[t] * (1 - f[t])', ("L9",)),
        ('"o": dh * np.tanh(c[t]) * G[t] * (1 - G[t])', ("L9",)),
        ('"c": dc * i[t] * (1 - cc[t] ** 2)}', ("L9",)),
        ("dh_next = np.zeros_like(h0)", ()),
        ('g[f"W_x{k}"] += np.outer(d, xs[t])', ("L10",)),
        ('dh_next += getattr(p, f"W_h{k}").T @ d', ("L7",)),
        ("dc_next = f[t] * dc", ("L8",)),
    ),
    "gru": (
        ("r[t] = sig(p.W_xr @ xs[t]", ("G1",)),
        ("z[t] = sig(p.W_xz @ xs[t]", ("G2",)),
        ("hc[t] = np.tanh(p.W_xh @ xs[t] + p.W_hh @ (r[t] * h[t - 1])", ("G3",)),
        ("h[t] = z[t] * h[t - 1] + (1 - z[t]) * hc[t]", ("G4",)),
        ("o[t] = p.W_hy @ h[t] + p.b_y", ("3",)),
        ("L += float(loss.value(", ("4", "5")),
        ("do = loss.grad(", ("6",)),
        ('g["W_hy"] += np.outer(do, h[t])', ("G7:out",)),
        ("dh = p.W_hy.T @ do + dh_next", ("G5",)),
        ("d_z = dh * (h[t - 1] - hc[t]) * z[t] * (1 - z[t])", ("G6",)),
        ("d_h = dh * (1 - z[t]) * (1 - hc[t] ** 2)", ("G6",)),
        ("g_rh = p.W_hh.T @ d_h", ("G6",)),
        ("d_r = g_rh * h[t - 1] * r[t] * (1 - r[t])", ("G6",)),
        ('g["W_xz"] += np.outer(d_z, xs[t])', ("G7",)),
        ('g["W_xh"] += np.outer(d_h, xs[t])', ("G7",)),
        ('g["W_xr"] += np.outer(d_r, xs[t])', ("G7",)),
        ("dh_next = z[t] * dh + r[t] * g_rh + p.W_hr.T @ d_r + p.W_hz.T @ d_z", ("G5",)),
    ),
}


@dataclass(frozen=True)
class Line:
    number: int                 # 1-based within the function's source (as st.code numbers it)
    code: str                   # the line as written, without its trailing newline
    tags: tuple[str, ...]       # the equations it computes; () for bookkeeping or outside a loop
    in_loop: bool               # inside a for loop's body (a line that must be tagged)


@dataclass(frozen=True)
class Loop:
    cell: str
    source: str
    lines: tuple[Line, ...]

    def tagged(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.tags)

    def tags(self) -> tuple[str, ...]:
        """Every tag of the loop, in the order the lines first name it."""
        return tuple(dict.fromkeys(tag for line in self.lines for tag in line.tags))

    def annotated(self) -> str:
        """The source with each tagged line's equations marked at its end, `→ (L7)`, in a
        comment, unless the line's own comment already names them: what the page shows."""
        columns = [line.code.index("  #") + 2 for line in self.lines if "  #" in line.code]
        column = max(set(columns), key=columns.count) if columns else 0    # where the comments start
        out = []
        for line in self.lines:
            code = line.code.rstrip()
            labels = list(dict.fromkeys(label_of(tag) for tag in line.tags))
            if any(f"({label})" not in code for label in labels):
                mark = "→ " + ", ".join(f"({label})" for label in labels)
                code = (code + "  " + mark) if "#" in code else (code.ljust(column - 2) + "  # " + mark)
            out.append(code)
        return "\n".join(out)


def _loop_body_lines(source_lines: list[str]) -> set[int]:
    """0-based indices of the non-blank, non-comment lines inside a `for` loop's body (loop
    headers themselves excluded)."""
    inside, loops = set(), []      # indentation of each open for
    for k, raw in enumerate(source_lines):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip())
        while loops and indent <= loops[-1]:
            loops.pop()
        if loops and not re.match(r"for .* in .*:$", _code_part(text)):
            inside.add(k)
        if re.match(r"for .* in .*:$", _code_part(text)):
            if loops:
                inside.discard(k)
            loops.append(indent)
    return inside


def _code_part(text: str) -> str:
    """The line without its trailing comment."""
    return re.sub(r"\s+#.*$", "", text)


def loop(cell: str) -> Loop:
    """The cell's reference loop, every line tagged. ValueError if a loop-body line has no tag
    entry, or an entry matches no line or several (the engine's loop changed)."""
    source = inspect.getsource(LOOPS[cell])
    source_lines = source.splitlines()
    body = _loop_body_lines(source_lines)
    entries = LINE_TAGS[cell]
    used = {fragment: [] for fragment, _ in entries}
    lines = []
    for k, raw in enumerate(source_lines):
        matches = [(fragment, tags) for fragment, tags in entries if fragment in raw]
        for fragment, _ in matches:
            used[fragment].append(k + 1)
        if k in body and len(matches) != 1:
            raise ValueError(f"{cell} reference loop, line {k + 1}: {len(matches)} tag entries match "
                             f"{raw.strip()!r} (ui/derivation_code.py LINE_TAGS)")
        lines.append(Line(k + 1, raw, matches[0][1] if matches else (), k in body))
    wrong = {fragment: found for fragment, found in used.items() if len(found) != 1}
    if wrong:
        raise ValueError(f"{cell} reference loop: tag entries that match no line or several: {wrong}")
    return Loop(cell, source, tuple(lines))


def equations(cell: str, notation: str, *, loss: str = "softmax_ce", activation: str = "tanh") -> dict[str, list[str]]:
    """{tag: its equations 'lhs = rhs'} for every tag of the cell's loop, in `notation` (the
    reference loops sum the loss: reduction 'sum', w_t = 1); a tag that groups several equations
    (the gates' deltas, the parameter gradients) has several."""
    n = nt.NOTATIONS[notation]
    if cell == "rnn":
        eqs = nt.equations(n, activation=activation, loss=loss, reduction="sum")
        eqs = {tag: _rows(eqs[tag]) for tag in ("1", "2", "3", "4", "5", "6", "7", "10")}
        eqs["10:out"] = eqs["10"][-2:]                    # dL/dW_hy, dL/db_y: a line of their own
        eqs["10"] = eqs["10"][:-2]
        return eqs
    return {tag: _rows(formula) for tag, formula in dg.equations(notation, cell, loss=loss).items()}


def _rows(formula: str) -> list[str]:
    """The equations of a formula that sets several side by side (\\quad, \\qquad) or in rows
    (an aligned block whose continuation rows start with '&')."""
    if formula.startswith(r"\begin{aligned}"):
        body = formula[len(r"\begin{aligned}"):-len(r"\end{aligned}")]
        return [row.strip().replace(" &= ", " = ", 1) for row in body.split(r" \\ ")]
    return [part.strip().rstrip(",") for part in re.split(r"\\q?quad ", formula) if part.strip()]


def label_of(tag: str) -> str:
    """The equation number a tag shows: "L10:out" -> "L10"."""
    return tag.split(":")[0]


@dataclass(frozen=True)
class Block:
    """Consecutive lines of a loop that compute the same equations: what one row of the page shows."""

    numbers: tuple[int, ...]
    code: str                  # the lines' code, dedented, without their comments
    tags: tuple[str, ...]


def blocks(loop_: Loop) -> tuple[Block, ...]:
    """The loop's tagged lines grouped into runs of the same tags, in the order of the source."""
    runs: list[list[Line]] = []
    for line in loop_.lines:
        if line.tags and runs and runs[-1][-1].tags == line.tags and runs[-1][-1].number == line.number - 1:
            runs[-1].append(line)
        elif line.tags:
            runs.append([line])
    out = []
    for run in runs:
        codes = [_code_part(line.code.rstrip()) for line in run]
        indent = min(len(c) - len(c.lstrip()) for c in codes)
        out.append(Block(tuple(line.number for line in run), "\n".join(c[indent:] for c in codes), run[0].tags))
    return tuple(out)


def block_latex(block: Block, eqs: dict[str, list[str]]) -> str:
    """The equations a block computes, aligned, its tags and line numbers on the right."""
    first, last = block.numbers[0], block.numbers[-1]
    where = f"line {first}" if first == last else f"lines {first}–{last}"
    rows = []
    for tag in block.tags:
        for k, row in enumerate(eqs[tag]):
            lhs, sep, rhs = row.partition(" = ")
            cells = row if row.startswith("&") else (f"{lhs} &= {rhs}" if sep else f"&{row}")
            label = rf"\text{{({label_of(tag)})}}" + (rf"\;\text{{{where}}}" if tag == block.tags[0] else "")
            rows.append(cells + (f" && {label}" if k == 0 else ""))
    return r"\begin{aligned}" + r" \\[2pt] ".join(rows) + r"\end{aligned}"


def aligned(loop_: Loop, eqs: dict[str, list[str]]) -> str:
    """One display of every equation the loop's lines compute, in the walk's order, aligned at '=',
    each tag and its lines on the right: the panel beside the code."""
    rows = []
    for tag in [tag for tag in eqs if tag in loop_.tags()]:      # the walk's order, not the lines'
        numbers = [str(line.number) for line in loop_.tagged() if tag in line.tags]
        label = rf"\text{{({label_of(tag)}) line{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}}}"
        for k, row in enumerate(eqs[tag]):
            lhs, sep, rhs = row.partition(" = ")
            cells = row if row.startswith("&") else (f"{lhs} &= {rhs}" if sep else f"&{row}")
            rows.append(cells + (f" && {label}" if k == 0 else ""))
    return r"\begin{aligned}" + r" \\[3pt] ".join(rows) + r"\end{aligned}"
