"""Who may do what with promotions.

Marketing and Admin build promotions and export their targets; only Admin reads the export log.
Account managers get nothing here: tier lists for offers are marketing's work, and an export by
them is refused (403).
"""

from django.db import migrations

from core.roles import ADMIN, MARKETING, grant_in_migration

PROMOTION = [f"promotions.{action}_promotion" for action in ("view", "add", "change", "delete")]
GRANTS = {
    MARKETING: [*PROMOTION, "promotions.export_targets"],
    ADMIN: [*PROMOTION, "promotions.export_targets", "promotions.view_exportlog"],
}


def grant(apps, schema_editor):
    grant_in_migration(apps, GRANTS)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="promotions"))


class Migration(migrations.Migration):
    dependencies = [("promotions", "0001_initial"), ("core", "0001_roles")]
    operations = [migrations.RunPython(grant, revoke)]
