"""The built-in tasks: layouts bptt accepts, determinism, the meaning of each target, bad input."""
import numpy as np
import pytest

import rnn_core as rc
from rnn_core.tasks import (BUILTIN_TEXT, MAX_TEXT_CHARS, MAX_VOCAB, POS_LEXICON, TASKS, decode, encode,
                            make_task_data, make_task_sampler, task_preview)

SIZES = {"random": dict(D=3, O=4)}   # the only task whose D and O are free


def data(name, **kw):
    return make_task_data(name, **{"T": 12, **SIZES.get(name, {}), **kw})


@pytest.mark.parametrize("name", sorted(TASKS))
@pytest.mark.parametrize("batch", [None, 5])
def test_every_task_is_accepted_by_bptt(name, batch):
    d = data(name, batch=batch, seed=3)
    lead = (12,) if batch is None else (12, batch)
    assert d.xs.shape == lead + (d.D,) and d.xs.dtype == np.float64
    assert d.ys.shape in (lead, lead + (d.O,))
    assert d.batched == (batch is not None) and d.T == 12
    task = TASKS[name]
    assert d.loss == (task.loss or "softmax_ce")
    assert task.D in (None, d.D) and task.O in (None, d.O)
    p = rc.init_params(d.D, 4, d.O, seed=0)
    res = rc.bptt(p, d.xs, d.ys, activation="tanh", loss=d.loss, reduction="mean", mask=d.mask)
    assert np.isfinite(res.loss) and res.dL_dh.shape == lead + (4,)
    assert len(task_preview(d, n=2)) == (1 if batch is None else 2)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_same_seed_same_data_other_seed_other_data(name):
    a, b, c = data(name, batch=4, seed=7), data(name, batch=4, seed=7), data(name, batch=4, seed=8)
    assert np.array_equal(a.xs, b.xs) and np.array_equal(a.ys, b.ys)
    assert not np.array_equal(a.xs, c.xs)


def test_sampler_and_tuple_seeds_match_make_task_data():
    sample = make_task_sampler("sine", T=9, batch=3)
    assert np.array_equal(sample((4, 2)).xs, make_task_data("sine", T=9, batch=3, seed=(4, 2)).xs)
    assert not np.array_equal(sample((4, 2)).xs, sample((4, 3)).xs)


@pytest.mark.parametrize("loss", sorted(rc.LOSSES))
def test_random_targets_follow_the_loss(loss):
    d = make_task_data("random", T=30, batch=4, D=2, O=3, loss=loss, seed=1)
    assert d.loss == loss and d.mask is None
    if loss == "softmax_ce":
        assert d.ys.dtype.kind == "i" and set(np.unique(d.ys)) == {0, 1, 2}
    elif loss == "sigmoid_bce":
        assert set(np.unique(d.ys)) == {0.0, 1.0}
    else:
        assert d.ys.shape == (30, 4, 3) and d.ys.std() > 0.5


def test_char_lm_targets_are_the_next_characters_of_the_text():
    text = "hello, recurrent world! hello again."
    d = make_task_data("char_lm", T=10, batch=6, text=text, seed=2)
    vocab = d.info["vocab"]
    assert vocab == "".join(sorted(set(text))) and d.D == d.O == len(vocab)
    for b, start in enumerate(d.info["starts"]):
        assert decode(d.xs[:, b].argmax(axis=1), vocab) == text[start:start + 10]
        assert decode(d.ys[:, b], vocab) == text[start + 1:start + 11]


def test_char_lm_default_text_is_built_in_and_longest_window_fits():
    d = make_task_data("char_lm", T=len(BUILTIN_TEXT) - 1)
    assert decode(d.ys, d.info["vocab"]) == BUILTIN_TEXT[1:]
    with pytest.raises(ValueError, match="T must be at most"):
        make_task_data("char_lm", T=len(BUILTIN_TEXT))


def test_encode_decode_round_trip_and_unknown_characters():
    vocab = "abc "
    assert decode(encode("cab a", vocab), vocab) == "cab a"
    with pytest.raises(ValueError, match="'xz'"):
        encode("axbz", vocab)
    with pytest.raises(ValueError, match="ids"):
        decode([0, 4], vocab)


