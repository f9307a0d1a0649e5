"""Marks of changed source data (DataChange), written by statement-level triggers on PostgreSQL
(the table exists there only: SQLite re-tiers everyone every run).

An "everyone" mark is left at once, so the first re-tier after this migration recomputes every
customer (and the metrics' next-change dates that later runs rely on).
"""

import django.contrib.postgres.fields
from django.db import migrations, models

from customers import changes


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE TABLE {changes.TABLE} (id bigserial PRIMARY KEY, customer_ids bigint[], run_id bigint)"
    )
    for statement in changes.install_sql():
        schema_editor.execute(statement)
    schema_editor.execute(f"INSERT INTO {changes.TABLE} (customer_ids) VALUES (NULL)")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in changes.uninstall_sql():
        schema_editor.execute(statement)
    schema_editor.execute(f"DROP TABLE IF EXISTS {changes.TABLE}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_lean_order_indexes")]

    operations = [
        migrations.CreateModel(
            name="DataChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "customer_ids",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.BigIntegerField(), help_text="Empty: every customer.", null=True, size=None
                    ),
                ),
                ("run_id", models.BigIntegerField(null=True)),
            ],
            options={"managed": False, "db_table": "customers_datachange"},
        ),
        migrations.RunPython(install, uninstall),
    ]
