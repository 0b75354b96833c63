"""ui.text_upload: every bad upload gets one clear message, good text comes back cleaned."""
import pytest

import rnn_core as rc
from rnn_core.tasks import BUILTIN_TEXT, MAX_VOCAB, make_task_data
from ui.text_upload import MAX_UPLOAD_BYTES, MIN_TEXT_CHARS, read_text_upload

GOOD = ("The quick brown fox jumps over the lazy dog. " * 10).encode()

# (case name, bytes, file name, words the message must contain)
BAD_FILES = [
    ("empty", b"", "a.txt", ["empty"]),
    ("whitespace only", b" \n\t\n   \r\n" * 40, "a.txt", ["whitespace"]),
    ("too large", b"abc " * (MAX_UPLOAD_BYTES // 4 + 1), "big.txt", ["limit", "256 kB"]),
    ("latin-1", "Caf\xe9 cr\xe8me br\xfbl\xe9e. ".encode("latin-1") * 20, "menu.txt", ["UTF-8", "0xe9"]),
    ("cp1252 quotes", b"\x93quoted\x94 text " * 30, "q.txt", ["UTF-8", "0x93"]),
    ("truncated utf-8", GOOD + "\u00e9".encode()[:1], "cut.txt", ["UTF-8"]),
    ("utf-16", "hello world, a text. ".encode("utf-16") * 20, "u16.txt", ["UTF-16"]),
    ("utf-32", "hello world ".encode("utf-32") * 20, "u32.txt", ["UTF-32"]),
    ("png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image.txt", ["PNG image"]),
    ("pdf", b"%PDF-1.7\n" + GOOD, "paper.txt", ["PDF"]),
    ("zip", b"PK\x03\x04" + bytes(300), "archive.txt", ["ZIP"]),
    ("nul bytes", GOOD[:100] + b"\x00\x00" + GOOD[100:], "nul.txt", ["NUL"]),
    ("control bytes", bytes([1, 2, 3, 4, 5, 6, 7, 8] * 20) + GOOD, "ctl.txt", ["control bytes"]),
    ("too short", b"Just a few words.", "short.txt", ["17 characters", f"{MIN_TEXT_CHARS}"]),
    ("too many distinct", "".join(chr(0x4E00 + i) for i in range(400)).encode(), "cjk.txt",
     ["400 distinct", str(MAX_VOCAB)]),
    ("wrong suffix", GOOD, "weights.npz", [".txt"]),
    ("not bytes", "a str, not bytes", "a.txt", ["could not be read"]),
    ("nothing", None, "a.txt", ["No file"]),
]


@pytest.mark.parametrize("case, data, name, words", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_files_get_a_clear_message(case, data, name, words):
    result = read_text_upload(data, name=name)
    assert not result.ok and result.text is None
    for word in words:
        assert word in result.message, (case, result.message)
    assert "Traceback" not in result.message and len(result.message) < 400


def test_good_text_is_returned_unchanged():
    result = read_text_upload(GOOD, name="fox.txt")
    assert result.ok and result.message is None
    assert result.text == GOOD.decode()


def test_cleaning_bom_line_endings_nfc_and_stray_controls():
    raw = b"\xef\xbb\xbf" + ("Cafe\u0301 line one.\r\nline two\rline three\x0c " * 10).encode()
    result = read_text_upload(raw, name="Notes.TXT")
    assert result.ok
    assert "\r" not in result.text and "\ufeff" not in result.text and "\x0c" not in result.text
    assert "Caf\u00e9" in result.text and "e\u0301" not in result.text   # NFC: one character
    assert "Removed 10 control characters" in result.message


def test_min_chars_follows_the_caller():
    text = ("abc def. " * 40).encode()          # 360 characters
    assert read_text_upload(text, min_chars=300).ok
    assert "at least 400" in read_text_upload(text, min_chars=400).message


def test_accepted_text_trains_the_char_lm_task():
    result = read_text_upload(GOOD, name="fox.txt")
    data = make_task_data("char_lm", T=20, batch=4, text=result.text)
    assert data.D == len(set(GOOD.decode()))
    r = rc.bptt(rc.init_params(data.D, 8, data.O), data.xs, data.ys, activation="tanh", loss="softmax_ce")
    assert r.loss > 0


def test_builtin_text_passes_the_same_checks():
    assert read_text_upload(BUILTIN_TEXT.encode(), name="builtin.txt").text == BUILTIN_TEXT
