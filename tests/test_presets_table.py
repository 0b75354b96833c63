"""The presets' table (ui/presets.py) without the app: every preset's page and view are valid
for its model, and `apply` / `is_active` mean what Home shows."""
import pytest

from katex_check import inline_math, katex_errors, requires_katex
from ui.config import DEFAULT, FIELD_BY_NAME, FIELDS, parse, to_query
from ui.notation import NOTATIONS
from ui.config import PAGE, PRESET_ROLES
from ui.presets import PRESETS, active, page_of

NOT_A_PRESET = DEFAULT.replace(presentation=True, notation="row", tr_view="clipping", g_window=7, H=5,
                               edits=(("W_hh", 0, 1.0),))


@pytest.mark.parametrize("key", list(PRESETS))
def test_every_view_is_a_valid_view_of_its_page(key):
    preset = PRESETS[key]
    config = preset.apply(DEFAULT)
    assert parse(to_query(config)) == (config, [])            # a link round-trips it, nothing clamped
    for name in preset.view_values():
        assert FIELD_BY_NAME[name].role == PAGE, name         # the page's own fields, never the model
    view = dict(preset.view)
    assert view, "a preset must say what its page shows"
    for name in ("g_source", "d_step"):                        # steps that exist in its sequence
        assert view.get(name, 1) <= config.T
    if "g_source" in view:                                     # the followed term is in the window
        assert config.g_start <= config.g_source <= config.g_start + config.g_window - 1


def test_every_presets_page_has_view_fields_of_its_own():
    for preset in PRESETS.values():
        named = [f for f in FIELDS if f.role == PAGE and f.page == page_of(preset.page)]
        assert named and set(preset.view_values()) == {f.name for f in named}, preset.page


@pytest.mark.parametrize("key", list(PRESETS))
def test_apply_sets_the_model_and_the_view_and_keeps_the_rest(key):
    preset = PRESETS[key]
    config = preset.apply(NOT_A_PRESET)
    model = preset.config()
    for field in FIELDS:
        if field.name in preset.view_values():
            assert getattr(config, field.name) == preset.view_values()[field.name], field.name
        elif field.role in PRESET_ROLES:
            assert getattr(config, field.name) == getattr(model, field.name), field.name   # edits dropped
    assert config.presentation   # and another page's view stays as it was
    assert (config.g_window == 7) if preset.page == "views/training.py" else (config.tr_view == "clipping")
    # a textbook's preset writes its notation; the others keep the reader's
    assert config.notation == dict(preset.settings).get("notation", "row")


@pytest.mark.parametrize("key", list(PRESETS))
def test_a_preset_is_active_exactly_while_its_values_stay(key):
    preset = PRESETS[key]
    config = preset.apply(NOT_A_PRESET)
    assert preset.is_active(config) and active(config) is preset
    another_page = {"g_split": True} if preset.page == "views/training.py" else {"tr_view": "train"}
    assert active(config.replace(presentation=False, **another_page)) is preset   # not its values
    assert not preset.is_active(config.replace(seed=1))                              # a model value
    name, value = preset.view[0]
    assert not preset.is_active(config.replace(**{name: another_value(name, value)}))   # a view value


def another_value(name: str, value):
    """A valid value of field `name` other than `value`."""
    field = FIELD_BY_NAME[name]
    if field.kind == "choice":
        return next(option for option in field.options if option != value)
    return value - 1 if value > field.lo else value + 1


def test_no_preset_is_active_on_the_defaults_or_a_hand_edit():
    assert active(DEFAULT) is None
    edited = PRESETS["vanishing"].apply(DEFAULT).replace(edits=(("W_hh", 0, 1.0),))
    assert active(edited) is None


def test_the_presets_are_told_apart():
    configs = [p.apply(DEFAULT) for p in PRESETS.values()]
    assert len(set(configs)) == len(configs)
    assert [active(c).key for c in configs] == list(PRESETS)


@requires_katex
def test_what_each_preset_opens_renders_in_every_notation():
    """Home writes where each preset goes under its sentence: KaTeX must take its formulas
    (katex_check's page_formulas covers the sentences, not these)."""
    formulas = sorted({f for key in NOTATIONS for p in PRESETS.values() for f in inline_math(p.opens_text(key))})
    assert formulas and katex_errors(formulas) == []
    assert all("<" not in f for f in formulas)                    # every <symbol> was filled
