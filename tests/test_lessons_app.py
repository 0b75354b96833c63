"""Every shipped lesson walked step by step through the app (AppTest): a link opens its step with
the step's settings and page, a prediction is revealed (right on some steps, wrong on others),
the answer shown is the engine's (recomputed here with rnn_core directly), and the summary counts
the right ones with a way back to the others. Plus the lessons page, an upload and the keys."""
import logging
import re

import numpy as np
import pytest
import rnn_core as rc
from apptest_helpers import APP, compiled_once  # noqa: F401  (fixture)
from rnn_core.flow import full_flow, single_source
from streamlit.testing.v1 import AppTest

from ui.config import build_params
from ui.lessons import answers, bar
from ui.lessons.format import Lesson, shipped
from ui.state import literal_markdown, make_data

logging.getLogger("streamlit").setLevel(logging.ERROR)
pytestmark = pytest.mark.usefixtures("compiled_once")
TIMEOUT = 180
LESSONS = {key: lesson for key, lesson in shipped().items() if isinstance(lesson, Lesson)}


# ---- the answers, recomputed with rnn_core directly (not through the app's caches) ---------------

def model(cfg):
    return build_params(cfg), make_data(cfg)


def engine_bptt(cfg):
    params, data = model(cfg)
    return rc.bptt(params, data.xs, data.ys, activation=cfg.activation, loss=cfg.loss, reduction=cfg.reduction,
                   mask=data.mask, truncation=cfg.truncation_spec)


def curve(cfg):
    params, data = model(cfg)
    return rc.jacobian_norms_to_last(params, data.xs, activation=cfg.activation, ord=2)


def flow(cfg):
    result, params = engine_bptt(cfg), build_params(cfg)
    chosen = full_flow(result, params) if cfg.g_source == 0 else single_source(result, params, cfg.g_source)
    return np.linalg.norm(chosen.dL_dh, axis=1)


def split(cfg, t):
    result = engine_bptt(cfg)
    direct, indirect = (bool(np.any(part[t - 1] != 0)) for part in (result.dL_dh_direct, result.dL_dh_indirect))
    return "both" if direct and indirect else "direct" if direct else "indirect"


def gradcheck(cfg):
    from ui.pages.derivation import gradcheck_entries
    params, data = model(cfg)
    return rc.gradcheck(params, data.xs, data.ys, activation=cfg.activation, loss=cfg.loss, reduction=cfg.reduction,
                        mask=data.mask, max_entries=gradcheck_entries(cfg.T, cfg.H, cfg.cell))


def cells(cfg):
    from ui.pages.vanishing import cell_configs        # which models the page compares (not maths)
    return {cell: curve(model_cfg)[0] for cell, model_cfg in cell_configs(cfg)}


def clipping_cosines(cfg):
    from ui.pages import training                        # the comparison's batch and model (not maths)
    spec = training.TrainSpec.from_config(cfg, None)
    found = training.clipping_setup(cfg, spec, training.first_batch(spec, None), None, float(cfg.tr_clip_c))
    spec = training.TrainSpec.from_config(found.key, None).replace(scale=found.model.scale)
    data = training.sample_data(spec, None, batch=found.batch, seed=spec.seed)
    grads = rc.bptt(training.initial_params(spec, data.D, data.O), data.xs, data.ys, activation=spec.activation,
                    loss=data.loss, reduction="mean", mask=data.mask).grads
    raw = np.concatenate([getattr(grads, n).ravel() for n in grads.names()])

    def cosine(g):
        v = np.concatenate([getattr(g, n).ravel() for n in g.names()])
        return float(v @ raw / (np.linalg.norm(v) * np.linalg.norm(raw)))
    return cosine(rc.clip_by_global_norm(grads, cfg.tr_clip_c)[0]), cosine(rc.clip_by_value(grads, cfg.tr_clip_c))


def first_reached(cfg):
    return int(np.flatnonzero(flow(cfg) > 0)[0]) + 1


