"""CSV-injection neutralisation (OWASP): a text cell a spreadsheet would read as a formula gets a
leading single quote. Numbers are never passed through here, so tier 2 stays 2 and -1 stays -1.

The same rule exists twice on purpose: in SQL for PostgreSQL's COPY (so the export runs at COPY's
rate) and in Python for the SQLite fallback. Tests hold both to the same answers.
"""

from django.db.models import Func, TextField

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str | None) -> str | None:
    if value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


class Neutralised(Func):
    """SQL twin of `neutralise` for one text expression; empty strings become NULL so COPY writes
    an empty cell (as csv.writer does) instead of the quoted "" it uses for empty strings."""

    output_field = TextField()
    template = (
        "NULLIF(CASE WHEN SUBSTR(%(expressions)s, 1, 1) IN ('=', '+', '-', '@', CHR(9), CHR(13)) "
        "THEN '''' || %(expressions)s ELSE %(expressions)s END, '')"
    )
    arity = 1