@pytest.mark.parametrize("text,match", [
    (b"bytes", "text must be a str"), ("", "text is empty"), ("short", "at least T \\+ 1 = 13"),
    ("".join(chr(0x100 + i) for i in range(MAX_VOCAB + 1)) * 2, f"at most {MAX_VOCAB} distinct"),
    ("ab" * (MAX_TEXT_CHARS // 2 + 1), "at most 1,000,000 characters"),
])
def test_char_lm_rejects_bad_texts(text, match):
    with pytest.raises(ValueError, match=match):
        make_task_data("char_lm", T=12, text=text)


def test_pos_tags_agree_with_the_lexicon_and_ambiguous_words_need_context():
    d = make_task_data("pos_tagging", T=60, batch=40, seed=0)
    words, tags = d.info["words"], d.info["tags"]
    seen = {}
    for w, t in zip(d.xs.argmax(axis=2).ravel(), d.ys.ravel()):
        assert words[w] in POS_LEXICON[tags[t]]
        seen.setdefault(words[w], set()).add(tags[t])
    assert seen["watch"] == {"NOUN", "VERB"} and seen["the"] == {"DET"}
    assert d.ys[0].tolist() == [tags.index("DET")] * 40     # sentences start at a clause
    allowed = {("DET", "ADJ"), ("DET", "NOUN"), ("ADJ", "ADJ"), ("ADJ", "NOUN"), ("NOUN", "VERB"),
               ("NOUN", "ADV"), ("NOUN", "PUNCT"), ("VERB", "DET"), ("ADV", "PUNCT"), ("PUNCT", "DET")}
    names = np.array(tags)[d.ys]
    assert set(zip(names[:-1].ravel(), names[1:].ravel())) == allowed
    assert not np.any((names[:-2] == "ADJ") & (names[1:-1] == "ADJ") & (names[2:] == "ADJ"))


def test_sine_target_is_the_next_input():
    d = make_task_data("sine", T=20, batch=3, seed=5)
    assert np.array_equal(d.ys[:-1], d.xs[1:])
    assert 0.5 < np.abs(d.xs).max() < 1.3


def test_adding_target_is_the_sum_of_the_two_marked_values_at_the_last_step():
    T = 16
    d = make_task_data("adding", T=T, batch=50, seed=4)
    values, markers = d.xs[..., 0], d.xs[..., 1]
    assert np.all(markers.sum(axis=0) == 2) and np.all(markers[:T // 2].sum(axis=0) == 1)
    assert np.allclose(d.ys[-1, :, 0], (values * markers).sum(axis=0))
    assert np.all(d.ys[:-1] == 0) and d.mask.tolist() == [0.0] * (T - 1) + [1.0]
    assert np.all(d.info["marker_steps"] - 1 == np.argwhere(markers.T)[:, 1].reshape(50, 2))
    assert TASKS["adding"].many_to_one


def test_copy_recalls_the_symbol_delay_steps_back():
    d = make_task_data("copy", T=15, batch=4, delay=6, seed=1)
    shown = d.xs.argmax(axis=2)
    assert np.array_equal(d.ys[6:], shown[:-6])
    assert d.mask.tolist() == [0.0] * 6 + [1.0] * 9


@pytest.mark.parametrize("kwargs,match", [
    (dict(name="nope", T=5), "task must be one of"),
    (dict(name="sine", T=0), "T must be an integer >= 1, got 0"),
    (dict(name="sine", T=True), "T must be"),
    (dict(name="sine", T=5, batch=0), "batch must be"),
    (dict(name="sine", T=5, seed=-1), "seed must be"),
    (dict(name="sine", T=5, seed=1.5), "seed must be"),
    (dict(name="sine", T=5, D=3), "D must be 1 for task 'sine'"),
    (dict(name="pos_tagging", T=5, O=2), "O must be 6"),
    (dict(name="sine", T=5, text="abcdefgh"), "text does not apply to task 'sine'"),
    (dict(name="adding", T=5, delay=2), "delay does not apply"),
    (dict(name="random", T=5, D=2), "needs D and O"),
    (dict(name="random", T=5, D=0, O=2), "D must be an integer >= 1"),
    (dict(name="random", T=5, D=2, O=2, loss="hinge"), "loss must be one of"),
    (dict(name="adding", T=1), "T must be at least 2"),
    (dict(name="copy", T=5, delay=5), "1 <= delay < T = 5, got 5"),
    (dict(name="copy", T=5, delay=0), "delay"),
])
def test_bad_arguments_raise_value_error(kwargs, match):
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=match):
        make_task_data(name, **kwargs)
