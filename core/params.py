"""Paging, sorting and filter values read from a list page's query string.

A bookmarked or hand-edited URL may hold anything; each bad value falls back to its default
and leaves a note the page shows, so a typo never costs the user an error page.
"""

from dataclasses import dataclass, field

import django_filters
from django import forms

PER_PAGE_CHOICES = (25, 50, 100)
DEFAULT_PER_PAGE = 50
DEFAULT_SORT = "-net_margin"
MAX_PAGE = 100_000  # deeper than any person pages; keeps OFFSET from becoming a denial of service
ID_RANGE = {"min_value": 1, "max_value": 2**63 - 1}  # a row id (bigint) in a filter


class IntegerFilter(django_filters.NumberFilter):
    """A whole number: "1.5" or "1e5" is refused, where NumberFilter would take a decimal."""

    field_class = forms.IntegerField


def small_int(raw: str | None, low: int, high: int) -> int | None:
    """`raw` as an int in [low, high], or None: never int() of thousands of digits (a ValueError)."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) and low <= int(raw) <= high:
        return int(raw)
    return None


@dataclass(frozen=True)
class ListParams:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = DEFAULT_SORT
    problems: list[str] = field(default_factory=list)


def clean_list_params(
    query, *, sortable: set[str], default_sort: str = DEFAULT_SORT, sorted_as: str = "net margin, highest first"
) -> ListParams:
    """`sorted_as` names the default order in the note about a sort key that is not a column."""
    problems: list[str] = []
    page = _clean_page(query.get("page"), problems)
    per_page = _clean_per_page(query.get("per_page"), problems)
    sort = _clean_sort(query.get("sort"), sortable, problems, default_sort, sorted_as)
    return ListParams(page=page, per_page=per_page, sort=sort, problems=problems)


def _clean_page(raw: str | None, problems: list[str]) -> int:
    if raw in (None, ""):
        return 1
    if (page := small_int(raw, 1, MAX_PAGE)) is not None:
        return page
    problems.append(f"Page “{shown(raw)}” is not a page number; showing the first page.")
    return 1


def _clean_per_page(raw: str | None, problems: list[str]) -> int:
    if raw in (None, ""):
        return DEFAULT_PER_PAGE
    if (per_page := small_int(raw, 1, max(PER_PAGE_CHOICES))) in PER_PAGE_CHOICES:
        return per_page
    choices = ", ".join(str(n) for n in PER_PAGE_CHOICES)
    problems.append(f"Rows per page “{shown(raw)}” is not one of {choices}; showing {DEFAULT_PER_PAGE}.")
    return DEFAULT_PER_PAGE


def _clean_sort(raw: str | None, sortable: set[str], problems: list[str], default: str, sorted_as: str) -> str:
    if raw in (None, ""):
        return default
    if raw.removeprefix("-") in sortable:
        return raw
    problems.append(f"Cannot sort by “{shown(raw)}”; sorted by {sorted_as}.")
    return default


def valid_filterset(build, data, problems: list[str]):
    """`build(data)`'s filter set with every invalid value dropped and named in `problems`: a bad
    value never empties the list (django-filter's strict mode) nor raises an error page."""
    data = data.copy()
    filterset = build(data)
    if filterset.is_valid():
        return filterset
    for name, errors in filterset.form.errors.items():
        label = filterset.form.fields[name].label if name in filterset.form.fields else name
        problems.append(f"Ignored {label} “{shown(data.get(name, ''))}”: {' '.join(errors)}")
        data.pop(name, None)
    return build(data)


def shown(raw: str, limit: int = 40) -> str:
    """A value as a message quotes it: NUL bytes and the tail of a very long value left out."""
    text = raw.replace("\x00", "�")
    return text if len(text) <= limit else text[:limit] + "…"
