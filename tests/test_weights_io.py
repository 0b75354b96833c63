"""ui.weights_io: exact round trips, and every hostile upload refused with one clear sentence."""
import io
import json
import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import rnn_core as rc
from ui.weights_io import (MAX_FILE_BYTES, MAX_UNCOMPRESSED_BYTES, WeightsFileError, load_weights,
                           to_json_bytes, to_npz_bytes)


def params(D=3, H=4, O=2, seed=0):
    p = rc.init_params(D, H, O, seed=seed)
    rng = np.random.default_rng(seed)
    return p.replace(b_h=rng.standard_normal(H), b_y=rng.standard_normal(O))


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def good_arrays(**overrides):
    return {**params().to_dict(), **overrides}


def refused(filename, data) -> str:
    with pytest.raises(WeightsFileError) as info:
        load_weights(filename, data)
    message = str(info.value)
    assert "\n" not in message and 10 < len(message) < 300, message
    return message


# ---- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [(1, 1, 1), (3, 4, 2), (5, 16, 7)])
@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_round_trip_is_exact(sizes, fmt):
    p = params(*sizes, seed=sum(sizes))
    data = to_npz_bytes(p) if fmt == "npz" else to_json_bytes(p)
    loaded = load_weights(f"weights.{fmt}", data)
    assert loaded == p
    assert all(a.dtype == np.float64 for _, a in loaded.items())


def test_json_written_is_plain_and_labelled():
    doc = json.loads(to_json_bytes(params()))
    assert doc["format"] == "bptt-explorer-weights"
    assert doc["sizes"] == {"D": 3, "H": 4, "O": 2}
    assert np.array(doc["W_hy"]).shape == (2, 4)


def test_float32_upload_is_accepted_as_float64():
    arrays = {k: v.astype(np.float32) for k, v in good_arrays().items()}
    loaded = load_weights("w.npz", npz_bytes(**arrays))
    assert loaded.W_hh.dtype == np.float64
    np.testing.assert_array_equal(loaded.W_hh, arrays["W_hh"].astype(np.float64))


def test_other_sizes_are_read_as_the_file_gives_them():
    loaded = load_weights("w.npz", to_npz_bytes(params(7, 9, 5)))
    assert loaded.sizes == (7, 9, 5)


# ---- hostile .npz -----------------------------------------------------------------------------

def test_pickle_inside_npz_is_refused_unread():
    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("the pickle was executed",))

    data = npz_bytes(**good_arrays(W_hh=np.array([Boom()], dtype=object)))
    assert "pickle" in refused("w.npz", data)


def test_zip_bomb_is_refused_before_inflating():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in good_arrays().items():
            archive.writestr(f"{name}.npy", _npy(array))
        with archive.open("W_big.npy", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(2 * MAX_UNCOMPRESSED_BYTES >> 20):
                member.write(chunk)
    data = buffer.getvalue()
    assert len(data) < MAX_FILE_BYTES            # small on the wire, large once unpacked
    start = time.perf_counter()
    message = refused("w.npz", data)
    assert time.perf_counter() - start < 0.5
    assert "W_big" in message or "unpack" in message


def test_zip_bomb_with_only_the_five_names_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in good_arrays().items():
            if name != "W_hh":
                archive.writestr(f"{name}.npy", _npy(array))
        with archive.open("W_hh.npy", "w", force_zip64=True) as member:
            member.write(_npy(np.zeros((1000, 1000)))[:128])
            chunk = bytes(1 << 20)
            for _ in range(2 * MAX_UNCOMPRESSED_BYTES >> 20):
                member.write(chunk)
    assert "unpack" in refused("w.npz", buffer.getvalue())


def test_npy_header_claiming_more_data_than_the_member_holds_is_refused():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**9,)})
    arrays = {name: _npy(a) for name, a in good_arrays().items()}
    arrays["W_hh"] = header.getvalue() + bytes(64)
    assert "claims shape" in refused("w.npz", _zip(arrays))


@pytest.mark.parametrize("change, expected", [
    ({"W_hh": np.zeros((4, 5))}, "W_hh (4, 5)"),
    ({"b_y": np.zeros(3)}, "b_y (3,)"),
    ({"W_xh": np.zeros(12)}, "W_xh must be a matrix"),
    ({"W_xh": np.zeros((300, 3)), "W_hh": np.zeros((300, 300)), "b_h": np.zeros(300),
      "W_hy": np.zeros((2, 300))}, "H = 300"),
])
def test_wrong_shapes_are_refused(change, expected):
    assert expected in refused("w.npz", npz_bytes(**good_arrays(**change)))


