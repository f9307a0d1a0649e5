"""Marks of changed source data (DataChange), written by statement-level triggers on PostgreSQL
(the table exists there only: SQLite re-tiers everyone every run).

An "everyone" mark is left at once, so the first re-tier after this migration recomputes every
customer (and the metrics' next-change dates that later runs rely on).

The SQL is frozen here as it was installed (it once lived in customers/changes.py): a migration
never imports code that can change. customers/triggers.py declares what must exist now.
"""

import django.contrib.postgres.fields
from django.db import migrations, models

CREATE_TABLE = "CREATE TABLE customers_datachange (id bigserial PRIMARY KEY, customer_ids bigint[], run_id bigint)"

MARK_ROWS = """
CREATE OR REPLACE FUNCTION customers_mark_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The branches name only the transition tables their own trigger declares.
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO customers_datachange (customer_ids) VALUES (NULL);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO customers_datachange (customer_ids) SELECT array_agg(DISTINCT customer_id) FROM new_rows HAVING COUNT(*) > 0;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO customers_datachange (customer_ids)
        SELECT array_agg(DISTINCT customer_id)
        FROM (SELECT customer_id FROM old_rows UNION ALL SELECT customer_id FROM new_rows) touched HAVING COUNT(*) > 0;
    ELSE
        INSERT INTO customers_datachange (customer_ids) SELECT array_agg(DISTINCT customer_id) FROM old_rows HAVING COUNT(*) > 0;
    END IF;
    RETURN NULL;
END $$;
"""

MARK_CUSTOMERS = """
CREATE OR REPLACE FUNCTION customers_mark_customers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO customers_datachange (customer_ids) VALUES (NULL);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO customers_datachange (customer_ids) SELECT array_agg(id) FROM new_rows HAVING COUNT(*) > 0;
    ELSE  -- UPDATE: only the sign-up date decides a metric (tenure)
        INSERT INTO customers_datachange (customer_ids)
        SELECT array_agg(n.id) FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.signed_up_on IS DISTINCT FROM o.signed_up_on HAVING COUNT(*) > 0;
    END IF;
    RETURN NULL;
END $$;
"""

MARK_PRODUCTS = """
CREATE OR REPLACE FUNCTION customers_mark_products() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A product's category or launch date is part of every buyer's metrics: recompute everyone
    -- (rare: catalogue edits). A new product has no buyers yet; its lines mark them.
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO customers_datachange (customer_ids) VALUES (NULL);
    ELSIF EXISTS (
        SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.category IS DISTINCT FROM o.category OR n.launched_on IS DISTINCT FROM o.launched_on
    ) THEN
        INSERT INTO customers_datachange (customer_ids) VALUES (NULL);
    END IF;
    RETURN NULL;
END $$;
"""

NEW = "REFERENCING NEW TABLE AS new_rows"
OLD = "REFERENCING OLD TABLE AS old_rows"
OLD_NEW = "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
TRIGGERS = (
    f"CREATE TRIGGER customers_orderline_mark_insert AFTER INSERT ON customers_orderline {NEW} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    f"CREATE TRIGGER customers_orderline_mark_update AFTER UPDATE ON customers_orderline {OLD_NEW} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    f"CREATE TRIGGER customers_orderline_mark_delete AFTER DELETE ON customers_orderline {OLD} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    "CREATE TRIGGER customers_orderline_mark_truncate AFTER TRUNCATE ON customers_orderline FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    f"CREATE TRIGGER customers_order_mark_insert AFTER INSERT ON customers_order {NEW} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    f"CREATE TRIGGER customers_order_mark_update AFTER UPDATE ON customers_order {OLD_NEW} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    f"CREATE TRIGGER customers_order_mark_delete AFTER DELETE ON customers_order {OLD} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    "CREATE TRIGGER customers_order_mark_truncate AFTER TRUNCATE ON customers_order FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    f"CREATE TRIGGER customers_ticket_mark_insert AFTER INSERT ON customers_ticket {NEW} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    f"CREATE TRIGGER customers_ticket_mark_update AFTER UPDATE ON customers_ticket {OLD_NEW} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    f"CREATE TRIGGER customers_ticket_mark_delete AFTER DELETE ON customers_ticket {OLD} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    "CREATE TRIGGER customers_ticket_mark_truncate AFTER TRUNCATE ON customers_ticket FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    f"CREATE TRIGGER customers_customer_mark_insert AFTER INSERT ON customers_customer {NEW} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_customers()",
    f"CREATE TRIGGER customers_customer_mark_update AFTER UPDATE ON customers_customer {OLD_NEW} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_customers()",
    "CREATE TRIGGER customers_customer_mark_truncate AFTER TRUNCATE ON customers_customer FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_customers()",
    f"CREATE TRIGGER customers_product_mark_update AFTER UPDATE ON customers_product {OLD_NEW} FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_products()",
    "CREATE TRIGGER customers_product_mark_truncate AFTER TRUNCATE ON customers_product FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_products()",
)


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in (CREATE_TABLE, MARK_ROWS, MARK_CUSTOMERS, MARK_PRODUCTS, *TRIGGERS):
        schema_editor.execute(statement)
    schema_editor.execute("INSERT INTO customers_datachange (customer_ids) VALUES (NULL)")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for function in ("customers_mark_rows", "customers_mark_customers", "customers_mark_products"):
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}() CASCADE")
    schema_editor.execute("DROP TABLE IF EXISTS customers_datachange")


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
