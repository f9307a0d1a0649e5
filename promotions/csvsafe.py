"""CSV-injection neutralisation (OWASP): a text cell a spreadsheet would read as a formula gets a
leading single quote. Numbers are never passed through here, so tier 2 stays 2 and -1 stays -1.

The same rule exists twice on purpose: in SQL for PostgreSQL's COPY (so the export runs at COPY's
rate) and in Python for the SQLite fallback. Tests hold both to the same bytes.
"""

from django.db.models import Func, TextField

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str | None) -> str | None:
    if value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


class Neutralised(Func):
    """SQL twin of `neutralise` for one text column (named three times, so it must carry no
    parameters). Empty strings become NULL so COPY writes an empty cell, as csv.writer does,
    instead of the quoted "" it uses for empty strings."""

    output_field = TextField()
    # ASCII() is the first character's code (0 for ''): integer compares per cell instead of a
    # substring and six text compares, which keeps the export near COPY's own rate.
    template = (
        "CASE WHEN ASCII(%(expressions)s) IN (61, 43, 45, 64, 9, 13) "  # = + - @ tab CR
        "THEN '''' || %(expressions)s ELSE NULLIF(%(expressions)s, '') END"
    )
    arity = 1
