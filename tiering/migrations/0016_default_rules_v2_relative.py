"""The default rules v2, in relative terms: PRODUCT.md's tier table for any business's data.

Money is compared only with percentiles of the business's own repeat buyers (floors of 0), so the
same behaviour gets the same tier in any currency; "loyal over years" is relative to the history
loaded; expansion, new products and spend growth are alternatives (ANY) that raise the case, not
requirements. The reasoning behind every number is in docs/rules.md.

Where the shipped v1 is in force (or no rule set is), v2 is published and v1 retired (kept, read
only). An installation whose own rules are in force keeps them and gets v2 as a draft to preview.
"""

from decimal import Decimal

from django.db import migrations
from django.utils import timezone

GRACE_RUNS = 2
# a condition: (metric, op, value) or relative (metric, op, floor, percentile, population);
# a nested group: (match, [conditions])
# the costly pattern: NONE of these may hold
COSTLY_FOR_TIER_3 = ("none", [("rejected_complaints", "gte", "3"), ("compensation_share", "gte", "0.05")])
COSTLY = ("none", [("rejected_complaints", "gte", "3"), ("compensation_share", "gte", "0.25")])
RULES = {
    3: [  # lifetime: still returning, long-standing, spending far above the rest, and more
        ("orders", "gte", "2"),
        ("active_months", "gte", "2"),
        ("net_margin", "gt", "0"),
        ("lifetime_net_margin", "gte", "0", "90", "repeat"),
        ("tenure_days", "gte", "0", "50", "repeat"),
        (
            "any",
            [
                ("net_margin", "gte", "0", "97", "repeat"),
                ("categories", "gte", "2", "90", "repeat"),
                ("new_products", "gte", "1", "90", "repeat"),
                ("revenue_growth", "gte", "1.25"),
            ],
        ),
        COSTLY_FOR_TIER_3,
    ],
    2: [  # loyal: came back, in another month, leaving a margin, and not the costly pattern
        ("orders", "gte", "2"),
        ("active_months", "gte", "2"),
        ("net_margin", "gt", "0"),
        COSTLY,
    ],
}
NOTES = "The default rules v2 (relative) shipped with Tierboard; see docs/rules.md for why each number."
REASON = "Default rules v2 (migration 0016_default_rules_v2_relative)"


def create_v2(apps, schema_editor):
    RuleSet = apps.get_model("tiering", "RuleSet")
    in_force = RuleSet.objects.filter(status="published").first()
    shipped = in_force is None or (
        in_force.version == 1 and in_force.published_by_id is None and in_force.notes.startswith("The default rules")
    )
    now = timezone.now()
    if in_force is not None and shipped:
        in_force.status = "retired"
        in_force.save(update_fields=["status"])
        _record_history(apps, "RuleSet", in_force, now, "~")
    version = (RuleSet.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
    ruleset = RuleSet.objects.create(
        version=version,
        status="published" if shipped else "draft",
        grace_runs=GRACE_RUNS,
        published_at=now if shipped else None,
        notes=NOTES,
    )
    _record_history(apps, "RuleSet", ruleset, now)
    Tier = apps.get_model("tiering", "Tier")
    for level, items in RULES.items():
        _create_group(apps, ruleset, Tier.objects.get(level=level), "all", items, None, now)


def _create_group(apps, ruleset, tier, match, items, parent, now):
    RuleGroup = apps.get_model("tiering", "RuleGroup")
    Condition = apps.get_model("tiering", "Condition")
    group = RuleGroup.objects.create(ruleset=ruleset, tier=tier, match=match, parent=parent)
    _record_history(apps, "RuleGroup", group, now)
    for item in items:
        if len(item) == 2:
            _create_group(apps, ruleset, tier, item[0], item[1], group, now)
            continue
        metric, op, value, *relative = item
        percentile, population = relative or (None, "")
        cond = Condition.objects.create(
            group=group,
            metric=metric,
            op=op,
            value=Decimal(value),
            percentile=None if percentile is None else Decimal(percentile),
            population=population,
        )
        _record_history(apps, "Condition", cond, now)


def _record_history(apps, model_name, obj, when, kind="+"):
    """The audit row that django-simple-history writes on save() outside migrations."""
    Historical = apps.get_model("tiering", f"Historical{model_name}")
    values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    Historical.objects.create(**values, history_date=when, history_type=kind, history_change_reason=REASON)


def drop_v2(apps, schema_editor):
    RuleSet = apps.get_model("tiering", "RuleSet")
    dropped = RuleSet.objects.filter(notes=NOTES, published_by=None)
    was_in_force = dropped.filter(status="published").exists()
    dropped.delete()
    if was_in_force:
        RuleSet.objects.filter(version=1, notes__startswith="The default rules").update(status="published")


class Migration(migrations.Migration):
    dependencies = [("tiering", "0015_metrics_lifetime_and_year_before")]
    operations = [migrations.RunPython(create_v2, drop_v2)]
