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
from .catalogue import INTEGER_METRICS, METRICS, OPERATORS, POPULATIONS, format_value, plain
from .tiers import FALLBACK_LEVEL

MATCHES = ("all", "any", "none")
RELATIVE_OPS = ("gt", "gte", "lt", "lte")  # a percentile cut is a bound: = and ≠ make no sense on one
Params = list[Any]  # %s parameters, in order (Django cursor style)
Json = dict[str, Any]


@dataclass(frozen=True)
class Cut:
    """How a run resolved one relative threshold: the percentile's value among the eligible
    customers (None when too few were eligible, catalogue.min_eligible: the floor applies alone)."""

    value: Decimal | None
    eligible: int

    def __post_init__(self) -> None:
        if self.value is not None and not isinstance(self.value, Decimal):
            object.__setattr__(self, "value", Decimal(str(self.value)))


@dataclass(frozen=True)
class Cond:
    """`metric op value`; or, relative (`percentile` set), `metric op` the percentile of the
    `population`'s values AND `metric op value` (the floor, which must also hold). A relative
    condition is resolved (`cut` set, tiering.cuts) before it decides anything."""

    metric: str
    op: str  # gt gte lt lte eq ne
    value: Decimal
    percentile: Decimal | None = None  # 0 < p < 100
    population: str = ""  # a key of catalogue.POPULATIONS
    cut: Cut | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; known: {', '.join(METRICS)}")
        if self.op not in OPERATORS:
            raise ValueError(f"unknown comparison {self.op!r}; known: {', '.join(OPERATORS)}")
        if not isinstance(self.value, Decimal):
            object.__setattr__(self, "value", Decimal(str(self.value)))
        if self.percentile is not None:
            if not isinstance(self.percentile, Decimal):
                object.__setattr__(self, "percentile", Decimal(str(self.percentile)))
            if self.op not in RELATIVE_OPS:
                raise ValueError(f"a percentile threshold needs one of {', '.join(RELATIVE_OPS)}, not {self.op!r}")
            if self.population not in POPULATIONS:
                raise ValueError(f"unknown population {self.population!r}; known: {', '.join(POPULATIONS)}")

    @property
    def relative(self) -> bool:
        return self.percentile is not None

    @property
    def threshold(self) -> Decimal:
        """The number compared with: the value, or for a relative condition the stricter of the
        run's cut and the floor (the floor alone below the minimum population)."""
        if not self.relative:
            return self.value
        if self.cut is None:
            raise ValueError(f"relative threshold on {self.metric} not resolved: resolve the cuts first")
        if self.cut.value is None:
            return self.value
        stricter = max if self.op in ("gt", "gte") else min
        return stricter(self.cut.value, self.value)

    def holds(self, value: Decimal | int | float | None) -> bool:
        if value is None:
            return False
        return _compare(as_decimal(value), self.op, self.threshold)


@dataclass(frozen=True)
class Group:
    """A tier's conditions joined by `match` (ALL / ANY / NONE of them holds), and nested groups
    (`groups`, same level) that count as one condition each."""

    level: int
    match: str  # "all" | "any" | "none"
    conditions: tuple[Cond, ...]
    groups: tuple[Group, ...] = ()

    def __post_init__(self) -> None:
        if self.match not in MATCHES:
            raise ValueError(f"match must be one of {', '.join(MATCHES)}, not {self.match!r}")

    def all_conditions(self) -> tuple[Cond, ...]:
        """Its conditions and those of every nested group, depth first."""
        return self.conditions + tuple(c for g in self.groups for c in g.all_conditions())


@dataclass(frozen=True)
class Rules:
    groups: tuple[Group, ...]
    grace_runs: int = 0
    version: int | None = None  # the rule set's version, for the why; None for ad-hoc rules

    def tried(self) -> tuple[Group, ...]:
        """Groups in the order they are tried: highest level first."""
        return tuple(sorted(self.groups, key=lambda g: -g.level))

    def conditions(self) -> tuple[Cond, ...]:
        """Every condition, nested ones included."""
        return tuple(c for g in self.groups for c in g.all_conditions())


