"""What the worker sends the grader: plain JSON, checked field by field.

A message is [kind, payload] (`pack`), numpy arrays and tensors as base64 float32 with their shape.
The grader never unpickles anything from the worker: it reads a message with `unpack` and `check`s
it against a schema (its fields, types, shapes and finiteness); a message it cannot read is
Unreadable, a refusal, never a pass. Before any JSON is decoded, a message is held to the size its
kind needs (the channel's `size`, sandbox.py) and to `MAX_CONTAINERS` lists and objects: the
review's 64 MB of `[{},{},...]` took the grader to 1.9 GB; now no message can make it decode more
than a few megabytes. Every text that may reach a terminal is cut and cleaned (`clean`).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np


class Unreadable(Exception):
    """The worker sent something that is not a message of the course, or a malformed one."""


def pack(kind: str, payload: Any) -> bytes:
    """A worker's message: [kind, payload] as JSON; numpy arrays and tensors go as float32
    bytes in base64 with their shape."""
    return json.dumps([kind, _plain(payload)], separators=(",", ":")).encode()


def _plain(value: Any) -> Any:
    if hasattr(value, "detach"):  # a tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value, dtype="<f4")
        return {"f32": base64.b64encode(array.tobytes()).decode("ascii"), "shape": list(array.shape)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


# Lists and objects in one message, counted (as the bytes "[" and "{", strings included: an
# over-count) before it is decoded. The largest honest message, the loop exercise's run of 21
# snapshots, holds about 700; the fix's "trained" about 20 plus its texts.
MAX_CONTAINERS = 20_000


def unpack(data: bytes) -> tuple[str, Any]:
    if data.count(b"[") + data.count(b"{") > MAX_CONTAINERS:
        raise Unreadable(f"a message of more than {MAX_CONTAINERS} lists and objects")
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Unreadable("not a JSON message") from None
    except MemoryError:
        raise Unreadable("a message too large to read") from None
    if not (isinstance(message, list) and len(message) == 2 and isinstance(message[0], str)):
        raise Unreadable("not a [kind, payload] message")
    return message[0], message[1]


class Bad(Exception):
    pass


@dataclass(frozen=True)
class Text:
    """A string, cut to `limit` characters and cleaned (`clean`): it may reach a teacher's
    terminal. `lines`: newlines kept (what the learner's code printed, shown to the learner)."""

    limit: int = 4000
    lines: bool = False


@dataclass(frozen=True)
class Flag:
    pass


@dataclass(frozen=True)
class Real:
    """A finite number (a JSON integer or float, not true or false) from `low` to `high`."""

    low: float = -math.inf
    high: float = math.inf


@dataclass(frozen=True)
class Whole:
    low: int
    high: int


@dataclass(frozen=True)
class Array:
    """float32 values, finite, of this shape (None: any length on that axis)."""

    shape: tuple


@dataclass(frozen=True)
class Items:
    item: Any
    limit: int


@dataclass(frozen=True)
class Fields:
    """A JSON object with exactly these keys."""

    fields: dict


@dataclass(frozen=True)
class Names:
    """A JSON object of up to `limit` string keys, each value an `item`."""

    item: Any
    limit: int


@dataclass(frozen=True)
class Row:
    """A JSON array of exactly these items."""

    items: tuple


@dataclass(frozen=True)
class Maybe:
    item: Any


@dataclass(frozen=True)
class Plain:
    """Any JSON value (checked later by whoever reads it, e.g. History.from_dict)."""


# Characters that move a terminal's cursor, change its colours or reorder text: C0 and C1 controls,
# Unicode's line and paragraph separators and its bidirectional controls. `clean` turns line
# breaks and tabs into spaces (or keeps newlines) and drops the rest.
_BREAKS = "\n\r\t\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_DROPPED = ([c for c in range(32) if chr(c) not in _BREAKS] + [c for c in range(127, 160) if c != 0x85]
            + [0x200E, 0x200F, 0x061C] + list(range(0x202A, 0x202F)) + list(range(0x2066, 0x206A)))
