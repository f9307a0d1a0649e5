"""CSV-injection neutralisation (OWASP): a text cell a spreadsheet would read as a formula gets a
leading single quote. Numbers are never passed through here, so tier 2 stays 2 and -1 stays -1.

The rule runs inside the SELECT that the export's COPY streams, so the export keeps COPY's rate.
"""

from django.db.models import Func, TextField

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Neutralised(Func):
    """The rule for one text column (named three times, so it must carry no parameters). Empty
    strings become NULL so COPY writes an empty cell rather than the quoted "" it uses for them."""

    output_field = TextField()
    # ASCII() is the first character's code (0 for ''): integer compares per cell instead of a
    # substring and six text compares, which keeps the export near COPY's own rate.
    template = (
        f"CASE WHEN ASCII(%(expressions)s) IN ({', '.join(str(ord(c)) for c in FORMULA_STARTS)}) "
        "THEN '''' || %(expressions)s ELSE NULLIF(%(expressions)s, '') END"
    )
    arity = 1


def neutralise(text: str | None) -> str | None:
    """The same rule in Python, for the few values known before the query (the tier names)."""
    if not text:
        return None
    return "'" + text if text.startswith(FORMULA_STARTS) else text
