"""A lesson file: TOML read with the standard library's tomllib, validated, never executed.

    title = "Why the gradient vanishes"
    teaches = "The product of Jacobians and the spectral radius."
    [settings]                      # optional: every step's settings start from these
    T = 20

    [[step]]
    page = "vanishing"              # home, graph, vanishing, model, derivation, training
    preset = "vanishing"            # optional: a lecture preset (ui/presets.py), applied first
    look = "The curve at k = 1."    # what part of the page to look at
    question = "How small is ||dh_T/dh_1|| at rho = {rho}, T = {T}?"
    kind = "number"                 # 'choice' (2-4 `choices`), 'number' (`factor` or `within`),
    answer = "jacobian_first"       #   'click' (a step t; optional `within`)
    factor = 10                     # right when within a factor of 10 of the live answer
    reveal = "It is {answer:.1e}: ..."
    [step.settings]                 # any config field (ui/config.py): validated as a link is
    rho = 0.5

`answer` names a quantity of ui.lessons.answers (computed from the live engine); a text may
show live numbers with placeholders {name} or {name:spec}: in a reveal `answer`, `guess`, any
quantity and any config field; in a question or a look the config fields only. A spec is a
short number format (.2f, .1e, .3g, 8.2f, .0%), never anything else: the text is filled by a
regex, not str.format, so a placeholder cannot reach an attribute ({answer.__class__} is an
error). Braces around anything else (LaTeX's W_{hh}, h_{t+1}) are text; {{ and }} are
literal braces (h_{{{answer}}} writes h_{12}).

Every problem is a message naming its line; a file over MAX_BYTES is refused unread.
"""
from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ui.config import DEFAULT, FIELD_BY_NAME, FIELDS, LESSON_KEY, LESSONS_DIR, MAX_LESSON_STEPS, Config, parse
from ui.lessons.answers import NUMBER, OUTCOME, QUANTITIES, STEP
from ui.presets import PRESETS

MAX_BYTES = 64 * 1024
MAX_TEXT = 2000                     # characters of a look, question or reveal
MAX_TITLE = 120
KINDS = {"choice": OUTCOME, "number": NUMBER, "click": STEP}   # question kind -> its quantity's kind
MIN_CHOICES, MAX_CHOICES = 2, 4
ROOT = Path(__file__).resolve().parents[2]
# The pages a step may open: every view but the lessons page itself
PAGES = {p.stem: f"views/{p.name}" for p in sorted((ROOT / "views").glob("*.py")) if p.stem != "lessons"}
TOP_KEYS = {"title", "teaches", "settings", "step"}
STEP_KEYS = {"page", "settings", "preset", "look", "question", "kind", "answer", "choices", "factor", "within",
             "reveal"}
OWN_FIELDS = ("lesson", "step")     # set by the lesson bar, never by a file
UPLOAD = "upload"                   # the key of a lesson loaded from a file (it lives in the session)

# {name} or {name:spec}: spec a short number format only
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
ATTEMPT = re.compile(r"[A-Za-z_]\w*(?:[.\[!(:].*)?", re.S)       # brace content that means a placeholder
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
OPENING = re.compile(r"\{[A-Za-z_]\w*\s*[.\[!(:]")                   # how any placeholder attempt begins
NAME_SPEC = re.compile(r"([A-Za-z_]\w*)(?::([<>^]?\d{0,2}(?:\.\d{1,2})?[eEfFgG%]?))?")


