"""Small seeded data sets made in code (no downloads), ready for `bptt` and `train`.

Shape legend: T steps, B sequences in a batch, D inputs, O outputs. A task's data is
xs (T, D) for one sequence (batch=None) or (T, B, D) for a batch; ys are int classes (T, [B,])
for softmax_ce, or reals (T, [B,] O) for mse and sigmoid_bce; mask (T,) or None (all ones),
exactly as `rnn_core.bptt` takes them.

Tasks (the registry `TASKS`):
- random:      standard normal inputs and random targets for a chosen loss; D and O free.
- char_lm:     next-character prediction on a built-in text of ours, or on any text passed in.
- pos_tagging: part-of-speech tags of sentences from a small generated grammar.
- sine:        next-value regression on noisy sine waves of random frequency and phase.
- adding:      the adding problem: at the last step, the sum of two marked values (T-long memory).
- copy:        delayed recall: output the symbol seen `delay` steps earlier.

`make_task_data(name, T=..., seed=...)` draws one data set; `make_task_sampler` checks the
arguments once and returns a function seed -> TaskData, for training loops. The batch that
`train` uses at step s is `make_task_data(..., seed=(seed, s))`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .losses import get_loss

Array = np.ndarray

MAX_VOCAB = 96                # distinct characters a char_lm text may hold
MAX_TEXT_CHARS = 1_000_000    # longest text char_lm accepts
SINE_NOISE = 0.05             # standard deviation of the noise added to every sine value
SINE_OMEGA = (2 * np.pi / 24, 2 * np.pi / 8)   # angular frequency range: periods of 8..24 steps
COPY_SYMBOLS = 4              # alphabet size of the copy task
DEFAULT_DELAY = 5
DEFAULT_RANDOM_LOSS = "softmax_ce"

# Our own short text about recurrent networks (written for this project).
BUILTIN_TEXT = (
    "A recurrent network reads a sequence one step at a time and keeps a hidden state as its "
    "memory. At every step the same weights mix the new input with the old state. To learn, we "
    "unroll the loop and send the error backwards through time, one step after another. When "
    "the same matrix multiplies the gradient again and again, the signal can fade away or blow "
    "up. Clipping the gradient and cutting the unrolled graph short are two simple ways to keep "
    "training calm. Small examples like this one let us watch every number move."
)

# The toy grammar of pos_tagging. Clauses follow each other; each is
#   DET ADJ{0,2} NOUN VERB DET ADJ{0,2} NOUN [ADV] PUNCT
# "fish", "watch", "light" and "train" are both nouns and verbs: only the context tells which.
POS_TAGS = ("DET", "ADJ", "NOUN", "VERB", "ADV", "PUNCT")
POS_LEXICON = {
    "DET": ("the", "a", "every", "my", "this"),
    "ADJ": ("small", "red", "quiet", "old", "bright", "clever"),
    "NOUN": ("cat", "dog", "bird", "river", "teacher", "network", "fish", "watch", "light", "train"),
    "VERB": ("sees", "likes", "follows", "finds", "chases", "fish", "watch", "light", "train"),
    "ADV": ("slowly", "often", "today"),
    "PUNCT": (".",),
}
POS_WORDS = tuple(sorted({w for words in POS_LEXICON.values() for w in words}))
# The same grammar as a Markov chain over slots of the clause, so that all B sentences grow
# together, one vectorised step per token. slot -> (its tag, {next slot: probability}).
# 0 or 1 or 2 adjectives before a noun with probabilities 0.5, 0.35, 0.15; ADV with 0.3.
POS_SLOTS = (
    ("DET", {1: 0.5, 3: 0.5}), ("ADJ", {2: 0.3, 3: 0.7}), ("ADJ", {3: 1.0}),      # 0-2  subject
    ("NOUN", {4: 1.0}), ("VERB", {5: 1.0}),                                       # 3-4
    ("DET", {6: 0.5, 8: 0.5}), ("ADJ", {7: 0.3, 8: 0.7}), ("ADJ", {8: 1.0}),      # 5-7  object
    ("NOUN", {9: 0.3, 10: 0.7}), ("ADV", {10: 1.0}), ("PUNCT", {0: 1.0}),         # 8-10
)


@dataclass(frozen=True)
class Task:
    """A registered task.

    loss: the loss it is made for (None: chosen by the `loss=` argument). many_to_one: the
    loss counts only at the last step (mask). D, O: fixed sizes, or None when they are free or
    follow from the data (see `sizes`). options: the extra keyword arguments it reads.
    """

    name: str
    title: str
    description: str
    loss: str | None
    many_to_one: bool
    D: int | None
    O: int | None
    sizes: str
    options: tuple[str, ...] = ()


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("random", "Random data", "Standard normal inputs with random targets for the chosen loss.",
             None, False, None, None, "D and O free", ("loss",)),
        Task("char_lm", "Character language model",
             "Predict the next character of a short text (built in, or your own).",
             "softmax_ce", False, None, None, "D = O = number of distinct characters", ("text",)),
        Task("pos_tagging", "Part-of-speech tagging",
             "Tag every word of toy sentences; some words are nouns or verbs depending on context.",
             "softmax_ce", False, len(POS_WORDS), len(POS_TAGS),
             f"D = {len(POS_WORDS)} words, O = {len(POS_TAGS)} tags"),
        Task("sine", "Noisy sine waves", "Predict the next value of a noisy sine wave of random frequency.",
             "mse", False, 1, 1, "D = O = 1"),
        Task("adding", "Adding problem",
             "At the last step output the sum of the two marked values; harder as T grows.",
             "mse", True, 2, 1, "D = 2 (value, marker), O = 1"),
        Task("copy", "Delayed recall", "Output the symbol that was shown `delay` steps earlier.",
             "softmax_ce", False, COPY_SYMBOLS, COPY_SYMBOLS, f"D = O = {COPY_SYMBOLS} symbols", ("delay",)),
    )
}


@dataclass(frozen=True, eq=False)
class TaskData:
    """One draw of a task, in the layout `rnn_core.bptt` takes.

    xs (T, D) or (T, B, D) float64; ys (T, [B,]) int or (T, [B,] O) float64; mask (T,) or None.
    info: what previews need (e.g. 'vocab', 'words', 'tags', marker steps); see `task_preview`.
    """

    name: str
    xs: Array
    ys: Array
    mask: Array | None
    D: int
    O: int
    loss: str
    info: dict = field(default_factory=dict)

    @property
    def T(self) -> int:
        return self.xs.shape[0]

    @property
    def batched(self) -> bool:
        return self.xs.ndim == 3


# ---------------------------------------------------------------------------- argument checks

def _positive_int(name: str, value, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_seed(seed):
    """An int >= 0 or a tuple of them (e.g. (run seed, step)), as numpy's default_rng takes."""
    parts = seed if isinstance(seed, (tuple, list)) else (seed,)
    ok = len(parts) > 0 and all(not isinstance(s, bool) and isinstance(s, (int, np.integer)) and s >= 0
                                for s in parts)
    if not ok:
        raise ValueError(f"seed must be an integer >= 0 or a tuple of them, got {seed!r}")
    return [int(s) for s in parts] if isinstance(seed, (tuple, list)) else int(seed)


