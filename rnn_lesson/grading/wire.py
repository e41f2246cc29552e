"""What the worker sends the grader: plain JSON, checked field by field.

A message is [kind, payload] (`pack`), numpy arrays and tensors as base64 float32 with their shape.
The grader never unpickles anything from the worker: it reads a message with `unpack` and `check`s
it against a schema (its fields, types, shapes and finiteness); a message it cannot read is
Unreadable, a refusal, never a pass.
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


def unpack(data: bytes) -> tuple[str, Any]:
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Unreadable("not a JSON message") from None
    if not (isinstance(message, list) and len(message) == 2 and isinstance(message[0], str)):
        raise Unreadable("not a [kind, payload] message")
    return message[0], message[1]


class Bad(Exception):
    pass


@dataclass(frozen=True)
class Text:
    """A string, cut to `limit` characters, its control characters (but newlines and tabs)
    removed: it may reach a teacher's terminal."""

    limit: int = 4000


@dataclass(frozen=True)
class Flag:
    pass


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


_CONTROL = dict.fromkeys([c for c in range(32) if c not in (9, 10)] + list(range(127, 160)))


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
        return value[:schema.limit].translate(_CONTROL)
    if isinstance(schema, Flag):
        if not isinstance(value, bool):
            raise Bad(f"{where} is not true or false")
        return value
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
