"""What makes a rule condition or group wrong, said so an admin knows what to fix.

Pure functions over plain values (no queries): the model `clean()` methods, the admin forms and
`publish_ruleset()` all ask the same questions here.

Decisions (documented in docs/rules.md):
- counts and days are whole numbers; money has at most 2 decimal places; a ratio (a share:
  0.05 is 5%) has at most 4 and must lie between 0 and 10 — above 10 (1,000%) it is almost surely
  a percentage typed as a whole number ("25" for 25%). Compensation can exceed revenue, so
  shares above 1 are allowed.
- every metric but net margin is never negative, so `< 0`, `≤ -1`, `= -3` on them can never hold
  and are refused. Conditions that always hold (`orders ≥ 0`) are allowed: with a missing value
  they still say "has a value" (e.g. days since last order ≥ 0 = has ordered).
- an ALL group whose conditions on one metric leave no possible value (orders ≥ 5 and
  orders < 3) can never match and is refused.
- a group with no condition places nobody and is refused on publish; so is a group for tier 1,
  the fallback, which needs no conditions.
- groups nest at most MAX_NESTING levels inside a tier's group: the property tests hold the
  Python and SQL forms equal that deep, and a deeper rule is one nobody can read.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from .catalogue import METRICS, OPERATORS, POPULATIONS, format_value
from .rules import RELATIVE_OPS, Cond, Group
from .tiers import FALLBACK_LEVEL

RATIO_MAX = Decimal(10)
PLACES = {"money": 2, "ratio": 4}
MAX_NESTING = 3  # levels of groups inside a tier's group


def condition_errors(
    metric: str, op: str, value: object, percentile: object = None, population: str = ""
) -> dict[str, str]:
    """{field: message} for what is wrong with one condition; empty when it is fine."""
    relative = _relative_errors(op, percentile, population)
    if relative:
        return relative
    if metric not in METRICS:
        return {"metric": f"Unknown metric “{metric}”. Choose one of: {', '.join(METRICS)}."}
    if op not in OPERATORS:
        return {"op": f"Unknown comparison “{op}”. Choose one of: {', '.join(OPERATORS)}."}
    if isinstance(value, str) and value.strip().endswith("%"):
        return {"value": _percent_sign(metric, value.strip())}
    try:
        value = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return {"value": f"“{value}” is not a number."}
    if not value.is_finite():
        return {"value": "The value must be a finite number."}
    message = _type_error(metric, value) or _impossible(metric, op, value)
    return {"value": message} if message else {}


def validate_condition(metric: str, op: str, value: object, percentile: object = None, population: str = "") -> None:
    """Raise ValidationError({field: message}) when the condition is wrong."""
    errors = condition_errors(metric, op, value, percentile, population)
    if errors:
        raise ValidationError(errors)


def group_problems(level: int, match: str, conditions: Sequence[Cond], groups: Sequence[Group] = ()) -> list[str]:
    """Why a tier group cannot be published as it stands: empty, for tier 1, or impossible; the
    same for every group nested in it."""
    if level == FALLBACK_LEVEL:
        return [
            f"Tier {FALLBACK_LEVEL} is the fallback: anyone no group places higher is tier {FALLBACK_LEVEL}, "
            "so it takes no group. Delete this group."
        ]
    return _problems(level, match, conditions, groups, where=f"Tier {level}")


def _problems(
    level: int, match: str, conditions: Sequence[Cond], groups: Sequence[Group], *, where: str, depth: int = 0
) -> list[str]:
    if not conditions and not groups:
        return [
            f"The {where.lower()} group has no condition, so it would place nobody. Add a condition or delete the group."
        ]
    problems = []
    for cond in conditions:
        errors = condition_errors(cond.metric, cond.op, cond.value, cond.percentile, cond.population)
        problems += [f"{where}: {message}" for message in errors.values()]
    problems += [
        f"{where}: {message}" for message in own_group_problems(match, conditions, nested=len(groups), depth=depth)
    ]
    for nested in groups:
        problems += _problems(
            level, nested.match, nested.conditions, nested.groups, where=f"{where} (nested)", depth=depth + 1
        )
    return problems


def own_group_problems(match: str, conditions: Sequence[Cond], *, nested: int, depth: int) -> list[str]:
    """What is wrong with one group itself, its `nested` groups' own problems aside: empty, nested
    deeper than MAX_NESTING (`depth` 0 is a tier's group), or an ALL that can never match."""
    problems = []
    if depth > MAX_NESTING:
        problems.append(
            f"This group is nested {depth} levels deep; groups nest at most {MAX_NESTING} levels inside "
            "a tier's group. Move its conditions up a level."
        )
    if not conditions and not nested:
        problems.append("The group has no condition, so it would place nobody. Add a condition or delete the group.")
    if match == "all":
        problems += _contradictions([c for c in conditions if not c.relative])
    return problems


# --- internals --------------------------------------------------------------------------------


def _relative_errors(op: str, percentile: object, population: str) -> dict[str, str]:
    if percentile is None or percentile == "":
        return {"population": "A population is used only with a percentile."} if population else {}
    try:
        p = Decimal(str(percentile))
    except (InvalidOperation, ValueError):
        return {"percentile": f"“{percentile}” is not a number."}
    if not (p.is_finite() and 0 < p < 100):
        return {"percentile": f"A percentile lies between 0 and 100 (98 is the 98th), not {percentile}."}
    if p < 1:  # 0.98 for the 98th: a share typed where a percentile goes
        return {
            "percentile": f"A percentile is written out of 100: {p.normalize():f} would be below the 1st percentile. "
            f"Did you mean {(p * 100).normalize():f}?"
        }
    if population not in POPULATIONS:
        return {"population": f"Choose whom the percentile is taken over: {', '.join(POPULATIONS)}."}
    if op not in RELATIVE_OPS:
        symbols = ", ".join(OPERATORS[o].symbol for o in RELATIVE_OPS)
        return {"op": f"A percentile is a bound: compare with {symbols}, not = or ≠."}
    return {}


def _type_error(metric: str, value: Decimal) -> str | None:
    m = METRICS[metric]
    if m.kind in ("count", "days") and value != value.to_integral_value():
        unit = "whole days" if m.kind == "days" else "a whole number"
        return f"{m.label} is counted in {unit}: use e.g. {value.to_integral_value()}, not {value.normalize():f}."
    places = PLACES.get(m.kind)
    if places is not None and value != value.quantize(Decimal(1).scaleb(-places)):
        what = "money" if m.kind == "money" else "a share (0.05 is 5%)"
        return f"{m.label} is {what}: use at most {places} decimal places, not {value.normalize():f}."
    typed_as_percent = 1 < value <= RATIO_MAX and value == value.to_integral_value()
    if m.kind == "ratio" and typed_as_percent and metric == "compensation_share":
        return (
            f"{m.label} is a share written as a decimal (0.05 is 5%); {value.normalize():f} would be "
            f"{value * 100:,.0f}%. Did you mean {value / 100:f}?"
        )
    if m.kind == "ratio" and value > RATIO_MAX:
        return (
            f"{m.label} is a share written as a decimal (0.25 is 25%); {value.normalize():f} would be "
            f"{value * 100:,.0f}%. Use a value between 0 and {RATIO_MAX}."
        )
    return None


DAYS_MAX = Decimal(36_500)  # a century: a day count above it can be reached by nobody


def _impossible(metric: str, op: str, value: Decimal) -> str | None:
    if METRICS[metric].negative:
        return None
    m = METRICS[metric]
    if m.kind == "days" and value > DAYS_MAX and op in ("gt", "gte", "eq"):
        return f"{m.label} {OPERATORS[op].symbol} {value.normalize():f} is more than a century: nobody can reach it."
    beyond = m.most is not None and (value > m.most or (op == "gt" and value >= m.most))
    if beyond and op in ("gt", "gte", "eq"):
        return (
            f"{m.label} is at most {m.most}, so “{m.label} {OPERATORS[op].symbol} {value.normalize():f}” "
            "can never hold: nobody can reach it."
        )
    if value < 0 and op in ("gt", "gte", "ne"):
        return f"{m.label} is never negative: a negative threshold ({value.normalize():f}) says nothing. Use 0 or more."
    never = (op == "lt" and value <= 0) or (op in ("lte", "eq") and value < 0)
    if not never:
        return None
    label = METRICS[metric].label
    return (
        f"{label} is never negative, so “{label} {OPERATORS[op].symbol} {value.normalize():f}” can never hold. "
        f"Did you mean “{label} = 0”?"
    )


def _percent_sign(metric: str, text: str) -> str:
    m = METRICS.get(metric)
    number = text.removesuffix("%").strip()
    try:
        share = Decimal(number) / 100
    except InvalidOperation:
        return f"“{text}” is not a number."
    if m is not None and m.kind == "ratio":
        return f"{m.label} is a share written as a decimal: {text} is {share.normalize():f}."
    return f"“{text}” is not a number: write the number alone ({number})."


def condition_warnings(metric: str, op: str, value: object) -> list[str]:
    """What is allowed but probably not meant: a share that reads as a percentage typed as a
    number (compensation share ≥ 1 is 100%, not 1%; spend growth ≥ 5 is five times last year's
    revenue, not 5% more). Shown beside the condition, never refused."""
    m = METRICS.get(metric)
    try:
        v = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return []
    if m is None or m.kind != "ratio" or not v.is_finite() or condition_errors(metric, op, v):
        return []
    said = f"{m.label} {OPERATORS[op].symbol} {v.normalize():f}" if op in OPERATORS else m.label
    if metric == "compensation_share" and 1 <= v <= RATIO_MAX:
        return [
            f"“{said}” means {v * 100:,.0f}% (compensation {'as large as' if v == 1 else f'{v.normalize():f} times'} "
            f"the revenue). If you meant {v.normalize():f}%, write {(v / 100).normalize():f}."
        ]
    if metric == "revenue_growth" and v >= 2 and v == v.to_integral_value():
        return [
            f"“{said}” means {v.normalize():f} times last year's revenue. If you meant {v.normalize():f}% more, "
            f"write {(1 + v / 100).normalize():f}."
        ]
    return []


def _contradictions(conditions: Sequence[Cond]) -> list[str]:
    """Metrics whose ALL-joined conditions leave no possible value."""
    found = []
    for metric in dict.fromkeys(c.metric for c in conditions if c.metric in METRICS):
        low, high, excluded = _bounds(metric, [c for c in conditions if c.metric == metric])
        if low is not None and high is not None and (low > high or (low == high and low in excluded)):
            shown = " and ".join(
                f"{OPERATORS[c.op].symbol} {format_value(metric, c.value)}" for c in conditions if c.metric == metric
            )
            found.append(f"no {METRICS[metric].label.lower()} can be {shown} at once, so the group can never match.")
    return found


def _bounds(metric: str, conds: Sequence[Cond]) -> tuple[Decimal | None, Decimal | None, set[Decimal]]:
    """Inclusive (low, high) a value may take, and values ruled out by ≠.

    For whole-number metrics strict bounds become inclusive ones (> 2 is ≥ 3); for decimals a
    strict bound is kept inclusive and its own value excluded.
    """
    whole = METRICS[metric].whole
    low = None if METRICS[metric].negative else Decimal(0)
    high, excluded = None, set()
    for c in conds:
        v, lo, hi = c.value, None, None
        if c.op == "ne":
            excluded.add(v)
        elif c.op in ("gt", "lt") and not whole:
            lo, hi = (v, None) if c.op == "gt" else (None, v)
            excluded.add(v)
        elif c.op == "gt":
            lo = v.to_integral_value(rounding=ROUND_FLOOR) + 1
        elif c.op == "lt":
            hi = v.to_integral_value(rounding=ROUND_CEILING) - 1
        if c.op in ("gte", "eq"):
            lo = v.to_integral_value(rounding=ROUND_CEILING) if whole else v
        if c.op in ("lte", "eq"):
            hi = v.to_integral_value(rounding=ROUND_FLOOR) if whole else v
        low = lo if low is None else (low if lo is None else max(low, lo))
        high = hi if high is None else (high if hi is None else min(high, hi))
    return low, high, excluded