EXPECTED = {
    "jacobian_first": lambda c: curve(c)[0],
    "jacobian_factor": lambda c: rc.fit_decay_factor(curve(c)),
    "jacobian_trend": lambda c: rc.classify_factor(rc.fit_decay_factor(curve(c)))[0],
    "sigma_above_one": lambda c: "yes" if np.linalg.svd(build_params(c).W_hh, compute_uv=False)[0] > 1 else "no",
    "flow_peak_step": lambda c: int(np.argmax(flow(c))) + 1,
    "flow_survival": lambda c: flow(c)[0] / flow(c)[(c.g_source or c.T) - 1],
    "split_at_step": lambda c: split(c, c.g_step),
    "derivation_split": lambda c: split(c, c.d_step),
    "earliest_reached_step": first_reached,
    "first_vs_full": lambda c: flow(c)[0] / flow(c.replace(truncation="full"))[0],
    "output_grad_sum": lambda c: float(np.sum(engine_bptt(c).dL_do[c.d_step - 1])),
    "gradcheck_max_error": lambda c: max(r.max_rel_error for r in gradcheck(c).rows),
    "gradcheck_passes": lambda c: "yes" if gradcheck(c).passed else "no",
    "rnn_first": lambda c: cells(c)["rnn"],
    "lstm_first": lambda c: cells(c)["lstm"],
    "longest_memory_cell": lambda c: max(cells(c).items(), key=lambda item: item[1])[0],
    "clip_norm_cosine": lambda c: clipping_cosines(c)[0],
    "clip_value_keeps_direction": lambda c: "yes" if clipping_cosines(c)[1] >= answers.SAME_DIRECTION else "no",
}


def expected(step, cfg):
    return EXPECTED[step.answer](cfg)


# ---- driving the app -------------------------------------------------------------------------------

def open_link(query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = str(value)
    return at.run()


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.message for e in at.exception]
    return at


def config_of(at: AppTest):
    return at.session_state["_config"]


def wrong_guess(step, answer, cfg):
    if step.kind == "choice":
        return next(c for c in step.choices if c != answer)
    if step.kind == "click":
        return answer % cfg.T + 1
    if step.factor is not None:
        return answer * step.factor * 100 if answer > 0 else 1.0
    return answer + 10 * step.within + 1


def predict(at: AppTest, lesson: Lesson, n: int, guess) -> None:
    step, key = lesson.step(n), bar.guess_key(lesson, n)
    if step.kind == "choice":
        at.radio(key=key).set_value(guess)
    elif step.kind == "number":
        at.text_input(key=key).set_value(repr(float(guess)))
    else:
        at.number_input(key=key).set_value(int(guess))
    at.button(key="lesson_reveal").click().run()


def verdict(at: AppTest) -> str:
    return next(i.value for i in at.info if "You predicted" in i.value and "the answer is" in i.value)


@pytest.mark.parametrize("key", list(LESSONS))
def test_a_lesson_walked_step_by_step_right_and_wrong(key):
    lesson = LESSONS[key]
    at = clean(open_link({"lesson": key, "step": 1}))
    right = 0
    for n, step in enumerate(lesson.steps, start=1):
        cfg = config_of(at)
        assert (cfg.lesson, cfg.step) == (key, n)
        assert cfg == lesson.config(n, cfg)                       # the step's settings are applied
        assert any(step.question[:20].split("{")[0] in m.value for m in at.markdown)
        answer = expected(step, cfg)
        live = answers.value(step.answer, cfg)
        if step.kind == "number":
            assert live == pytest.approx(answer, rel=1e-9, abs=1e-12)
        else:
            assert live == answer
        guess_right = n % 2 == 1
        predict(at, lesson, n, answer if guess_right else wrong_guess(step, answer, cfg))
        clean(at)
        shown = verdict(at)
        assert ("Right." in shown) == guess_right, shown
        right += guess_right
        assert f"the answer is **{literal_markdown(bar.guess_label(step, answer))}**" in shown   # the engine's
        assert not re.search(r"\{(answer|guess|" + "|".join(answers.QUANTITIES) + r")\b", shown)   # all filled
        at.button(key="lesson_next").click().run()
        clean(at)
    summary = next(m.value for m in at.markdown if "You predicted" in m.value and "right" in m.value)
    assert f"You predicted {right} of {len(lesson.steps)} right" in summary
    missed = [n for n in range(1, len(lesson.steps) + 1) if n % 2 == 0]
    assert [b.key for b in at.button if b.key and b.key.startswith("lesson_back_")] == \
        [f"lesson_back_{n}" for n in missed]
    at.button(key=f"lesson_back_{missed[0]}").click().run()
    clean(at)
    assert config_of(at).step == missed[0]
    at.button(key="lesson_end").click().run()
    clean(at)
    assert config_of(at).lesson == "" and "lesson" not in at.query_params


