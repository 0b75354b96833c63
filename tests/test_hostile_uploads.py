"""Hostile uploads: weights files (.npz/.json, ui.weights_io) and texts (.txt, ui.text_upload).

Adds to tests/test_weights_io.py and tests/test_text_upload.py (their cases are not repeated
here): every file below is refused with one sentence a user can act on, fast, and, through
AppTest, the session keeps its weights, config and accepted text afterwards."""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import struct
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import rnn_core as rc
from ui.config import parse
from ui.state import CONFIG_KEY, WORD_JOINER
from ui.text_upload import read_text_upload
from ui.weights_io import MAX_FILE_BYTES, WeightsFileError, load_weights, to_json_bytes, to_npz_bytes
from apptest_helpers import APP, compiled_once  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("compiled_once")
FAST_SECONDS = 1.0      # a refusal never inflates, parses or allocates much
GOOD_TEXT = ("The quick brown fox jumps over the lazy dog. " * 12).encode()


# ---- building hostile files ---------------------------------------------------------------------

def arrays(D=3, H=4, O=2, **overrides) -> dict[str, np.ndarray]:
    return {**rc.init_params(D, H, O, seed=1).to_dict(), **overrides}


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_with_header(header: dict, data: bytes = b"", version=(1, 0)) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    raw = buffer.getvalue()
    return raw[:6] + bytes(version) + raw[8:] + data


def zipped(members: dict[str, bytes] | list[tuple[str, bytes]], method=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)          # a repeated name is the point of one case
        for name, blob in (members.items() if isinstance(members, dict) else members):
            archive.writestr(name, blob)
    return buffer.getvalue()


def npz(**named: np.ndarray) -> bytes:
    return zipped({f"{name}.npy": npy(a) for name, a in named.items()})


def npz_members(**overrides: bytes) -> bytes:
    """The five members as .npy files, some replaced by raw bytes."""
    members = {f"{name}.npy": npy(a) for name, a in arrays().items()}
    members.update({f"{name}.npy": blob for name, blob in overrides.items()})
    return zipped(members)


def patch_zip_headers(data: bytes, *, local_at: int, central_at: int, fmt: str, value) -> bytes:
    """Overwrite one field of every local file header and central directory entry."""
    blob = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local_at), (b"PK\x01\x02", central_at)):
        start = blob.find(signature)
        while start != -1:
            struct.pack_into(fmt, blob, start + offset, value(struct.unpack_from(fmt, blob, start + offset)[0]))
            start = blob.find(signature, start + 4)
    return bytes(blob)


def json_doc(**overrides) -> bytes:
    doc = {name: a.tolist() for name, a in arrays().items()}
    doc.update(overrides)
    return json.dumps(doc).encode()


PICKLE_RAN = Path(tempfile.gettempdir()) / f"hostile_upload_pickle_ran_{os.getpid()}"


class Payload:
    """A pickle that would leave a trace (the file PICKLE_RAN) if it were ever unpickled."""

    def __reduce__(self):
        return (PICKLE_RAN.touch, ())


