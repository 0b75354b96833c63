"""The lesson bar: while a lesson runs, every page shows its current step above the page's own
content (app.py draws it before `page.run()`).

Where a lesson is, is the config's `lesson` and `step` (so a link carries it: a shared step
opens at that step, its settings applied and its page open); an uploaded lesson's step lives in
the session only. Moving to a step sets the step's settings (state.set_config) and switches to
its page in the next run (two phases, as the Home page's presets do: a callback cannot switch).
The student's predictions stay in st.session_state: nothing is stored on the server.

Keyboard: ArrowLeft / ArrowRight move between steps unless the focus is in a field or on a
slider; PageUp / PageDown (what a presentation clicker sends) too, in presentation mode, except on
the Derivation page, whose stage buttons take them there.
"""
from __future__ import annotations

import math
import re
from typing import Any

import streamlit as st

from ui import state
from ui.config import FIELDS, Config, to_query
from ui.lessons import answers
from ui.lessons.format import ALL_NAMES, Lesson, Step, fill, placeholders, shipped
from ui.notation import NOTATIONS
from ui.notation import fill as in_notation

RESULTS = "_lesson_results"      # {lesson id: {step: {"guess": text, "right": bool}}}
ENTERED = "_lesson_entered"      # (lesson id, step) whose settings were last applied
OPEN = "_lesson_open"            # the page a step asked for, opened by the next run
HERE = "_lesson_page"            # the page this run draws (a callback compares with it)
UPLOADED = "_lesson_uploaded"    # the lesson loaded from a file (session only)
UPLOAD_STEP = "_lesson_upload_step"   # its step while it runs, else absent
SUMMARY = "_lesson_summary"      # the lesson id whose summary is shown
PROBLEM = "_lesson_problem"      # why the last guess could not be read
GUESS_PREFIX = "lesson_guess_"
POWER_OF_TEN = re.compile(r"\s*10\s*\^\s*\(?\s*([+-]?\d{1,3})\s*\)?\s*")

KEYS_JS = """<script>
(() => {
  if (window.__bpttLessonKeys) return;
  window.__bpttLessonKeys = true;
  const typing = (el) => el && el.closest && el.closest(
    'input, textarea, select, [contenteditable="true"], [role="slider"], [role="combobox"], [role="spinbutton"], [role="listbox"]');
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || e.repeat) return;
    const back = e.key === 'ArrowLeft' || e.key === 'PageUp';
    if (!back && e.key !== 'ArrowRight' && e.key !== 'PageDown') return;
    if (typing(e.target) || typing(document.activeElement)) return;
    const bar = document.querySelector('.st-key-lesson_bar, .st-key-lesson_bar_presenting');
    if (!bar) return;
    if (e.key.startsWith('Page')) {
      // a reader scrolls with them; a clicker sends them: only in presentation mode, and not
      // where the Derivation's own stage buttons answer them
      if (!bar.classList.contains('st-key-lesson_bar_presenting')) return;
      if (document.querySelector('.st-key-d_next')) return;
    }
    const button = bar.querySelector('.st-key-' + (back ? 'lesson_prev' : 'lesson_next') + ' button');
    if (!button || button.disabled) return;
    e.preventDefault();
    e.stopPropagation();
    button.click();
  }, true);
})();
</script>"""


# ---- where the lesson is ---------------------------------------------------------------------------

GRAPH_VIEW = "views/graph.py"       # where a "click the node" question can take a click
CLICKED = "_lesson_clicked"          # (guess key, step t) clicked in the graph, for the next run's bar


def lesson_of(key: str) -> Lesson | None:
    """The shipped lesson `key` (None if its file is missing or has a problem)."""
    found = shipped().get(key)
    return found if isinstance(found, Lesson) else None


def running() -> tuple[Lesson, int] | None:
    """(lesson, step) of the lesson running in this session, if any."""
    config = state.config()
    if config.lesson:
        lesson = lesson_of(config.lesson)
        return None if lesson is None else (lesson, min(config.step, len(lesson.steps)))
    uploaded, step = st.session_state.get(UPLOADED), st.session_state.get(UPLOAD_STEP)
    return (uploaded, step) if uploaded is not None and step is not None else None


