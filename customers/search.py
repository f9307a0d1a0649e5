"""The lists' search box: a customer by name, email, company or external id.

Three characters or more match anywhere in those four fields (case-insensitive), answered by the
trigram index on `search_document()` (customers migration 0006) instead of a scan; shorter terms
have no trigram to look up, so they match an exact external id only (its unique index).
"""

from django.db import models
from django.db.models.functions import Upper

from .models import Customer, search_document

MIN_SUBSTRING = 3  # pg_trgm indexes three-character pieces: a shorter term would read the whole index


def like_pattern(term: str) -> str:
    """`term` anywhere, with LIKE's own characters (\\ % _) taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matches(term: str) -> models.Q | models.Expression:
    """A filter on Customer for `term` (stripped, non-empty)."""
    if len(term) < MIN_SUBSTRING:
        return models.Q(external_id=term)
    # UPPER(document) LIKE UPPER(pattern): PostgreSQL upper-cases both the same way, and the
    # left side is exactly the indexed expression.
    return models.Func(
        search_document(),
        Upper(models.Value(like_pattern(term))),
        template="%(expressions)s",
        arg_joiner=" LIKE ",
        output_field=models.BooleanField(),
    )


def search(term: str) -> models.QuerySet[Customer]:
    return Customer.objects.filter(matches(term))


def too_short(term: str) -> bool:
    return 0 < len(term) < MIN_SUBSTRING
