from django.db import migrations

from core.roles import ADMIN, grant_in_migration


def grant(apps, schema_editor):
    # Admins watch the history backfills in the Django admin (starting one needs tiering.run_retier).
    grant_in_migration(apps, {ADMIN: ["tiering.view_tierbackfill"]})


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_roles"),
        ("tiering", "0024_hist12_tier_backfill"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
