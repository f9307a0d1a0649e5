"""Writes on rule sets: start a draft from an existing version, publish a draft.

Every write goes through `save()` (not `update()`) so django-simple-history records who did it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from .models import Condition, RuleGroup, RuleSet
from .rule_checks import group_problems
from .rules import FALLBACK_LEVEL, rules_from_ruleset


def ruleset_problems(*, ruleset: RuleSet) -> list[str]:
    """Why this rule set cannot be published as it stands (empty when it can). Two queries."""
    rules = rules_from_ruleset(ruleset)
    if not any(g.level > FALLBACK_LEVEL for g in rules.groups):
        return ["The rule set has no group for a tier above 1, so it would place every customer in tier 1."]
    problems = []
    for group in rules.tried():
        problems += group_problems(group.level, group.match, group.conditions, group.groups)
    return problems


@transaction.atomic
def create_draft_from_ruleset(*, ruleset: RuleSet, user) -> RuleSet:
    """A new draft with the next version number and a copy of `ruleset`'s groups and conditions."""
    # Two admins copying at once collide on the unique version: the second gets an error, not a duplicate.
    next_version = (RuleSet.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    draft = RuleSet(
        version=next_version,
        status=RuleSet.Status.DRAFT,
        grace_runs=ruleset.grace_runs,
        notes=f"Draft copied from v{ruleset.version}.",
        created_by=user,
    )
    _save_as(draft, user)
    copies: dict[int, RuleGroup] = {}
    for group in ruleset.groups.select_related("tier").prefetch_related("conditions").order_by("id"):
        # parents before their nested groups: a nested group is created after the group it sits in
        copy = RuleGroup(ruleset=draft, tier=group.tier, match=group.match, parent=copies.get(group.parent_id))
        _save_as(copy, user)
        copies[group.pk] = copy
        for cond in group.conditions.all():
            _save_as(
                Condition(
                    group=copy,
                    metric=cond.metric,
                    op=cond.op,
                    value=cond.value,
                    percentile=cond.percentile,
                    population=cond.population,
                ),
                user,
            )
    return draft


def publish_ruleset(*, ruleset: RuleSet, user) -> RuleSet:
    """Make the draft the one rule set in force and retire the previous one, in one transaction.

    Refused (ValidationError listing every problem) unless the draft is valid; nothing is
    written then. The retired rule set stays readable with all its groups and conditions.
    """
    try:
        with transaction.atomic():
            draft = RuleSet.objects.select_for_update().get(pk=ruleset.pk)
            if draft.status != RuleSet.Status.DRAFT:
                raise ValidationError(
                    f"v{draft.version} is {draft.get_status_display()}, not a draft: only a draft can be published."
                )
            problems = ruleset_problems(ruleset=draft)
            if problems:
                raise ValidationError(problems)
            for current in RuleSet.objects.select_for_update().filter(status=RuleSet.Status.PUBLISHED):
                current.status = RuleSet.Status.RETIRED
                _save_as(current, user)
            draft.status = RuleSet.Status.PUBLISHED
            draft.published_at = timezone.now()
            draft.published_by = user
            _save_as(draft, user)
    except IntegrityError as exc:  # the one-published constraint: someone published at the same moment
        raise ValidationError("Another rule set was published at the same moment. Reload and try again.") from exc
    return draft


def _save_as(obj, user) -> None:
    """save() with the history row attributed to `user` even outside a request."""
    if user is not None and user.is_authenticated:
        obj._history_user = user
    obj.save()
