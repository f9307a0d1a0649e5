"""The default churn and follow-up policies (docs/churn.md), and who may do what with churn."""

from decimal import Decimal

from django.db import migrations

from churn.policy import DEFAULT_FOLLOW_UPS
from core.roles import ACCOUNT_MANAGER, ADMIN, MARKETING, grant_in_migration

MODELS = ["churnpolicy", "followuppolicy", "lapse", "followup"]
CRUD = ["view", "add", "change", "delete"]

GRANTS = {
    ADMIN: [f"churn.{a}_{m}" for m in MODELS for a in CRUD] + ["churn.work_followup", "churn.view_insights"],
    # Account managers see and work the queue; the policies are the admins'.
    ACCOUNT_MANAGER: ["churn.view_followup", "churn.view_lapse", "churn.work_followup", "churn.view_insights"],
    # Marketing may read what drove customers away, and nothing that changes or shows the queue.
    MARKETING: ["churn.view_insights"],
}


def create_defaults(apps, schema_editor):
    apps.get_model("churn", "ChurnPolicy").objects.update_or_create(
        pk=1, defaults={"min_days": 90, "gap_multiple": Decimal("2.50")}
    )
    FollowUpPolicy = apps.get_model("churn", "FollowUpPolicy")
    for tier, (action, priority, due_days, working_days, assign) in DEFAULT_FOLLOW_UPS.items():
        FollowUpPolicy.objects.update_or_create(
            tier=tier,
            defaults={
                "action": action,
                "priority": priority,
                "due_days": due_days,
                "working_days": working_days,
                "assign_to_account_manager": assign,
            },
        )
    grant_in_migration(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [("churn", "0001_initial"), ("core", "0001_roles")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
