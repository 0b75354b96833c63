"""Safe reading of a text file uploaded for the character language model.

`read_text_upload(data, name=..., min_chars=...)` never raises on what a user can upload: it
returns an `UploadedText` holding either the cleaned text or one plain message saying what is
wrong and what to do. The checks, in order, each with its own message:

- nothing uploaded / an empty file;
- larger than MAX_UPLOAD_BYTES;
- not a .txt name;
- a UTF-16 or UTF-32 byte-order mark (a text editor's "Unicode" export);
- binary content: a known file signature (PNG, PDF, ZIP, ...), NUL bytes, or many control bytes;
- not valid UTF-8 (with the byte and its position);
- only whitespace after cleaning;
- more distinct characters than the model's vocabulary allows;
- fewer characters than training windows need.

Cleaning: a UTF-8 byte-order mark is dropped, line endings become '\n', the text is put in
Unicode NFC form (so 'e' + combining accent counts as one character), and rare stray control
characters (e.g. a form feed) are removed with a note.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from rnn_core.tasks import MAX_VOCAB

MAX_UPLOAD_BYTES = 256 * 1024        # ~ a short book chapter; keeps sampling windows quick
MIN_TEXT_CHARS = 200                 # fewer gives too few distinct training windows to learn from
MAX_CONTROL_FRACTION = 0.01          # above this share of control characters it is not text
ALLOWED_SUFFIXES = (".txt",)
ALLOWED_CONTROLS = {"\n", "\t"}

# Leading bytes of common binary formats someone might pick by mistake.
BINARY_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or a .docx/.xlsx file)",
    b"\x1f\x8b": "a gzip archive",
    b"\x7fELF": "a program (ELF binary)",
    b"\x93NUMPY": "a NumPy array file",
    b"\xd0\xcf\x11\xe0": "an old Microsoft Office document",
}
UNICODE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16",
}
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class UploadedText:
    """text: the cleaned text, or None when it cannot be used; message: why not (error), or a
    note about what cleaning changed (text given); None when there is nothing to say."""

    text: str | None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.text is not None


def _fail(message: str) -> UploadedText:
    return UploadedText(None, message)


def _size(n: int) -> str:
    return f"{n / 1024:.0f} kB" if n >= 1024 else f"{n} bytes"


def _binary_kind(data: bytes) -> str | None:
    """What the bytes look like if they are not text, else None."""
    for signature, kind in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            return kind
    if b"\x00" in data:
        return "a binary file (it contains NUL bytes)"
    controls = sum(1 for b in data if b < 32 and b not in (9, 10, 13, 12))
    if controls > MAX_CONTROL_FRACTION * len(data):
        return "a binary file (it is full of control bytes)"
    return None


def _decode_utf8(data: bytes, name: str) -> tuple[str | None, str | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as err:
        bad = data[err.start]
        return None, (f"'{name}' is not UTF-8 text: byte 0x{bad:02x} at position {err.start:,} cannot be "
                      "read. Save it as UTF-8 (in most editors: Save as... > Encoding: UTF-8) and upload it again.")


def _clean(text: str) -> tuple[str, int]:
    """NFC form, '\n' line endings, stray controls removed; returns (text, how many removed)."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    kept = [c for c in text if c in ALLOWED_CONTROLS or unicodedata.category(c) not in ("Cc", "Cf")]
    return "".join(kept), len(text) - len(kept)


def read_text_upload(data, *, name: str = "upload.txt", min_chars: int = MIN_TEXT_CHARS,
                     max_bytes: int = MAX_UPLOAD_BYTES, max_vocab: int = MAX_VOCAB) -> UploadedText:
    """The uploaded bytes as a text the char_lm task can use, or one message saying why not.

    data: the file's bytes (None when nothing was uploaded). name: its file name, for the
    suffix check. min_chars: the fewest characters accepted (at least T + 1 for windows of T).
    """
    if data is None:
        return _fail("No file was uploaded.")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return _fail(f"The upload could not be read (got {type(data).__name__}, expected bytes).")
    data = bytes(data)
    if not data:
        return _fail(f"'{name}' is empty. Upload a plain-text file with at least {min_chars:,} characters.")
    if len(data) > max_bytes:
        return _fail(f"'{name}' is {_size(len(data))}; the limit is {_size(max_bytes)}. "
                     "Upload a shorter excerpt (a few pages of text are plenty).")
    if not str(name).lower().endswith(ALLOWED_SUFFIXES):
        return _fail(f"'{name}' is not a .txt file. Upload plain text saved with the .txt ending.")
    for bom, encoding in UNICODE_BOMS.items():
        if data.startswith(bom):
            return _fail(f"'{name}' is saved as {encoding}. Save it as UTF-8 text and upload it again.")
    kind = _binary_kind(data)
    if kind is not None:
        return _fail(f"'{name}' looks like {kind}, not plain text. Upload a .txt file of ordinary text.")
    text, error = _decode_utf8(data.removeprefix(UTF8_BOM), name)
    if error is not None:
        return _fail(error)
    text, removed = _clean(text)
    if not text.strip():
        return _fail(f"'{name}' holds only whitespace. Upload a file with at least {min_chars:,} characters of text.")
    distinct = sorted(set(text))
    if len(distinct) > max_vocab:
        counts = {c: text.count(c) for c in distinct}
        rare = "".join(sorted(distinct, key=lambda c: (counts[c], c))[:12])
        return _fail(f"'{name}' uses {len(distinct)} distinct characters; the model's vocabulary holds at most "
                     f"{max_vocab}. Remove rare symbols (the rarest here: {rare!r}) or upload plain text "
                     "in one language.")
    if len(text) < min_chars:
        return _fail(f"'{name}' has only {len(text):,} characters; at least {min_chars:,} are needed to "
                     "draw training windows. Upload a longer text.")
    note = f"Removed {removed} control character{'s' if removed != 1 else ''} from '{name}'." if removed else None
    return UploadedText(text, note)
