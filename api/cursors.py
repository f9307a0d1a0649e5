"""Opaque page cursors: the last key a page gave (keyset pagination, never OFFSET), and for a
promotion's targets the export-log entry the pull adds to. Pure: no Django, no I/O."""

import base64
import binascii
import json

MAX_KEY = 2**63  # PostgreSQL's bigint


class BadCursor(ValueError):
    pass


def encode(after: int, **extra: int) -> str:
    raw = json.dumps({"after": after, **extra}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None) -> dict[str, int]:
    """{} for no cursor; {"after": id, ...} for one this API gave; BadCursor otherwise."""
    if not cursor:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise BadCursor("cursor: not a cursor this API gave; start without one") from error
    if not isinstance(values, dict) or not all(type(v) is int and 0 <= v < MAX_KEY for v in values.values()):
        raise BadCursor("cursor: not a cursor this API gave; start without one")
    if type(values.get("after")) is not int:
        raise BadCursor("cursor: not a cursor this API gave; start without one")
    return values