class LessonError(ValueError):
    """A lesson file that cannot be used; `messages`: one per problem, each naming its line."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class Step:
    number: int                          # 1-based
    page: str                            # its view file, e.g. 'views/vanishing.py'
    settings: tuple[tuple[str, Any], ...]  # the lesson's and the step's (field, value) for ui.config.parse
    preset: str | None
    look: str
    question: str
    kind: str                            # 'choice', 'number' or 'click'
    answer: str                          # a name in ui.lessons.answers.QUANTITIES
    choices: tuple[str, ...]             # outcome keys of the answer ('choice' only)
    factor: float | None                 # 'number': right within this factor (log-scale quantities)
    within: float | None                 # 'number' / 'click': right within this distance
    reveal: str = ""                     # the explanation, with its placeholders

    @property
    def quantity(self):
        return QUANTITIES[self.answer]

    def base(self, current: Config = DEFAULT) -> Config:
        """The defaults with the reader's display (notation, presentation), then the preset."""
        base = DEFAULT.replace(notation=current.notation, presentation=current.presentation)
        return PRESETS[self.preset].apply(base) if self.preset else base

    def config(self, current: Config = DEFAULT) -> Config:
        """The step's settings on the defaults (a step's numbers depend on the step alone, so a
        link to it shows them on any machine); the reader's notation and presentation kept."""
        return parse(dict(self.settings), base=self.base(current))[0]

    def is_right(self, guess, answer) -> bool:
        """Whether `guess` (an outcome key, a float or a step) counts as the live `answer`."""
        if guess is None or answer is None:
            return False
        if self.kind == "choice":
            return guess == answer
        if not (math.isfinite(guess) and math.isfinite(answer)):
            return False
        if self.factor is not None:
            if guess == answer:
                return True
            if guess <= 0 or answer <= 0:
                return False
            return max(guess / answer, answer / guess) <= self.factor * (1 + 1e-12)
        return abs(guess - answer) <= (self.within or 0) + 1e-12


@dataclass(frozen=True)
class Lesson:
    key: str                             # the file's name (shipped) or UPLOAD
    title: str
    teaches: str
    steps: tuple[Step, ...]
    digest: str                          # of the file's bytes: answers are kept per lesson version

    @property
    def shipped(self) -> bool:
        return self.key != UPLOAD

    @property
    def id(self) -> str:
        return f"{self.key}:{self.digest[:12]}"

    def step(self, n: int) -> Step:
        return self.steps[min(max(n, 1), len(self.steps)) - 1]

    def reveal(self, n: int) -> str:
        return self.step(n).reveal

    def config(self, n: int, current: Config = DEFAULT) -> Config:
        """Step n's config, naming this lesson and step when it is shipped (so they go in links)."""
        config = self.step(n).config(current)
        return config.replace(lesson=self.key, step=n) if self.shipped else config.replace(lesson="", step=1)


# ---- placeholders: {name} and {name:spec}, filled by a regex (never str.format) -------------------

def placeholders(text: str, names: set[str] | frozenset[str]) -> list[tuple[str, str]]:
    """(name, spec) of every placeholder in `text`: {name} with `name` one of `names`, or {x:spec},
    {x.y}, {x[0]}, {x!r} with any x (which must then be a name with a number format). Other
    braces ({hh} of LaTeX's W_{hh}, {t+1}) are text. ValueError for a malformed placeholder."""
    found, literal, whole = [], set(), set()
    for match in PLACEHOLDER.finditer(text):
        content = match.group(1)
        if content is None:
            literal.update((match.start(), match.start() + 1))       # {{ or }}
            continue
        whole.add(match.start())
        if not _is_placeholder(content, names):
            continue
        written = NAME_SPEC.fullmatch(content)
        if written is None or written.group(1) not in names:
            raise ValueError(f"{{{content[:40]}}} is not a placeholder: write {{name}} or {{name:.2e}} "
                             "(a known name and a number format only), or {{ and }} for literal braces")
        found.append((written.group(1), written.group(2) or ""))
    for match in OPENING.finditer(text):                             # e.g. {answer:{x}}, never closed alone
        if match.start() not in literal and match.start() not in whole:
            raise ValueError(f"{text[match.start():match.start() + 40]}... is not a placeholder: write {{name}} or "
                             "{name:.2e} (a known name and a number format only), or {{ and }} for literal braces")
    return found


def _is_placeholder(content: str, names) -> bool:
    return bool(ATTEMPT.fullmatch(content)) and (content in names or not IDENTIFIER.fullmatch(content))