@dataclass(frozen=True)
class Check:
    level: int
    metric: str
    op: str
    threshold: Decimal
    value: Decimal | int | None
    held: bool
    cond: Cond | None = None  # the condition checked (for a relative one: its percentile and cut)


@dataclass(frozen=True)
class Decision:
    level: int
    checks: tuple[Check, ...]
    matches: tuple[tuple[int, str], ...] = ()  # (level, "all"/"any"/"none") of each group tried
    version: int | None = None
    tried: tuple[Json, ...] = ()  # each group tried, as why() shows it (nested groups inside)

    def why(self) -> Json:
        """JSON-ready explanation: the tier, and every condition of this tier and the ones above.

        Shape: {"tier": 2, "version": 1, "groups": [{"level": 3, "match": "all", "held": false,
        "conditions": [{"metric", "label", "kind", "op", "symbol", "threshold", "value", "held"}],
        "groups": [{"match", "held", "conditions", ...}]}]} with numbers as strings (exact, JSON has
        no decimals) and a missing value as null. A top group's "held" says its level is the tier;
        a nested group's that it held; "groups" appears only where a group has nested ones; a
        relative condition adds its percentile, population, floor, cut and eligible count.
        Render it with `describe_why()`.
        """
        groups = [{**g, "held": g["level"] == self.level} for g in self.tried]
        return {"tier": self.level, "version": self.version, "groups": groups}


def decide(metrics: Mapping[str, Decimal | int | None], rules: Rules) -> Decision:
    """The tier these metrics earn under `rules`, with every condition tried and its outcome.

    A metric missing from `metrics` counts as None (the comparison fails).
    """
    checks: list[Check] = []
    tried: list[Json] = []
    for group in rules.tried():
        held, node = _decide_group(group, metrics, checks)
        tried.append({"level": group.level, **node})
        if held:
            return Decision(group.level, tuple(checks), _matches(tried), rules.version, tuple(tried))
    return Decision(FALLBACK_LEVEL, tuple(checks), _matches(tried), rules.version, tuple(tried))


def _matches(tried: list[Json]) -> tuple[tuple[int, str], ...]:
    return tuple((g["level"], g["match"]) for g in tried)


def _decide_group(group: Group, metrics: Mapping[str, Decimal | int | None], checks: list[Check]) -> tuple[bool, Json]:
    """Whether the group holds, and its why node (match, held, conditions, nested groups)."""
    own = [Check(group.level, c.metric, c.op, c.threshold, metrics.get(c.metric), c.holds(metrics.get(c.metric)), c)
           for c in group.conditions]  # fmt: skip
    checks.extend(own)
    nested = [_decide_group(g, metrics, checks) for g in group.groups]
    held = _group_holds(group.match, [c.held for c in own] + [h for h, _ in nested])
    node: Json = {"match": group.match, "held": held, "conditions": [_check_json(c) for c in own]}
    if nested:
        node["groups"] = [n for _, n in nested]
    return held, node


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
      writes it, a relative condition's cut), the value as the column's text (numeric(14,2) reads
      '3120.50', integer '12': what f"{Decimal:f}" writes for what psycopg returns; NULL is null)
      and `held` from the same comparison tier_sql() uses (FALSE, never NULL, on a missing value);
    - a group appears while no group tried before it matched (highest level first), and is
      "held" when its level is the tier; a nested group is "held" when it holds.
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
    """The plain Rules of a stored RuleSet, nested groups under their parents.

    Two queries (groups with tiers, conditions), or none when the caller prefetched
    "groups__tier" and "groups__conditions" (list pages).
    """
    if "groups" in getattr(ruleset, "_prefetched_objects_cache", {}):
        stored = list(ruleset.groups.all())
    else:
        stored = list(ruleset.groups.select_related("tier").prefetch_related("conditions"))
    children: dict[int | None, list[Any]] = {}
    for g in sorted(stored, key=lambda g: g.pk):
        children.setdefault(g.parent_id, []).append(g)

    def build(g: Any, level: int) -> Group:
        conditions = tuple(
            Cond(c.metric, c.op, c.value, percentile=c.percentile, population=c.population or "")
            for c in g.conditions.all()
        )
        return Group(level, g.match, conditions, tuple(build(child, level) for child in children.get(g.pk, [])))

    roots = sorted(children.get(None, []), key=lambda g: -g.tier.level)
    return Rules(
        groups=tuple(build(g, g.tier.level) for g in roots), grace_runs=ruleset.grace_runs, version=ruleset.version
    )


