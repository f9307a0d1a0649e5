"""Calibration: for each condition of a rule set, how its metric is spread over the customers,
where its threshold falls, and how many customers pass it on its own.

`calibrate(rules, as_of)` answers for every condition (nested ones too) from the stored metrics
(CustomerMetrics) in a bounded number of statements, however many conditions there are:

1. the run in force (its as-of date, which the day counts count to, and the cuts it resolved);
2. only when a relative condition asks for a cut that run did not resolve (a draft's new
   percentile): one statement resolving those cuts over the stored metrics, as the preview does;
3. ONE scan: the customer count, each population's size, each metric's spread (lowest, highest,
   mean or smallest positive value) and each condition's passing count (and within its
   population, for a relative one), all as aggregates with FILTER;
4. ONE scan: every metric's histogram at once, `width_bucket(value, edges)` per metric under
   GROUPING SETS (one small hash table per metric), the edges chosen from step 3's spread
   (tiering.histograms).

Statements 3 and 4 run in a transaction with JIT off (JIT compiling costs more than the scan).
Nothing is written. The page renders it with templates/tiering/_calibration.html.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from . import sql
from .catalogue import METRICS, OPERATORS, POPULATIONS, format_value
from .cuts import Key, _eligible_sql, cuts_from_json, key_of, resolve_cuts
from .histograms import Bucket, Marker, Scale, Spread, buckets, choose_edges, marker, scale_note
from .metrics import metric_sql
from .models import CustomerMetrics, RetierRun, RuleSet
from .rules import NEEDS, Cond, Group, Rules, _ordinal, cond_sql, describe_condition, rules_from_ruleset


@dataclass(frozen=True)
class ConditionCalibration:
    """One condition, calibrated against the customers' stored metrics."""

    level: int  # the tier whose group holds it
    where: str  # "Tier 3" or "Tier 3 › ANY of" for a nested group
    condition: Cond  # resolved: a relative one carries its cut
    text: str  # the condition in words, as written (a percentile as a percentile)
    threshold: Decimal  # the number compared with (a relative one's cut or floor)
    source: str  # where a relative threshold came from ("" for an absolute one)
    passing: int  # customers who pass it on its own
    total: int  # customers with stored metrics
    missing: int  # customers with no value (every comparison fails for them)
    eligible: int | None  # a relative condition's population size
    passing_eligible: int | None  # of those, how many pass
    low: Decimal | None  # the metric's lowest and highest value
    high: Decimal | None
    scale: Scale
    buckets: tuple[Bucket, ...]
    markers: tuple[Marker, ...]
    warnings: tuple[str, ...]

    @property
    def label(self) -> str:
        return METRICS[self.condition.metric].label

    @property
    def share(self) -> float:
        return self.passing / self.total if self.total else 0.0

    @property
    def share_eligible(self) -> float | None:
        return self.passing_eligible / self.eligible if self.eligible else None

    @property
    def share_text(self) -> str:
        return _percent(self.share)

    @property
    def share_eligible_text(self) -> str:
        return "" if self.share_eligible is None else _percent(self.share_eligible)

    @property
    def population(self) -> str:
        return POPULATIONS[self.condition.population].label if self.condition.relative else ""

    @property
    def needs(self) -> str:
        """The number compared with, in words: "≥ 4,812"."""
        return f"{OPERATORS[self.condition.op].symbol} {format_value(self.condition.metric, self.threshold)}"

    @property
    def scale_note(self) -> str:
        return scale_note(self.scale)

    @property
    def chart_json(self) -> str:
        """The histogram as the page's script draws it (static/js/calibration.js)."""
        return json.dumps(
            {
                "labels": [b.label for b in self.buckets],
                "counts": [b.count for b in self.buckets],
                "sides": [b.side for b in self.buckets],
                "markers": [{"at": m.at, "label": m.label, "kind": m.kind} for m in self.markers],
                "metric": self.label,
                "scale": self.scale,
            }
        )