@pytest.mark.parametrize("dtype", [np.int64, np.complex128, np.bool_, "U3"])
def test_wrong_dtypes_are_refused(dtype):
    arrays = good_arrays()
    arrays["W_hh"] = arrays["W_hh"].astype(dtype)
    assert "dtype" in refused("w.npz", npz_bytes(**arrays))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad):
    arrays = good_arrays()
    arrays["b_h"] = arrays["b_h"].copy()
    arrays["b_h"][1] = bad
    assert "NaN or infinite" in refused("w.npz", npz_bytes(**arrays))


def test_missing_and_extra_keys_are_refused():
    arrays = good_arrays()
    del arrays["b_y"]
    assert "missing b_y" in refused("w.npz", npz_bytes(**arrays))
    assert "unexpected extra" in refused("w.npz", npz_bytes(**good_arrays(extra=np.zeros(2))))


@pytest.mark.parametrize("data, expected", [
    (b"", "empty"),
    (b"W_xh,W_hh\n1,2\n", "not a zip"),
    (b"PK\x03\x04garbage", "damaged"),
    (bytes(MAX_FILE_BYTES + 1), "at most"),
])
def test_empty_text_and_oversized_files_are_refused(data, expected):
    assert expected in refused("w.npz", data)


def test_truncated_npz_is_refused():
    data = to_npz_bytes(params(4, 16, 3))
    for cut in (len(data) // 3, len(data) // 2, len(data) - 10):
        refused("w.npz", data[:cut])


def test_empty_zip_is_refused():
    assert "missing" in refused("w.npz", _zip({}))


def test_unknown_extension_is_refused():
    assert "neither" in refused("weights.pkl", to_npz_bytes(params()))


# ---- hostile .json ----------------------------------------------------------------------------

def _json(**overrides) -> bytes:
    doc = {k: v.tolist() for k, v in good_arrays().items()}
    doc.update(overrides)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("data, expected", [
    (b"[1, 2, 3]", "must hold an object"),
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),
    (b'{"W_xh": [[[[1]]]]}', "nested"),
    (_json(W_hh=[["1", "2"]] * 4), "list of lists) of numbers"),
    (_json(b_h=[True, False, True, False]), "of numbers"),
    (_json(b_h=[None, 1, 2, 3]), "of numbers"),
    (_json(W_hh=[[1.0, 2.0], [3.0]]), "rectangular"),
    (_json(b_y=[10**400, 1.0]), "rectangular"),
    (_json(b_y=[1e999, 1.0]), "NaN or infinite"),
    (_json(W_xh=float("nan")), "of numbers"),
    (_json(W_extra=[1.0]), "unexpected W_extra"),
])
def test_hostile_json_is_refused(data, expected):
    assert expected in refused("w.json", data)


def test_json_nan_literal_is_refused():
    doc = {k: v.tolist() for k, v in good_arrays().items()}
    doc["b_h"][0] = float("nan")
    assert "NaN or infinite" in refused("w.json", json.dumps(doc).encode())


def test_huge_json_is_refused_by_size():
    data = b'{"W_xh": [' + b"1.0, " * (MAX_FILE_BYTES // 5) + b"1.0]}"
    assert "at most" in refused("w.json", data)


# ---- anything else: weights exactly as the file says, or WeightsFileError with a message ------

def loads_exactly_or_says_why(name: str, blob: bytes, *, expected=None) -> None:
    """load_weights either returns the file's own numbers exactly or raises WeightsFileError with
    one short sentence; never another exception. expected: the arrays the file must give when it
    loads (default: an independent reading of the file with json / np.load)."""
    try:
        loaded = load_weights(name, blob)
    except WeightsFileError as err:
        message = str(err)
        assert "\n" not in message and 10 < len(message) < 300, message
        return
    if expected is None:
        expected = independent_reading(name, blob)
    for param in rc.PARAM_NAMES:
        got, want = getattr(loaded, param), np.asarray(expected[param], dtype=np.float64)
        assert got.dtype == np.float64 and got.shape == want.shape, param
        np.testing.assert_array_equal(got, want, err_msg=param)


def independent_reading(name: str, blob: bytes) -> dict:
    """The arrays a file holds, read without ui.weights_io (only files that loaded get here)."""
    if name.endswith(".json"):
        return json.loads(blob)
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupted_files_load_exactly_or_say_why(data):
    original_params = params()
    which = data.draw(st.sampled_from(["npz", "npz_plain", "json"]))
    original = {"npz": to_npz_bytes(original_params), "npz_plain": npz_bytes(**good_arrays()),
                "json": to_json_bytes(original_params)}[which]
    blob = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(blob) - 1))
        blob[position] = data.draw(st.integers(0, 255))
    if which == "json":
        # JSON has no checksum: a changed digit is another valid number, which must load as written
        loads_exactly_or_says_why("w.json", bytes(blob))
    else:
        # a zip's CRC-32 guards every member: what loads is the original, bit for bit
        loads_exactly_or_says_why("w.npz", bytes(blob), expected=original_params.to_dict())