def results(lesson: Lesson) -> dict[int, dict]:
    return st.session_state.setdefault(RESULTS, {}).setdefault(lesson.id, {})


def go(lesson: Lesson, n: int) -> None:
    """Callback: move to step n of `lesson`: its settings now, its page in the next run."""
    n = min(max(n, 1), len(lesson.steps))
    state.set_config(lesson.config(n, state.config()))
    if lesson.shipped:
        st.session_state.pop(UPLOAD_STEP, None)
    else:
        st.session_state[UPLOADED] = lesson
        st.session_state[UPLOAD_STEP] = n
    st.session_state[ENTERED] = (lesson.id, n)
    st.session_state.pop(SUMMARY, None)
    st.session_state.pop(PROBLEM, None)
    if st.session_state.get(HERE) != lesson.step(n).page:
        st.session_state[OPEN] = lesson.step(n).page


def start(lesson: Lesson) -> None:
    """Callback: begin `lesson` at step 1 with no predictions yet."""
    st.session_state.setdefault(RESULTS, {})[lesson.id] = {}
    go(lesson, 1)


def finish(lesson: Lesson) -> None:
    st.session_state[SUMMARY] = lesson.id


def back_to_last_step() -> None:
    st.session_state.pop(SUMMARY, None)


def end() -> None:
    """Callback: leave the lesson; the settings stay as they are (the predictions too)."""
    state.set_config(state.config().replace(lesson="", step=1))
    for key in (UPLOAD_STEP, ENTERED, SUMMARY, PROBLEM):
        st.session_state.pop(key, None)


def enter(page: str) -> None:
    """Call in app.py before the sidebar, with the file of the page this run draws: opens the
    page a step asked for, and enters a step that a link named (its settings and its page)."""
    st.session_state[HERE] = page
    target = st.session_state.pop(OPEN, None)
    if target is not None and target != page:
        st.switch_page(target, query_params=to_query(state.config()))
    config = state.config()
    if config.lesson and lesson_of(config.lesson) is None:      # a file since removed or broken
        state.set_config(config.replace(lesson="", step=1), reset_widgets=False)
        return
    now = running()
    if now is None:
        return
    lesson, n = now
    if st.session_state.get(ENTERED) != (lesson.id, n):
        go(lesson, n)
        target = st.session_state.pop(OPEN, None)
        if target is not None:
            st.switch_page(target, query_params=to_query(state.config()))


# ---- reading a prediction -------------------------------------------------------------------------

def guess_key(lesson: Lesson, n: int) -> str:
    return f"{GUESS_PREFIX}{lesson.id}_{n}"


def read_number(text: Any) -> float | None:
    """A typed number: 0.003, 3e-3, 10^-3 (None if it is none of these)."""
    if text is None:
        return None
    text = str(text).strip().replace("−", "-").replace("×", "*")
    power = POWER_OF_TEN.fullmatch(text)
    if power:
        return 10.0 ** int(power.group(1))
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_guess(step: Step, raw: Any):
    """(guess, problem): the widget's value as the answer's type, or None and why not."""
    if raw is None or raw == "":
        return None, "Make a prediction first: it is what makes the reveal stick."
    if step.kind == "number":
        value = read_number(raw)
        return (value, None) if value is not None else (None, "Type a number, e.g. 0.002, 2e-3 or 10^-3.")
    if step.kind == "click":
        return int(raw), None
    return raw, None


def guess_label(step: Step, guess) -> str:
    """A prediction (or the answer) as the bar writes it: the outcome's words, 't = 5', '3.1e-05'."""
    if step.kind == "choice":
        return step.quantity.label(guess)
    if step.kind == "click":
        return f"t = {guess}"
    return f"{guess:.3g}"


def reveal(lesson: Lesson, n: int) -> None:
    """Callback: grade the prediction against the answer computed on the settings on screen."""
    step = lesson.step(n)
    guess, problem = read_guess(step, st.session_state.get(guess_key(lesson, n)))
    if problem:
        st.session_state[PROBLEM] = (lesson.id, n, problem)
        return
    st.session_state.pop(PROBLEM, None)
    config = state.config()
    answer = answers.value(step.answer, config)
    results(lesson)[n] = {"guess": guess_label(step, guess), "right": step.is_right(guess, answer),
                          "answer": guess_label(step, answer)}