def calibrate(rules: Rules, as_of: dt.date | None = None) -> list[ConditionCalibration]:
    """Every condition of `rules`, in the order they are tried (highest tier first, nested ones
    after their group's own: `[c for g in rules.tried() for c in g.all_conditions()]`), calibrated
    over the stored metrics with day counts counted to `as_of` (default: the run in force's).
    Relative conditions without a cut take the run in force's, else one resolved now. Empty when
    no customer has metrics yet. Four statements at most, whatever the number of conditions."""
    run = RetierRun.objects.in_force().values("as_of", "cuts").first() or {"as_of": None, "cuts": []}
    as_of = as_of or run["as_of"]
    column = _column(as_of)
    table = sql.compose("{table} m", table=sql.name(CustomerMetrics._meta.db_table))
    placed = _placed(rules)
    with transaction.atomic(), connection.cursor() as cursor:
        sql.set_local(cursor, jit="off")
        resolved, sources = _resolve(cursor, [c for _, _, c in placed], run["cuts"], table, column)
        placed = [(level, where, _with_cut(c, resolved)) for level, where, c in placed]
        conditions = [c for _, _, c in placed]
        metrics = list(dict.fromkeys(c.metric for c in conditions))
        total, spreads, passing = _scan(cursor, conditions, metrics, table, column)
        if not total:
            return []
        edges = {m: choose_edges(m, spreads[m][0]) for m in metrics}
        counts = _histograms(cursor, {m: e for m, (_, e) in edges.items() if len(e) > 1}, table, column)
    result = []
    for (level, where, cond), (held, eligible, held_eligible) in zip(placed, passing):
        spread, valued = spreads[cond.metric]
        scale, metric_edges = edges[cond.metric]
        result.append(
            _calibrated(
                level,
                where,
                cond,
                sources.get(key_of(cond), "") if cond.relative else "",
                (held, total, total - valued, eligible, held_eligible),
                spread,
                scale,
                metric_edges,
                counts.get(cond.metric, {1: valued}),
            )
        )
    return result


def calibrate_ruleset(*, ruleset: RuleSet) -> list[ConditionCalibration]:
    """`calibrate()` for a stored rule set (two more queries: its groups and conditions)."""
    return calibrate(rules_from_ruleset(ruleset))


# --- internals --------------------------------------------------------------------------------


def _column(as_of: dt.date | None) -> Any:
    counted_to = sql.literal(as_of) if as_of else None
    return lambda m: metric_sql(m, alias="m", as_of=counted_to)


def _placed(rules: Rules) -> list[tuple[int, str, Cond]]:
    """(level, where, condition) of every condition, in the order calibrate() promises."""

    def walk(group: Group, where: str) -> list[tuple[int, str, Cond]]:
        own = [(group.level, where, c) for c in group.conditions]
        return own + [c for g in group.groups for c in walk(g, f"{where} › {NEEDS[g.match]}")]

    return [c for g in rules.tried() for c in walk(g, f"Tier {g.level}")]


def _resolve(
    cursor: Any, conditions: list[Cond], recorded: list[dict[str, Any]], table: str, column: Any
) -> tuple[dict[Key, Any], dict[Key, str]]:
    """The cut of every relative condition: given, the run in force's, or resolved now (one
    statement for all those missing); and where each came from, in words."""
    cuts = {key_of(c): c.cut for c in conditions if c.relative and c.cut is not None}
    sources = {key: "in this run" for key in cuts}
    from_run = cuts_from_json(recorded)
    for key in {key_of(c) for c in conditions if c.relative} - set(cuts):
        if key in from_run:
            cuts[key], sources[key] = from_run[key], "in the last run"
    missing = tuple(c for c in conditions if c.relative and key_of(c) not in cuts)
    if missing:
        now = resolve_cuts(cursor, Rules((Group(2, "all", missing),)), source=table, source_params=[], column=column)
        for c in now.conditions():
            cuts[key_of(c)], sources[key_of(c)] = c.cut, "over the stored metrics (no run has resolved it yet)"
    return cuts, sources


def _with_cut(cond: Cond, cuts: dict[Key, Any]) -> Cond:
    return replace(cond, cut=cuts[key_of(cond)]) if cond.relative else cond