# (case, file name, bytes, words the message must contain). Cases already in
# tests/test_weights_io.py (object-array pickle, zip bombs, header claiming 10^9 floats, wrong
# shapes / dtypes, NaN/inf, missing/extra keys, empty, text, oversized, truncated, empty zip,
# .pkl, 13 hostile JSON documents) are not repeated.
WEIGHTS_CASES = [
    ("pickle file named .json", "weights.json", pickle.dumps(Payload()), ["UTF-8"]),
    ("pickle file named .npz", "weights.npz", pickle.dumps({"W_hh": Payload()}), ["not a NumPy archive"]),
    ("bare .npy named .npz", "weights.npz", npy(np.zeros((4, 4))), ["not a NumPy archive"]),
    (".npy version 3.0 header", "w.npz",
     npz_members(W_hh=npy_with_header({"descr": "<f8", "fortran_order": False, "shape": (4, 4)}, bytes(128), (3, 0))),
     ["W_hh", "not a NumPy array"]),
    ("npy header with a negative shape", "w.npz",
     npz_members(W_hh=npy_with_header({"descr": "<f8", "fortran_order": False, "shape": (-4, 4)}, bytes(128))),
     ["cannot be read", "negative"]),
    ("npy header with code in it", "w.npz",
     npz_members(W_hh=b"\x93NUMPY\x01\x00v\x00{'descr': __import__('os').system('true'), 'fortran_order': False, "
                      b"'shape': (4, 4), }" + b" " * 40 + b"\n" + bytes(128)),
     ["W_hh", "not a NumPy array"]),
    ("structured dtype", "w.npz",
     npz(**arrays(W_hh=np.zeros((4, 4), dtype=[("re", "<f8"), ("im", "<f8")]))), ["W_hh", "dtype"]),
    ("datetime dtype", "w.npz", npz(**arrays(b_h=np.array(["2024-01-01"] * 4, dtype="datetime64[D]"))),
     ["b_h", "dtype"]),
    ("nested .npz as a member", "w.npz", npz_members(W_hh=npz(**arrays())), ["W_hh", "not a NumPy array"]),
    ("path traversal member names", "w.npz",
     zipped({f"../{name}.npy": npy(a) for name, a in arrays().items()}), ["missing"]),
    ("repeated member", "w.npz",
     zipped([(f"{name}.npy", npy(a)) for name, a in arrays().items()] + [("W_hh.npy", npy(np.ones((4, 4))))]),
     ["repeated"]),
    ("directory entry", "w.npz", zipped({**{f"{n}.npy": npy(a) for n, a in arrays().items()}, "W_hh/": b""}),
     ["unexpected"]),
    ("10 000 members", "w.npz", zipped({f"m{i}.npy": b"" for i in range(10_000)}), ["missing"]),
    ("encrypted members", "w.npz",
     patch_zip_headers(npz(**arrays()), local_at=6, central_at=8, fmt="<H", value=lambda f: f | 1), ["damaged"]),
    ("unknown compression method", "w.npz",
     patch_zip_headers(npz(**arrays()), local_at=8, central_at=10, fmt="<H", value=lambda m: 99), ["damaged"]),
    ("H = 0", "w.npz", npz(**arrays(W_xh=np.zeros((0, 3)), W_hh=np.zeros((0, 0)), b_h=np.zeros(0),
                                    W_hy=np.zeros((2, 0)))), ["H = 0"]),
    ("D = 65", "w.npz", npz(**arrays(W_xh=np.zeros((4, 65)))), ["D = 65"]),
    ("0-d bias", "w.npz", npz(**arrays(b_h=np.array(0.5))), ["b_h ()"]),
    ("3-d W_hh", "w.npz", npz(**arrays(W_hh=np.zeros((4, 4, 1)))), ["W_hh (4, 4, 1)"]),
    ("int literal of 5000 digits", "w.json", json_doc(b_y=[12345, 1]).replace(b"12345", b"1" * 5000),
     ["not valid JSON"]),
    ("object instead of a matrix", "w.json", json_doc(W_xh={"rows": [[1, 2, 3]] * 4}), ["nested"]),
    ("empty rows", "w.json", json_doc(W_hh=[[]]), ["W_hh"]),
    ("empty object", "w.json", b"{}", ["missing W_xh"]),
    ("repeated JSON name", "w.json", json_doc()[:-1] + b', "W_hh": [[0, 0, 0, 0]]}', ["W_hh", "twice"]),
    ("repeated JSON name in 'sizes'", "w.json", json_doc(sizes={"D": 3}).replace(b'"sizes": {"D": 3', b'"sizes": {"D": 3, "D": 4'),
     ["'D' twice"]),
    ("float128 beyond float64", "w.npz", npz(**arrays(W_hh=np.full((4, 4), np.longdouble("1e400")))),
     ["W_hh", "16", "beyond the range of float64"]),
    ("float128 one value beyond float64", "w.npz",
     npz(**arrays(b_h=np.array([0, 1, np.longdouble(2) ** 1100, 0], dtype=np.longdouble))), ["b_h", "1 value"]),
    ("npy header with a call in its shape", "w.npz",
     npz_members(W_hh=b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, "
                      b"'shape': f(4), }" + b" " * 46 + b"\n" + bytes(128)),
     ["W_hh", "not a NumPy array"]),
    ("10 000 keys", "w.json", json.dumps({f"k{i}": 0 for i in range(10_000)}).encode(), ["unexpected"]),
    ("double extension", "weights.json.exe", json_doc(), ["neither"]),
    ("no extension", "weights", to_npz_bytes(rc.init_params(3, 4, 2)), ["neither"]),
]

