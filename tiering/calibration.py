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
from .catalogue import METRICS, OPERATORS, POPULATIONS, format_value, plain
from .cuts import Key, _eligible_sql, cuts_from_json, key_of, resolve_missing
from .histograms import Bucket, Marker, Scale, Spread, buckets, choose_edges, marker, scale_note
from .metrics import metric_sql
from .models import CustomerMetrics, RetierRun, RuleSet, RunCalibration
from .rule_checks import condition_warnings
from .rules import NEEDS, Cond, Cut, Group, Rules, _ordinal, cond_sql, describe_condition, rules_from_ruleset


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
    no customer has metrics yet.

    What the run in force's RunCalibration already holds is read, not measured; the rest is
    measured in at most two scans and merged into it. Queries: the run, its calibration, then
    (inside one transaction) at most a cut statement, two scans and the merge, whatever the number
    of conditions."""
    return _calibrate(rules, as_of)


def calibrate_ruleset(*, ruleset: RuleSet) -> list[ConditionCalibration]:
    """`calibrate()` for a stored rule set (two more queries: its groups and conditions)."""
    return calibrate(rules_from_ruleset(ruleset))


def calibrate_run(*, run_id: int) -> None:
    """After a run commits: measure every metric of the catalogue and every condition of the rules
    in force over what it stored, so the rule page (and an editor trying any metric) reads them."""
    ruleset = RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).first()
    rules = rules_from_ruleset(ruleset) if ruleset else Rules(())
    run = RetierRun.objects.in_force().values_list("id", flat=True).first()
    if run == run_id:  # a later run is in force already: it measures for itself
        _calibrate(rules, None, every_metric=True)


# --- internals --------------------------------------------------------------------------------

CHUNK = 7  # metrics counted per histogram statement: their bucket combinations stay a few thousand
Counts = tuple[int, "int | None", "int | None"]  # passing, eligible, passing among the eligible


@dataclass(frozen=True)
class MetricStats:
    """One metric measured: its spread, how many have a value, and its histogram."""

    spread: Spread
    valued: int
    scale: Scale
    edges: list[Decimal]
    counts: dict[int, int]  # width_bucket's answer (1 = the first bucket) -> customers

    def to_json(self) -> dict[str, Any]:
        s = self.spread
        return {
            "spread": [_str(v) for v in (s.low, s.high, s.mean, s.least_positive, s.greatest_negative)],
            "valued": self.valued,
            "scale": self.scale,
            "edges": [_str(e) for e in self.edges],
            "counts": {str(k): n for k, n in self.counts.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MetricStats:
        low, high, mean, positive, negative = (_dec(v) for v in data["spread"])
        return cls(
            Spread(low, high, mean=mean, least_positive=positive, greatest_negative=negative),
            data["valued"],
            data["scale"],
            [Decimal(e) for e in data["edges"]],
            {int(k): n for k, n in data["counts"].items()},
        )


def _calibrate(rules: Rules, as_of: dt.date | None, *, every_metric: bool = False) -> list[ConditionCalibration]:
    run = RetierRun.objects.in_force().values("id", "as_of", "cuts").first() or {"id": None, "as_of": None, "cuts": []}
    own_run = as_of is None or as_of == run["as_of"]  # the stored calibration counts days to the run's as-of
    as_of = as_of or run["as_of"]
    stored = RunCalibration.objects.filter(run_id=run["id"]).first() if own_run and run["id"] else None
    known_metrics = {m: MetricStats.from_json(v) for m, v in (stored.metrics if stored else {}).items()}
    known: dict[str, Any] = dict(stored.conditions) if stored else {}
    column = _column(as_of)
    table = sql.compose("{table} m", table=sql.name(CustomerMetrics._meta.db_table))
    placed = _placed(rules)
    with transaction.atomic(), connection.cursor() as cursor:
        sql.set_local(cursor, jit="off")
        from_run, kept = cuts_from_json(run["cuts"]), _kept_cuts(known)
        resolved, sources = _resolve(cursor, [c for _, _, c in placed], from_run, kept, table, column)
        recorded = from_run | kept
        counted_cuts = {
            _cut_key(k): [None if cut.value is None else plain(cut.value), cut.eligible]
            for k, cut in resolved.items()
            if k not in recorded and cut is not None
        }
        placed = [(level, where, _with_cut(c, resolved)) for level, where, c in placed]
        wanted = list(METRICS) if every_metric else [c.metric for _, _, c in placed]
        metrics = [m for m in dict.fromkeys(wanted) if m not in known_metrics]
        conditions = {_key(c): c for _, _, c in placed if _key(c) not in known}
        total = stored.total if stored else None
        measured: dict[str, MetricStats] = {}
        counted: dict[str, Counts] = {}
        if metrics or conditions or total is None:
            total, measured, counted = _measure(cursor, metrics, list(conditions.values()), table, column)
            known_metrics |= measured
            known |= counted
        if own_run and run["id"] and total and (measured or counted or counted_cuts):
            _store(cursor, run["id"], total, measured, counted | counted_cuts)
    if not total:
        return []
    return [
        _calibrated(
            level,
            where,
            cond,
            sources.get(key_of(cond), "") if cond.relative else "",
            total,
            tuple(known[_key(cond)]),
            known_metrics[cond.metric],
        )  # fmt: skip
        for level, where, cond in placed
    ]


def _key(cond: Cond) -> str:
    """What a condition's passing counts depend on: metric, comparison, the number compared with,
    and (relative) the population counted within."""
    return f"{cond.metric} {cond.op} {plain(cond.threshold)} {cond.population if cond.relative else ''}".strip()


def _cut_key(key: Key) -> str:
    """A cut resolved since the run, kept with the conditions' counts: "cut net_margin repeat 95"."""
    metric, population, percentile = key
    return f"cut {metric} {population} {plain(percentile)}"