def _check_text(text, T: int) -> str:
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty; give at least T + 1 characters")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text must have at most {MAX_TEXT_CHARS:,} characters, got {len(text):,}")
    if len(text) < T + 1:
        raise ValueError(f"text must have at least T + 1 = {T + 1} characters for windows of T = {T}, "
                         f"got {len(text)}")
    return text


def _check_fixed_size(task: Task, name: str, given, actual: int) -> None:
    if given is not None and given != actual:
        raise ValueError(f"{name} must be {actual} for task {task.name!r} (or None), got {given!r}")


# ---------------------------------------------------------------------------- the generators
# Each `_make_<task>` checks its own arguments once and returns (D, O, loss, mask, draw) where
# draw(rng, B) -> (xs (T, B, D), ys (T, B[, O]), info). Work that does not depend on the draw
# (vocabularies, one-hot tables, masks) happens once, outside `draw`.

def _make_random(T, D, O, *, loss):
    loss = DEFAULT_RANDOM_LOSS if loss is None else loss
    get_loss(loss)
    if D is None or O is None:
        raise ValueError(f"task 'random' needs D and O (positive integers), got D={D!r}, O={O!r}")
    D, O = _positive_int("D", D), _positive_int("O", O)

    def draw(rng, B):
        xs = rng.standard_normal((T, B, D))
        if loss == "softmax_ce":
            ys = rng.integers(0, O, (T, B))
        elif loss == "sigmoid_bce":
            ys = rng.integers(0, 2, (T, B, O)).astype(np.float64)
        else:
            ys = rng.standard_normal((T, B, O))
        return xs, ys, {}
    return D, O, loss, None, draw


