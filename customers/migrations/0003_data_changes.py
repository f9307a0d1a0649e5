"""Marks of changed source data (DataChange), written by statement-level triggers on PostgreSQL.

An "everyone" mark is left at once, so the first re-tier after this migration recomputes every
customer (and the metrics' next-change dates that later runs rely on).
"""

from django.db import migrations, models

from customers import changes


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in changes.install_sql():
        schema_editor.execute(statement)
    schema_editor.execute(f"INSERT INTO {changes.TABLE} (customer_id) VALUES (NULL)")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in changes.uninstall_sql():
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_lean_order_indexes")]

    operations = [
        migrations.CreateModel(
            name="DataChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("customer_id", models.BigIntegerField(help_text="Empty: every customer.", null=True)),
                ("run_id", models.BigIntegerField(null=True)),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
