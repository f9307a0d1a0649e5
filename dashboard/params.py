"""Paging and sorting values read from a tier list's query string.

A bookmarked or hand-edited URL may hold anything; each bad value falls back to its default
and leaves a note the page shows, so a typo never costs the user an error page.
"""

from dataclasses import dataclass, field

PER_PAGE_CHOICES = (25, 50, 100)
DEFAULT_PER_PAGE = 50
DEFAULT_SORT = "-net_margin"
MAX_PAGE = 100_000  # deeper than any person pages; keeps OFFSET from becoming a denial of service


@dataclass(frozen=True)
class ListParams:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = DEFAULT_SORT
    problems: list[str] = field(default_factory=list)


def clean_list_params(query, *, sortable: set[str]) -> ListParams:
    problems: list[str] = []
    page = _clean_page(query.get("page"), problems)
    per_page = _clean_per_page(query.get("per_page"), problems)
    sort = _clean_sort(query.get("sort"), sortable, problems)
    return ListParams(page=page, per_page=per_page, sort=sort, problems=problems)


def _clean_page(raw: str | None, problems: list[str]) -> int:
    if raw in (None, ""):
        return 1
    if raw.isdigit() and 1 <= int(raw) <= MAX_PAGE:
        return int(raw)
    problems.append(f"Page “{raw}” is not a page number; showing the first page.")
    return 1


def _clean_per_page(raw: str | None, problems: list[str]) -> int:
    if raw in (None, ""):
        return DEFAULT_PER_PAGE
    if raw.isdigit() and int(raw) in PER_PAGE_CHOICES:
        return int(raw)
    choices = ", ".join(str(n) for n in PER_PAGE_CHOICES)
    problems.append(f"Rows per page “{raw}” is not one of {choices}; showing {DEFAULT_PER_PAGE}.")
    return DEFAULT_PER_PAGE


def _clean_sort(raw: str | None, sortable: set[str], problems: list[str]) -> str:
    if raw in (None, ""):
        return DEFAULT_SORT
    if raw.removeprefix("-") in sortable:
        return raw
    problems.append(f"Cannot sort by “{raw}”; sorted by net margin, highest first.")
    return DEFAULT_SORT