TEXT_CASES = [
    ("gzip", "notes.txt", b"\x1f\x8b\x08\x00" + bytes(300), ["gzip"]),
    ("ELF program", "notes.txt", b"\x7fELF\x02\x01\x01" + bytes(300), ["program"]),
    (".npy array", "notes.txt", npy(np.zeros(100)), ["NumPy"]),
    ("JPEG", "photo.txt", b"\xff\xd8\xff\xe0" + bytes(300), ["JPEG"]),
    ("old Office document", "essay.txt", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(300), ["Office"]),
    ("pickle", "notes.txt", pickle.dumps(Payload()), ["binary"]),
    ("UTF-8 surrogates", "notes.txt", GOOD_TEXT + b"\xed\xa0\x80", ["UTF-8"]),
    ("overlong UTF-8", "notes.txt", b"\xc0\xaf" + GOOD_TEXT, ["UTF-8", "0xc0"]),
    ("zero-width characters only", "notes.txt", "\u200b\u200d\ufeff".encode() * 200, ["whitespace"]),
    ("markup in the name", "<img src=x onerror=alert(1)>.pdf", GOOD_TEXT, [".txt"]),
    ("no extension", "README", GOOD_TEXT, [".txt"]),
]

BAD_FILE_COUNT = len(WEIGHTS_CASES) + len(TEXT_CASES)


def test_at_least_thirty_new_bad_files():
    assert BAD_FILE_COUNT >= 30


# ---- each file alone: one clear message, quickly -------------------------------------------------

def weights_message(filename: str, data: bytes) -> str:
    start = time.perf_counter()
    with pytest.raises(WeightsFileError) as info:
        load_weights(filename, data)
    assert time.perf_counter() - start < FAST_SECONDS
    return str(info.value)


def assert_clear(message: str, words: list[str]) -> None:
    assert "\n" not in message and "Traceback" not in message and 10 < len(message) < 400, message
    assert " object at 0x" not in message and "<ast." not in message, message     # no internals
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize("case, filename, data, words", WEIGHTS_CASES, ids=[c[0] for c in WEIGHTS_CASES])
def test_bad_weights_file_is_refused_with_a_clear_message(case, filename, data, words, tmp_path):
    assert len(data) <= MAX_FILE_BYTES
    assert_clear(weights_message(filename, data), words)
    assert not PICKLE_RAN.exists()


