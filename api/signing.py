"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>" with the endpoint's secret.

Pure: no Django, no I/O. The header the server sends and a receiver checks:

    Tierboard-Signature: t=1764640800,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

A receiver recomputes the HMAC over the timestamp, a dot and the raw body it received, compares in
constant time, and refuses a timestamp older (or newer) than its tolerance: a captured delivery
replayed later no longer verifies. docs/api.md has the same check in a few lines for receivers.
"""

import hashlib
import hmac

HEADER = "Tierboard-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, too old or does not match the body."""


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, body=body)}"


def verify(*, secret: str, header: str, body: bytes, now: float, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> int:
    """The header's timestamp when `header` signs `body` with `secret` within `tolerance` seconds
    of `now`; SignatureError saying why otherwise."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        raise SignatureError("malformed signature header: expected t=<unix seconds>,v1=<hex>")
    timestamp = int(parts["t"])
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"timestamp {timestamp} is more than {tolerance} s from now: refused as a replay")
    if not hmac.compare_digest(signature(secret=secret, timestamp=timestamp, body=body), parts["v1"]):
        raise SignatureError("signature does not match the body")
    return timestamp
