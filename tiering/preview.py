"""What a rule set would do to every customer, computed in the database and written nowhere.

The preview compares the tier the rules would give each customer, from their latest stored
metrics (CustomerMetrics), with the tier they hold now. It ignores downgrade grace: it shows
where the rules place people, and a customer with grace left would drop only after that many
runs. Customers never re-tiered (no CustomerMetrics row yet) are not counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction

from customers.models import Customer

from . import sql
from .calibration import kept_cuts
from .cuts import cuts_from_json, relative_keys, resolve_cuts, resolve_missing, with_cuts
from .metrics import metric_sql
from .models import CustomerMetrics, RetierRun, RuleSet
from .rules import Rules, rules_from_ruleset, tier_sql

SAMPLE_SIZE = 50


@dataclass(frozen=True)
class Mover:
    customer_id: int
    name: str
    external_id: str
    from_tier: int
    to_tier: int
    net_margin: Decimal | None = None


@dataclass(frozen=True)
class Share:
    """One tier's share of the customers, of the 12-month revenue and of the net margin."""

    level: int
    customers: float
    revenue: float | None  # None when nobody has revenue (or margin)
    margin: float | None
    count: int = 0  # customers in the tier


@dataclass(frozen=True)
class Preview:
    matrix: dict[tuple[int, int], int]  # (from level, to level) -> customers
    movers: list[Mover] = field(default_factory=list)  # a sample, biggest net margin first in each move
    total: int = 0
    as_of: dt.date | None = None  # the day counts counted to this date (the run in force's)
    # (from level, to level) -> (revenue, net margin) of those customers, for the shares
    sums: dict[tuple[int, int], tuple[Decimal, Decimal]] = field(default_factory=dict)

    def shares(self, *, after: bool) -> list[Share]:
        """Each tier's share of customers, revenue and net margin, held now or (`after`) as the rules
        would place them, highest tier first."""
        side = 1 if after else 0
        levels = sorted({key[side] for key in self.matrix}, reverse=True)
        revenue = sum(r for r, _ in self.sums.values()) or None
        margin = sum(m for _, m in self.sums.values()) or None

        def part(level: int, index: int, whole: Decimal | None) -> float | None:
            mine = sum(v[index] for key, v in self.sums.items() if key[side] == level)
            return None if not whole else float(mine / whole)

        return [
            Share(
                level,
                sum(n for key, n in self.matrix.items() if key[side] == level) / (self.total or 1),
                part(level, 0, revenue),
                part(level, 1, margin),
                sum(n for key, n in self.matrix.items() if key[side] == level),
            )
            for level in levels
        ]

    @property
    def revenue(self) -> Decimal:
        """The 12-month revenue of every customer counted."""
        return sum((r for r, _ in self.sums.values()), Decimal(0))

    @property
    def margin(self) -> Decimal:
        return sum((m for _, m in self.sums.values()), Decimal(0))

    @property
    def shares_before(self) -> list[Share]:
        return self.shares(after=False)

    @property
    def shares_after(self) -> list[Share]:
        return self.shares(after=True)

    @property
    def moved(self) -> int:
        return sum(n for (a, b), n in self.matrix.items() if a != b)

    @property
    def up(self) -> int:
        return sum(n for (a, b), n in self.matrix.items() if b > a)

    @property
    def down(self) -> int:
        return sum(n for (a, b), n in self.matrix.items() if b < a)


def preview_ruleset(*, ruleset: RuleSet, sample: int = SAMPLE_SIZE) -> Preview:
    """The from→to matrix over all customers and a sample of movers. Five reads, no writes."""
    return preview_rules(rules=rules_from_ruleset(ruleset), sample=sample)