@pytest.mark.parametrize("case, filename, data, words", TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_bad_text_file_is_refused_with_a_clear_message(case, filename, data, words):
    result = read_text_upload(data, name=filename)
    assert not result.ok and result.text is None
    assert_clear(result.message, words)


def test_a_zip_whose_directory_understates_a_member_inflates_no_more_than_declared():
    """The sizes in the zip directory are what the bomb check sums; a member that lies about
    its size is read only as far as it claims (zipfile stops there), so memory stays bounded."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (4, 4)})
    honest = arrays()
    members = {f"{n}.npy": npy(a) for n, a in honest.items()}
    members["W_hh.npy"] = npy(honest["W_hh"]) + bytes(100 * 2**20)          # 100 MB of padding
    data = zipped(members, zipfile.ZIP_DEFLATED)
    declared = len(npy(honest["W_hh"]))
    data = patch_zip_headers(data, local_at=22, central_at=24, fmt="<I",
                             value=lambda size: declared if size > 50 * 2**20 else size)
    assert len(data) < MAX_FILE_BYTES
    start = time.perf_counter()
    try:
        loaded = load_weights("w.npz", data)
    except WeightsFileError as err:
        assert_clear(str(err), [])
    else:
        np.testing.assert_array_equal(loaded.W_hh, honest["W_hh"])
    assert time.perf_counter() - start < FAST_SECONDS


@pytest.mark.parametrize("variant", ["fortran order", "big-endian", "float16", "longdouble"])
def test_unusual_but_honest_float_layouts_are_read_exactly(variant):
    honest = arrays()
    change = {"fortran order": np.asfortranarray, "big-endian": lambda a: a.astype(">f8"),
              "float16": lambda a: a.astype(np.float16), "longdouble": lambda a: a.astype(np.longdouble)}[variant]
    uploaded = {name: change(a) for name, a in honest.items()}
    loaded = load_weights("w.npz", npz(**uploaded))
    for name, a in uploaded.items():
        assert getattr(loaded, name).dtype == np.float64
        np.testing.assert_array_equal(getattr(loaded, name), np.asarray(a, dtype=np.float64))


# ---- through the app: the session is intact afterwards (AppTest) --------------------------------

def plain(markdown: str) -> str:
    """A message escaped by ui.state.literal_markdown, as the reader sees it."""
    return re.sub(r"\\(.)", r"\1", markdown.replace(WORD_JOINER, ""))


def widget_accepts(cases: list, suffixes: tuple[str, ...]) -> list:
    """The cases whose file name the uploader widget lets through: Streamlit refuses other
    extensions itself, in the browser (tests/e2e/test_hostile.py) and again on the server."""
    kept = [case for case in cases if case[1].lower().endswith(suffixes)]
    assert len(kept) >= len(cases) - 3
    return kept


def upload(at: AppTest, key: str, filename: str, data: bytes) -> AppTest:
    at.file_uploader(key=key).set_value((filename, data, "application/octet-stream"))
    return at.run()


def assert_refused_and_kept(at: AppTest, case: tuple, before) -> None:
    """Upload the bad weights file of `case` (name, filename, bytes, words): one clear error that
    says the previous weights are kept, and the session's config is still `before`."""
    name, filename, data, words = case
    upload(at, "weights_upload", filename, data)
    assert not at.exception, (name, [e.message for e in at.exception])
    errors = [plain(e.value) for e in at.error]
    assert len(errors) == 1 and "previous weights are kept" in errors[0], (name, errors)
    assert_clear(errors[0], words)
    assert at.session_state[CONFIG_KEY] == before, name


def test_model_page_keeps_weights_and_config_through_every_bad_weights_file():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"H": "5", "edits": "W_hh.0=0.25~b_y.1=-2.0", "rho": "1.1", "notation": "dlbook"})
    at.switch_page("views/model.py").run()
    before = at.session_state[CONFIG_KEY]
    assert before.edits and not at.exception
    bad = WEIGHTS_CASES + [("oversized", "big.npz", bytes(MAX_FILE_BYTES + 1), ["at most"])]
    for case in widget_accepts(bad, (".npz", ".json")):
        assert_refused_and_kept(at, case, before)
        assert parse(dict(at.query_params))[0] == before, case
    good = rc.init_params(3, 6, 3, seed=7)        # the uploader still works: a good file is taken
    upload(at, "weights_upload", "good.json", to_json_bytes(good))
    assert at.success and at.session_state[CONFIG_KEY].H == 6


def test_training_page_keeps_the_accepted_text_through_every_bad_text_file():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"tr_text": "upload", "tr_lr": "0.05"})
    at.switch_page("views/training.py").run()
    upload(at, "tr_upload", "fox.txt", GOOD_TEXT)
    accepted = at.session_state["tr_accepted_text"]
    config = at.session_state[CONFIG_KEY]
    assert accepted["text"] == GOOD_TEXT.decode() and not at.exception
    for case, filename, data, words in widget_accepts(TEXT_CASES, (".txt",)):
        upload(at, "tr_upload", filename, data)
        assert not at.exception, (case, [e.message for e in at.exception])
        errors = [plain(e.value) for e in at.error]
        assert len(errors) == 1, (case, errors)
        assert_clear(errors[0], words)
        assert at.session_state["tr_accepted_text"] == accepted, case
        assert at.session_state[CONFIG_KEY] == config, case
        assert any("Using **fox.txt**" in plain(c.value) for c in at.caption), case


def test_json_with_a_utf8_bom_is_read_as_without_it():
    doc = to_json_bytes(rc.init_params(3, 4, 2, seed=5))
    with_bom = load_weights("w.json", b"\xef\xbb\xbf" + doc)
    for name, array in load_weights("w.json", doc).items():
        assert np.array_equal(getattr(with_bom, name), array)


@pytest.mark.parametrize("filename", ["[click me](https://example.org) :red[alarm] $x^2$.json",
                                      "**bold** <b>tag</b> `code`.json"])