def fill(text: str, values: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> str:
    """`text` with each placeholder {name} / {name:spec} of a name in `values` replaced: a number
    formatted with its spec (or 3 significant digits), a word by its label. Other braces stay;
    assumes `placeholders(text, ...)` passed validation (a malformed one is left as it is)."""
    labels = labels or {}

    def one(match: re.Match) -> str:
        whole, content = match.group(0), match.group(1)
        if content is None:
            return whole[0]
        written = NAME_SPEC.fullmatch(content)
        if written is None or written.group(1) not in values:
            return whole
        name, spec = written.group(1), written.group(2) or ""
        value = values[name]
        if name in labels and not spec:
            return labels[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return str(labels.get(name, value))
        if not spec:
            return str(value) if isinstance(value, int) else f"{value:.3g}"
        try:
            return format(value, spec)
        except ValueError:
            return f"{value:.3g}"
    return PLACEHOLDER.sub(one, text)


# ---- where a key is written: line numbers for messages ----------------------------------------------

def _code_only(lines: list[str]) -> list[str]:
    """Each line with its strings and comments blanked, so that a key is never found inside a text."""
    out, open_quote = [], None
    for line in lines:
        code, i = [], 0
        while i < len(line):
            if open_quote:
                if line.startswith(open_quote, i):
                    i += len(open_quote)
                    open_quote = None
                else:
                    i += 2 if line[i] == "\\" and open_quote[0] == '"' else 1
                continue
            for quote in ('"""', "'''", '"', "'"):
                if line.startswith(quote, i):
                    open_quote = quote
                    i += len(quote)
                    code.append(" ")
                    break
            else:
                if line[i] == "#":
                    break
                code.append(line[i])
                i += 1
        if open_quote in ('"', "'"):
            open_quote = None                                # a one-line string cannot span lines
        out.append("".join(code))
    return out


class Lines:
    """The line of each key of a lesson file: blocks are the part before the first [[step]] (the
    top) and each [[step]] up to the next."""

    def __init__(self, text: str):
        self.code = _code_only(text.splitlines())
        heads = [i for i, line in enumerate(self.code) if re.match(r"\s*\[\[\s*step\s*\]\]", line)]
        self.blocks = list(zip([0, *heads], [*heads, len(self.code)]))    # (start, end) line indices

    def of(self, key: str, step: int | None = None, table: str | None = None) -> int:
        """The 1-based line of `key` in the top (step None) or in step `step` (1-based), within its
        `table` (e.g. 'settings') when given; else the block's first line."""
        start, end = self.blocks[0 if step is None else min(step, len(self.blocks) - 1)]
        if table is not None:
            start = self._table_start(table, start, end, step is not None)
        pattern = re.compile(rf"(?:^|[\s{{,])(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
        for i in range(start, end):
            if pattern.search(self.code[i]):
                return i + 1
        return start + 1

    def _table_start(self, table: str, start: int, end: int, in_step: bool) -> int:
        prefix = r"step\s*\.\s*" if in_step else ""
        header = re.compile(rf"\s*\[\s*{prefix}{table}\s*\]")
        inline = re.compile(rf"(?:^|\s){table}\s*=\s*\{{")
        for i in range(start, end):
            if header.match(self.code[i]) or inline.search(self.code[i]):
                return i
        return start


# ---- reading a file -------------------------------------------------------------------------------

def load_file(path: Path) -> Lesson:
    """A shipped lesson (its key is the file's name)."""
    if not LESSON_KEY.fullmatch(path.stem):
        raise LessonError([f"{path.name}: a lesson's file name is lower-case letters, digits, - and _ "
                           "(at most 40), ending in .toml"])
    return load_bytes(path.read_bytes()[:MAX_BYTES + 1], key=path.stem)


def load_bytes(data: bytes, *, key: str = UPLOAD) -> Lesson:
    """A lesson from a file's bytes; LessonError with one message per problem, each naming its line."""
    if len(data) > MAX_BYTES:
        raise LessonError([f"The file is larger than {MAX_BYTES // 1024} kB: a lesson is a short text file; "
                           "it was not read."])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise LessonError([f"Line {line}: the file is not UTF-8 text."]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise LessonError([_toml_message(str(err))]) from None
    return _lesson(raw, Lines(text), key, hashlib.sha256(data).hexdigest())


def _toml_message(error: str) -> str:
    """tomllib's 'Invalid value (at line 3, column 9)' as 'Line 3, column 9: not TOML: invalid value'."""
    where = re.search(r"\(at line (\d+), column (\d+)\)", error)
    what = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", error)
    what = what[:1].lower() + what[1:]
    if where:
        return f"Line {where.group(1)}, column {where.group(2)}: not valid TOML: {what}."
    return f"At the end of the file: not valid TOML: {what}."


def _lesson(raw: dict, lines: Lines, key: str, digest: str) -> Lesson:
    problems: list[str] = []

    def problem(line: int, text: str) -> None:
        problems.append(f"Line {line}: {text}")

    for name in sorted(set(raw) - TOP_KEYS):
        problem(lines.of(name), f"unknown key '{name[:40]}' (a lesson has title, teaches, settings and [[step]] tables).")
    title = _text(raw, "title", MAX_TITLE, lines.of("title"), problem, required=True)
    teaches = _text(raw, "teaches", MAX_TEXT, lines.of("teaches"), problem, required=True)
    common = _settings(raw.get("settings", {}), lambda name: lines.of(name, table="settings"),
                       lines.of("settings"), problem)
    steps_raw = raw.get("step", [])
    if not isinstance(steps_raw, list) or not steps_raw:
        problem(1, "a lesson needs at least one [[step]] table.")
        steps_raw = []
    elif len(steps_raw) > MAX_LESSON_STEPS:
        problem(lines.blocks[MAX_LESSON_STEPS + 1][0] + 1,
                f"a lesson has at most {MAX_LESSON_STEPS} steps; this one has {len(steps_raw)}.")
        steps_raw = steps_raw[:MAX_LESSON_STEPS]
    steps = [_step(number, table, common, lines, problem) for number, table in enumerate(steps_raw, start=1)]
    if problems:
        raise LessonError(problems)
    return Lesson(key=key, title=title, teaches=teaches, steps=tuple(steps), digest=digest)


def _text(table: dict, name: str, limit: int, line: int, problem, *, required: bool) -> str:
    value = table.get(name)
    if value is None:
        if required:
            problem(line, f"'{name}' is missing.")
        return ""
    if not isinstance(value, str) or not value.strip():
        problem(line, f"'{name}' must be a text in quotes.")
        return ""
    if len(value) > limit:
        problem(line, f"'{name}' has {len(value)} characters; at most {limit}.")
        return ""
    return value.strip()


def _settings(table: Any, line_of, table_line: int, problem) -> dict[str, Any]:
    """The settings table checked field by field as a link is (ui.config.parse), each problem an
    error at its line: {field: value as parse reads it}."""
    if not isinstance(table, dict):
        problem(table_line, "'settings' must be a table of config fields, e.g. settings = { T = 20, rho = 0.5 }.")
        return {}
    settings = {}
    for name, value in table.items():
        line = line_of(name)
        field = FIELD_BY_NAME.get(name)
        if field is None:
            known = ", ".join(f.name for f in FIELDS if f.name not in OWN_FIELDS)
            problem(line, f"unknown setting '{name[:40]}'; the settings are the config fields: {known}.")
            continue
        if name in OWN_FIELDS:
            problem(line, f"'{name}' is set by the lesson itself, not by a step.")
            continue
        typed = _typed(field, value)
        if typed is None:
            problem(line, f"{name} = {_shown(value)}: {_expected(field)}.")
            continue
        problem_text = _value_problem(field, typed)
        if problem_text:
            problem(line, f"{name} = {_shown(value)}: {problem_text}.")
            continue
        settings[name] = typed
    return settings


def _value_problem(field, typed: Any) -> str | None:
    """Why `typed` is not a value of the field (as a link's value is checked: unreadable or out of
    range; in a lesson file that is an error, not a value to replace), or None."""
    try:
        value = field.coerce(typed)
    except ValueError as err:
        return str(err)
    if field.kind == "floats" and field.max_items is not None and len(value) > field.max_items:
        return f"at most {field.max_items} values"
    if field.clamp(value) != value:
        low, high = (int(field.lo), int(field.hi)) if field.kind == "int" else (field.lo, field.hi)
        return f"outside the range [{low}, {high}]"
    return None


def _typed(field, value: Any) -> Any:
    """`value` (from TOML) as ui.config.parse reads the field, or None if its type is wrong."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if field.kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if field.kind == "float":
        return value if number else None
    if field.kind == "bool":
        return ("true" if value else "false") if isinstance(value, bool) else None
    if field.kind in ("choice", "edits"):
        return value if isinstance(value, str) else None
    if field.kind == "floats":
        ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        return value if ok else None
    if field.kind == "choices":
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None
    return None


def _expected(field) -> str:
    return {"int": "a whole number is expected", "float": "a number is expected", "bool": "true or false is expected",
            "choice": f"one of {', '.join(map(repr, field.options))} (in quotes) is expected",
            "edits": "a text is expected", "floats": "a list of numbers is expected",
            "choices": "a list of texts is expected"}[field.kind]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _step(number: int, table: Any, common: dict, lines: Lines, problem) -> Step | None:
    """Step `number` checked; None if it has a problem (each reported at its line)."""
    errors: list[str] = []

    def bad(key: str, text: str, table_name: str | None = None) -> None:
        line = lines.of(key, number, table_name)
        errors.append(f"step {number}: {text}")
        problem(line, f"step {number}: {text}")

    if not isinstance(table, dict):
        bad("step", "must be a [[step]] table.")
        return None
    for key in sorted(set(table) - STEP_KEYS):
        bad(key, f"unknown key '{key[:40]}' (a step has {', '.join(sorted(STEP_KEYS))}).")
    page = table.get("page")
    if page not in PAGES:
        bad("page", f"page {_shown(page)} is not one of {', '.join(PAGES)}.")
    preset = table.get("preset")
    if preset is not None and preset not in PRESETS:
        bad("preset", f"preset {_shown(preset)} is not one of {', '.join(PRESETS)}.")
    own = _settings(table.get("settings", {}), lambda name: lines.of(name, number, "settings"),
                    lines.of("settings", number), lambda line, text: (errors.append(text),
                                                                     problem(line, f"step {number}: {text}")))
    texts = {}
    for name in ("look", "question", "reveal"):
        texts[name] = _text(table, name, MAX_TEXT, lines.of(name, number),
                            lambda line, text: (errors.append(text), problem(line, f"step {number}: {text}")),
                            required=True)
    kind, answer = table.get("kind"), table.get("answer")
    quantity = QUANTITIES.get(answer) if isinstance(answer, str) else None
    if kind not in KINDS:
        bad("kind", f"kind {_shown(kind)} is not one of {', '.join(KINDS)}.")
    if quantity is None:
        bad("answer", f"answer {_shown(answer)} is not a quantity the app computes; it is one of "
                      f"{', '.join(QUANTITIES)} (lessons/README.md says what each is).")
    elif kind in KINDS and quantity.kind != KINDS[kind]:
        bad("answer", f"answer '{answer}' is of kind '{quantity.kind}', which a '{kind}' question cannot ask "
                      f"for (choice: an outcome, number: a number, click: a step).")
    choices = _choices(table, kind, quantity, bad)
    factor, within = _tolerance(table, kind, bad)
    for name in ("look", "question", "reveal"):
        allowed = _allowed(name)
        try:
            for ph, spec in placeholders(texts[name], ALL_NAMES):
                if ph not in allowed:
                    bad(name, f"{{{ph}}} in the {name} is not a name it can show ("
                              + ("answer, guess, a quantity or a config field" if name == "reveal"
                                 else "a config field; the answer belongs in the reveal") + ").")
                elif spec and _is_label(ph, quantity):
                    bad(name, f"{{{ph}:{spec}}}: {ph} is a word, not a number: write {{{ph}}}.")
        except ValueError as err:
            bad(name, f"in the {name}: {err}.")
    merged = {**common, **own}
    if not errors and page in PAGES:
        probe = Step(number, PAGES[page], tuple(merged.items()), preset, "", "", kind, answer, choices, factor,
                     within)
        _, messages = parse(merged, base=probe.base())
        if messages:
            bad("settings", f"the settings do not fit together: {messages[0]}")
    if errors:
        return None
    return Step(number=number, page=PAGES[page], settings=tuple(merged.items()), preset=preset, look=texts["look"],
                question=texts["question"], kind=kind, answer=answer, choices=choices, factor=factor, within=within,
                reveal=texts["reveal"])


def _choices(table: dict, kind: Any, quantity, bad) -> tuple[str, ...]:
    choices = table.get("choices")
    if kind != "choice":
        if choices is not None:
            bad("choices", "'choices' belong to a 'choice' question only.")
        return ()
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        bad("choices", f"a choice question needs 'choices', a list of {MIN_CHOICES} to {MAX_CHOICES} texts.")
        return ()
    if not MIN_CHOICES <= len(choices) <= MAX_CHOICES:
        bad("choices", f"a choice question has {MIN_CHOICES} to {MAX_CHOICES} choices; this one has {len(choices)}.")
        return ()
    if len(set(choices)) != len(choices):
        bad("choices", "a choice is given twice.")
        return ()
    if quantity is not None and quantity.kind == OUTCOME:
        unknown = [c for c in choices if c not in quantity.outcomes]
        if unknown:
            bad("choices", f"{_shown(unknown[0])} is not an outcome of '{quantity.name}'; its outcomes are "
                           f"{', '.join(quantity.outcomes)}.")
    return tuple(choices)


def _tolerance(table: dict, kind: Any, bad) -> tuple[float | None, float | None]:
    factor, within = table.get("factor"), table.get("within")
    for name, value in (("factor", factor), ("within", within)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            bad(name, f"'{name}' must be a number.")
            return None, None
    if kind == "number":
        if (factor is None) == (within is None):
            bad("kind", "a number question needs one tolerance: factor = 10 (right within a factor of 10, for "
                        "sizes spanning orders of magnitude) or within = 0.05 (right within that distance).")
        elif factor is not None and factor <= 1:
            bad("factor", "'factor' must be more than 1 (factor = 10: within an order of magnitude).")
        elif within is not None and within < 0:
            bad("within", "'within' must be 0 or more.")
    elif kind == "click":
        if factor is not None:
            bad("factor", "a click question picks a step: use within = 1 (steps), not factor.")
        elif within is not None and (within < 0 or not float(within).is_integer()):
            bad("within", "'within' of a click question is a whole number of steps, 0 or more.")
    elif factor is not None or within is not None:
        bad("factor" if factor is not None else "within", "a choice question has no tolerance.")
    return (float(factor) if factor is not None else None), (float(within) if within is not None else None)


FIELD_NAMES = frozenset(f.name for f in FIELDS)
ALL_NAMES = FIELD_NAMES | frozenset(QUANTITIES) | {"answer", "guess"}     # what a placeholder may name


def _allowed(text_name: str) -> frozenset[str]:
    return ALL_NAMES if text_name == "reveal" else FIELD_NAMES


def _is_label(name: str, quantity) -> bool:
    """Whether placeholder `name` is written as words (an outcome, a choice field's label)."""
    if name in ("answer", "guess"):
        return quantity is not None and quantity.kind == OUTCOME
    if name in QUANTITIES:
        return QUANTITIES[name].kind == OUTCOME
    field = FIELD_BY_NAME.get(name)
    return field is not None and field.kind not in ("int", "float")


# A lesson of one step, shown on the Lessons page (lessons/README.md has a longer one)
EXAMPLE = '''title = "My first lesson"
teaches = "How fast the gradient fades at a small spectral radius."

[[step]]
page = "vanishing"
look = "The curve at k = 1, on the left."
question = "At rho = {rho} and T = {T}, how small is ||dh_T/dh_1||?"
kind = "number"
answer = "jacobian_first"
factor = 10
reveal = "It is {answer:.1e}: about {jacobian_factor:.2f} per step, {T} steps back."
[step.settings]
rho = 0.5
T = 20
'''


# ---- the shipped lessons -----------------------------------------------------------------------------

def shipped_files() -> list[Path]:
    """lessons/*.toml in name order (the config's lesson keys: a file added later needs a restart)."""
    return sorted(p for p in LESSONS_DIR.glob("*.toml") if LESSON_KEY.fullmatch(p.stem))


def shipped() -> dict[str, Lesson | LessonError]:
    """Every shipped lesson by key, or the LessonError of a file that has a problem."""
    lessons: dict[str, Lesson | LessonError] = {}
    for path in shipped_files():
        stat = path.stat()
        lessons[path.stem] = _load_cached(str(path), stat.st_mtime_ns, stat.st_size)
    return lessons


_CACHE: dict[tuple, Lesson | LessonError] = {}


def _load_cached(path: str, mtime: int, size: int) -> Lesson | LessonError:
    key = (path, mtime, size)
    if key not in _CACHE:
        try:
            _CACHE[key] = load_file(Path(path))
        except LessonError as err:
            _CACHE[key] = err
    return _CACHE[key]
