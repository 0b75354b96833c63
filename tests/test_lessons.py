"""Lesson files (ui/lessons/format.py): the shipped ones load; a bad file gets one message per
problem naming its line; placeholders are filled by a regex with number formats only; the
tolerance of a prediction."""
import logging
import os
import re

import pytest

from ui.config import LESSON_KEYS, MAX_LESSON_STEPS, parse
from ui.lessons.answers import OUTCOME, QUANTITIES
from ui.lessons.format import (ALL_NAMES, MAX_BYTES, PAGES, LessonError, Step, fill, load_bytes, placeholders,
                               shipped, shipped_files)

logging.getLogger("streamlit").setLevel(logging.ERROR)

GOOD = '''title = "A test lesson"
teaches = "Something."

[[step]]
page = "vanishing"
look = "The curve."
question = "How small at rho = {rho}?"
kind = "number"
answer = "jacobian_first"
factor = 10
reveal = "It is {answer:.1e}; W_{hh} and h_{t+1} stay as written, {{braces}} too."
[step.settings]
rho = 0.5
T = 20

[[step]]
page = "graph"
look = "The graph."
question = "Which part?"
kind = "choice"
answer = "split_at_step"
choices = ["direct", "both"]
reveal = "{answer}."
'''


def errors_of(text: str | bytes) -> list[str]:
    with pytest.raises(LessonError) as info:
        load_bytes(text.encode() if isinstance(text, str) else text)
    return info.value.messages


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


# ---- the shipped lessons ------------------------------------------------------------------------

def test_six_shipped_lessons_load_with_four_to_eight_steps():
    lessons = shipped()
    assert len(lessons) >= 6 and set(lessons) == set(LESSON_KEYS)
    for key, lesson in lessons.items():
        assert not isinstance(lesson, LessonError), (key, getattr(lesson, "messages", None))
        assert 4 <= len(lesson.steps) <= 8, key
        assert lesson.title and lesson.teaches


def test_shipped_steps_name_real_pages_and_their_choices_are_outcomes():
    for lesson in shipped().values():
        for step in lesson.steps:
            assert step.page in PAGES.values()
            if step.kind == "choice":
                assert set(step.choices) <= set(step.quantity.outcomes)


def test_a_good_file_loads_with_its_settings_and_tolerances():
    lesson = load_bytes(GOOD.encode())
    first, second = lesson.steps
    assert first.page == "views/vanishing.py" and dict(first.settings) == {"rho": 0.5, "T": 20}
    assert first.factor == 10 and first.within is None
    assert second.choices == ("direct", "both")
    assert lesson.config(1).rho == 0.5 and lesson.config(1).T == 20
    assert lesson.config(1).lesson == "" and not lesson.shipped       # an upload never goes in a link


def test_step_config_keeps_the_readers_notation_and_presentation_only():
    lesson = load_bytes(GOOD.encode())
    current = parse({"notation": "dlbook", "presentation": "1", "H": "32", "rho": "2"})[0]
    config = lesson.config(2, current)
    assert config.notation == "dlbook" and config.presentation
    assert config.H == 8 and config.rho == 0.9                          # the step's own model, not the reader's


# ---- bad files: a message naming the line -------------------------------------------------------

def test_bad_toml_names_its_line():
    text = GOOD.replace('kind = "choice"', 'kind = "choice')
    (message,) = errors_of(text)
    assert message.startswith(f"Line {line_of(text, 'kind = ' + chr(34) + 'choice')}, column")
    assert "not valid TOML" in message


def test_unknown_setting_names_its_line_and_the_known_ones():
    text = GOOD.replace("T = 20", "colour = 3")
    (message,) = errors_of(text)
    assert message.startswith(f"Line {line_of(text, 'colour = 3')}: step 1: unknown setting 'colour'")
    assert "rho" in message


def test_unknown_page_names_its_line():
    text = GOOD.replace('page = "graph"', 'page = "nowhere"')
    (message,) = errors_of(text)
    assert message.startswith(f"Line {line_of(text, 'nowhere')}: step 2: page 'nowhere' is not one of")


def test_out_of_range_value_is_an_error_not_a_clamp():
    text = GOOD.replace("rho = 0.5", "rho = 9.0")
    (message,) = errors_of(text)
    assert message.startswith(f"Line {line_of(text, 'rho = 9.0')}: step 1: rho = 9.0: outside the range [0.0, 5.0]")