def test_a_shared_step_link_opens_that_step_on_its_page():
    lesson = LESSONS["2-vanishing"]
    at = clean(open_link({"lesson": "2-vanishing", "step": 5}))
    cfg = config_of(at)
    assert cfg.step == 5 and cfg.rho == 1.5 and cfg.T == 20
    assert at.title[0].value.startswith("Vanishing")                # the step's page, not Home
    assert at.query_params["lesson"] == "2-vanishing" and at.query_params["step"] == "5"
    assert any(b.key == "lesson_prev" for b in at.button) and lesson.step(5).kind == "choice"


def test_a_step_beyond_the_lesson_opens_its_last_step_and_an_unknown_lesson_is_ignored():
    at = clean(open_link({"lesson": "2-vanishing", "step": 30}))
    assert "step 6 of 6" in at.get("progress")[0].proto.text
    at = clean(open_link({"lesson": "no-such-lesson"}))
    assert config_of(at).lesson == "" and at.warning                  # said, like any bad link value


def test_a_changed_setting_is_said_and_the_answer_follows_the_screen():
    at = clean(open_link({"lesson": "2-vanishing", "step": 1}))
    at.sidebar.slider(key="cfg_rho").set_value(0.8).run()
    clean(at)
    assert any("settings have changed" in c.value for c in at.caption)
    lesson = LESSONS["2-vanishing"]
    predict(at, lesson, 1, 1e-3)
    assert literal_markdown(f"{answers.value('jacobian_first', config_of(at)):.3g}") in verdict(at)
    at.button(key="lesson_reset").click().run()
    assert config_of(at).rho == 0.5


def test_the_sidebars_reset_keeps_the_lesson_and_brings_back_its_steps_settings():
    at = clean(open_link({"lesson": "2-vanishing", "step": 5}))
    assert at.sidebar.button(key="reset_all").disabled                # the step's settings are on
    at.sidebar.slider(key="cfg_rho").set_value(0.8).run()
    at.sidebar.button(key="reset_all").click().run()
    cfg = config_of(clean(at))
    assert (cfg.lesson, cfg.step, cfg.rho, cfg.T) == ("2-vanishing", 5, 1.5, 20)
    assert at.sidebar.button(key="reset_all").disabled


def test_a_prediction_is_needed_before_the_reveal():
    at = clean(open_link({"lesson": "2-vanishing", "step": 1}))
    at.button(key="lesson_reveal").click().run()
    assert any("Make a prediction first" in c.value for c in at.caption)
    at.text_input(key=bar.guess_key(LESSONS["2-vanishing"], 1)).set_value("ten to the minus eight").run()
    at.button(key="lesson_reveal").click().run()
    assert any("Type a number" in c.value for c in at.caption)
    assert not any("You predicted" in i.value for i in at.info)


def test_the_lessons_page_lists_every_lesson_and_starts_one():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("views/lessons.py").run()
    clean(at)
    assert [s.value for s in at.subheader][:len(LESSONS)] == \
        [f"{i}. {lesson.title}" for i, lesson in enumerate(LESSONS.values(), start=1)]
    at.button(key="lesson_start_2-vanishing").click().run()
    clean(at)
    assert config_of(at).lesson == "2-vanishing" and config_of(at).step == 1
    assert at.title[0].value.startswith("Vanishing")


def test_the_home_page_points_to_the_lessons():
    at = clean(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
    assert at.button[0].key == "open_lessons"                       # before the pages and the presets
    at.button(key="open_lessons").click().run()
    assert clean(at).title[0].value == "Lessons"


def test_number_reading():
    assert bar.read_number("1e-6") == 1e-6 and bar.read_number("10^-6") == 1e-6
    assert bar.read_number(" 0.25 ") == 0.25 and bar.read_number("−3") == -3
    assert bar.read_number("nan") is None and bar.read_number("1/0") is None and bar.read_number("inf") is None


def test_the_vanishing_steps_are_drawn_whole_in_the_spectral_norm():
    """The answers use ||.||_2 over all T steps: the page's cost model must draw exactly that
    at every lesson step on the Vanishing page (else a caption could quote another curve)."""
    from ui.pages import vanishing
    for lesson in LESSONS.values():
        for n, step in enumerate(lesson.steps, start=1):
            if step.page != "views/vanishing.py":
                continue
            cfg = lesson.config(n)
            plan = vanishing.plan(cfg)
            assert (plan.norm, plan.main_window) == ("2", cfg.T), (lesson.key, n)
            if cfg.v_section == "cells" and step.answer in ("rnn_first", "lstm_first", "gru_first",
                                                             "longest_memory_cell"):
                assert (plan.cells_norm, plan.cells_window) == ("2", cfg.T), (lesson.key, n)
