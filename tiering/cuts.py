"""Relative thresholds resolved to numbers: one percentile_disc per (metric, population), once.

A relative condition ("net margin ≥ the 98th percentile of customers with 2+ orders, and ≥ 500")
compares with a cut that depends on everyone's metrics. A run resolves every cut in ONE
statement over the metrics it is about to apply (the stage, plus the stored rows of customers it
did not recompute), before any tier is decided; the resolved rules then go to decide(), the
compiled SQL and the why alike, so all three apply the same numbers. The preview resolves over
the stored metrics the same way.

`percentile_disc(p)` is the smallest value with at least p of the population at or below it: an
actual value, so ties are safe (everyone at the cut is on the same side of it), and one sort per
metric, no per-customer window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from . import sql
from .catalogue import POPULATIONS, min_eligible, plain
from .rules import Cond, Cut, Group, Rules, cond_sql

Key = tuple[str, str, Decimal]  # (metric, population, percentile)


def key_of(cond: Cond) -> Key:
    assert cond.percentile is not None
    return (cond.metric, cond.population, cond.percentile)


def relative_keys(rules: Rules) -> list[Key]:
    """The distinct cuts the rules need, in a stable order."""
    return sorted({key_of(c) for c in rules.conditions() if c.relative})


def cuts_sql(keys: list[Key], source: str, column: Callable[[str], str]) -> tuple[str, list[Any]]:
    """ONE SELECT over `source` (a FROM item) giving, per population, its eligible count and,
    per (metric, population), the percentiles asked of it as one array."""
    populations = sorted({p for _, p, _ in keys})
    items, params = [], []
    for population in populations:
        where, where_params = _eligible_sql(population, column)
        items.append(sql.compose("COUNT(*) FILTER (WHERE {where})", where=where))
        params += where_params
    pairs = sorted({(m, p) for m, p, _ in keys})
    for metric, population in pairs:
        fractions = [k[2] / 100 for k in keys if k[:2] == (metric, population)]
        where, where_params = _eligible_sql(population, column)
        items.append(
            sql.compose(
                "percentile_disc(CAST(%s AS double precision[])) WITHIN GROUP (ORDER BY {value}) FILTER (WHERE {where})",
                value=column(metric),
                where=where,
            )
        )
        params += [[float(f) for f in fractions], *where_params]
    return sql.compose("SELECT {items} FROM {source}", items=sql.join(", ", items), source=source), params


def resolve_cuts(
    cursor: Any, rules: Rules, *, source: str, source_params: list[Any], column: Callable[[str], str]
) -> Rules:
    """The rules with every relative condition's cut resolved over `source` (one statement; none
    when the rules have no relative condition)."""
    keys = relative_keys(rules)
    if not keys:
        return rules
    statement, params = cuts_sql(keys, source, column)
    cursor.execute(statement, [*params, *source_params])
    row = list(cursor.fetchone())
    populations = sorted({p for _, p, _ in keys})
    eligible = dict(zip(populations, row[: len(populations)]))
    cuts: dict[Key, Cut] = {}
    for (metric, population), values in zip(sorted({(m, p) for m, p, _ in keys}), row[len(populations) :]):
        asked = [k for k in keys if k[:2] == (metric, population)]
        for key, value in zip(asked, values or [None] * len(asked)):
            enough = eligible[population] >= min_eligible(key[2]) and value is not None
            cuts[key] = Cut(Decimal(str(value)) if enough else None, eligible[population])
    return with_cuts(rules, cuts)


def with_cuts(rules: Rules, cuts: dict[Key, Cut]) -> Rules:
    """The rules with these cuts set on their relative conditions."""

    def group(g: Group) -> Group:
        conditions = tuple(replace(c, cut=cuts[key_of(c)]) if c.relative else c for c in g.conditions)
        return replace(g, conditions=conditions, groups=tuple(group(n) for n in g.groups))

    return replace(rules, groups=tuple(group(g) for g in rules.groups))


def cuts_json(rules: Rules) -> list[dict[str, Any]]:
    """The resolved cuts as the run record keeps them (numbers as strings, exact)."""
    seen: dict[Key, Cut] = {key_of(c): c.cut for c in rules.conditions() if c.relative and c.cut is not None}
    return [
        {
            "metric": m,
            "population": p,
            "percentile": plain(pct),
            "cut": None if cut.value is None else plain(cut.value),
            "eligible": cut.eligible,
        }
        for (m, p, pct), cut in sorted(seen.items())
    ]


def cuts_from_json(rows: Iterable[dict[str, Any]]) -> dict[Key, Cut]:
    """A run record's cuts back as values (see cuts_json)."""
    return {
        (r["metric"], r["population"], Decimal(r["percentile"])): Cut(
            None if r["cut"] is None else Decimal(r["cut"]), r["eligible"]
        )
        for r in rows
    }


def _eligible_sql(population: str, column: Callable[[str], str]) -> tuple[str, list[Any]]:
    where = POPULATIONS[population].where
    if not where:
        return "TRUE", []
    parts = [cond_sql(Cond(m, op, v), column(m)) for m, op, v in where]
    return sql.join(" AND ", (t for t, _ in parts)), [p for _, ps in parts for p in ps]


def resolve_missing(
    cursor: Any,
    rules: Rules,
    recorded: dict[Key, Cut],
    *,
    source: str,
    source_params: list[Any],
    column: Callable[[str], str],
) -> tuple[Rules, set[Key]]:
    """The rules with every relative condition's cut: those already resolved (`recorded`, e.g. by
    the run in force, over the same stored metrics) as they were, the rest resolved over `source`
    in one statement (none when nothing is missing). Also the keys resolved now."""
    keys = relative_keys(rules)
    missing = [k for k in keys if k not in recorded]
    cuts = {k: recorded[k] for k in keys if k in recorded}
    if missing:
        asked = tuple(c for c in rules.conditions() if c.relative and key_of(c) in missing)
        resolved = resolve_cuts(
            cursor, Rules((Group(2, "all", asked),)), source=source, source_params=source_params, column=column
        )
        cuts |= {key_of(c): c.cut for c in resolved.conditions() if c.cut is not None}
    return with_cuts(rules, cuts), set(missing)