def test_wrong_type_of_setting():
    text = GOOD.replace("T = 20", 'T = "twenty"')
    (message,) = errors_of(text)
    assert f"Line {line_of(text, 'twenty')}: step 1: T = 'twenty': a whole number is expected" in message


def test_settings_that_do_not_fit_together():
    text = GOOD.replace("T = 20", 'T = 20\ncell = "lstm"\nactivation = "relu"')
    (message,) = errors_of(text)
    assert "do not fit together" in message and "vanilla" in message


def test_unknown_answer_names_its_line():
    text = GOOD.replace('answer = "split_at_step"', 'answer = "the_truth"')
    (message,) = errors_of(text)
    assert message.startswith(f"Line {line_of(text, 'the_truth')}: step 2: answer 'the_truth' is not a quantity")


def test_answer_of_the_wrong_kind():
    text = GOOD.replace('answer = "jacobian_first"', 'answer = "jacobian_trend"')
    messages = errors_of(text)
    assert any(m.startswith(f"Line {line_of(text, 'jacobian_trend')}: step 1: answer 'jacobian_trend' is of kind "
                            "'outcome', which a 'number' question cannot ask for") for m in messages)


@pytest.mark.parametrize("choices, words", [('["direct"]', "has 2 to 4 choices; this one has 1"),
                                            ('["direct", "both", "indirect", "neither", "direct"]',
                                             "this one has 5"),
                                            ('["direct", "sideways"]', "'sideways' is not an outcome")])
def test_choices_are_checked(choices, words):
    text = GOOD.replace('choices = ["direct", "both"]', f"choices = {choices}")
    (message,) = errors_of(text)
    assert message.startswith(f"Line {line_of(text, 'choices = ')}: step 2:") and words in message


def test_a_number_question_needs_one_tolerance():
    text = GOOD.replace("factor = 10\n", "")
    (message,) = errors_of(text)
    assert "needs one tolerance" in message and message.startswith(f"Line {line_of(text, 'kind = ' + chr(34) + 'number')}")


def test_a_two_megabyte_file_is_refused_unread():
    big = GOOD.encode() + b"# " + b"x" * (2 * 1024 * 1024) + b"\n"
    (message,) = errors_of(big)
    assert f"larger than {MAX_BYTES // 1024} kB" in message


def test_not_utf8():
    (message,) = errors_of(b'title = "x"\n\xff\xfe')
    assert message == "Line 2: the file is not UTF-8 text."


@pytest.mark.parametrize("attack", ["{answer.__class__}", "{answer.__class__.__mro__}", "{guess!r}",
                                    "{answer[0]}", "{answer:{x}}", "{T.__init__.__globals__}",
                                    "{answer:>99999999}"])
def test_format_string_attacks_are_errors_naming_the_line(attack):
    text = GOOD.replace('reveal = "{answer}."', f'reveal = "{attack}."')
    messages = errors_of(text)
    assert len(messages) == 1 and messages[0].startswith(f"Line {line_of(text, attack)}: step 2:")
    assert "not a placeholder" in messages[0]


def test_the_answer_cannot_be_shown_in_the_question():
    text = GOOD.replace('question = "Which part?"', 'question = "Which part? ({answer})"')
    (message,) = errors_of(text)
    assert "belongs in the reveal" in message


def test_unknown_keys_and_missing_ones():
    text = GOOD.replace('look = "The graph."\n', 'lok = "The graph."\n')
    messages = errors_of(text)
    assert any("unknown key 'lok'" in m and m.startswith(f"Line {line_of(text, 'lok =')}") for m in messages)
    assert any("'look' is missing" in m for m in messages)


def test_too_many_steps():
    step = GOOD[GOOD.index("[[step]]", GOOD.index("[[step]]") + 1):]
    text = GOOD + "\n" + step * MAX_LESSON_STEPS
    (message,) = errors_of(text)
    assert f"at most {MAX_LESSON_STEPS} steps" in message


def test_several_problems_each_get_a_message():
    text = GOOD.replace("rho = 0.5", "rho = -1.0").replace('page = "graph"', 'page = "nowhere"')
    assert len(errors_of(text)) == 2


def test_a_key_inside_a_text_is_not_taken_for_its_line():
    text = GOOD.replace('question = "How small at rho = {rho}?"', 'question = "How small at T = {T}, rho = {rho}?"')
    text = text.replace("T = 20", "T = 999")
    (message,) = errors_of(text)
    assert message.startswith(f"Line {line_of(text, 'T = 999')}:")


# ---- placeholders and tolerances ------------------------------------------------------------------

