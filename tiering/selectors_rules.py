"""Reads about rule sets for the admin: their audit trail in plain words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .models import Condition, RuleGroup, RuleSet, Tier
from .rules import describe_condition


@dataclass(frozen=True)
class RuleChange:
    when: dt.datetime
    who: str
    what: str


def ruleset_changes(*, ruleset: RuleSet, limit: int = 30) -> list[RuleChange]:
    """Who changed what in this rule set, its groups and conditions, newest first. Four queries."""
    levels = dict(Tier.objects.values_list("id", "level"))
    set_rows = _history(RuleSet.history.model.objects.filter(id=ruleset.pk))
    group_rows = _history(RuleGroup.history.model.objects.filter(ruleset_id=ruleset.pk))
    group_level = {row.id: levels.get(row.tier_id) for row in group_rows}
    cond_rows = _history(Condition.history.model.objects.filter(group_id__in=list(group_level)))
    changes = (
        _described(set_rows, _describe_ruleset)
        + _described(group_rows, lambda row, prev: _describe_group(row, prev, levels))
        + _described(cond_rows, lambda row, prev: _describe_condition(row, prev, group_level))
    )
    changes.sort(key=lambda c: c.when, reverse=True)
    return changes[:limit]


def _history(queryset) -> list:
    return list(queryset.select_related("history_user").order_by("history_date", "history_id"))


def _described(rows, describe) -> list[RuleChange]:
    """Pair each history row with the previous row of the same object and describe the step."""
    previous: dict[int, object] = {}
    changes = []
    for row in rows:
        what = describe(row, previous.get(row.id))
        previous[row.id] = row
        if what:
            who = row.history_user.get_username() if row.history_user else (row.history_change_reason or "system")
            changes.append(RuleChange(row.history_date, who, what))
    return changes


def _describe_ruleset(row, prev) -> str | None:
    if row.history_type == "+":
        return f"Created v{row.version} as {row.status}"
    if row.history_type == "-":
        return f"Deleted v{row.version}"
    steps = []
    if prev is None or prev.status != row.status:
        steps.append({"published": "Published", "retired": "Retired"}.get(row.status, f"Status set to {row.status}"))
    if prev is not None and prev.grace_runs != row.grace_runs:
        steps.append(f"Downgrade grace {prev.grace_runs} → {row.grace_runs} runs")
    if prev is not None and prev.notes != row.notes:
        steps.append("Edited the notes")
    return "; ".join(steps) or None


def _describe_group(row, prev, levels) -> str | None:
    level = levels.get(row.tier_id)
    match = _match_words(row.match)
    if row.history_type == "+":
        return f"Added the tier {level} group ({match})"
    if row.history_type == "-":
        return f"Removed the tier {level} group"
    if prev is not None and (prev.match, prev.tier_id) != (row.match, row.tier_id):
        old = _match_words(prev.match)
        return f"Tier {levels.get(prev.tier_id)} group ({old}) → tier {level} group ({match})"
    return None


def _match_words(match: str) -> str:
    """The match in words ("ALL of", "ANY of", "NONE of"): the start of the group's own label."""
    return RuleGroup.Match(match).label.split(" these")[0] if match in RuleGroup.Match.values else match


def _describe_condition(row, prev, group_level) -> str | None:
    where = f"Tier {group_level.get(row.group_id)}"
    text = describe_condition(row.metric, row.op, row.value)
    if row.history_type == "+":
        return f"{where}: added “{text}”"
    if row.history_type == "-":
        return f"{where}: removed “{text}”"
    if prev is not None:
        before = describe_condition(prev.metric, prev.op, prev.value)
        if before != text:
            return f"{where}: “{before}” → “{text}”"
    return None