def take_clicked_step(t: int | None) -> bool:
    """A node of step t clicked in the unrolled graph: the prediction of the running lesson's
    current step, if that step asks to click a node there and is not revealed yet. True if taken
    (the caller reruns, so the bar drawn above shows it)."""
    current = running()
    if t is None or current is None:
        return False
    lesson, n = current
    step = lesson.step(n)
    if step.kind != "click" or step.page != GRAPH_VIEW or n in results(lesson):
        return False
    # the bar's widget exists in this run already: its value is set before it is drawn in the next
    st.session_state[CLICKED] = (guess_key(lesson, n), min(max(int(t), 1), state.config().T))
    return True


def try_again(lesson: Lesson, n: int) -> None:
    results(lesson).pop(n, None)
    st.session_state.pop(guess_key(lesson, n), None)


# ---- the texts, filled from live numbers -------------------------------------------------------------

def field_values(config: Config) -> tuple[dict[str, Any], dict[str, str]]:
    """Every config field's value and, for a choice, its label (how a text shows it)."""
    values = {f.name: getattr(config, f.name) for f in FIELDS}
    labels = {f.name: f.choice_name(getattr(config, f.name), config.notation) for f in FIELDS
              if f.kind not in ("int", "float")}
    return values, labels


def filled(text: str, config: Config, extra: dict[str, Any] | None = None,
           extra_labels: dict[str, str] | None = None) -> str:
    """A lesson text with its placeholders filled: config fields, and the quantities it names
    (computed on `config`, the settings on screen); each <symbol> written in the reader's notation."""
    values, labels = field_values(config)
    for name, _ in placeholders(text, ALL_NAMES):
        if name in answers.QUANTITIES and name not in values:
            quantity = answers.QUANTITIES[name]
            values[name] = answers.value(name, config)
            if quantity.kind == answers.OUTCOME:
                labels[name] = quantity.label(values[name])
    values.update(extra or {})
    labels.update(extra_labels or {})
    return in_notation(fill(text, values, labels), NOTATIONS[config.notation])


def reveal_text(lesson: Lesson, n: int, config: Config, guess: str) -> str:
    step = lesson.step(n)
    answer = answers.value(step.answer, config)
    extra_labels = {"guess": guess}
    if step.quantity.kind == answers.OUTCOME:
        extra_labels["answer"] = step.quantity.label(answer)
    return filled(lesson.reveal(n), config, {"answer": answer}, extra_labels)


# ---- drawing ------------------------------------------------------------------------------------------

def render() -> None:
    """The bar of the running lesson (nothing when none runs)."""
    now = running()
    if now is None:
        return
    lesson, n = now
    config = state.config()
    key = "lesson_bar_presenting" if config.presentation else "lesson_bar"
    with st.container(border=True, key=key):
        if st.session_state.get(SUMMARY) == lesson.id:
            _summary(lesson)
        else:
            _step(lesson, n, config)
    st.html(KEYS_JS, unsafe_allow_javascript=True)


def _header(lesson: Lesson, n: int, *, summary: bool = False) -> None:
    total = len(lesson.steps)
    progress, back, forward, leave = st.columns([6, 1.5, 1.5, 1.3], vertical_alignment="center")
    text = f"{lesson.title} · results" if summary else f"{lesson.title} · step {n} of {total}"
    progress.progress(1.0 if summary else n / total, text=text)
    back.button("◀ Back", key="lesson_prev", width="stretch", on_click=back_to_last_step if summary else go,
                args=() if summary else (lesson, n - 1), disabled=not summary and n == 1,
                help="the previous step (← key)")
    if summary:
        forward.button("Restart", key="lesson_restart", width="stretch", on_click=start, args=(lesson,))
    elif n < total:
        forward.button("Next ▶", key="lesson_next", type="primary", width="stretch", on_click=go,
                       args=(lesson, n + 1), help="the next step (→ key)")
    else:
        forward.button("Finish ▶", key="lesson_next", type="primary", width="stretch", on_click=finish,
                       args=(lesson,), help="how many predictions were right (→ key)")
    leave.button("End", key="lesson_end", width="stretch", on_click=end, icon=":material/close:",
                 help="leave the lesson; the settings stay as they are")


