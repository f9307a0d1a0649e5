"""Which customers' source data changed: the marks that database triggers leave (DataChange).

The triggers (PostgreSQL only, migration 0003) are statement-level with transition tables: one
row per statement that wrote rows, holding the distinct ids it touched as an array (not a trigger
call, nor a mark, per row: a 500,000-line import paid 4 s for a mark per customer, 0.5 s so).
They mark:
- order lines, orders and tickets inserted, updated or deleted: their customers (old and new);
- customers inserted, or whose signed_up_on changed: those customers;
- a product whose category or launch date changed, or any of these tables truncated: everyone.
SQLite (the demo) has no triggers: there the re-tier always recomputes everyone.
"""

from django.db import connection

TABLE = "customers_datachange"

# Tables whose rows carry a customer_id that decides some customer metric.
CUSTOMER_ROW_TABLES = ("customers_orderline", "customers_order", "customers_ticket")
TRIGGERED_TABLES = (*CUSTOMER_ROW_TABLES, "customers_customer", "customers_product")

_MARK_ROWS = f"""
CREATE OR REPLACE FUNCTION customers_mark_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The branches name only the transition tables their own trigger declares.
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO {TABLE} (customer_ids) VALUES (NULL);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO {TABLE} (customer_ids) SELECT array_agg(DISTINCT customer_id) FROM new_rows HAVING COUNT(*) > 0;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {TABLE} (customer_ids)
        SELECT array_agg(DISTINCT customer_id)
        FROM (SELECT customer_id FROM old_rows UNION ALL SELECT customer_id FROM new_rows) touched HAVING COUNT(*) > 0;
    ELSE
        INSERT INTO {TABLE} (customer_ids) SELECT array_agg(DISTINCT customer_id) FROM old_rows HAVING COUNT(*) > 0;
    END IF;
    RETURN NULL;
END $$;
"""

_MARK_CUSTOMERS = f"""
CREATE OR REPLACE FUNCTION customers_mark_customers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO {TABLE} (customer_ids) VALUES (NULL);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO {TABLE} (customer_ids) SELECT array_agg(id) FROM new_rows HAVING COUNT(*) > 0;
    ELSE  -- UPDATE: only the sign-up date decides a metric (tenure)
        INSERT INTO {TABLE} (customer_ids)
        SELECT array_agg(n.id) FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.signed_up_on IS DISTINCT FROM o.signed_up_on HAVING COUNT(*) > 0;
    END IF;
    RETURN NULL;
END $$;
"""

_MARK_PRODUCTS = f"""
CREATE OR REPLACE FUNCTION customers_mark_products() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A product's category or launch date is part of every buyer's metrics: recompute everyone
    -- (rare: catalogue edits). A new product has no buyers yet; its lines mark them.
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO {TABLE} (customer_ids) VALUES (NULL);
    ELSIF EXISTS (
        SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.category IS DISTINCT FROM o.category OR n.launched_on IS DISTINCT FROM o.launched_on
    ) THEN
        INSERT INTO {TABLE} (customer_ids) VALUES (NULL);
    END IF;
    RETURN NULL;
END $$;
"""


def triggers_sql(table: str, function: str, events: tuple[str, ...]) -> list[str]:
    transition = {
        "INSERT": "REFERENCING NEW TABLE AS new_rows",
        "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "DELETE": "REFERENCING OLD TABLE AS old_rows",
        "TRUNCATE": "",
    }
    return [
        f"CREATE TRIGGER {table}_mark_{event.lower()} AFTER {event} ON {table} {transition[event]}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for event in events
    ]


def install_sql() -> list[str]:
    statements = [_MARK_ROWS, _MARK_CUSTOMERS, _MARK_PRODUCTS]
    for table in CUSTOMER_ROW_TABLES:
        statements += triggers_sql(table, "customers_mark_rows", ("INSERT", "UPDATE", "DELETE", "TRUNCATE"))
    statements += triggers_sql("customers_customer", "customers_mark_customers", ("INSERT", "UPDATE", "TRUNCATE"))
    statements += triggers_sql("customers_product", "customers_mark_products", ("UPDATE", "TRUNCATE"))
    return statements


def uninstall_sql() -> list[str]:
    return [
        "DROP FUNCTION IF EXISTS customers_mark_rows() CASCADE",
        "DROP FUNCTION IF EXISTS customers_mark_customers() CASCADE",
        "DROP FUNCTION IF EXISTS customers_mark_products() CASCADE",
    ]


def tracks_changes() -> bool:
    """Whether this database marks changes (PostgreSQL with the triggers in place)."""
    return connection.vendor == "postgresql"


def mark_everyone(cursor) -> None:
    """Every customer's metrics must be recomputed (a load that bypassed the triggers)."""
    cursor.execute(f"INSERT INTO {TABLE} (customer_ids) VALUES (NULL)")


def take(cursor, *, run_id: int) -> None:
    """Claim every mark visible now for run `run_id`: rows being written by transactions still
    open are not visible, so they stay for the next run. Never waits on a writer (they only
    insert). Marks taken by an earlier run that failed are taken again."""
    cursor.execute(f"UPDATE {TABLE} SET run_id = %s WHERE run_id IS DISTINCT FROM %s", [run_id, run_id])


def everyone_marked(cursor, *, run_id: int | None) -> bool:
    """Whether an "everyone" mark is among those of `run_id` (None: any visible mark)."""
    sql = f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE customer_ids IS NULL{' AND run_id = %s' if run_id is not None else ''})"
    cursor.execute(sql, [run_id] if run_id is not None else [])
    return cursor.fetchone()[0]


def marked_customers() -> set[int | None]:
    """The customer ids marked now (None among them for an "everyone" mark)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT customer_ids FROM {TABLE}")
        return {i for (ids,) in cursor.fetchall() for i in (ids if ids is not None else [None])}


def marked_sql(*, run_id_param: str = "%(run_id)s", taken: bool = True) -> str:
    """SQL selecting the customer ids marked (taken by the run, or all visible marks)."""
    where = f"run_id = {run_id_param}" if taken else "TRUE"
    return f"SELECT unnest(customer_ids) AS customer_id FROM {TABLE} WHERE customer_ids IS NOT NULL AND {where}"


def release(cursor, *, run_id: int) -> None:
    """Delete the marks run `run_id` took: call in the transaction that applies its results."""
    cursor.execute(f"DELETE FROM {TABLE} WHERE run_id = %s", [run_id])