def _make_char_lm(T, D, O, *, text):
    text = BUILTIN_TEXT if text is None else _check_text(text, T)
    if len(text) < T + 1:
        raise ValueError(f"T must be at most {len(text) - 1} with the built-in text, got {T}")
    chars, codes = np.unique(np.array(list(text)), return_inverse=True)   # sorted vocabulary
    if len(chars) > MAX_VOCAB:
        raise ValueError(f"text must use at most {MAX_VOCAB} distinct characters, got {len(chars)}")
    vocab = "".join(chars.tolist())
    V = len(vocab)
    one_hot = np.eye(V)
    offsets = np.arange(T)[:, None]

    def draw(rng, B):
        starts = rng.integers(0, len(text) - T, B)          # windows of T + 1 characters
        idx = offsets + starts                              # (T, B)
        return one_hot[codes[idx]], codes[idx + 1], {"vocab": vocab, "starts": starts}
    return V, V, "softmax_ce", None, draw


def _pos_slot_chain():
    """(tag of each slot (S,), cumulative transition probabilities (S, S)) of POS_SLOTS."""
    S = len(POS_SLOTS)
    P = np.zeros((S, S))
    for i, (_, nxt) in enumerate(POS_SLOTS):
        for j, prob in nxt.items():
            P[i, j] = prob
    cum = np.cumsum(P, axis=1)
    cum /= cum[:, -1:]              # each row ends at exactly 1.0, above any uniform draw u < 1
    return np.array([POS_TAGS.index(tag) for tag, _ in POS_SLOTS]), cum


def _make_pos_tagging(T, D, O):
    word_index = {w: i for i, w in enumerate(POS_WORDS)}
    # table[tag, j]: the j-th word of that tag (rows padded by repeating; counts say how many)
    counts = np.array([len(POS_LEXICON[t]) for t in POS_TAGS])
    table = np.array([[word_index[POS_LEXICON[t][j % len(POS_LEXICON[t])]] for j in range(counts.max())]
                      for t in POS_TAGS])
    one_hot = np.eye(len(POS_WORDS))
    slot_tag, cum = _pos_slot_chain()

    def draw(rng, B):
        slots = np.zeros((T, B), dtype=np.intp)                     # every sentence starts at DET
        u = rng.random((T, B))
        for t in range(1, T):
            slots[t] = (u[t, :, None] < cum[slots[t - 1]]).argmax(axis=1)  # next slot of the chain
        tags = slot_tag[slots]                                      # (T, B)
        pick = (rng.random((T, B)) * counts[tags]).astype(np.intp)  # uniform within a tag
        words = table[tags, pick]
        return one_hot[words], tags, {"words": POS_WORDS, "tags": POS_TAGS}
    return len(POS_WORDS), len(POS_TAGS), "softmax_ce", None, draw