def _scan(
    cursor: Any, conditions: list[Cond], metrics: list[str], table: str, column: Any
) -> tuple[int, dict[str, tuple[Spread, int]], list[tuple[int, int | None, int | None]]]:
    """Statement 3: the count, each metric's spread and each condition's passing counts."""
    items, params = ["COUNT(*)"], []
    for metric in metrics:
        col = column(metric)
        items += [f"MIN({col})", f"MAX({col})", f"COUNT({col})"]
        if METRICS[metric].kind in ("money", "ratio"):
            items += [f"MIN({col}) FILTER (WHERE {col} > 0)", f"MAX({col}) FILTER (WHERE {col} < 0)"]
        else:
            items += [f"AVG({col})", "NULL"]
    for cond in conditions:
        held, held_params = cond_sql(cond, column(cond.metric))
        items.append(f"COUNT(*) FILTER (WHERE {held})")
        params += held_params
        if cond.relative:
            where, where_params = _eligible_sql(cond.population, column)
            items += [f"COUNT(*) FILTER (WHERE {where})", f"COUNT(*) FILTER (WHERE {where} AND {held})"]
            params += [*where_params, *where_params, *held_params]
    cursor.execute(sql.compose("SELECT {items} FROM {table}", items=sql.join(", ", items), table=table), params)
    row = list(cursor.fetchone())
    total, row = row[0], row[1:]
    spreads = {}
    for i, metric in enumerate(metrics):
        low, high, valued, mean_or_positive, negative = row[i * 5 : i * 5 + 5]
        money = METRICS[metric].kind in ("money", "ratio")
        spread = Spread(
            _dec(low),
            _dec(high),
            mean=None if money else _dec(mean_or_positive),
            least_positive=_dec(mean_or_positive) if money else None,
            greatest_negative=_dec(negative),
        )
        spreads[metric] = (spread, valued)
    row = row[len(metrics) * 5 :]
    passing: list[tuple[int, int | None, int | None]] = []
    for cond in conditions:
        if cond.relative:
            passing.append((row[0], row[1], row[2]))
            row = row[3:]
        else:
            passing.append((row[0], None, None))
            row = row[1:]
    return total, spreads, passing


def _histograms(cursor: Any, edges: dict[str, list[Decimal]], table: str, column: Any) -> dict[str, dict[int, int]]:
    """Statement 4: customers per bucket of every metric, in one scan ({metric: {bucket: n}})."""
    if not edges:
        return {}
    metrics = list(edges)
    bucket_items, params = [], []
    for i, metric in enumerate(metrics):
        array = "bigint[]" if METRICS[metric].whole else "numeric[]"
        bucket_items.append(f"width_bucket({column(metric)}, CAST(%s AS {array})) AS b{i}")
        params.append([int(e) if METRICS[metric].whole else e for e in edges[metric]])
    names = [f"b{i}" for i in range(len(metrics))]
    # OFFSET 0 keeps the bucket columns computed once a row, below the grouping.
    statement = sql.compose(
        "SELECT GROUPING({names}), {names}, COUNT(*) FROM (SELECT {buckets} FROM {table} OFFSET 0) s"
        " GROUP BY GROUPING SETS ({sets})",
        names=", ".join(names),
        buckets=sql.join(", ", bucket_items),
        table=table,
        sets=", ".join(f"({n})" for n in names),
    )
    cursor.execute(statement, params)
    counts: dict[str, dict[int, int]] = {m: {} for m in metrics}
    width = len(metrics)
    for mask, *values, n in cursor.fetchall():
        index = next(j for j in range(width) if not mask & (1 << (width - 1 - j)))
        if values[index] is not None:
            counts[metrics[index]][values[index]] = n
    return counts