# --- explaining -------------------------------------------------------------------------------


def describe_condition(metric: str, op: str, value: object, percentile: object = None, population: str = "") -> str:
    """One condition in plain words: "Net margin ≥ 5,000", or relative: "Net margin ≥ the 98th
    percentile of customers with 2+ orders in the window (and ≥ 500)"."""
    label = METRICS[metric].label if metric in METRICS else metric
    symbol = OPERATORS[op].symbol if op in OPERATORS else op
    if percentile is None:
        return f"{label} {symbol} {format_value(metric, value)}"
    whom = POPULATIONS[population].label if population in POPULATIONS else population
    return (
        f"{label} {symbol} the {_ordinal(str(percentile))} percentile of {whom}"
        f" (and {symbol} {format_value(metric, value)})"
    )


NEEDS = {"all": "ALL of", "any": "ANY of", "none": "NONE of"}


def describe_group(group: Group) -> list[str]:
    """A group's conditions in plain words, a nested group as one line: "ANY of (a; b)"."""
    lines = [describe_condition(c.metric, c.op, c.value, c.percentile, c.population) for c in group.conditions]
    return lines + [f"{NEEDS[g.match]} ({'; '.join(describe_group(g))})" for g in group.groups]


def describe_why(why: Json) -> list[Json]:
    """Each group of a stored why as plain words, for pages.

    Returns [{"level", "held", "text": "Tier 3 needs ALL of:", "conditions": [{"text":
    "Net margin ≥ 5,000", "has": "3,120", "held": False, "cut": "the 98th percentile in this run"}],
    "groups": [nested groups, the same shape without level]}].
    """
    return [
        {"level": group["level"], **_describe_group(group, f"Tier {group['level']} needs {NEEDS[group['match']]}:")}
        for group in why.get("groups", [])
    ]


def _describe_group(group: Json, text: str) -> Json:
    return {
        "held": group["held"],
        "text": text,
        "conditions": [
            {
                "text": describe_condition(c["metric"], c["op"], c["threshold"]),
                "has": format_value(c["metric"], c["value"]),
                "held": c["held"],
                "cut": describe_cut(c),
            }
            for c in group["conditions"]
        ],
        "groups": [_describe_group(g, f"{NEEDS[g['match']]}:") for g in group.get("groups", [])],
    }


def describe_cut(c: Json) -> str:
    """Where a relative condition's threshold came from, in words ("" for an absolute one):
    "the 98th percentile of customers with 2+ orders in this run", or why the floor applies."""
    if "percentile" not in c:
        return ""
    nth = f"{_ordinal(c['percentile'])} percentile of {POPULATIONS[c['population']].label}"
    if c["cut"] is None:
        return f"the floor: only {c['eligible']:,} eligible customers, too few for the {nth}"
    if Decimal(c["threshold"]) != Decimal(c["cut"]):
        return f"the floor: the {nth} in this run is {format_value(c['metric'], c['cut'])}"
    return f"the {nth} in this run"


def _ordinal(number: str) -> str:
    n = plain(Decimal(number))
    if not n.isdigit():
        return n
    suffix = "th" if 10 <= int(n) % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(int(n) % 10, "th")
    return n + suffix


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
    if match == "all":
        return all(held)
    return any(held) if match == "any" else not any(held)


def _group_sql(group: Group, column: Callable[[str], str]) -> tuple[str, Params]:
    """The group as a boolean that is never NULL (each comparison is COALESCEd)."""
    parts = [cond_sql(cond, column(cond.metric)) for cond in group.conditions]
    parts += [_group_sql(g, column) for g in group.groups]
    if not parts:
        return "(1 = 0)", []
    joined = sql.join(" AND " if group.match == "all" else " OR ", (text for text, _ in parts))
    template = "(NOT ({parts}))" if group.match == "none" else "({parts})"
    return sql.compose(template, parts=joined), [p for _, params in parts for p in params]


