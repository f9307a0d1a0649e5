"""TierCount: customers per tier, kept by statement-level triggers on tiering_customermetrics, so a
run reads its counts from three rows instead of counting the whole table (0.2-0.3 s at 1M)."""

from django.db import migrations, models

COUNT_TIERS = """
CREATE OR REPLACE FUNCTION tiering_count_tiers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The branches name only the transition tables their own trigger declares.
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM tiering_tiercount;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO tiering_tiercount AS c (tier, customers)
        SELECT tier, COUNT(*) FROM new_rows GROUP BY tier ORDER BY tier  -- one lock order for every writer
        ON CONFLICT (tier) DO UPDATE SET customers = c.customers + excluded.customers;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO tiering_tiercount AS c (tier, customers)
        SELECT tier, SUM(delta) FROM (SELECT tier, -1 AS delta FROM old_rows UNION ALL SELECT tier, 1 FROM new_rows) d
        GROUP BY tier HAVING SUM(delta) <> 0 ORDER BY tier
        ON CONFLICT (tier) DO UPDATE SET customers = c.customers + excluded.customers;
    ELSE
        INSERT INTO tiering_tiercount AS c (tier, customers)
        SELECT tier, -COUNT(*) FROM old_rows GROUP BY tier ORDER BY tier
        ON CONFLICT (tier) DO UPDATE SET customers = c.customers + excluded.customers;
    END IF;
    RETURN NULL;
END $$;
"""

TRIGGERS = {
    "insert": "AFTER INSERT ON tiering_customermetrics REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON tiering_customermetrics REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON tiering_customermetrics REFERENCING OLD TABLE AS old_rows",
    "truncate": "AFTER TRUNCATE ON tiering_customermetrics",
}


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(COUNT_TIERS)
    for event, when in TRIGGERS.items():
        schema_editor.execute(
            f"CREATE TRIGGER tiering_count_{event} {when} FOR EACH STATEMENT EXECUTE FUNCTION tiering_count_tiers()"
        )
    schema_editor.execute(
        "INSERT INTO tiering_tiercount (tier, customers) SELECT tier, COUNT(*) FROM tiering_customermetrics GROUP BY tier"
    )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tiering_count_tiers() CASCADE")


class Migration(migrations.Migration):
    dependencies = [
        ("tiering", "0009_metrics_date_driven_moves"),
    ]

    operations = [
        migrations.CreateModel(
            name="TierCount",
            fields=[
                ("tier", models.PositiveSmallIntegerField(primary_key=True, serialize=False)),
                ("customers", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
