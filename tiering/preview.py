"""What a rule set would do to every customer, computed in the database and written nowhere.

The preview compares the tier the rules would give each customer, from their latest stored
metrics (CustomerMetrics), with the tier they hold now. It ignores downgrade grace: it shows
where the rules place people, and a customer with grace left would drop only after that many
runs. Customers never re-tiered (no CustomerMetrics row yet) are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction

from customers.models import Customer

from .models import CustomerMetrics, RuleSet
from .rules import Rules, rules_from_ruleset, tier_sql

SAMPLE_SIZE = 50


@dataclass(frozen=True)
class Mover:
    customer_id: int
    name: str
    external_id: str
    from_tier: int
    to_tier: int


@dataclass(frozen=True)
class Preview:
    matrix: dict[tuple[int, int], int]  # (from level, to level) -> customers
    movers: list[Mover] = field(default_factory=list)  # a sample, biggest net margin first in each move
    total: int = 0

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
    """The from→to matrix over all customers and a sample of movers. Four reads, no writes."""
    return preview_rules(rules=rules_from_ruleset(ruleset), sample=sample)


def preview_rules(*, rules: Rules, sample: int = SAMPLE_SIZE) -> Preview:
    table = CustomerMetrics._meta.db_table
    expression, params = tier_sql(rules, column=lambda m: f"m.{connection.ops.quote_name(m)}")
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL jit = off")  # JIT compiling costs ~1 s on a scan this size
        # Query 1: every customer counted by (tier held, tier the rules give).
        cursor.execute(f"SELECT m.tier, {expression}, COUNT(*) FROM {table} m GROUP BY 1, 2", params)
        matrix = {(held, new): n for held, new, n in cursor.fetchall()}
        movers = _sample_movers(cursor, table, expression, params, matrix, sample)
    return Preview(matrix=matrix, movers=movers, total=sum(matrix.values()))


def _sample_movers(cursor, table, expression, params, matrix, sample) -> list[Mover]:
    """Query 2: up to `sample` movers, shared out across the kinds of move so a rare move still
    shows, the biggest net margins first within each."""
    moves = [pair for pair, n in matrix.items() if pair[0] != pair[1] and n]
    if not moves or sample <= 0:
        return []
    per_move = -(-sample // len(moves))
    customer = connection.ops.quote_name(Customer._meta.db_table)
    cursor.execute(
        f"""
        SELECT s.customer_id, c.name, c.external_id, s.tier, s.new_tier FROM (
            SELECT customer_id, tier, new_tier,
                   ROW_NUMBER() OVER (PARTITION BY tier, new_tier ORDER BY net_margin DESC, customer_id) AS rank
            FROM (SELECT m.customer_id, m.tier, m.net_margin, {expression} AS new_tier FROM {table} m) AS t
            WHERE tier <> new_tier
        ) AS s JOIN {customer} c ON c.id = s.customer_id
        WHERE s.rank <= %s
        ORDER BY s.tier, s.new_tier, s.rank
        LIMIT %s
        """,
        [*params, per_move, sample],
    )
    return [Mover(*row) for row in cursor.fetchall()]