def kept_cuts(*, run_id: int | None) -> dict[Key, Cut]:
    """The cuts calibrate() resolved since run `run_id` and kept with its calibration (one query)."""
    kept = RunCalibration.objects.filter(run_id=run_id).values_list("conditions", flat=True).first()
    return _kept_cuts(kept or {})


def _kept_cuts(kept: dict[str, Any]) -> dict[Key, Cut]:
    cuts = {}
    for name, (value, eligible) in ((k, v) for k, v in kept.items() if k.startswith("cut ")):
        _, metric, population, percentile = name.split(" ")
        cuts[(metric, population, Decimal(percentile))] = Cut(None if value is None else Decimal(value), eligible)
    return cuts


def _store(cursor: Any, run_id: int, total: int, metrics: dict[str, MetricStats], conditions: dict[str, Any]) -> None:
    """Merge what was measured into the run's calibration (one statement; concurrent merges keep
    each other's keys, and a key measured twice has the same value)."""
    cursor.execute(
        sql.compose(
            "INSERT INTO {table} (run_id, total, metrics, conditions, computed_at) VALUES (%s, %s, %s, %s, now())"
            " ON CONFLICT (run_id) DO UPDATE SET metrics = {table}.metrics || EXCLUDED.metrics,"
            " conditions = {table}.conditions || EXCLUDED.conditions",
            table=sql.name(RunCalibration._meta.db_table),
        ),
        [
            run_id,
            total,
            json.dumps({m: s.to_json() for m, s in metrics.items()}),
            json.dumps(conditions),
        ],
    )


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
    cursor: Any, conditions: list[Cond], from_run: dict[Key, Cut], kept: dict[Key, Cut], table: str, column: Any
) -> tuple[dict[Key, Any], dict[Key, str]]:
    """The cut of every relative condition: given, the run in force's (or one measured since and
    kept with its calibration), or resolved now (one statement for all those missing); and where
    each came from, in words."""
    given = {key_of(c): c.cut for c in conditions if c.relative and c.cut is not None}
    relative = tuple(c for c in conditions if c.relative and key_of(c) not in given)
    resolved, _ = resolve_missing(
        cursor, Rules((Group(2, "all", relative),)), kept | from_run, source=table, source_params=[], column=column
    )
    cuts = given | {key_of(c): c.cut for c in resolved.conditions()}
    sources = {key: "in this run" for key in given} | {
        key_of(c): "in the last run"
        if key_of(c) in from_run
        else "over the stored metrics (no run has resolved it yet)"
        for c in relative
    }
    return cuts, sources


def _with_cut(cond: Cond, cuts: dict[Key, Any]) -> Cond:
    return replace(cond, cut=cuts[key_of(cond)]) if cond.relative else cond


def _measure(
    cursor: Any, metrics: list[str], conditions: list[Cond], table: str, column: Any
) -> tuple[int, dict[str, MetricStats], dict[str, Counts]]:
    """Statements 3 and 4: the customer count, these metrics' spreads and histograms, these
    conditions' passing counts."""
    total, spreads, passing = _scan(cursor, conditions, metrics, table, column)
    edges = {m: choose_edges(m, spreads[m][0]) for m in metrics}
    counts = _histograms(cursor, {m: e for m, (_, e) in edges.items() if len(e) > 1}, table, column)
    measured = {
        m: MetricStats(spreads[m][0], spreads[m][1], edges[m][0], edges[m][1], counts.get(m, {1: spreads[m][1]}))
        for m in metrics
    }
    return total, measured, {_key(c): p for c, p in zip(conditions, passing)}


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
    """Statement 4: customers per bucket of every metric ({metric: {bucket: n}}), `CHUNK` metrics
    a statement. Grouped by the metrics' buckets together (a few thousand combinations) and
    summed per metric here: a plain GROUP BY runs on parallel workers, GROUPING SETS (one hash
    table per metric) does not and took three times as long at 1M customers."""
    metrics = list(edges)
    counts: dict[str, dict[int, int]] = {m: {} for m in metrics}
    for start in range(0, len(metrics), CHUNK):
        chunk = metrics[start : start + CHUNK]
        items, params = [], []
        for metric in chunk:
            array = "bigint[]" if METRICS[metric].whole else "numeric[]"
            items.append(f"width_bucket({column(metric)}, CAST(%s AS {array}))")
            params.append([int(e) if METRICS[metric].whole else e for e in edges[metric]])
        statement = sql.compose(
            "SELECT {items}, COUNT(*) FROM {table} GROUP BY {positions}",
            items=sql.join(", ", items),
            table=table,
            positions=", ".join(str(i + 1) for i in range(len(chunk))),
        )
        cursor.execute(statement, params)
        for *buckets_of_row, n in cursor.fetchall():
            for metric, bucket in zip(chunk, buckets_of_row):
                if bucket is not None:
                    counts[metric][bucket] = counts[metric].get(bucket, 0) + n
    return counts


def _calibrated(
    level: int, where: str, cond: Cond, source: str, total: int, counts: tuple[Any, ...], stats: MetricStats
) -> ConditionCalibration:
    held, eligible, held_eligible = counts
    spread, edges = stats.spread, stats.edges
    threshold = cond.threshold
    bars = tuple(buckets(cond.metric, edges, spread.high, stats.counts, (cond.op, threshold))) if edges else ()
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
        missing=total - stats.valued,
        eligible=eligible,
        passing_eligible=held_eligible,
        low=spread.low,
        high=spread.high,
        scale=stats.scale,
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
    found = [f"{c.where}: {w}" for w in condition_warnings(c.condition.metric, c.condition.op, c.condition.value)]
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


def _str(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"
