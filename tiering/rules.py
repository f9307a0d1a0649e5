"""The tier rules as plain values: decide one customer's tier, or compile the rules to SQL.

`decide()` is the pure function that says which tier a customer's metrics earn under a rule set
and why. `tier_sql()` compiles the same rules to ONE SQL expression so the nightly run can tier a
million customers in a single statement. A property test (tests/tiering/test_rules_property.py)
holds the two to the same answer.
`why_sql()` compiles the why the same way, for PostgreSQL (tests/tiering/test_why_sql.py holds it
to decide().why()).

Semantics, identical in both:
- groups are tried from the highest tier level down; the first group that matches wins;
  tier 1 is the fallback for anyone no group places higher;
- a group with `match="all"` needs every condition to hold, `match="any"` at least one;
  a group with no condition never matches (publishing refuses one anyway);
- a missing value (None / SQL NULL, e.g. days since last order of a customer with no order)
  makes every comparison on it fail, `ne` included. SQL's three-valued logic would otherwise
  turn `NOT (NULL = 5)` into NULL, so each comparison is wrapped as COALESCE((...), FALSE);
- numbers compare exactly: Decimal in Python; NUMERIC in PostgreSQL (integer columns are
  promoted to numeric, never the threshold rounded to an integer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from . import sql
from .catalogue import INTEGER_METRICS, METRICS, OPERATORS, format_value, plain
from .tiers import FALLBACK_LEVEL

MATCHES = ("all", "any")
Params = list[Any]  # %s parameters, in order (Django cursor style)
Json = dict[str, Any]


@dataclass(frozen=True)
class Cond:
    metric: str
    op: str  # gt gte lt lte eq ne
    value: Decimal

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; known: {', '.join(METRICS)}")
        if self.op not in OPERATORS:
            raise ValueError(f"unknown comparison {self.op!r}; known: {', '.join(OPERATORS)}")
        if not isinstance(self.value, Decimal):
            object.__setattr__(self, "value", Decimal(str(self.value)))

    def holds(self, value: Decimal | int | float | None) -> bool:
        if value is None:
            return False
        return _compare(as_decimal(value), self.op, self.value)


@dataclass(frozen=True)
class Group:
    level: int
    match: str  # "all" | "any"
    conditions: tuple[Cond, ...]

    def __post_init__(self) -> None:
        if self.match not in MATCHES:
            raise ValueError(f"match must be 'all' or 'any', not {self.match!r}")


@dataclass(frozen=True)
class Rules:
    groups: tuple[Group, ...]
    grace_runs: int = 0
    version: int | None = None  # the rule set's version, for the why; None for ad-hoc rules

    def tried(self) -> tuple[Group, ...]:
        """Groups in the order they are tried: highest level first."""
        return tuple(sorted(self.groups, key=lambda g: -g.level))


@dataclass(frozen=True)
class Check:
    level: int
    metric: str
    op: str
    threshold: Decimal
    value: Decimal | int | None
    held: bool


@dataclass(frozen=True)
class Decision:
    level: int
    checks: tuple[Check, ...]
    matches: tuple[tuple[int, str], ...] = ()  # (level, "all"/"any") of each group tried
    version: int | None = None

    def why(self) -> Json:
        """JSON-ready explanation: the tier, and every condition of this tier and the ones above.

        Shape: {"tier": 2, "version": 1, "groups": [{"level": 3, "match": "all", "held": false,
        "conditions": [{"metric", "label", "kind", "op", "symbol", "threshold", "value", "held"}]}]}
        with numbers as strings (exact, JSON has no decimals) and a missing value as null.
        Render it with `describe_why()`.
        """
        groups = []
        for level, match in self.matches:
            checks = [c for c in self.checks if c.level == level]
            groups.append(
                {
                    "level": level,
                    "match": match,
                    "held": level == self.level,
                    "conditions": [_check_json(c) for c in checks],
                }
            )
        return {"tier": self.level, "version": self.version, "groups": groups}


def decide(metrics: Mapping[str, Decimal | int | None], rules: Rules) -> Decision:
    """The tier these metrics earn under `rules`, with every condition tried and its outcome.

    A metric missing from `metrics` counts as None (the comparison fails).
    """
    checks: list[Check] = []
    tried: list[tuple[int, str]] = []
    for group in rules.tried():
        group_checks = [
            Check(group.level, c.metric, c.op, c.value, metrics.get(c.metric), c.holds(metrics.get(c.metric)))
            for c in group.conditions
        ]
        checks.extend(group_checks)
        tried.append((group.level, group.match))
        if _group_holds(group.match, [c.held for c in group_checks]):
            return Decision(group.level, tuple(checks), tuple(tried), rules.version)
    return Decision(FALLBACK_LEVEL, tuple(checks), tuple(tried), rules.version)


def tier_sql(rules: Rules, column: Callable[[str], str] = lambda m: m) -> tuple[str, Params]:
    """ONE SQL expression giving the tier level, with %s params (Django cursor style).

    `column(metric)` names the SQL expression of a metric, e.g. lambda m: f"cm.{m}".
    """
    placing = [g for g in rules.tried() if g.level != FALLBACK_LEVEL]  # the fallback is the answer anyway
    matched = [_group_sql(group, column) for group in placing]
    return _case_sql(placing, matched), [p for _, params in matched for p in params]


def _case_sql(tried: tuple[Group, ...] | list[Group], matched: list[tuple[str, Params]]) -> str:
    """The tier of the first group tried that matches, else the fallback."""
    if not tried:
        return str(FALLBACK_LEVEL)
    whens = (
        sql.compose("WHEN {matched} THEN {level}", matched=text, level=str(int(group.level)))
        for group, (text, _) in zip(tried, matched)
    )
    return sql.compose("(CASE {whens} ELSE {fallback} END)", whens=sql.join(" ", whens), fallback=str(FALLBACK_LEVEL))


def why_sql(rules: Rules, column: Callable[[str], str] = lambda m: m, tier: str | None = None) -> tuple[str, Params]:
    """ONE PostgreSQL expression giving, as jsonb, exactly what `decide(metrics, rules).why()` gives
    for the row's metrics (the same JSON once parsed), with %s params (Django cursor style).

    It lets the nightly run write the history of every mover in one INSERT … SELECT instead of
    running decide() in Python per mover. As in decide() and why():
    - each condition: its fixed part (metric, label, kind, op, symbol, threshold as plain()
      writes it), the value as the column's text (numeric(14,2) reads '3120.50', integer '12':
      what f"{Decimal:f}" writes for what psycopg returns; NULL is null) and `held` from the same
      comparison tier_sql() uses (FALSE, never NULL, on a missing value);
    - a group appears while no group tried before it matched (highest level first), and is
      "held" when its level is the tier.
    The JSON is built as text and cast to jsonb once: nested jsonb_build_object() calls re-read
    every nested value at each level and were twice as slow (3.0 s against 1.5 s for 50,000
    rows of 12 conditions; decide() in Python with COPY took 4.5 s).
    `column(metric)` names a metric's SQL expression; `tier` is a parameter-free SQL expression of
    the tier the rules give (e.g. a column holding tier_sql()'s result), derived here if None.
    """
    tried = rules.tried()
    matched = [_group_sql(group, column) for group in tried]
    tier_params: Params = []  # repeated wherever the tier is used
    if tier is None:
        tier = _case_sql(tried, matched)
        tier_params = [p for _, params in matched for p in params]
    # From the last group tried to the first: group i, then the rest only if group i did not match.
    groups = "''"
    params: Params = []
    for i in reversed(range(len(tried))):
        text, text_params = _group_why_sql(tried[i], column, tier, tier_params)
        if i < len(tried) - 1:
            matched_sql, matched_params = matched[i]
            text = sql.compose(
                "{text} || (CASE WHEN {matched} THEN '' ELSE ',' || {rest} END)",
                text=text,
                matched=matched_sql,
                rest=groups,
            )
            text_params = [*text_params, *matched_params, *params]
        groups, params = text, text_params
    why = sql.compose(
        """CAST('{{"tier": ' || CAST(({tier}) AS text) || ', "version": {version}, "groups": [' || {groups} || ']}}' AS jsonb)""",
        tier=tier,
        version=json.dumps(rules.version),
        groups=groups,
    )
    return why, [*tier_params, *params]


def rules_from_ruleset(ruleset: Any) -> Rules:
    """The plain Rules of a stored RuleSet.

    Two queries (groups with tiers, conditions), or none when the caller prefetched
    "groups__tier" and "groups__conditions" (list pages).
    """
    if "groups" in getattr(ruleset, "_prefetched_objects_cache", {}):
        groups = ruleset.groups.all()
    else:
        groups = ruleset.groups.select_related("tier").prefetch_related("conditions")
    return Rules(
        groups=tuple(
            Group(g.tier.level, g.match, tuple(Cond(c.metric, c.op, c.value) for c in g.conditions.all()))
            for g in groups
        ),
        grace_runs=ruleset.grace_runs,
        version=ruleset.version,
    )


# --- explaining -------------------------------------------------------------------------------


def describe_condition(metric: str, op: str, value: object) -> str:
    """One condition in plain words: "Net margin ≥ 5,000"."""
    label = METRICS[metric].label if metric in METRICS else metric
    return f"{label} {(OPERATORS[op].symbol if op in OPERATORS else op)} {format_value(metric, value)}"


def describe_why(why: Json) -> list[Json]:
    """Each group of a stored why as plain words, for pages.

    Returns [{"level", "held", "text": "Tier 3 needs ALL of:", "conditions": [{"text":
    "Net margin ≥ 5,000", "has": "3,120", "held": False}]}].
    """
    described = []
    for group in why.get("groups", []):
        needs = "ALL of" if group["match"] == "all" else "ANY of"
        described.append(
            {
                "level": group["level"],
                "held": group["held"],
                "text": f"Tier {group['level']} needs {needs}:",
                "conditions": [
                    {
                        "text": describe_condition(c["metric"], c["op"], c["threshold"]),
                        "has": format_value(c["metric"], c["value"]),
                        "held": c["held"],
                    }
                    for c in group["conditions"]
                ],
            }
        )
    return described


# --- internals --------------------------------------------------------------------------------


def as_decimal(value: Decimal | int | float) -> Decimal:
    """Exact Decimal of a metric value; a float (a test's plain value) as its shortest repr:
    0.05 as Decimal("0.05"), not as 0.05000000000000000277."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _compare(value: Decimal, op: str, threshold: Decimal) -> bool:
    return OPERATORS[op].holds(value, threshold)


def _group_holds(match: str, held: list[bool]) -> bool:
    if not held:
        return False  # an empty group never places anyone
    return all(held) if match == "all" else any(held)


def _group_sql(group: Group, column: Callable[[str], str]) -> tuple[str, Params]:
    if not group.conditions:
        return "(1 = 0)", []
    compared = [_cond_sql(cond, column(cond.metric)) for cond in group.conditions]
    joiner = " AND " if group.match == "all" else " OR "
    text = sql.compose("({conditions})", conditions=sql.join(joiner, (c for c, _ in compared)))
    return text, [p for _, params in compared for p in params]


def _group_why_sql(group: Group, column: Callable[[str], str], tier: str, tier_params: Params) -> tuple[str, Params]:
    """One group of why() as JSON text (never NULL): level, match, held (its level is the tier),
    conditions. Fixed pieces travel as params, so nothing in a label or threshold needs quoting."""
    conditions: list[str] = []
    params: Params = []
    for cond in group.conditions:
        held, held_params = _cond_sql(cond, column(cond.metric))
        fixed = _check_json(Check(group.level, cond.metric, cond.op, cond.value, None, False))
        del fixed["value"], fixed["held"]
        conditions.append(sql.compose(_CONDITION_WHY, value=column(cond.metric), held=held))
        params.extend([json.dumps(fixed)[:-1] + ', "value": ', *held_params])  # the object without its "}"
    level = int(group.level)
    head = json.dumps({"level": level, "match": group.match})[:-1] + ', "held": '
    text = sql.compose(
        """CAST(%s AS text) || (CASE WHEN ({tier}) = {level} THEN 'true' ELSE 'false' END)"""
        """ || ', "conditions": [' || {body} || ']}}'""",
        tier=tier,
        level=str(level),
        body=sql.join(" || ',' || ", conditions) if conditions else "''",
    )
    return text, [head, *tier_params, *params]


# One condition of why() as JSON text: its fixed part (a parameter), the value, whether it held.
_CONDITION_WHY = (
    """CAST(%s AS text) || COALESCE('"' || CAST({value} AS text) || '"', 'null')"""
    """ || (CASE WHEN {held} THEN ', "held": true}}' ELSE ', "held": false}}' END)"""
)


def _cond_sql(cond: Cond, col: str) -> tuple[str, Params]:
    """One comparison that is FALSE, never NULL, when the value is missing."""
    if cond.metric in INTEGER_METRICS:
        return _integer_cond_sql(cond.op, cond.value, col)
    # CAST keeps the threshold NUMERIC: PostgreSQL compares numeric to numeric exactly.
    compared = sql.compose("COALESCE(({col} {op} CAST(%s AS NUMERIC)), FALSE)", col=col, op=OPERATORS[cond.op].sql)
    return compared, [cond.value]


def _integer_cond_sql(op: str, value: Decimal, col: str) -> tuple[str, Params]:
    """The same comparison against a whole-number column with a whole-number threshold.

    For whole x: x > 2.5 ⇔ x > 2, x >= 2.5 ⇔ x >= 3, x < 2.5 ⇔ x < 3, x <= 2.5 ⇔ x <= 2;
    x = 2.5 never holds and x ≠ 2.5 holds whenever x has a value.
    """
    floor, ceil = int(value.to_integral_value(ROUND_FLOOR)), int(value.to_integral_value(ROUND_CEILING))
    whole = floor == ceil
    if op == "eq" and not whole:
        return "(1 = 0)", []
    if op == "ne" and not whole:
        return sql.compose("({col} IS NOT NULL)", col=col), []
    threshold = {"gt": floor, "gte": ceil, "lt": ceil, "lte": floor}.get(op, floor)
    return sql.compose("COALESCE(({col} {op} %s), FALSE)", col=col, op=OPERATORS[op].sql), [threshold]


def _check_json(c: Check) -> Json:
    metric = METRICS[c.metric]
    return {
        "metric": c.metric,
        "label": metric.label,
        "kind": metric.kind,
        "op": c.op,
        "symbol": OPERATORS[c.op].symbol,
        "threshold": plain(c.threshold),
        "value": None if c.value is None else f"{as_decimal(c.value):f}",  # as stored: 3120.50 stays 3120.50
        "held": c.held,
    }
