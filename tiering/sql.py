"""How tiering and churn compose SQL: one mechanism, psycopg.sql.

A statement is a template with `{name}` slots (`psycopg.sql.SQL.format`); a slot takes a
`psycopg.sql` piece (an `Identifier`, a `Literal`, a composed fragment) or trusted SQL text that
this code built (wrapped as `sql.SQL`). Values travel as query parameters (`%s`, `%(name)s`),
which composition leaves alone. `compose()` gives text, as Django's cursor takes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import sql

Part = str | sql.Composable


def compose(template: str, **parts: Part) -> str:
    """`template` with each {name} slot filled (literal braces are doubled, as in str.format)."""
    pieces = {name: part if isinstance(part, sql.Composable) else sql.SQL(part) for name, part in parts.items()}
    return sql.SQL(template).format(**pieces).as_string()


def join(separator: str, parts: Iterable[Part]) -> str:
    """The parts joined by `separator` (", ", " OR ", ...)."""
    return sql.SQL(separator).join(p if isinstance(p, sql.Composable) else sql.SQL(p) for p in parts).as_string()


def name(identifier: str) -> str:
    """A table or column name, quoted."""
    return sql.Identifier(identifier).as_string()


def column(table: str, column: str) -> str:
    """A column of a table or alias, quoted: m."revenue"."""
    return sql.Identifier(table, column).as_string()


def placeholder(param: str) -> str:
    """A named query parameter: %(as_of)s."""
    return sql.Placeholder(param).as_string()


def literal(value: object) -> str:
    """A constant as SQL (a date, a number): for values repeated inside generated expressions."""
    return sql.Literal(value).as_string()


def set_local(cursor: Any, **settings: str) -> None:
    """Session settings for the rest of the transaction (`SET LOCAL jit = off`)."""
    for setting, value in settings.items():
        cursor.execute(sql.SQL("SET LOCAL {} = {}").format(sql.Identifier(setting), sql.Literal(value)).as_string())


def reset(cursor: Any, *settings: str) -> None:
    """Back to the session's values of `settings`, inside the same transaction."""
    for setting in settings:
        cursor.execute(sql.SQL("RESET {}").format(sql.Identifier(setting)).as_string())
