"""Rule set v1, published: PRODUCT.md's tier table in numbers. The reasoning is in docs/rules.md.

Tier 3's conditions include all of tier 2's (or stricter ones), so a lifetime customer is always
also a loyal one, and failing tier 2 means failing tier 3.
"""

from decimal import Decimal

from django.db import migrations
from django.utils import timezone

GRACE_RUNS = 2
RULES = {
    3: [  # lifetime: loyal over years, spending far above the rest, expanding into the new
        ("tenure_days", "gte", "730"),
        ("active_months", "gte", "6"),
        ("net_margin", "gte", "5000"),
        ("categories", "gte", "3"),
        ("new_products", "gte", "1"),
        ("compensation_share", "lt", "0.05"),
        ("rejected_complaints", "lt", "3"),
    ],
    2: [  # loyal: came back more than once, in more than one month, and leaves a margin
        ("orders", "gte", "2"),
        ("active_months", "gte", "2"),
        ("net_margin", "gt", "0"),
        ("compensation_share", "lt", "0.25"),
        ("rejected_complaints", "lt", "3"),
    ],
}
REASON = "Default rules (migration 0003_default_rules)"


def create_default_rules(apps, schema_editor):
    RuleSet = apps.get_model("tiering", "RuleSet")
    if RuleSet.objects.exists():  # an installation that already has rules keeps them
        return
    Tier = apps.get_model("tiering", "Tier")
    RuleGroup = apps.get_model("tiering", "RuleGroup")
    Condition = apps.get_model("tiering", "Condition")
    now = timezone.now()
    ruleset = RuleSet.objects.create(
        version=1,
        status="published",
        grace_runs=GRACE_RUNS,
        published_at=now,
        notes="The default rules shipped with Tierboard; see docs/rules.md for why each number.",
    )
    _record_history(apps, "RuleSet", ruleset, now)
    for level, conditions in RULES.items():
        group = RuleGroup.objects.create(ruleset=ruleset, tier=Tier.objects.get(level=level), match="all")
        _record_history(apps, "RuleGroup", group, now)
        for metric, op, value in conditions:
            cond = Condition.objects.create(group=group, metric=metric, op=op, value=Decimal(value))
            _record_history(apps, "Condition", cond, now)


def _record_history(apps, model_name, obj, when):
    """The "created" audit row that django-simple-history writes on save() outside migrations."""
    Historical = apps.get_model("tiering", f"Historical{model_name}")
    values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    Historical.objects.create(**values, history_date=when, history_type="+", history_change_reason=REASON)


def drop_default_rules(apps, schema_editor):
    RuleSet = apps.get_model("tiering", "RuleSet")
    RuleSet.objects.filter(version=1, published_by=None, notes__startswith="The default rules").delete()


class Migration(migrations.Migration):
    dependencies = [("tiering", "0002_default_tiers")]
    operations = [migrations.RunPython(create_default_rules, drop_default_rules)]
