"""The from→to tier matrix: the one builder behind the one partial (templates/tiering/_matrix.html)
that the run page, the overview's "moved last run" and the admin's rule preview show.

Rows are the tier before ("new" first, when anyone was placed for the first time), columns the
tier after, both in level order from the Tier table (plus any level the counts name that the
table lacks, so no customer goes uncounted). A run records only its moves, so its stays are
unknown (shown as a quiet dash); a preview counts everyone. Pure: no ORM, no queries; the links
come from a function the caller gives (a run's cells open the tier list filtered to them).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from django.urls import reverse

RUN_NOTE = "Rows: tier before the run; columns: tier after; “New”: placed in a tier for the first time. "
LINKS_NOTE = "Each number opens the list of those customers."
DRY_RUN_NOTE = "A dry run writes nothing, so its numbers open no list."

Move = tuple[int | None, int]  # (tier before, or None for a first placement; tier after)
Link = Callable[[int | None, int], str]


class TierLike(Protocol):
    @property
    def level(self) -> int: ...
    @property
    def name(self) -> str: ...


class RunLike(Protocol):
    @property
    def pk(self) -> int: ...
    @property
    def matrix(self) -> Mapping[str, int] | None: ...
    @property
    def dry_run(self) -> bool: ...


@dataclass(frozen=True)
class Cell:
    source: int | None
    target: int
    count: int | None  # None: not recorded (a run's stays)
    url: str | None
    label: str  # what the cell counts, in words (its title; a link's accessible name)

    @property
    def kind(self) -> str:
        """The cell's CSS class: "same" (stayed), "zero", "new" (a first tier), "up" or "down"."""
        if self.source == self.target:
            return "same"
        if not self.count:
            return "zero"
        if self.source is None:
            return "new"
        return "up" if self.target > self.source else "down"


@dataclass(frozen=True)
class Row:
    source: int | None
    name: str  # the tier's name ("" for new customers, or a level missing from the Tier table)
    cells: list[Cell]

    @property
    def moved(self) -> int:
        return sum(c.count or 0 for c in self.cells if c.source != c.target)


@dataclass(frozen=True)
class Column:
    level: int
    name: str


@dataclass(frozen=True)
class Matrix:
    columns: list[Column]
    rows: list[Row]
    note: str = ""  # what the rows, columns and numbers mean here: the table's caption

    @property
    def moved(self) -> int:
        """Customers who changed tier (first placements are not moves)."""
        return sum(row.moved for row in self.rows if row.source is not None)

    @property
    def new(self) -> int:
        """Customers placed in a tier for the first time."""
        return sum(row.moved for row in self.rows if row.source is None)


def build_matrix(
    counts: Mapping[Move, int],
    *,
    tiers: Iterable[TierLike],
    verb: str = "moved",
    link: Link | None = None,
    note: str = "",
) -> Matrix:
    """Rows × columns from {(before, after): customers}. `verb` says what a count is ("moved",
    "would move"); `link(before, after)` the URL of the list of a move's customers, if one exists."""
    names = {t.level: t.name for t in tiers}
    levels = sorted(set(names) | {level for move in counts for level in move if level is not None})
    sources: list[int | None] = [None] if any(counts.get((None, t)) for t in levels) else []
    sources += levels
    rows = []
    for source in sources:
        cells = [_cell(source, target, counts, verb, link) for target in levels]
        rows.append(Row(source=source, name=names.get(source, "") if source is not None else "", cells=cells))
    return Matrix(columns=[Column(level, names.get(level, "")) for level in levels], rows=rows, note=note)


def _cell(source: int | None, target: int, counts: Mapping[Move, int], verb: str, link: Link | None) -> Cell:
    count = counts.get((source, target))
    if source == target:
        stayed = "stayed" if verb == "moved" else "would stay"
        label = f"{stayed} in tier {target}" if count is None else f"{_customers(count)} {stayed} in tier {target}"
        return Cell(source, target, count, None, label)
    count = count or 0
    if source is None:
        placed = "placed" if verb == "moved" else "would be placed"
        label = f"{_customers(count)} {placed} in tier {target} for the first time"
    else:
        label = f"{_customers(count)} {verb} from tier {source} to tier {target}"
    url = link(source, target) if link is not None and count else None
    return Cell(source, target, count, url, label)


def _customers(count: int) -> str:
    return f"{count:,} customer{'' if count == 1 else 's'}"


def run_counts(stored: Mapping[str, int]) -> dict[Move, int]:
    """A run's stored {"2->3": n, "new->1": n} as {(2, 3): n, (None, 1): n}."""
    counts: dict[Move, int] = {}
    for key, n in stored.items():
        source, _, target = str(key).partition("->")
        if target.strip().isdigit():
            counts[(int(source) if source.strip().isdigit() else None, int(target))] = n
    return counts


def run_matrix(run: RunLike, *, tiers: Iterable[TierLike]) -> Matrix:
    """A run's movements; each count links to the tier list of its customers, except a dry run's
    (it records no changes to list)."""
    link = None if run.dry_run else _moved_in_run(run.pk)
    note = RUN_NOTE + (DRY_RUN_NOTE if run.dry_run else LINKS_NOTE)
    return build_matrix(run_counts(run.matrix or {}), tiers=tiers, link=link, note=note)


def _moved_in_run(run_id: int) -> Link:
    # By URL name, not an import: the tier list belongs to the dashboard, which sits above tiering.
    def link(source: int | None, target: int) -> str:
        origin = "new" if source is None else source
        return f"{reverse('dashboard:tier_list')}?run={run_id}&moved_from={origin}&moved_to={target}"

    return link
