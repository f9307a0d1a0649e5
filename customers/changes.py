"""Which customers' source data changed: the marks that database triggers leave (DataChange).

The triggers (PostgreSQL only; their SQL frozen in migration 0003, declared in customers/triggers.py
and checked by `manage.py check --database default`) are statement-level with transition tables: one
row per statement that wrote rows, holding the distinct ids it touched as an array (not a trigger
call, nor a mark, per row: a 500,000-line import paid 4 s for a mark per customer, 0.5 s so).
They mark:
- order lines, orders and tickets inserted, updated or deleted: their customers (old and new);
- customers inserted, or whose signed_up_on changed: those customers;
- a product whose category or launch date changed, or any of these tables truncated: everyone.
"""

from django.db import connection

from customers.triggers import TRIGGERS

TABLE = "customers_datachange"

# The tables whose writes leave marks (a bulk load that bypasses their triggers marks everyone).
TRIGGERED_TABLES = tuple(dict.fromkeys(trigger.table for trigger in TRIGGERS))


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
