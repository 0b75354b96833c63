"""Lessons: the shipped lessons (lessons/*.toml) with their length and what each teaches, a
Start button each, and a lecturer's own lesson file loaded for this session.

The lesson itself runs in the bar above every page (ui/lessons/bar.py); its format is
ui/lessons/format.py, documented in lessons/README.md.
"""
import streamlit as st

from ui import state
from ui.lessons import bar
from ui.lessons.format import EXAMPLE, MAX_BYTES, Lesson, LessonError, load_bytes, shipped

MAX_MESSAGES = 12                # problems listed for one bad file; the rest are counted
PER_ROW = 2


def progress_text(lesson: Lesson) -> str:
    """'3 of 6 predictions right so far' from this session's answers ('' before any)."""
    done = bar.results(lesson)
    if not done:
        return ""
    right = sum(1 for r in done.values() if r["right"])
    return f"{right} of {len(lesson.steps)} predictions right so far in this session."


def lesson_card(lesson: Lesson, running_id: str | None, number: int | None = None) -> None:
    with st.container(border=True):
        st.subheader(lesson.title if number is None else f"{number}. {lesson.title}")
        st.caption(f"{len(lesson.steps)} steps · about {max(2, len(lesson.steps))} minutes")
        st.markdown(lesson.teaches)
        if lesson.id == running_id:
            st.button("Running: go to its step", key=f"lesson_go_{lesson.key}", on_click=bar.go,
                      args=(lesson, bar.running()[1]), icon=":material/play_arrow:")
        else:
            st.button("Start", key=f"lesson_start_{lesson.key}", type="primary", on_click=bar.start,
                      args=(lesson,), icon=":material/play_arrow:")
        text = progress_text(lesson)
        if text:
            st.caption(text)


def shipped_lessons(running_id: str | None) -> None:
    found = shipped()
    good = [lesson for lesson in found.values() if isinstance(lesson, Lesson)]
    for start in range(0, len(good), PER_ROW):
        for i, (column, lesson) in enumerate(zip(st.columns(PER_ROW), good[start:start + PER_ROW])):
            with column:
                lesson_card(lesson, running_id, number=start + i + 1)
    for key, problem in found.items():
        if isinstance(problem, LessonError):
            show_problems(f"lessons/{key}.toml cannot be used:", problem.messages)


def show_problems(lead: str, messages: list[str]) -> None:
    """A bad file's problems as literal text (a file can hold anything), at most MAX_MESSAGES."""
    shown = messages[:MAX_MESSAGES]
    if len(messages) > MAX_MESSAGES:
        shown.append(f"... and {len(messages) - MAX_MESSAGES} more problems.")
    st.error("  \n".join([lead, *(state.literal_markdown(m) for m in shown)]), icon=":material/error:")


def own_lesson(running_id: str | None) -> None:
    st.subheader("Your own lesson")
    st.markdown("A lesson is a short TOML file: each step sets the model, opens a page, asks a question and "
                "reveals the answer computed from the live model. Nothing in the file is run as code. "
                "The format, with every answer the app can compute: `lessons/README.md`. A file placed in "
                "the app's `lessons/` folder is listed above (after a restart) and can be shared by link.")
    with st.expander("A short example"):
        st.code(EXAMPLE, language="toml")
    upload = st.file_uploader(f"Load a lesson file (.toml, at most {MAX_BYTES // 1024} kB)", type=["toml"],
                              key="lesson_upload")
    if upload is not None:
        try:
            st.session_state[bar.UPLOADED] = load_bytes(upload.getvalue()[:MAX_BYTES + 1])
        except LessonError as err:
            show_problems(f"{upload.name} cannot be used:", err.messages)
            return
    lesson = st.session_state.get(bar.UPLOADED)
    if lesson is not None:
        lesson_card(lesson, running_id)
        st.caption("A lesson loaded from a file lives in this browser tab only: its steps cannot go in a link. "
                   "To share it, put the file in the app's lessons/ folder.")


def main() -> None:
    now = bar.running()
    running_id = now[0].id if now else None
    st.title("Lessons")
    st.markdown("Each lesson walks you through the app in a few steps. At every step you **predict first**: "
                "choose, type a number or pick a step, then reveal the answer, computed live from the model "
                "on screen, with the reason. Predicting before looking is what makes it stick. "
                "The bar of a running lesson sits above every page; **← and →** move between steps "
                "(and a presentation clicker's keys, in presentation mode).")
    shipped_lessons(running_id)
    own_lesson(running_id)


main()