def _step(lesson: Lesson, n: int, config: Config) -> None:
    step = lesson.step(n)
    _header(lesson, n)
    st.markdown(f"**{filled(step.question, config)}**")
    st.caption(f":material/visibility: Look at: {filled(step.look, config)}")
    done = results(lesson).get(n)
    _changed_note(lesson, n, config)
    answer_col, button_col = st.columns([5, 1.4], vertical_alignment="bottom")
    with answer_col:
        _guess_widget(lesson, n, step, config, disabled=done is not None)
    with button_col:
        if done is None:
            st.button("Reveal", key="lesson_reveal", type="primary", width="stretch", on_click=reveal,
                      args=(lesson, n), icon=":material/visibility:")
        else:
            st.button("Try again", key="lesson_again", width="stretch", on_click=try_again, args=(lesson, n))
    problem = st.session_state.get(PROBLEM)
    if done is None and problem and problem[:2] == (lesson.id, n):
        st.caption(f":orange[{problem[2]}]")
    if done is not None:                                         # one block: the verdict, then why
        verdict = ":green[**Right.**]" if done["right"] else ":orange[**Not quite.**]"
        st.info(f"{verdict} You predicted {state.literal_markdown(done['guess'])}; the answer is "
                f"**{state.literal_markdown(done['answer'])}**.\n\n{reveal_text(lesson, n, config, done['guess'])}",
                icon=":material/lightbulb:")


def _guess_widget(lesson: Lesson, n: int, step: Step, config: Config, *, disabled: bool) -> None:
    key = guess_key(lesson, n)
    if step.kind == "choice":
        st.radio("Your prediction", step.choices, index=None, key=key, horizontal=True, disabled=disabled,
                 format_func=step.quantity.label)
    elif step.kind == "number":
        st.text_input("Your prediction (a number)", key=key, disabled=disabled, placeholder="e.g. 0.01, 1e-6 or 10^-6")
    else:
        clicked = st.session_state.pop(CLICKED, None)
        if clicked is not None and clicked[0] == key:
            st.session_state[key] = clicked[1]
        where = "click its node in the graph below, or type" if step.page == GRAPH_VIEW else "type"
        st.number_input(f"Your prediction: the step t ({where} 1 to {config.T})", min_value=1, max_value=config.T,
                        value=None, step=1, key=key, disabled=disabled, placeholder=f"1 to {config.T}")


def _changed_note(lesson: Lesson, n: int, config: Config) -> None:
    """When the settings on screen are no longer the step's: the numbers follow the screen; offer the way back."""
    wanted = lesson.config(n, config)
    if wanted.project(*answers.KEY_ROLES) == config.project(*answers.KEY_ROLES):
        return
    note, button = st.columns([5, 1.4], vertical_alignment="center")
    note.caption("The settings have changed since this step began: the answer is computed for the settings "
                 "on screen now.")
    button.button("Step's settings", key="lesson_reset", width="stretch", on_click=go, args=(lesson, n),
                  help="put back the settings this step set")


def _summary(lesson: Lesson) -> None:
    _header(lesson, len(lesson.steps), summary=True)
    done = results(lesson)
    right = sum(1 for r in done.values() if r["right"])
    total = len(lesson.steps)
    st.markdown(f"**You predicted {right} of {total} right.** The predictions stay in this browser tab only.")
    missed = [n for n in range(1, total + 1) if not done.get(n, {}).get("right")]
    if not missed:
        st.markdown("Every prediction was right. Try another lesson, or change the settings and predict again.")
        return
    st.caption("Go back to the steps you missed or skipped:")
    columns = st.columns(min(len(missed), 4))
    for i, n in enumerate(missed):
        label = f"Step {n}" + ("" if n in done else " (skipped)")
        columns[i % len(columns)].button(label, key=f"lesson_back_{n}", width="stretch", on_click=go,
                                         args=(lesson, n), help=lesson.step(n).question[:200])
