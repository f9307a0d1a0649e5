"""What moved a customer between tiers, in words, from the run that moved them and the run before.

A tier change has three possible causes, and the run records tell them apart with no per-customer
data: the rule set changed between the two runs ("rule set v1 → v2"), a relative threshold that
this customer's rules compare with was resolved to another number ("threshold … moved from A to
B"), or neither, and the customer's own figures moved them. Pure: plain values in, sentences out.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from tiering.catalogue import METRICS, POPULATIONS, format_value

Json = Any


def explain(*, why: Json, version: int | None, cuts: Json, previous: Json) -> list[str]:
    """Sentences for a change made by a run with rule set `version` and resolved `cuts`.

    `previous` is the run before it ({"id", "version", "cuts"}) or None for the first run.
    """
    if previous is None:
        return [f"First run{_with(version)}: placed by the rules as they stood."]
    reasons = []
    if version is not None and previous.get("version") is not None and previous["version"] != version:
        reasons.append(f"Rule set v{previous['version']} → v{version}.")
    reasons += [
        _moved_sentence(key, before, after) for key, before, after in moved_cuts(previous.get("cuts"), cuts, why)
    ]
    if reasons:
        return reasons
    return [f"Same rules{_with(version)} and thresholds as run {previous['id']}: their own figures moved them."]


def moved_cuts(
    before: Json, after: Json, why: Json = None
) -> list[tuple[tuple[str, str, str], str | None, str | None]]:
    """The thresholds whose resolved number differs between two runs' `cuts` records (a cut that
    one run had and the other did not counts too), limited to the metrics the change's `why`
    checked when it names any."""
    old, new = _by_key(before), _by_key(after)
    checked = _metrics_in(why)
    moved = []
    for key in sorted(old.keys() | new.keys()):
        if checked and key[0] not in checked:
            continue
        a, b = old.get(key), new.get(key)
        if _number(a) != _number(b):
            moved.append((key, a, b))
    return moved


def _moved_sentence(key: tuple[str, str, str], before: str | None, after: str | None) -> str:
    metric, population, percentile = key
    label = METRICS[metric].label if metric in METRICS else metric
    whom = POPULATIONS[population].label if population in POPULATIONS else population
    name = f"{label} ({_ordinal(percentile)} percentile of {whom})"
    return f"Threshold {name} moved from {_value(metric, before)} to {_value(metric, after)}."


def _by_key(cuts: Json) -> dict[tuple[str, str, str], str | None]:
    found = {}
    for c in cuts if isinstance(cuts, list) else []:
        if isinstance(c, dict) and {"metric", "population", "percentile"} <= c.keys():
            found[(str(c["metric"]), str(c["population"]), str(_number(c["percentile"])))] = c.get("cut")
    return found


def _metrics_in(why: Json) -> set[str]:
    metrics: set[str] = set()

    def walk(group: Json) -> None:
        if isinstance(group, dict):
            metrics.update(
                str(c["metric"]) for c in group.get("conditions") or [] if isinstance(c, dict) and "metric" in c
            )
            for nested in group.get("groups") or []:
                walk(nested)

    for group in why.get("groups") or [] if isinstance(why, dict) else []:
        walk(group)
    return metrics


def _number(value: Json) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).normalize()
    except InvalidOperation:
        return None


def _value(metric: str, value: str | None) -> str:
    return "its floor (too few customers)" if value is None else format_value(metric, Decimal(value))


def _ordinal(number: str) -> str:
    n = str(_number(number) or number)
    if not n.isdigit():
        return n
    suffix = "th" if 10 <= int(n) % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(int(n) % 10, "th")
    return n + suffix


def _with(version: int | None) -> str:
    return f" (rule set v{version})" if version is not None else ""
