"""Strict parsing of settings that come from the environment.

A deployment that sets a variable to something we cannot read must stop at start-up with a
message naming the variable, rather than run with a silently different meaning.
"""

import ipaddress
import os
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, environ=os.environ) -> str | None:
    return environ.get(name, default)


def env_bool(name: str, default: bool, *, environ=os.environ) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of true/false, 1/0, yes/no, on/off.")


def env_int(name: str, default: int, *, environ=os.environ, minimum: int | None = None) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_list(name: str, default: list[str], *, environ=os.environ) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str, *, environ=os.environ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated IP addresses or networks (CIDR: 10.0.0.0/8); unset or empty: none."""
    networks = []
    for item in env_list(name, [], environ=environ):
        try:
            networks.append(ipaddress.ip_network(item))  # strict: 10.0.0.1/8 has host bits set, refused
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}={environ[name]!r}: {exc}.") from None
    return tuple(networks)


def env_database(name: str, *, environ=os.environ) -> dict:
    """A PostgreSQL URL, required. (config.settings.local fills it in with the demo's embedded server.)"""
    raw = environ.get(name, "").strip()
    if not raw:
        raise ImproperlyConfigured(f"{name} must be set to a postgres://user:password@host:port/name URL.")
    if urlparse(raw).scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a database URL we support: expected postgres://user@host:port/name."
        )
    try:
        config = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj_database_url raises several types on malformed input
        raise ImproperlyConfigured(f"{name}={raw!r} could not be parsed: {exc}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={raw!r} names no database (the path after the host).")
    if config.get("PORT") not in ("", None):
        try:
            int(config["PORT"])
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} has a port that is not a number.") from None
    return config


def env_redis_url(name: str, *, environ=os.environ) -> str | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in {"redis", "rediss"} or not parsed.hostname:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a Redis URL: expected redis://host:port/db.")
    try:
        parsed.port  # noqa: B018 (parsing the port raises on a non-number)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} has a port that is not a number.") from None
    database = parsed.path.strip("/")
    if database and not database.isdigit():
        raise ImproperlyConfigured(
            f"{name}={raw!r} names database {database!r}: Redis databases are numbers (/0, /1 ...)."
        )
    return raw


def env_choice(name: str, default: str, choices: set[str], *, environ=os.environ) -> str:
    """A word from a fixed set (case-insensitive), returned as written in `choices`."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    by_upper = {choice.upper(): choice for choice in choices}
    if raw.strip().upper() not in by_upper:
        raise ImproperlyConfigured(f"{name}={raw!r} is not one of: {', '.join(sorted(choices))}.")
    return by_upper[raw.strip().upper()]


def env_site_url(name: str, default: str, *, environ=os.environ) -> str:
    """The address people open the dashboard at (links in emails): http(s)://host[:port][/path]."""
    raw = environ.get(name, default).strip()
    parts = urlparse(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a site address: use e.g. https://tierboard.example.com.")
    return raw.rstrip("/")