def test_fill_formats_numbers_and_leaves_other_braces():
    text = "x {answer:.1e}, {answer:.2f}, {T}, {cell}, W_{hh}, h_{t+1}, {{T}}, h_{{{T}}}"
    assert placeholders(text, ALL_NAMES) == [("answer", ".1e"), ("answer", ".2f"), ("T", ""), ("cell", ""),
                                             ("T", "")]
    out = fill(text, {"answer": 0.000123, "T": 12, "cell": "lstm"}, {"cell": "LSTM"})
    assert out == "x 1.2e-04, 0.00, 12, LSTM, W_{hh}, h_{t+1}, {T}, h_{12}"


def test_fill_never_calls_format_on_the_text():
    # str.format would reach attributes; the regex leaves a malformed placeholder as text
    out = fill("{answer.__class__} {0} {}", {"answer": 1.5})
    assert out == "{answer.__class__} {0} {}"


def step_with(kind: str, factor=None, within=None) -> Step:
    return Step(1, "views/graph.py", (), None, "", "", kind, "jacobian_first", (), factor, within)


def test_tolerances():
    by_factor = step_with("number", factor=10)
    assert by_factor.is_right(1e-7, 5e-7) and by_factor.is_right(5e-6, 5e-7) and not by_factor.is_right(1e-8, 5e-7)
    assert not by_factor.is_right(-5e-7, 5e-7) and not by_factor.is_right(float("nan"), 1.0)
    by_distance = step_with("number", within=0.05)
    assert by_distance.is_right(0.98, 1.0) and not by_distance.is_right(0.9, 1.0)
    click = step_with("click")
    assert click.is_right(3, 3) and not click.is_right(4, 3)
    assert step_with("click", within=1).is_right(4, 3)


def test_every_outcome_quantity_has_labels_and_the_registry_names_are_placeholders():
    for quantity in QUANTITIES.values():
        assert quantity.kind != OUTCOME or quantity.outcomes
        assert re.fullmatch(r"[a-z_0-9]+", quantity.name)
    assert shipped_files()


def test_the_documented_examples_load():
    from pathlib import Path
    from ui.lessons.format import EXAMPLE
    readme = (Path(__file__).resolve().parents[1] / "lessons" / "README.md").read_text()
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    assert len(load_bytes(block.encode()).steps) == 2
    assert len(load_bytes(EXAMPLE.encode()).steps) == 1


def lesson_formulas() -> list[str]:
    """Every inline formula of every shipped lesson's texts, filled with the step's live numbers,
    its symbols written in every notation."""
    from katex_check import inline_math
    from ui.notation import NOTATIONS
    from ui.notation import fill as in_notation
    return [formula for text in lesson_texts() for n in NOTATIONS.values()
            for formula in inline_math(in_notation(text, n))]


def lesson_texts() -> list[str]:
    """Every text of every shipped lesson, its placeholders filled with the step's live numbers."""
    from ui.lessons import answers
    from ui.lessons.bar import field_values
    texts = []
    for lesson in shipped().values():
        for n, step in enumerate(lesson.steps, start=1):
            config = lesson.config(n)
            values, labels = field_values(config)
            for name in answers.QUANTITIES:
                if any(p == name for p, _ in placeholders(step.reveal, ALL_NAMES)) or name == step.answer:
                    values[name] = answers.value(name, config)
            values["answer"], values["guess"] = values[step.answer], values[step.answer]
            texts += [fill(text, values, labels) for text in (step.question, step.look, step.reveal, lesson.teaches)]
    return texts


def test_lesson_symbols_are_written_in_the_readers_notation():
    from ui.notation import NOTATIONS, symbols
    from ui.notation import fill as in_notation
    texts = lesson_texts()
    assert any("<W_hh>" in text for text in texts)
    for n in NOTATIONS.values():
        written = [in_notation(text, n) for text in texts]
        assert not [m for text in written for m in re.findall(r"<\w+>", text)], n.key
        assert any(symbols(n)["W_hh"] in text for text in written)
    assert not any("W_{hh}" in in_notation(text, NOTATIONS["dlbook"]) for text in texts
                   if "Dive into Deep Learning" not in text)


def test_every_lesson_formula_is_balanced_and_rendered_by_katex():
    from katex_check import available, katex_errors, unbalanced
    formulas = lesson_formulas()
    assert len(formulas) > 50
    assert [f for f in formulas if unbalanced(f)] == []
    if available() or os.environ.get("CI"):                       # CI installs node: a missing one fails there
        assert katex_errors(formulas) == []
