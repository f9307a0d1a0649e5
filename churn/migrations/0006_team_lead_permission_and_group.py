"""The team lead's permission, and a "Team lead" group holding it (README, roles): an admin puts an
account manager in it. Admins hold the permission too."""

from django.db import migrations

from core.roles import ADMIN, TEAM_LEAD, grant_in_migration

LEAD = "churn.lead_followup"
GRANTS = {
    ADMIN: [LEAD],
    TEAM_LEAD: [LEAD, "churn.work_followup", "churn.view_followup", "churn.view_lapse"],
}


def grant(apps, schema_editor):
    grant_in_migration(apps, GRANTS)


def drop_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=TEAM_LEAD).delete()


class Migration(migrations.Migration):
    dependencies = [("churn", "0005_lapse_watch")]
    operations = [
        migrations.AlterModelOptions(
            name="followup",
            options={
                "ordering": ["-tier", "due_on", "id"],
                "permissions": [
                    ("work_followup", "Can work the churn follow-up queue"),
                    ("lead_followup", "Can reassign, take over and close colleagues' follow-ups"),
                ],
            },
        ),
        migrations.RunPython(grant, drop_group),
    ]