@given(st.binary(max_size=2000), st.sampled_from(["w.npz", "w.json"]))
@settings(max_examples=150, deadline=None)
def test_random_bytes_load_exactly_or_say_why(blob, name):
    loads_exactly_or_says_why(name, blob)


# ---- helpers ----------------------------------------------------------------------------------

def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in members.items():
            archive.writestr(f"{name}.npy", blob)
    return buffer.getvalue()


# ---- the cell: recorded in every file, read from the names, refused when inconsistent (issue 14) ---

def gated(cell, D=3, H=4, O=2, seed=0):
    return rc.init_params(D, H, O, seed=seed, cell=cell)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_every_cells_round_trip_is_exact_and_records_the_cell(cell, fmt):
    p = gated(cell, 2, 5, 3, seed=4)
    data = to_npz_bytes(p) if fmt == "npz" else to_json_bytes(p)
    loaded = load_weights(f"w.{fmt}", data)
    assert rc.cell_of(loaded).name == cell and loaded == p
    if fmt == "json":
        assert json.loads(data)["cell"] == cell
    else:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            assert str(npz["cell"]) == cell


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_an_old_vanilla_file_without_a_cell_still_loads_as_vanilla(fmt):
    p = params()
    data = npz_bytes(**p.to_dict()) if fmt == "npz" else json.dumps(
        {"format": "bptt-explorer-weights", **{k: v.tolist() for k, v in p.items()}}).encode()
    loaded = load_weights(f"w.{fmt}", data)
    assert type(loaded) is rc.Params and loaded == p


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_gated_file_without_a_cell_is_read_by_its_names(cell):
    p = gated(cell)
    assert rc.cell_of(load_weights("w.npz", npz_bytes(**p.to_dict()))).name == cell


def test_a_record_that_disagrees_with_the_names_is_refused():
    lstm = gated("lstm").to_dict()
    message = refused("w.npz", npz_bytes(cell=np.array("gru"), **lstm))
    assert "GRU" in message and "missing W_xr" in message and "unexpected" in message
    doc = json.loads(to_json_bytes(params()))
    doc["cell"] = "lstm"
    assert "LSTM" in refused("w.json", json.dumps(doc).encode())


@pytest.mark.parametrize("record, words", [
    (np.array("transformer"), ["'transformer' is unknown", "'lstm' (LSTM)"]),
    (np.array(["lstm", "gru"]), ["'cell'", "short name"]),
    (np.array(3.0), ["'cell'", "short name"]),
    (np.array("x" * 100), ["'cell'", "short name"]),
])
def test_a_bad_cell_record_in_npz_is_refused(record, words):
    message = refused("w.npz", npz_bytes(cell=record, **gated("lstm").to_dict()))
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("record", [3, ["lstm"], None, "LSTM; rm -rf /"])
def test_a_bad_cell_record_in_json_is_refused(record):
    doc = json.loads(to_json_bytes(gated("lstm")))
    doc["cell"] = record
    data = json.dumps(doc).encode()
    if record is None:          # null is no record: read by the names
        assert rc.cell_of(load_weights("w.json", data)).name == "lstm"
    else:
        assert "cell" in refused("w.json", data)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_gated_file_missing_one_parameter_is_told_which(cell):
    arrays = gated(cell).to_dict()
    del arrays["b_z" if cell == "gru" else "W_hf"]
    message = refused("w.npz", npz_bytes(**arrays))
    assert ("missing b_z" if cell == "gru" else "missing W_hf") in message
    assert rc.get_cell(cell).title in message


def test_a_gated_file_with_mismatched_shapes_is_refused():
    arrays = gated("lstm", 3, 4, 2).to_dict()
    arrays["W_hc"] = np.zeros((4, 5))
    message = refused("w.npz", npz_bytes(**arrays))
    assert "W_hc (4, 5) (expected (4, 4))" in message and "W_xi" in message


def test_the_largest_lstm_file_unpacks_within_the_limit():
    p = gated("lstm", 64, 256, 64)
    assert sum(a.nbytes for _, a in p.items()) < MAX_UNCOMPRESSED_BYTES