def _make_sine(T, D, O):
    steps = np.arange(T + 1)[:, None]

    def draw(rng, B):
        omega = rng.uniform(*SINE_OMEGA, B)
        phase = rng.uniform(0.0, 2 * np.pi, B)
        series = np.sin(omega * steps + phase) + SINE_NOISE * rng.standard_normal((T + 1, B))
        info = {"omega": omega, "phase": phase, "noise": SINE_NOISE}
        return series[:-1, :, None], series[1:, :, None], info     # x_t -> y_t = x_{t+1}
    return 1, 1, "mse", None, draw


def _make_adding(T, D, O):
    if T < 2:
        raise ValueError(f"T must be at least 2 for task 'adding' (two markers), got {T}")
    mask = np.zeros(T)
    mask[-1] = 1.0                                        # many-to-one: only the last step counts
    half = T // 2

    def draw(rng, B):
        values = rng.random((T, B))
        first = rng.integers(0, half, B)                  # one marker in each half of the sequence
        second = rng.integers(half, T, B)
        markers = np.zeros((T, B))
        markers[first, np.arange(B)] = 1.0
        markers[second, np.arange(B)] = 1.0
        ys = np.zeros((T, B, 1))
        ys[-1, :, 0] = (values * markers).sum(axis=0)
        info = {"marker_steps": np.stack([first, second], axis=1) + 1}   # (B, 2), steps t = 1..T
        return np.stack([values, markers], axis=-1), ys, info
    return 2, 1, "mse", mask, draw


def _make_copy(T, D, O, *, delay):
    delay = DEFAULT_DELAY if delay is None else delay
    if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or not 1 <= delay < T:
        raise ValueError(f"delay must be an integer with 1 <= delay < T = {T}, got {delay!r}")
    mask = np.ones(T)
    mask[:delay] = 0.0                                    # nothing to recall yet
    one_hot = np.eye(COPY_SYMBOLS)

    def draw(rng, B):
        symbols = rng.integers(0, COPY_SYMBOLS, (T, B))
        ys = np.zeros((T, B), dtype=np.intp)
        ys[delay:] = symbols[:-delay]                     # y_t = x_{t - delay}
        return one_hot[symbols], ys, {"delay": int(delay)}
    return COPY_SYMBOLS, COPY_SYMBOLS, "softmax_ce", mask, draw


_MAKERS = {"random": _make_random, "char_lm": _make_char_lm, "pos_tagging": _make_pos_tagging,
           "sine": _make_sine, "adding": _make_adding, "copy": _make_copy}


# ---------------------------------------------------------------------------- entry points

