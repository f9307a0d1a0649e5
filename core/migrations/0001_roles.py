"""The three roles, as Django groups with the permissions each needs."""

from django.db import migrations

from core.roles import ACCOUNT_MANAGER, ADMIN, MARKETING, grant_in_migration

CUSTOMER_MODELS = ["customer", "product", "order", "orderline", "ticket"]
TIERING_MODELS = ["tier", "ruleset", "rulegroup", "condition", "retierrun", "customermetrics", "tierchange"]
CRUD = ["view", "add", "change", "delete"]

GRANTS = {
    ADMIN: [f"customers.{a}_{m}" for m in CUSTOMER_MODELS for a in CRUD]
    + [f"tiering.{a}_{m}" for m in TIERING_MODELS for a in CRUD]
    + ["customers.import_data", "tiering.publish_ruleset", "tiering.run_retier"]
    + [f"django_celery_beat.{a}_{m}" for m in ["periodictask", "crontabschedule"] for a in CRUD],
    ACCOUNT_MANAGER: [f"customers.view_{m}" for m in CUSTOMER_MODELS]
    + ["tiering.view_tier", "tiering.view_customermetrics", "tiering.view_tierchange", "tiering.view_ruleset"],
    MARKETING: ["tiering.view_tier"],
}


def create_roles(apps, schema_editor):
    grant_in_migration(apps, GRANTS)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GRANTS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0001_initial"),
        ("tiering", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_roles, drop_roles)]
