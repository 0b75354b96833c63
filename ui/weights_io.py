"""Weights files: write a cell's parameters as .npz or .json, and read untrusted uploads safely.

A file records its cell (the vanilla RNN, the LSTM or the GRU): a `cell` member (.npz, a 0-d
string array) or key (.json). The parameter names decide which cell's weights a file holds; a
file without the record (written before the gated cells) is read by its names, so an old
vanilla file still loads as the vanilla RNN's; a record that disagrees with the names is refused.

Reading never runs code from the file and never allocates more than the file can justify:
- the upload is at most MAX_FILE_BYTES;
- .npz: the zip directory's uncompressed sizes are summed before anything is inflated (a zip
  bomb is refused unread); each .npy header is read first and must hold a float array of the
  size its member declares; then np.load(..., allow_pickle=False) (an object array is refused);
- .json: nesting deeper than a matrix is refused before parsing; every entry must be a number;
- both: exactly one cell's parameter names (vanilla: W_xh, W_hh, b_h, W_hy, b_y; see
  rnn_core.CELLS), shapes consistent with one (D, H, O) within the app's limits, every value finite.
Every problem raises WeightsFileError with one sentence a user can act on.

Shapes: W_x* (H, D), W_h* (H, H), b_* (H,), W_hy (O, H), b_y (O,).
"""
from __future__ import annotations

import io
import json
import math
import struct
import zipfile
import zlib

import numpy as np

import rnn_core as rc
from ui.config import MAX_D, MAX_H, MAX_O

MAX_FILE_BYTES = 3 * 1024 * 1024        # matches server.maxUploadSize in .streamlit/config.toml
MAX_UNCOMPRESSED_BYTES = 4 * 1024 * 1024  # the largest LSTM's 14 arrays take ~2.8 MB, the vanilla's 0.8 MB
MAX_JSON_DEPTH = 3                      # {name: [[row], ...]}: object, list, list
JSON_FORMAT = "bptt-explorer-weights"
CELL_KEY = "cell"                       # the file's record of its cell
MAX_CELL_CHARS = 16                     # the record is a short name ('rnn', 'lstm', 'gru')
NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class WeightsFileError(ValueError):
    """An uploaded weights file cannot be used; the message says why."""


# ---- writing -----------------------------------------------------------------------------------

