"""Exact cache keys of a Config: a digest of the exact bytes of its field values.

Shared caches (`st.cache_data`, `st.cache_resource`, widget keys) must never give one visitor
the numbers of another's settings. Python's `hash()` is not exact (`hash(-1.0) == hash(-2.0)`,
and a float x hashes like x * 2**-61), so a cache keyed on it can serve wrong numbers. Keys
here are SHA-256 digests of every chosen field's type, name and exact value (floats by their
bit pattern, weight edits by their arrays, so that tens of thousands of them digest in
milliseconds).
"""
from __future__ import annotations

import hashlib
import struct
from typing import Any, Iterable

from ui.config import FIELDS, Config, Edits

_CACHED = "_exact_key"                   # the whole config's digest, memoised on the instance


def _value_bytes(value: Any) -> bytes:
    """The exact bytes of one field value, tagged by type so that 1, 1.0 and True differ."""
    if isinstance(value, bool):
        return b"b1" if value else b"b0"
    if isinstance(value, int):
        return b"i" + str(value).encode()
    if isinstance(value, float):
        return b"f" + struct.pack("<d", value)
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    if isinstance(value, Edits):
        return b"e" + value.codes.tobytes() + value.indices.tobytes() + value.values.tobytes()
    if isinstance(value, tuple):
        return b"t" + b"".join(len(part).to_bytes(8, "little") + part for part in map(_value_bytes, value))
    if value is None:
        return b"n"
    raise TypeError(f"no exact key for a value of type {type(value).__name__}")


def _digest(config: Config, names: Iterable[str]) -> str:
    sha = hashlib.sha256()
    for name in names:
        part = _value_bytes(getattr(config, name))
        sha.update(name.encode() + b"=" + len(part).to_bytes(8, "little") + part)
    return sha.hexdigest()


def exact_key(config: Config, names: Iterable[str] | None = None) -> str:
    """A digest that differs whenever any of `names` (default: every field) differs in its
    exact value; equal values give equal digests in any process."""
    if names is not None:
        return _digest(config, names)
    cached = config.__dict__.get(_CACHED)
    if cached is None:
        cached = _digest(config, (f.name for f in FIELDS))
        object.__setattr__(config, _CACHED, cached)   # frozen: same fields, same digest
    return cached


# hash_funcs for st.cache_data / st.cache_resource of functions that take a Config
EXACT = {Config: exact_key}