def _group_why_sql(group: Group, column: Callable[[str], str], tier: str, tier_params: Params) -> tuple[str, Params]:
    """One top group of why() as JSON text (never NULL): level, match, held (its level is the
    tier), conditions, nested groups. Fixed pieces travel as params, so nothing in a label or
    threshold needs quoting."""
    level = int(group.level)
    head = json.dumps({"level": level, "match": group.match})[:-1] + ', "held": '
    body, body_params = _body_why_sql(group, column)
    text = sql.compose(
        """CAST(%s AS text) || (CASE WHEN ({tier}) = {level} THEN 'true' ELSE 'false' END) || {body}""",
        tier=tier,
        level=str(level),
        body=body,
    )
    return text, [head, *tier_params, *body_params]


def _body_why_sql(group: Group, column: Callable[[str], str]) -> tuple[str, Params]:
    """A group's conditions and nested groups as JSON text, from ', "conditions": [' to the '}'."""
    conditions: list[str] = []
    params: Params = []
    for cond in group.conditions:
        held, held_params = cond_sql(cond, column(cond.metric))
        fixed = _check_json(Check(group.level, cond.metric, cond.op, cond.threshold, None, False, cond))
        del fixed["value"], fixed["held"]
        conditions.append(sql.compose(_CONDITION_WHY, value=column(cond.metric), held=held))
        params.extend([json.dumps(fixed)[:-1] + ', "value": ', *held_params])  # the object without its "}"
    text = sql.compose(
        """', "conditions": [' || {conditions} || ']'""",
        conditions=sql.join(" || ',' || ", conditions) if conditions else "''",
    )
    if group.groups:
        nested = [_nested_why_sql(g, column) for g in group.groups]
        text = sql.compose(
            """{text} || ', "groups": [' || {nested} || ']'""",
            text=text,
            nested=sql.join(" || ',' || ", (t for t, _ in nested)),
        )
        params += [p for _, ps in nested for p in ps]
    return sql.compose("{text} || '}}'", text=text), params


def _nested_why_sql(group: Group, column: Callable[[str], str]) -> tuple[str, Params]:
    """A nested group of why() as JSON text: match, held (whether it holds), conditions, groups."""
    held, held_params = _group_sql(group, column)
    body, body_params = _body_why_sql(group, column)
    text = sql.compose(
        """CAST(%s AS text) || (CASE WHEN {held} THEN 'true' ELSE 'false' END) || {body}""", held=held, body=body
    )
    return text, [json.dumps({"match": group.match})[:-1] + ', "held": ', *held_params, *body_params]


# One condition of why() as JSON text: its fixed part (a parameter), the value, whether it held.
_CONDITION_WHY = (
    """CAST(%s AS text) || COALESCE('"' || CAST({value} AS text) || '"', 'null')"""
    """ || (CASE WHEN {held} THEN ', "held": true}}' ELSE ', "held": false}}' END)"""
)


def cond_sql(cond: Cond, col: str) -> tuple[str, Params]:
    """One comparison that is FALSE, never NULL, when the value is missing."""
    if cond.metric in INTEGER_METRICS:
        return _integercond_sql(cond.op, cond.threshold, col)
    # CAST keeps the threshold NUMERIC: PostgreSQL compares numeric to numeric exactly.
    compared = sql.compose("COALESCE(({col} {op} CAST(%s AS NUMERIC)), FALSE)", col=col, op=OPERATORS[cond.op].sql)
    return compared, [cond.threshold]


def _integercond_sql(op: str, value: Decimal, col: str) -> tuple[str, Params]:
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
    checked: Json = {
        "metric": c.metric,
        "label": metric.label,
        "kind": metric.kind,
        "op": c.op,
        "symbol": OPERATORS[c.op].symbol,
        "threshold": plain(c.threshold),
        "value": None if c.value is None else f"{as_decimal(c.value):f}",  # as stored: 3120.50 stays 3120.50
        "held": c.held,
    }
    cond = c.cond
    if cond is not None and cond.relative and cond.cut is not None and cond.percentile is not None:
        cut = cond.cut.value
        checked |= {
            "percentile": plain(cond.percentile),
            "population": cond.population,
            "floor": plain(cond.value),
            "cut": None if cut is None else plain(cut),
            "eligible": cond.cut.eligible,
        }
    return checked
