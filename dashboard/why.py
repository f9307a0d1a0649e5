"""The "why" of a customer's tier, in plain words.

The decision itself lives in tiering.rules (`decide(metrics, rules)` and its `.checks`); this
module only words each check — "Net margin is €1,240.00; tier 3 needs at least €1,000.00: held" —
for the customer page and for the history rows' stored `why`.
"""

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from tiering.metrics import METRICS
from tiering.rules import NEEDS, describe_cut

from .formatting import metric_value

OP_WORDS = {
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "eq": "exactly",
    "ne": "anything but",
}


@dataclass(frozen=True)
class Line:
    level: int | None
    metric: str
    label: str
    value: str
    needs: str
    held: bool | None

    @property
    def sentence(self) -> str:
        verdict = {True: "held", False: "not held", None: "not checked"}[self.held]
        return f"{self.label} is {self.value}; needs {self.needs}: {verdict}."


def describe(check) -> Line:
    """A check (object or dict with level, metric, op, threshold, value, held) in plain words."""
    get = check.get if isinstance(check, dict) else lambda name, default=None: getattr(check, name, default)
    metric = str(get("metric", ""))
    threshold = _number(get("threshold", None))
    op = str(get("op", ""))
    return Line(
        level=get("level"),
        metric=metric,
        label=METRICS[metric].label.split(" (")[0] if metric in METRICS else metric.replace("_", " ").capitalize(),
        value=metric_value(metric, _number(get("value"))),
        needs=f"{OP_WORDS.get(op, op)} {metric_value(metric, threshold)}" + _cut(check),
        held=get("held"),
    )


def describe_groups(why) -> list[dict]:
    """A stored why (tiering.rules `Decision.why()`: {"tier", "version", "groups": [...]}) as
    plain-word groups: [{"level", "match", "placed", "lines": [Line, ...]}], highest tier first."""
    if not isinstance(why, dict):
        return []
    groups = []
    for group in why.get("groups") or []:
        if not isinstance(group, dict):
            continue
        level = group.get("level")
        lines = _lines(group, level, prefix="")
        groups.append({"level": level, "match": group.get("match"), "placed": bool(group.get("held")), "lines": lines})
    return groups


def _lines(group: dict, level, *, prefix: str) -> list[Line]:
    """A group's conditions, then each nested group's, labelled with how it joins ("ANY of: …")."""
    lines = [
        replace(line, label=prefix + line.label)
        for line in (describe({"level": level, **c}) for c in group.get("conditions") or [] if isinstance(c, dict))
    ]
    for nested in group.get("groups") or []:
        if isinstance(nested, dict):
            lines += _lines(nested, level, prefix=f"{prefix}{NEEDS.get(nested.get('match'), '')}: ")
    return lines


def _cut(check) -> str:
    """Where a relative threshold came from, in words (tiering.rules.describe_cut); "" for a fixed one."""
    if not isinstance(check, dict) or "percentile" not in check:
        return ""
    try:
        return f" ({describe_cut(check)})"
    except (KeyError, TypeError, ValueError, InvalidOperation):  # a stored why of another shape
        return ""


def _number(value):
    if value is None or isinstance(value, (int, Decimal)):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return value


def summary(*, groups: list[dict], decided: int, held: int, below_runs: int = 0) -> str:
    """One sentence an account manager reads first: where the rules put this customer and what
    is missing for the tier above."""
    if decided < held:
        first = f"Today's rules place them in tier {decided}; they keep tier {held} during the grace period ({below_runs} run{'s' if below_runs != 1 else ''} below so far)."
    elif decided > held:
        first = f"Today's rules place them in tier {decided}; the next run moves them up from tier {held}."
    else:
        first = f"In tier {held}: " + ("no higher tier's rules hold." if decided == 1 else "this tier's rules hold.")
    above = [g for g in groups if g["level"] is not None and g["level"] > decided]
    if not above:
        return first
    nearest = min(above, key=lambda g: g["level"])
    missing = [line.label.lower() for line in nearest["lines"] if line.held is False]
    if not missing:
        return first
    return f"{first} For tier {nearest['level']} they miss on {_join(missing)}."


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