def preview_rules(*, rules: Rules, sample: int = SAMPLE_SIZE) -> Preview:
    table = sql.name(CustomerMetrics._meta.db_table)
    # the day counts are derived from stored dates, to the as_of of the run in force (a row no
    # run wrote counts to its own)
    run = RetierRun.objects.in_force().values("id", "as_of", "cuts").first() or {"id": None, "as_of": None, "cuts": []}
    recorded = cuts_from_json(run["cuts"])
    if any(key not in recorded for key in relative_keys(rules)):
        # a cut the rule page resolved since the run (a draft's new percentile), over the same metrics
        recorded = kept_cuts(run_id=run["id"]) | recorded
    as_of = run["as_of"]
    counted_to = sql.literal(as_of) if as_of else None
    column = lambda m: metric_sql(m, alias="m", as_of=counted_to)  # noqa: E731
    with transaction.atomic(), connection.cursor() as cursor:
        sql.set_local(cursor, jit="off")  # JIT compiling costs ~1 s on a scan this size
        # relative thresholds over the stored metrics, as a run would: the cuts the run in force
        # resolved (or the rule page since) are over these same metrics and are taken as they are;
        # any other is resolved here (one statement)
        rules, _ = resolve_missing(
            cursor,
            rules,
            recorded,
            source=sql.compose("{table} m", table=table),
            source_params=[],
            column=column,
        )
        expression, params = tier_sql(rules, column=column)
        # Query 1: every customer counted by (tier held, tier the rules give).
        # (with the revenue and net margin of each cell, for the tiers' shares before and after)
        cursor.execute(
            sql.compose(
                "SELECT m.tier, {tier}, COUNT(*), SUM(m.revenue), SUM(m.net_margin) FROM {table} m GROUP BY 1, 2",
                tier=expression,
                table=table,
            ),
            params,
        )
        rows = cursor.fetchall()
        matrix = {(held, new): n for held, new, n, _, _ in rows}
        sums = {(held, new): (revenue, margin) for held, new, _, revenue, margin in rows}
        movers = _sample_movers(cursor, table, expression, params, matrix, sample)
    return Preview(matrix=matrix, movers=movers, total=sum(matrix.values()), as_of=as_of, sums=sums)


def _sample_movers(cursor, table, expression, params, matrix, sample) -> list[Mover]:
    """Query 2: up to `sample` movers, taken round-robin across the kinds of move (the biggest net
    margin of each kind, then the second of each, ...) so a rare move still shows and a common
    one fills what the rare ones leave. Listed from the highest tier first."""
    if sample <= 0 or not any(a != b and n for (a, b), n in matrix.items()):
        return []
    # OFFSET 0 stops PostgreSQL pulling the subquery up, which would compute the tier expression
    # twice a row (in the WHERE and in the window).
    statement = """
        SELECT s.customer_id, c.name, c.external_id, s.tier, s.new_tier, s.net_margin, s.rank FROM (
            SELECT customer_id, tier, new_tier, net_margin,
                   ROW_NUMBER() OVER (PARTITION BY tier, new_tier ORDER BY net_margin DESC, customer_id) AS rank
            FROM (SELECT m.customer_id, m.tier, m.net_margin, {tier} AS new_tier FROM {table} m OFFSET 0) AS t
            WHERE tier <> new_tier
        ) AS s JOIN {customer} c ON c.id = s.customer_id
        WHERE s.rank <= %s
        ORDER BY s.rank, s.tier DESC, s.new_tier DESC
        LIMIT %s
    """
    customer = sql.name(Customer._meta.db_table)
    cursor.execute(sql.compose(statement, tier=expression, table=table, customer=customer), [*params, sample, sample])
    rows = sorted(cursor.fetchall(), key=lambda r: (-r[3], -r[4], r[6]))
    return [Mover(*row[:5], net_margin=row[5]) for row in rows]


def rules_as_applied(*, ruleset: RuleSet) -> Rules:
    """The rule set's rules with their relative thresholds as the run in force resolved them (read
    from its record, one query), so a page explains a tier with the numbers that decided it. When
    that run applied other rules (one just published), the cuts are resolved over the stored
    metrics instead, as the preview does (one more statement)."""
    rules = rules_from_ruleset(ruleset)
    keys = relative_keys(rules)
    if not keys:
        return rules
    run = RetierRun.objects.in_force().filter(ruleset=ruleset).values_list("cuts", flat=True).first()
    recorded = cuts_from_json(run or [])
    if all(key in recorded for key in keys):
        return with_cuts(rules, recorded)
    as_of = RetierRun.objects.in_force().values_list("as_of", flat=True).first()
    column = lambda m: metric_sql(m, alias="m", as_of=sql.literal(as_of) if as_of else None)  # noqa: E731
    table = sql.name(CustomerMetrics._meta.db_table)
    with connection.cursor() as cursor:
        return resolve_cuts(
            cursor, rules, source=sql.compose("{table} m", table=table), source_params=[], column=column
        )