def test_file_names_are_shown_as_typed(filename):
    """A name chosen by a stranger is shown literally, not rendered as a link, colour or LaTeX."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("views/model.py").run()
    for data, element in ((to_json_bytes(rc.init_params(3, 4, 2)), "success"), (b"{}", "error")):
        upload(at, "weights_upload", filename, data)
        [shown] = getattr(at, element)
        assert filename[:40] in plain(shown.value)
        for markup in "[]*`$<>:":
            assert markup not in shown.value.replace("\\" + markup, "")


# ---- every cell's files (issue 14): the same refusals for the LSTM's and GRU's parameters ----------

def cell_arrays(cell: str, D=3, H=4, O=2, **overrides) -> dict[str, np.ndarray]:
    return {**rc.init_params(D, H, O, seed=1, cell=cell).to_dict(), **overrides}


def gated_cases(cell: str) -> list[tuple[str, str, bytes, list[str]]]:
    """Hostile files built on a gated cell's own parameters (its forget or update gate's W_h*)."""
    W_h = "W_hf" if cell == "lstm" else "W_hz"
    record = {"cell": np.array(cell)}
    return [
        ("a stranger's name", "w.npz", npz(**record, **cell_arrays(cell, W_evil=np.zeros(2))), ["unexpected W_evil"]),
        ("a gate missing", "w.npz", npz(**{k: v for k, v in cell_arrays(cell).items() if k != W_h}), [f"missing {W_h}"]),
        ("wrong shape", "w.npz", npz(**record, **cell_arrays(cell, **{W_h: np.zeros((4, 3))})), [f"{W_h} (4, 3)"]),
        ("integer dtype", "w.npz", npz(**record, **cell_arrays(cell, **{W_h: np.ones((4, 4), dtype=np.int64)})),
         [W_h, "dtype"]),
        ("object dtype", "w.npz", zipped({**{f"{n}.npy": npy(a) for n, a in cell_arrays(cell).items()},
                                          f"{W_h}.npy": pickle.dumps(Payload())}), [W_h, "not a NumPy array"]),
        ("float128 beyond float64", "w.npz",
         npz(**record, **cell_arrays(cell, **{W_h: np.full((4, 4), np.longdouble("1e400"))})),
         [W_h, "16", "beyond the range of float64"]),
        ("NaN", "w.json", json.dumps({"cell": cell, **{k: v.tolist() for k, v in cell_arrays(cell).items()},
                                      W_h: [[float("nan")] * 4] * 4}).encode(), [W_h, "NaN or infinite"]),
        ("H = 300", "w.npz", zipped({f"{n}.npy": npy(np.zeros_like(a)) for n, a in cell_arrays(cell, 1, 300, 1).items()},
                                    zipfile.ZIP_DEFLATED), ["H = 300"]),
        ("huge", "w.npz", bytes(MAX_FILE_BYTES + 1), ["at most"]),
        ("zip bomb", "w.npz", zipped({**{f"{n}.npy": npy(a) for n, a in cell_arrays(cell).items()},
                                     f"{W_h}.npy": npy(np.zeros((1100, 1100)))}, zipfile.ZIP_DEFLATED), ["unpack"]),
        ("a pickled cell record", "w.npz",
         zipped({"cell.npy": pickle.dumps(Payload()), **{f"{n}.npy": npy(a) for n, a in cell_arrays(cell).items()}}),
         ["cell", "not a NumPy array"]),
        ("an unknown cell", "w.json", json.dumps({"cell": "<b>lstm2</b>",
                                                  **{k: v.tolist() for k, v in cell_arrays(cell).items()}}).encode(),
         ["is unknown"]),
    ]


GATED_CASES = [(cell, *case) for cell in ("lstm", "gru") for case in gated_cases(cell)]


@pytest.mark.parametrize("cell, case, filename, data, words", GATED_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in GATED_CASES])
def test_a_gated_cells_bad_file_is_refused_with_a_clear_message(cell, case, filename, data, words):
    assert_clear(weights_message(filename, data), words)
    assert not PICKLE_RAN.exists()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_gated_model_page_keeps_weights_and_config_through_bad_files(cell):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"cell": cell, "H": "5", "edits": "W_hy.0=0.25"})
    at.switch_page("views/model.py").run()
    before = at.session_state[CONFIG_KEY]
    assert before.edits and before.cell == cell and not at.exception
    for case in gated_cases(cell):
        assert_refused_and_kept(at, case, before)
