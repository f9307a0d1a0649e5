"""Writes on rule sets: start a draft from an existing version, edit a draft, publish a draft.

Every write is recorded by django-simple-history with who did it: through `save()`, or for the
editor's batch of changes through simple-history's bulk helpers (one statement per kind of write,
whatever the number of conditions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from .models import Condition, RuleGroup, RuleSet, Tier, frozen_message
from .rule_checks import group_problems
from .rules import FALLBACK_LEVEL, Cond, Group, rules_from_ruleset


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
                    position=cond.position,
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


# --- the dashboard's draft editor ---------------------------------------------------------------


@dataclass(frozen=True)
class GroupEdit:
    """One group as the draft should hold it. `key` names it within the edit ("g12" for stored
    group 12, anything else for a new one); `parent` is the key of the group it sits in (None for
    a tier's group); `level` is its tier."""

    key: str
    parent: str | None
    level: int
    match: str
    pk: int | None = None


@dataclass(frozen=True)
class ConditionEdit:
    group: str  # the key of its group
    metric: str
    op: str
    value: Decimal
    percentile: Decimal | None = None
    population: str = ""
    position: int = 0
    pk: int | None = None


def draft_rules(*, level_groups: Sequence[GroupEdit], conditions: Sequence[ConditionEdit]) -> list[Group]:
    """The edited draft as plain rule groups (tiers' groups, nested groups inside), for the checks."""
    children: dict[str | None, list[GroupEdit]] = {}
    for g in level_groups:
        children.setdefault(g.parent, []).append(g)
    conds: dict[str, list[ConditionEdit]] = {}
    for c in sorted(conditions, key=lambda c: c.position):
        conds.setdefault(c.group, []).append(c)

    def build(g: GroupEdit) -> Group:
        own = tuple(
            Cond(c.metric, c.op, c.value, percentile=c.percentile, population=c.population)
            for c in conds.get(g.key, [])
        )
        return Group(g.level, g.match, own, tuple(build(child) for child in children.get(g.key, [])))

    return [build(g) for g in sorted(children.get(None, []), key=lambda g: -g.level)]


@transaction.atomic
def save_draft(*, ruleset: RuleSet, user, groups: Sequence[GroupEdit], conditions: Sequence[ConditionEdit]) -> RuleSet:
    """Make the draft hold exactly `groups` and `conditions`: stored ones missing from them are
    deleted, changed ones updated, new ones created. All or nothing: any problem (the same checks
    publishing makes, rule_checks) raises ValidationError and nothing is written.

    A fixed number of statements whatever the number of conditions (a read of each table, then one
    or two per kind of write, history included), plus one history row per deleted object.
    """
    draft = RuleSet.objects.select_for_update().get(pk=ruleset.pk)
    if draft.status != RuleSet.Status.DRAFT:
        raise ValidationError(frozen_message(draft.version, draft.get_status_display()))
    _check_structure(groups, conditions)
    problems = [p for g in draft_rules(level_groups=groups, conditions=conditions) for p in _tier_problems(g)]
    if problems:
        raise ValidationError(problems)
    stored_groups = {g.pk: g for g in RuleGroup.objects.filter(ruleset=draft)}
    stored_conds = {c.pk: c for c in Condition.objects.filter(group__ruleset=draft)}
    _check_stored(draft, groups, conditions, stored_groups, stored_conds)
    kept_groups = {g.pk for g in groups if g.pk is not None}
    kept_conds = {c.pk for c in conditions if c.pk is not None}
    Condition.objects.filter(pk__in=set(stored_conds) - kept_conds).delete()
    RuleGroup.objects.filter(pk__in=set(stored_groups) - kept_groups).delete()
    by_key = _write_groups(draft, user, groups, stored_groups)
    _write_conditions(user, conditions, stored_conds, by_key)
    return draft


def _tier_problems(group: Group) -> list[str]:
    return group_problems(group.level, group.match, group.conditions, group.groups)


def _check_structure(groups: Sequence[GroupEdit], conditions: Sequence[ConditionEdit]) -> None:
    keys = [g.key for g in groups]
    if len(set(keys)) != len(keys):
        raise ValidationError("Two groups of the edit have the same key: reload the page and edit again.")
    by_key = {g.key: g for g in groups}
    roots = [g.level for g in groups if g.parent is None]
    if len(set(roots)) != len(roots):
        raise ValidationError("A tier has two groups: join them into one (a nested group can hold the other).")
    if FALLBACK_LEVEL in roots:
        raise ValidationError(
            f"Tier {FALLBACK_LEVEL} is the fallback for anyone no group places higher; it takes no group."
        )
    for g in groups:
        seen = {g.key}
        parent = g.parent
        while parent is not None:
            if parent not in by_key or parent in seen:
                raise ValidationError("A nested group sits in a group that is not part of the draft: reload the page.")
            if by_key[parent].level != g.level:
                raise ValidationError("A nested group belongs to the same tier as the group it sits in.")
            seen.add(parent)
            parent = by_key[parent].parent
    if any(c.group not in by_key for c in conditions):
        raise ValidationError("A condition belongs to a group that is not part of the draft: reload the page.")


def _check_stored(draft, groups, conditions, stored_groups, stored_conds) -> None:
    """Every stored object the edit names is this draft's, where it was (someone else may have
    changed the draft meanwhile)."""
    by_key = {g.key: g for g in groups}
    parent_key = {pk: f"g{g.parent_id}" if g.parent_id else None for pk, g in stored_groups.items()}
    for g in groups:
        if g.pk is not None and (g.pk not in stored_groups or parent_key[g.pk] != g.parent):
            raise ValidationError(f"Draft v{draft.version} changed while you edited it: reload the page.")
    for c in conditions:
        if c.pk is not None and (c.pk not in stored_conds or by_key[c.group].pk != stored_conds[c.pk].group_id):
            raise ValidationError(f"Draft v{draft.version} changed while you edited it: reload the page.")


def _write_groups(draft: RuleSet, user, groups: Sequence[GroupEdit], stored: dict[int, RuleGroup]) -> dict:
    """Update the changed groups, create the new ones (tiers' groups first, then each level of
    nesting: one statement each); returns {key: RuleGroup}."""
    by_key: dict[str, RuleGroup] = {}
    changed = []
    for g in groups:
        if g.pk is not None:
            by_key[g.key] = stored[g.pk]
            if stored[g.pk].match != g.match:
                stored[g.pk].match = g.match
                changed.append(stored[g.pk])
    if changed:
        bulk_update_with_history(changed, RuleGroup, ["match"], default_user=_user(user))
    tiers = {t.level: t for t in Tier.objects.all()} if any(g.pk is None for g in groups) else {}
    pending = [g for g in groups if g.pk is None]
    while pending:
        ready = [g for g in pending if g.parent is None or g.parent in by_key]
        if not ready:  # _check_structure rules this out; never loop on it
            raise ValidationError("A nested group sits in a group that is not part of the draft: reload the page.")
        made = [
            RuleGroup(
                ruleset=draft,
                tier=tiers[g.level] if g.parent is None else by_key[g.parent].tier,
                parent=None if g.parent is None else by_key[g.parent],
                match=g.match,
            )
            for g in ready
        ]
        for g, group in zip(ready, bulk_create_with_history(made, RuleGroup, default_user=_user(user))):
            by_key[g.key] = group
        pending = [g for g in pending if g.key not in by_key]
    return by_key


FIELDS = ("metric", "op", "value", "percentile", "population", "position")


def _write_conditions(user, conditions: Sequence[ConditionEdit], stored: dict[int, Condition], by_key) -> None:
    changed, made = [], []
    for c in conditions:
        if c.pk is None:
            made.append(Condition(group=by_key[c.group], **{f: getattr(c, f) for f in FIELDS}))
            continue
        row = stored[c.pk]
        if any(getattr(row, f) != getattr(c, f) for f in FIELDS):
            for f in FIELDS:
                setattr(row, f, getattr(c, f))
            changed.append(row)
    if changed:
        bulk_update_with_history(changed, Condition, list(FIELDS), default_user=_user(user))
    if made:
        bulk_create_with_history(made, Condition, default_user=_user(user))


def _user(user):
    return user if user is not None and user.is_authenticated else None