def to_npz_bytes(params: rc.CellParams) -> bytes:
    """The cell's name (a 0-d string array, no pickle) and every parameter, compressed."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{CELL_KEY: np.array(rc.cell_of(params).name)}, **params.to_dict())
    return buffer.getvalue()


def to_json_bytes(params: rc.CellParams) -> bytes:
    """JSON with the cell, the sizes and each array as nested lists (floats written exactly, as repr)."""
    D, H, O = params.sizes
    doc = {"format": JSON_FORMAT, CELL_KEY: rc.cell_of(params).name, "sizes": {"D": D, "H": H, "O": O}}
    doc.update({name: array.tolist() for name, array in params.items()})
    return json.dumps(doc).encode()


# ---- reading -----------------------------------------------------------------------------------

def load_weights(filename: str, data: bytes) -> rc.CellParams:
    """The parameters in an uploaded .npz or .json file (float64), of the cell the file holds
    (rc.cell_of tells which); WeightsFileError if unusable."""
    if len(data) == 0:
        raise WeightsFileError(f"'{_short(filename)}' is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise WeightsFileError(f"'{_short(filename)}' is {len(data) / 1e6:.1f} MB; weights files may be "
                               f"at most {MAX_FILE_BYTES / 1e6:.1f} MB.")
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix == "npz":
        arrays, recorded = _read_npz(data)
    elif suffix == "json":
        arrays, recorded = _read_json(data)
    else:
        raise WeightsFileError(f"'{_short(filename)}' is neither a .npz nor a .json file.")
    return _checked_params(arrays, _cell_of_names(list(arrays), recorded))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _read_npz(data: bytes) -> tuple[dict[str, np.ndarray], str | None]:
    """The arrays of a .npz file and its recorded cell (None if it has no record)."""
    if not data.startswith(b"PK"):
        raise WeightsFileError("This .npz file is not a NumPy archive (it is not a zip file).")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            _check_members(members)
            for member in members:
                _check_npy_header(archive, member)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        recorded = arrays.pop(CELL_KEY, None)
        return arrays, None if recorded is None else str(recorded)
    except WeightsFileError:
        raise
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise WeightsFileError("This .npz file holds Python objects (pickles); only plain float "
                                   "arrays are accepted.") from None
        raise WeightsFileError(f"This .npz file cannot be read: {_short(str(err))}.") from None
    except (zipfile.BadZipFile, zlib.error, struct.error, OSError, EOFError, KeyError, NotImplementedError,
            RuntimeError) as err:
        raise WeightsFileError(f"This .npz file is damaged or truncated ({type(err).__name__}).") from None


def _check_members(members: list[zipfile.ZipInfo]) -> None:
    names = [m.filename.removesuffix(".npy") for m in members]
    if names.count(CELL_KEY) > 1:
        raise WeightsFileError(f"The file names '{CELL_KEY}' twice; each name may appear once.")
    _cell_of_names([n for n in names if n != CELL_KEY], None)    # the record is read (and checked) later
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise WeightsFileError(f"This .npz file would unpack to {total / 1e6:.0f} MB; weights take at "
                               f"most {MAX_UNCOMPRESSED_BYTES / 1e6:.0f} MB.")


def _check_npy_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """The member's .npy header: a float array whose data fits in the member's declared size."""
    name = member.filename.removesuffix(".npy")
    with archive.open(member) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            read_header = NPY_HEADER_READERS.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _, dtype = read_header(stream)
        except (ValueError, SyntaxError, TypeError, EOFError):
            # NumPy's own message can quote parser internals ('<ast.Call object at 0x...>')
            raise WeightsFileError(f"'{_short(name)}' in the .npz file is not a NumPy array: its header "
                                   "is not a plain array description.") from None
    if name == CELL_KEY:
        if dtype.kind != "U" or shape != () or dtype.itemsize > 4 * MAX_CELL_CHARS:
            raise WeightsFileError(f"'{CELL_KEY}' in the .npz file must be a short name such as 'lstm'; "
                                   f"it has dtype {dtype} and shape {shape}.")
        return
    if dtype.hasobject:
        raise WeightsFileError(f"'{name}' holds Python objects (a pickle); only plain float arrays are accepted.")
    if dtype.kind != "f":
        raise WeightsFileError(f"'{name}' has dtype {dtype}; weights must be floating-point numbers.")
    if math.prod(shape) * dtype.itemsize > member.file_size:
        raise WeightsFileError(f"'{name}' claims shape {shape}, more data than the file holds.")


def _read_json(data: bytes) -> tuple[dict[str, np.ndarray], str | None]:
    """The arrays of a .json file and its recorded cell (None if it has no record)."""
    try:
        text = data.decode("utf-8-sig")      # editors on Windows often start UTF-8 with a BOM
    except UnicodeDecodeError:
        raise WeightsFileError("This .json file is not UTF-8 text.") from None
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise WeightsFileError(f"This .json file is nested {depth} levels deep; weights need at most "
                               f"{MAX_JSON_DEPTH} (an object of matrices).")
    try:
        doc = json.loads(text, object_pairs_hook=_unique_keys)
    except WeightsFileError:
        raise
    except (ValueError, RecursionError) as err:
        raise WeightsFileError(f"This .json file is not valid JSON ({_short(str(err))}).") from None
    if not isinstance(doc, dict):
        raise WeightsFileError("This .json file must hold an object with the keys W_xh, W_hh, b_h, W_hy, b_y "
                               "(or another cell's parameter names).")
    recorded = doc.get(CELL_KEY)
    if recorded is not None and not isinstance(recorded, str):
        raise WeightsFileError(f"'{CELL_KEY}' in the .json file must be a name such as \"lstm\".")
    arrays = {key: value for key, value in doc.items() if key not in ("format", "sizes", CELL_KEY)}
    _cell_of_names(list(arrays), recorded)
    return {name: _json_array(name, value) for name, value in arrays.items()}, recorded


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object's members; a repeated name is refused (json.loads would keep the last one
    silently, so a file could show one matrix to a reader and load another)."""
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise WeightsFileError(f"This .json file names '{_short(key)}' twice; each name may appear once.")
        seen.add(key)
    return dict(pairs)