def make_task_sampler(name: str, *, T: int, batch: int | None = None, D: int | None = None,
                      O: int | None = None, text: str | None = None, delay: int | None = None,
                      loss: str | None = None) -> Callable[..., TaskData]:
    """Check the arguments once; return sample(seed) -> TaskData (see `make_task_data`)."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    task = TASKS[name]
    T = _positive_int("T", T)
    B = 1 if batch is None else _positive_int("batch", batch)
    options = {"text": text, "delay": delay, "loss": loss}
    for opt, value in options.items():
        if value is not None and opt not in task.options:
            raise ValueError(f"{opt} does not apply to task {name!r} (its options: {list(task.options)})")
    D_, O_, loss_name, mask, draw = _MAKERS[name](T, D, O, **{o: options[o] for o in task.options})
    _check_fixed_size(task, "D", D, D_)
    _check_fixed_size(task, "O", O, O_)
    squeeze = (lambda z: z) if batch is not None else (lambda z: z[:, 0])

    def sample(seed=0) -> TaskData:
        xs, ys, info = draw(np.random.default_rng(_check_seed(seed)), B)
        return TaskData(name, squeeze(xs), squeeze(ys), mask, D_, O_, loss_name, info)
    return sample


def make_task_data(name: str, *, T: int, batch: int | None = None, D: int | None = None,
                   O: int | None = None, seed=0, text: str | None = None, delay: int | None = None,
                   loss: str | None = None) -> TaskData:
    """One seeded draw of task `name` with T steps: xs (T, D) if batch is None, else (T, B, D).

    D and O: required for 'random'; for the other tasks None or the value the task fixes.
    text (char_lm): a str of at least T + 1 characters, at most MAX_VOCAB distinct ones;
    delay (copy): 1 <= delay < T; loss (random): a name in rnn_core.LOSSES.
    seed: an int >= 0, or a tuple of them such as (run seed, step).
    Same arguments, same arrays, on any machine.
    """
    return make_task_sampler(name, T=T, batch=batch, D=D, O=O, text=text, delay=delay, loss=loss)(seed)


# ---------------------------------------------------------------------------- text helpers

def encode(text: str, vocab: str) -> Array:
    """Character indices (len(text),) of `text` in `vocab`; ValueError naming unknown characters."""
    index = {c: i for i, c in enumerate(vocab)}
    unknown = sorted(set(text) - index.keys())
    if unknown:
        raise ValueError(f"text holds characters not in the vocabulary: {''.join(unknown)!r}")
    return np.array([index[c] for c in text], dtype=np.intp)


def decode(ids, vocab: str) -> str:
    """The string of character indices `ids` (any 1-D int sequence) in `vocab`."""
    ids = np.asarray(ids)
    in_range = ids.size == 0 or (ids.dtype.kind in "iu" and 0 <= ids.min() and ids.max() < len(vocab))
    if ids.ndim != 1 or not in_range:
        raise ValueError(f"ids must be a 1-D sequence of integers in [0, {len(vocab) - 1}], got {ids!r}")
    return "".join(vocab[i] for i in ids)


def task_preview(data: TaskData, n: int = 3) -> list[str]:
    """Up to n one-line, human-readable descriptions of the sequences in `data`."""
    xs = data.xs if data.batched else data.xs[:, None]
    ys = data.ys if data.batched else data.ys[:, None]
    lines = []
    for b in range(min(n, xs.shape[1])):
        x, y = xs[:, b], ys[:, b]
        lines.append(_PREVIEWS[data.name](data, x, y, b))
    return lines


def _numbers(values: Array, k: int = 6) -> str:
    shown = ", ".join(f"{v:.2f}" for v in values[:k])
    return shown + (", ..." if len(values) > k else "")


def _preview_random(data, x, y, b):
    return f"x_1 = ({_numbers(x[0], 4)}), y_1 = {y[0] if y.ndim == 1 else '(' + _numbers(y[0], 4) + ')'}"


def _preview_char_lm(data, x, y, b):
    vocab = data.info["vocab"]
    return f"{decode(x.argmax(axis=1), vocab)!r} -> {decode(y, vocab)!r}"


def _preview_pos(data, x, y, b):
    words, tags = data.info["words"], data.info["tags"]
    return " ".join(f"{words[w]}/{tags[t]}" for w, t in zip(x.argmax(axis=1), y))


def _preview_sine(data, x, y, b):
    omega = data.info["omega"][b]
    return (f"period {2 * np.pi / omega:.1f} steps, phase {data.info['phase'][b]:.2f}: "
            f"x = {_numbers(x[:, 0])}")


def _preview_adding(data, x, y, b):
    t1, t2 = data.info["marker_steps"][b]
    v1, v2 = x[t1 - 1, 0], x[t2 - 1, 0]
    return f"markers at t = {t1} and t = {t2}: {v1:.2f} + {v2:.2f} = {y[-1, 0]:.2f}"


def _preview_copy(data, x, y, b):
    d = data.info["delay"]
    shown = " ".join(map(str, x.argmax(axis=1)[:12]))
    return f"inputs {shown}{' ...' if len(x) > 12 else ''}; targets from t = {d + 1}: " \
           f"{' '.join(map(str, y[d:d + 12]))}"


_PREVIEWS = {"random": _preview_random, "char_lm": _preview_char_lm, "pos_tagging": _preview_pos,
             "sine": _preview_sine, "adding": _preview_adding, "copy": _preview_copy}
