"""Build stored rule sets in tests: make_ruleset({3: ("all", [("net_margin", "gte", "5000")])}).

A condition is (metric, op, value), or relative (metric, op, floor, percentile, population); a
nested group is ("any", [conditions or nested groups]) in place of a condition.
"""

from decimal import Decimal

from tiering.models import Condition, RuleGroup, RuleSet, Tier


def make_ruleset(groups: dict, *, status=RuleSet.Status.DRAFT, grace_runs=0, version=None) -> RuleSet:
    """A rule set with one group per tier level: {level: (match, [(metric, op, value), ...])}.

    A published one retires whatever was published before (the default v1 from the migration).
    """
    if status == RuleSet.Status.PUBLISHED:
        RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).update(status=RuleSet.Status.RETIRED)
    version = version or (max(RuleSet.objects.values_list("version", flat=True), default=0) + 1)
    ruleset = RuleSet.objects.create(version=version, status=status, grace_runs=grace_runs)
    for level, (match, conditions) in groups.items():
        _add_group(ruleset, Tier.objects.get(level=level), match, conditions, parent=None)
    return ruleset


def _add_group(ruleset, tier, match, conditions, *, parent):
    group = RuleGroup.objects.create(ruleset=ruleset, tier=tier, match=match, parent=parent)
    for item in conditions:
        if len(item) == 2:
            _add_group(ruleset, tier, *item, parent=group)
            continue
        metric, op, value, *relative = item
        percentile, population = relative or (None, "")
        Condition.objects.create(
            group=group,
            metric=metric,
            op=op,
            value=Decimal(str(value)),
            percentile=None if percentile is None else Decimal(str(percentile)),
            population=population,
        )