def _json_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings (json.loads would recurse that deep)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:   # no need to read further
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _json_array(name: str, value) -> np.ndarray:
    """A float64 array from nested lists of numbers (no strings, booleans or nulls)."""
    rows = value if isinstance(value, list) and value and all(isinstance(r, list) for r in value) else None
    flat = [x for r in rows for x in r] if rows is not None else value
    if not isinstance(flat, list) or not all(type(x) in (int, float) for x in flat):
        raise WeightsFileError(f"'{name}' in the .json file must be a list (or a list of lists) of numbers.")
    try:
        array = np.array(value, dtype=np.float64)
    except (ValueError, OverflowError):
        raise WeightsFileError(f"'{name}' in the .json file is not a rectangular array of numbers.") from None
    return array


def _cell_of_names(names: list[str], recorded: str | None) -> rc.Cell:
    """The cell whose parameters the file holds: the recorded one, else the one its names fit
    best (an old vanilla file has no record). Refused unless the names are exactly that cell's."""
    if recorded is not None:
        cell = _recorded_cell(recorded)
    else:   # the best fit, so that a file missing one name is told which one
        cell = max(rc.CELLS.values(), key=lambda c: len(set(names) & set(c.param_names))
                   - len(set(c.param_names) - set(names)) - len(set(names) - set(c.param_names)))
    expected = cell.param_names
    missing = [n for n in expected if n not in names]
    extra = sorted(set(names) - set(expected))
    if missing or extra or len(names) != len(expected):
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {_short(', '.join(extra))}"] if extra else []) + (
            ["a repeated name"] if not missing and not extra else [])
        whose = f"the {cell.title}'s parameters " if cell.name != "rnn" or recorded is not None else ""
        raise WeightsFileError(f"The file must hold exactly {whose}{', '.join(expected)}; it has "
                               f"{'; '.join(problems)}.")
    return cell


def _recorded_cell(recorded: str) -> rc.Cell:
    if recorded not in rc.CELLS:
        known = ", ".join(f"'{name}' ({cell.title})" for name, cell in rc.CELLS.items())
        raise WeightsFileError(f"The file's cell '{_short(recorded, 20)}' is unknown; the app knows {known}.")
    return rc.CELLS[recorded]


def _checked_params(arrays: dict[str, np.ndarray], cell: rc.Cell) -> rc.CellParams:
    """The cell's parameters from its arrays, if their shapes agree on one (D, H, O) within the limits."""
    for name, array in arrays.items():
        if array.dtype.kind != "f":
            raise WeightsFileError(f"'{name}' has dtype {array.dtype}; weights must be floating-point numbers.")
    first = cell.param_names[0]          # the input weights W_xh, W_xi or W_xr: (H, D)
    W_x = arrays[first]
    if W_x.ndim != 2 or arrays["W_hy"].ndim != 2:
        raise WeightsFileError(f"{first} must be a matrix (H, D) and W_hy a matrix (O, H); got shapes "
                               f"{W_x.shape} and {arrays['W_hy'].shape}.")
    (H, D), O = W_x.shape, arrays["W_hy"].shape[0]
    expected = cell.param_shapes(D, H, O)
    wrong = [f"{n} {arrays[n].shape} (expected {shape})" for n, shape in expected.items() if arrays[n].shape != shape]
    if wrong:
        raise WeightsFileError(f"The shapes do not fit together (H = {H}, D = {D}, O = {O} from {first} and "
                               f"W_hy): {'; '.join(wrong)}.")
    for size, value, limit in (("D", D, MAX_D), ("H", H, MAX_H), ("O", O, MAX_O)):
        if not 1 <= value <= limit:
            raise WeightsFileError(f"The file's {size} = {value} is outside the app's range 1..{limit}.")
    for name, array in arrays.items():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise WeightsFileError(f"'{name}' holds {bad} value(s) that are NaN or infinite.")
    # checked again after the conversion: float128 values beyond float64's range become inf
    with np.errstate(over="ignore"):
        converted = {name: np.asarray(arrays[name], dtype=np.float64) for name in cell.param_names}
    for name, array in converted.items():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise WeightsFileError(f"'{name}' holds {bad} value(s) beyond the range of float64 "
                                   f"(about ±1.8e308); the app computes in float64.")
    return cell.params_type(**converted)