def _calibrated(
    level: int,
    where: str,
    cond: Cond,
    source: str,
    counts: tuple[int, int, int, int | None, int | None],
    spread: Spread,
    scale: Scale,
    edges: list[Decimal],
    per_bucket: dict[int, int],
) -> ConditionCalibration:
    held, total, missing, eligible, held_eligible = counts
    threshold = cond.threshold
    bars = tuple(buckets(cond.metric, edges, spread.high, per_bucket, (cond.op, threshold))) if edges else ()
    text = describe_condition(cond.metric, cond.op, cond.value, cond.percentile, cond.population)
    calibrated = ConditionCalibration(
        level=level,
        where=where,
        condition=cond,
        text=text,
        threshold=threshold,
        source=_source_text(cond, source),
        passing=held,
        total=total,
        missing=missing,
        eligible=eligible,
        passing_eligible=held_eligible,
        low=spread.low,
        high=spread.high,
        scale=scale,
        buckets=bars,
        markers=_markers(cond, edges, spread.high) if edges and spread.high is not None else (),
        warnings=(),
    )
    return replace(calibrated, warnings=tuple(_warnings(calibrated)))


def _markers(cond: Cond, edges: list[Decimal], high: Decimal) -> tuple[Marker, ...]:
    symbol = OPERATORS[cond.op].symbol
    at = lambda value: marker(cond.metric, edges, high, cond.op, value)  # noqa: E731
    if not cond.relative or cond.cut is None:
        kind = "floor" if cond.relative else "threshold"
        return (Marker(at(cond.value), f"{symbol} {format_value(cond.metric, cond.value)}", kind),)
    found = []
    if cond.cut.value is not None:
        found.append(Marker(at(cond.cut.value), f"cut {format_value(cond.metric, cond.cut.value)}", "cut"))
    found.append(Marker(at(cond.value), f"floor {format_value(cond.metric, cond.value)}", "floor"))
    return tuple(found)


def _source_text(cond: Cond, source: str) -> str:
    if not cond.relative or cond.cut is None or cond.percentile is None:
        return ""
    nth = f"the {_ordinal(str(cond.percentile))} percentile of {POPULATIONS[cond.population].label}"
    floor = format_value(cond.metric, cond.value)
    if cond.cut.value is None:
        return f"the floor {floor}: only {cond.cut.eligible:,} eligible customers, too few for {nth}"
    cut = format_value(cond.metric, cond.cut.value)
    if cond.threshold != cond.cut.value:
        return f"the floor {floor}, stricter than {nth} ({cut}) {source}"
    return f"{nth} {source} (floor {floor})"


def _warnings(c: ConditionCalibration) -> list[str]:
    """What an admin should know before relying on the condition."""
    says = f"{c.where}: “{describe_condition(c.condition.metric, c.condition.op, c.threshold)}”"
    found = []
    if c.low is None:
        found.append(f"{says}: no customer has a value of {c.label.lower()}, so it holds for nobody.")
    elif c.passing == 0:
        found.append(f"{says} holds for none of the {c.total:,} customers.{_reach(c)}")
    elif c.passing == c.total:
        found.append(f"{says} holds for every customer: it decides nothing.")
    if c.low is not None and c.low == c.high and c.total > 1:
        value = format_value(c.condition.metric, c.low)
        found.append(
            f"{c.where}: {c.label.lower()} is {value} for every customer with a value: it cannot tell them apart."
        )
    return found


def _reach(c: ConditionCalibration) -> str:
    """Why nobody passes, when the threshold lies beyond every value."""
    if c.low is None or c.high is None:
        return ""
    op = c.condition.op
    if op in ("gt", "gte") and not OPERATORS[op].holds(c.high, c.threshold):
        return f" Nobody can reach it: the highest value is {format_value(c.condition.metric, c.high)}."
    if op in ("lt", "lte") and not OPERATORS[op].holds(c.low, c.threshold):
        return f" Nobody is that low: the lowest value is {format_value(c.condition.metric, c.low)}."
    return ""


def _percent(share: float) -> str:
    """12.3%; a share that is not zero never reads as 0% (<0.1%), nor one short of all as 100%."""
    if 0 < share < 0.001:
        return "<0.1%"
    if 0.999 < share < 1:
        return ">99.9%"
    return f"{share * 100:.1f}%".replace(".0%", "%")


def _dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))
