"""Admins see sign-in attempts and lockouts (django-axes) and may delete them to unlock someone early."""

from django.db import migrations

from core.roles import ADMIN, grant_in_migration

GRANTS = {
    ADMIN: ["axes.view_accessattempt", "axes.delete_accessattempt", "axes.view_accesslog", "axes.view_accessfailurelog"]
}


def grant(apps, schema_editor):
    grant_in_migration(apps, GRANTS)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = [perm.split(".")[1] for perm in GRANTS[ADMIN]]
    for group in Group.objects.filter(name=ADMIN):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="axes", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_roles"),
        ("axes", "0010_accessattemptexpiration"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
