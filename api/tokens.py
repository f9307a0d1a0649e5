"""Token secrets: made, hashed and recognised. Pure: no Django, no I/O.

A token reads `tb_<prefix>_<secret>`: the prefix (8 characters) names it in lists and logs, the
whole string is the secret. Only its SHA-256 is stored.
"""

import hashlib
import secrets

TOKEN_START = "tb_"
PREFIX_LENGTH = 8


def new_token() -> tuple[str, str]:
    """(token, prefix): a fresh secret with 256 random bits."""
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    return f"{TOKEN_START}{prefix}_{secrets.token_urlsafe(32)}", prefix


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_START) and len(value) > len(TOKEN_START) + PREFIX_LENGTH + 1


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)
