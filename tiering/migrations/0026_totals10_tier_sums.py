"""TierCount keeps each tier's revenue and net margin sums too, by the same statement-level triggers
on tiering_customermetrics that keep its counts (0010): a run copies its RunTierTotal rows from these
few rows instead of summing the whole metrics table (24,000 pages at 1M customers).

The function is replaced and its four triggers created again here, so this migration holds their
SQL in full (tiering/triggers.py names it). Counts and sums are recomputed from one GROUP BY while
the metrics' writers wait (SHARE ROW EXCLUSIVE, taken before the function changes), so they start
exact. Every branch adds deltas with one upsert per tier, in tier order: a concurrent writer waits
on the tier's row and adds to what the first committed, as the counts always did. Sums are numeric,
as the metrics' columns are: no rounding anywhere. Frozen SQL: never import code that can change.
"""

from django.db import migrations, models

SUM_TIERS = """
CREATE OR REPLACE FUNCTION tiering_count_tiers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The branches name only the transition tables their own trigger declares.
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM tiering_tiercount;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO tiering_tiercount AS c (tier, customers, revenue, net_margin)
        SELECT tier, COUNT(*), SUM(revenue), SUM(net_margin)
        FROM new_rows GROUP BY tier ORDER BY tier  -- one lock order for every writer
        ON CONFLICT (tier) DO UPDATE SET customers = c.customers + excluded.customers,
            revenue = c.revenue + excluded.revenue, net_margin = c.net_margin + excluded.net_margin;
    ELSIF TG_OP = 'UPDATE' THEN
        -- a tier whose count is unchanged still takes the change of its members' sums
        INSERT INTO tiering_tiercount AS c (tier, customers, revenue, net_margin)
        SELECT tier, SUM(n), SUM(revenue), SUM(net_margin)
        FROM (SELECT tier, -1 AS n, -revenue AS revenue, -net_margin AS net_margin FROM old_rows
              UNION ALL SELECT tier, 1, revenue, net_margin FROM new_rows) d
        GROUP BY tier HAVING SUM(n) <> 0 OR SUM(revenue) <> 0 OR SUM(net_margin) <> 0 ORDER BY tier
        ON CONFLICT (tier) DO UPDATE SET customers = c.customers + excluded.customers,
            revenue = c.revenue + excluded.revenue, net_margin = c.net_margin + excluded.net_margin;
    ELSE
        INSERT INTO tiering_tiercount AS c (tier, customers, revenue, net_margin)
        SELECT tier, -COUNT(*), -SUM(revenue), -SUM(net_margin)
        FROM old_rows GROUP BY tier ORDER BY tier
        ON CONFLICT (tier) DO UPDATE SET customers = c.customers + excluded.customers,
            revenue = c.revenue + excluded.revenue, net_margin = c.net_margin + excluded.net_margin;
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

RECOUNT = """
INSERT INTO tiering_tiercount (tier, customers, revenue, net_margin)
SELECT tier, COUNT(*), SUM(revenue), SUM(net_margin) FROM tiering_customermetrics GROUP BY tier ORDER BY tier
"""

# What 0010 installed, for going back: counts only.
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


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("LOCK TABLE tiering_customermetrics IN SHARE ROW EXCLUSIVE MODE")  # writers wait
    schema_editor.execute(SUM_TIERS)
    for event, when in TRIGGERS.items():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS tiering_count_{event} ON tiering_customermetrics")
        schema_editor.execute(
            f"CREATE TRIGGER tiering_count_{event} {when} FOR EACH STATEMENT EXECUTE FUNCTION tiering_count_tiers()"
        )
    schema_editor.execute("DELETE FROM tiering_tiercount")
    schema_editor.execute(RECOUNT)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(COUNT_TIERS)


class Migration(migrations.Migration):
    dependencies = [
        ("tiering", "0025_hist12_backfill_view_permission"),
    ]

    operations = [
        migrations.AddField(
            model_name="tiercount",
            name="revenue",
            field=models.DecimalField(db_default=0, decimal_places=2, default=0, max_digits=18),
        ),
        migrations.AddField(
            model_name="tiercount",
            name="net_margin",
            field=models.DecimalField(db_default=0, decimal_places=2, default=0, max_digits=18),
        ),
        migrations.RunPython(install, uninstall),
    ]
