"""Admins manage tokens and webhook endpoints and read the call and delivery logs; no other role."""

from django.db import migrations

from core.roles import ADMIN, grant_in_migration

GRANTS = {
    ADMIN: [
        "api.view_apitoken",
        "api.add_apitoken",
        "api.change_apitoken",
        "api.view_apicall",
        *(f"api.{action}_webhookendpoint" for action in ("view", "add", "change", "delete")),
        "api.view_webhookdelivery",
        "api.view_webhookattempt",
    ]
}


def grant(apps, schema_editor):
    grant_in_migration(apps, GRANTS)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=GRANTS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="api"))


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial"), ("core", "0001_roles")]
    operations = [migrations.RunPython(grant, revoke)]
