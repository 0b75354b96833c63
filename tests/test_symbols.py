"""The registry of symbols and words (ui/symbols.py): one entry per engine activation and loss,
and the texts that used to be written in several places come from it."""
import numpy as np
import pytest

import rnn_core as rc
from ui import notation as nt
from ui import symbols
from ui.config import FIELD_BY_NAME
from ui.notation import NOTATIONS


def test_every_engine_activation_and_loss_has_an_entry():
    assert set(symbols.ACTIVATIONS) == set(rc.ACTIVATIONS)
    assert set(symbols.LOSSES) == set(rc.LOSSES)


@pytest.mark.parametrize("name", list(rc.ACTIVATIONS))
@pytest.mark.parametrize("key", list(NOTATIONS))
def test_every_activation_is_written_in_every_notation(name, key):
    n = NOTATIONS[key]
    words = symbols.activation(name)
    assert words.label and words.note.startswith("f'(a) = ")
    assert nt.derivative(n, name).startswith(f"f'({n.at(n.a, 't')}) = ")
    assert nt.equations(n, activation=name)["2"].endswith(f"{rc.get_activation(name).latex}({n.at(n.a, 't')})")


@pytest.mark.parametrize("name", list(rc.LOSSES))
@pytest.mark.parametrize("key", list(NOTATIONS))
def test_every_loss_is_written_in_every_notation(name, key):
    n = NOTATIONS[key]
    words = symbols.loss(name)
    assert words.label and words.gradient_words
    assert nt.step_loss(n, name) and nt.output_gradient(n, name)
    assert nt.y_hat_definition(n, name).endswith(f"({n.at(n.o, 't')})") or not words.output_function
    o, y_hat = np.array([0.5, -1.0, 2.0]), np.array([0.2, 0.3, 0.5])
    y = 2 if rc.get_loss(name).integer_targets else np.array([0.0, 1.0, 0.0])
    vec = lambda v: "[" + ", ".join(f"{x:g}" for x in np.ravel(v)) + "]"      # noqa: E731
    assert words.step_loss_numbers(vec, str, o, y, y_hat) and words.gradient_numbers(vec, o, y, y_hat)
    assert isinstance(words.step_loss_note(n, "3", y), str)


def test_the_schema_and_the_registry_label_choices_alike():
    for name in rc.ACTIVATIONS:
        assert FIELD_BY_NAME["activation"].choice_label(name) == symbols.activation(name).label
        assert FIELD_BY_NAME["v_acts"].choice_label(name) == symbols.activation(name).label
    for name in rc.LOSSES:
        assert FIELD_BY_NAME["loss"].choice_label(name) == symbols.loss(name).label
    assert FIELD_BY_NAME["activation"].choice_label("relu") == "ReLU"


def test_an_activation_without_words_is_a_clear_error_not_a_key_error(monkeypatch):
    monkeypatch.delitem(symbols.ACTIVATIONS, "relu")
    with pytest.raises(ValueError, match="ui/symbols.py has no entry for the activation 'relu'"):
        nt.derivative(NOTATIONS["wxh"], "relu")
    with pytest.raises(ValueError, match="activation"):
        symbols.activation("swish")          # unknown to the engine too


def test_the_texts_are_the_ones_the_pages_showed():
    n = NOTATIONS["dlbook"]
    assert nt.derivative(n, "tanh") == r"f'(a^{(t)}) = 1 - \big(h^{(t)}\big)^{2}"
    assert symbols.activation("sigmoid").note == r"f'(a) = \sigma(a)\,(1 - \sigma(a)) = h\,(1 - h)"
    assert nt.y_hat_definition(NOTATIONS["wxh"], "softmax_ce") == r"\operatorname{softmax}(o_{t})"
    assert nt.y_hat_definition(NOTATIONS["wxh"], "mse") == "o_{t}"
