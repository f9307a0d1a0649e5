"""Webhook signatures verify, and anything else does not: a changed body, another secret, a replay
outside the tolerance, a malformed header."""

import pytest

from api.signing import SignatureError, header_value, verify

SECRET, BODY, T = "whsec_test", b'{"id":1,"event":"tier.changed"}', 1_764_640_800


def test_a_delivery_verifies_with_its_secret():
    assert verify(secret=SECRET, header=header_value(secret=SECRET, timestamp=T, body=BODY), body=BODY, now=T + 5) == T


@pytest.mark.parametrize(
    ("header", "body", "now", "why"),
    [
        (header_value(secret=SECRET, timestamp=T, body=BODY), BODY + b" ", T, "does not match"),
        (header_value(secret="whsec_other", timestamp=T, body=BODY), BODY, T, "does not match"),
        (header_value(secret=SECRET, timestamp=T, body=BODY), BODY, T + 301, "replay"),
        (header_value(secret=SECRET, timestamp=T, body=BODY), BODY, T - 301, "replay"),
        (
            header_value(secret=SECRET, timestamp=T, body=BODY).replace(f"t={T}", f"t={T + 1}"),
            BODY,
            T,
            "does not match",
        ),
        ("v1=abc", BODY, T, "malformed"),
        ("", BODY, T, "malformed"),
        ("t=soon,v1=abc", BODY, T, "malformed"),
    ],
    ids=[
        "body changed",
        "other secret",
        "replayed later",
        "from the future",
        "timestamp changed",
        "no time",
        "no header",
        "bad time",
    ],
)
def test_anything_else_is_refused(header, body, now, why):
    with pytest.raises(SignatureError, match=why):
        verify(secret=SECRET, header=header, body=body, now=now)