_ONE_LINE = {**dict.fromkeys(_DROPPED), **{ord(c): " " for c in _BREAKS}}
_LINES = {**_ONE_LINE, ord("\n"): "\n"}


def clean(text: str, lines: bool = False) -> str:
    """`text` safe for a terminal: no control character, no reordering; on one line (line breaks
    and tabs become spaces) unless `lines`, where newlines stay."""
    return str(text).translate(_LINES if lines else _ONE_LINE)



def check(schema: Any, value: Any, where: str) -> Any:
    """`value` checked against `schema`, arrays decoded to numpy; Unreadable naming the field."""
    try:
        return _check(schema, value, where)
    except Bad as bad:
        raise Unreadable(str(bad)) from None


def _check(schema: Any, value: Any, where: str) -> Any:
    if isinstance(schema, Text):
        if not isinstance(value, str):
            raise Bad(f"{where} is not a string")
        return clean(value[:schema.limit], schema.lines)
    if isinstance(schema, Flag):
        if not isinstance(value, bool):
            raise Bad(f"{where} is not true or false")
        return value
    if isinstance(schema, Real):
        try:
            fits = not isinstance(value, bool) and isinstance(value, (int, float)) \
                and math.isfinite(value) and schema.low <= value <= schema.high
        except OverflowError:  # an integer beyond any float
            fits = False
        if not fits:
            raise Bad(f"{where} is not a finite number from {schema.low:g} to {schema.high:g}")
        return float(value)
    if isinstance(schema, Whole):
        if isinstance(value, bool) or not isinstance(value, int) \
                or not schema.low <= value <= schema.high:
            raise Bad(f"{where} is not a whole number from {schema.low} to {schema.high}")
        return value
    if isinstance(schema, Array):
        return _array(schema, value, where)
    if isinstance(schema, Items):
        if not isinstance(value, list) or len(value) > schema.limit:
            raise Bad(f"{where} is not a list of at most {schema.limit} items")
        return [_check(schema.item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(schema, Fields):
        if not isinstance(value, dict) or set(value) != set(schema.fields):
            raise Bad(f"{where} does not have exactly the fields {sorted(schema.fields)}")
        return {k: _check(s, value[k], f"{where}.{k}") for k, s in schema.fields.items()}
    if isinstance(schema, Names):
        if not isinstance(value, dict) or len(value) > schema.limit:
            raise Bad(f"{where} is not an object of at most {schema.limit} names")
        return {str(k)[:200]: _check(schema.item, v, f"{where}[{k!r:.40}]") for k, v in value.items()}
    if isinstance(schema, Row):
        if not isinstance(value, list) or len(value) != len(schema.items):
            raise Bad(f"{where} is not a list of {len(schema.items)} items")
        return [_check(s, v, f"{where}[{i}]") for i, (s, v) in enumerate(zip(schema.items, value))]
    if isinstance(schema, Maybe):
        return None if value is None else _check(schema.item, value, where)
    if isinstance(schema, Plain):
        return value
    raise TypeError(f"unknown schema {schema!r}")


def _array(schema: Array, value: Any, where: str) -> np.ndarray:
    if not isinstance(value, dict) or set(value) != {"f32", "shape"}:
        raise Bad(f"{where} is not an array")
    shape = value["shape"]
    if not isinstance(shape, list) or len(shape) != len(schema.shape) or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 10**8 for n in shape) \
            or any(want is not None and n != want for n, want in zip(shape, schema.shape)):
        raise Bad(f"{where} has the shape {str(shape)[:60]}, not {schema.shape}")
    if not isinstance(value["f32"], str):
        raise Bad(f"{where} holds no data")
    try:
        data = base64.b64decode(value["f32"], validate=True)
    except ValueError:
        raise Bad(f"{where} holds malformed data") from None
    if len(data) != 4 * math.prod(shape):
        raise Bad(f"{where} holds {len(data)} bytes for the shape {shape}")
    array = np.frombuffer(data, dtype="<f4").reshape(shape).astype(np.float32)
    if not np.isfinite(array).all():
        raise Bad(f"{where} holds values that are NaN or infinite")
    return array
