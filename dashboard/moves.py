"""What moved a customer between tiers, in words, from the run that moved them and the run before.

A tier change has three possible causes, and the run records tell them apart with no per-customer
data beyond the change's own `why`: the rule set changed between the two runs ("rule set v1 → v2"),
a relative threshold was resolved to another number and that decided it ("threshold … moved from A
to B"), or neither, and the customer's own figures moved them. Pure: plain values in, sentences out.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from tiering.catalogue import METRICS, OPERATORS, POPULATIONS, format_value

Json = Any
Key = tuple[str, str, str]  # (metric, population, percentile)


def explain(*, why: Json, version: int | None, cuts: Json, previous: Json) -> list[str]:
    """Sentences for a change made by a run with rule set `version` and resolved `cuts`.

    `previous` is the run before it ({"id", "version", "cuts"}) or None for the first run.
    """
    if previous is None:
        return [f"First run{_with(version)}: placed by the rules as they stood."]
    reasons = []
    if version is not None and previous.get("version") is not None and previous["version"] != version:
        reasons.append(f"Rule set v{previous['version']} → v{version}.")
    moved = moved_cuts(previous.get("cuts"), cuts, why)
    reasons += [_moved_sentence(m) for m in moved if m["decided"] is not False]
    if reasons:
        return reasons
    if moved:
        return [
            f"Same rules{_with(version)} as run {previous['id']}, and no threshold that moved decided it: "
            "their own figures moved them."
        ]
    return [f"Same rules{_with(version)} and thresholds as run {previous['id']}: their own figures moved them."]


def moved_cuts(before: Json, after: Json, why: Json = None) -> list[dict[str, Any]]:
    """The thresholds whose resolved number differs between two runs' `cuts` records (both runs
    having them), among the
    metrics the change's `why` checked (all, when it names none). Each says whether it `decided`
    the move: the customer's value (as this run saw it) holds against one number and not the
    other; None when the why does not carry what that takes."""
    old, new = _by_key(before), _by_key(after)
    conditions = _relative_conditions(why)
    checked = {key[0] for key in conditions} | _metrics_in(why)
    moved = []
    # A threshold only one of the runs has came or went with a rule set change, said on its own.
    for key in sorted(old.keys() & new.keys()):
        if checked and key[0] not in checked:
            continue
        a, b = old.get(key), new.get(key)
        if _number(a) == _number(b):
            continue
        flips = [f for f in (_flipped(c, a) for c in conditions.get(key, [])) if f is not None]
        value = next((c.get("value") for c in conditions.get(key, [])), None)
        moved.append({"key": key, "before": a, "after": b, "decided": any(flips) if flips else None, "value": value})
    return moved


def _flipped(cond: dict[str, Any], old_cut: str | None) -> bool | None:
    """Whether this relative condition would have come out the other way with the previous cut
    (the stricter of cut and floor, as tiering.rules.Cond.threshold; the floor alone without a cut)."""
    try:
        value, floor, op = Decimal(str(cond["value"])), Decimal(str(cond["floor"])), str(cond["op"])
        operator = OPERATORS[op]
    except (KeyError, TypeError, InvalidOperation):
        return None
    stricter = max if op in ("gt", "gte") else min
    before = floor if old_cut is None else stricter(Decimal(str(old_cut)), floor)
    return operator.holds(value, before) != bool(cond.get("held"))


def _moved_sentence(moved: dict[str, Any]) -> str:
    metric, population, percentile = moved["key"]
    label = METRICS[metric].label if metric in METRICS else metric
    whom = POPULATIONS[population].label if population in POPULATIONS else population
    name = f"{label} ({_ordinal(percentile)} percentile of {whom})"
    text = f"Threshold {name} moved from {_value(metric, moved['before'])} to {_value(metric, moved['after'])}"
    if moved["decided"] and moved["value"] is not None:
        text += f", which decided it for their {format_value(metric, Decimal(str(moved['value'])))}"
    return text + "."


def _by_key(cuts: Json) -> dict[Key, str | None]:
    found = {}
    for c in cuts if isinstance(cuts, list) else []:
        if isinstance(c, dict) and {"metric", "population", "percentile"} <= c.keys():
            found[_key(c)] = c.get("cut")
    return found


def _key(c: dict[str, Any]) -> Key:
    return (str(c["metric"]), str(c["population"]), str(_number(c["percentile"])))


def _groups(why: Json) -> list[dict[str, Any]]:
    """Every group of a stored why, nested ones included."""
    found: list[dict[str, Any]] = []

    def walk(group: Json) -> None:
        if isinstance(group, dict):
            found.append(group)
            for nested in group.get("groups") or []:
                walk(nested)

    for group in why.get("groups") or [] if isinstance(why, dict) else []:
        walk(group)
    return found


def _conditions(why: Json) -> list[dict[str, Any]]:
    return [c for g in _groups(why) for c in g.get("conditions") or [] if isinstance(c, dict)]


def _relative_conditions(why: Json) -> dict[Key, list[dict[str, Any]]]:
    found: dict[Key, list[dict[str, Any]]] = {}
    for c in _conditions(why):
        if {"metric", "population", "percentile"} <= c.keys():
            found.setdefault(_key(c), []).append(c)
    return found


def _metrics_in(why: Json) -> set[str]:
    return {str(c["metric"]) for c in _conditions(why) if "metric" in c}


def _number(value: Json) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).normalize()
    except InvalidOperation:
        return None


def _value(metric: str, value: str | None) -> str:
    return "its floor (too few customers)" if value is None else format_value(metric, Decimal(str(value)))


def _ordinal(number: str) -> str:
    n = f"{_number(number) or number:f}" if _number(number) is not None else str(number)
    if not n.isdigit():
        return n
    suffix = "th" if 10 <= int(n) % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(int(n) % 10, "th")
    return n + suffix


def _with(version: int | None) -> str:
    return f" (rule set v{version})" if version is not None else ""
