"""Import figure: `manage.py import_data orders FILE` on a file of new order lines.

The file references existing customers and products and holds new orders of 1-4 lines, placed
in the 30 days before as-of (a night's import on a big database). Reports lines/s and the
command's peak RSS; checks that the lines really arrived.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re

from bench.harness import counting_pages


def run(ctx) -> dict:
    lines = ctx.option("import_lines", min(1_000_000, max(ctx.customers, 1)))
    path = ctx.scratch / "orders.csv"
    before = _count_lines(ctx)
    orders = write_orders_csv(ctx, path, lines)
    with ctx.connect() as conn, counting_pages(conn) as pages:
        seconds, peak_rss_mb = ctx.measure_subprocess(ctx.manage("import_data", "orders", str(path)))
    imported = _count_lines(ctx) - before
    if imported != lines:
        raise RuntimeError(f"import_data exited 0 but {imported:,} of {lines:,} lines arrived")
    return {
        "lines": lines,
        "orders": orders,
        "file_mb": round(path.stat().st_size / 1024 / 1024, 1),
        "seconds": round(seconds, 2),  # wall time of the whole command, Django start-up included
        "command_reported_seconds": _reported_seconds(ctx.last_output),
        "lines_per_s": round(lines / seconds),
        "peak_rss_mb": peak_rss_mb,
        "pages": pages,  # the pages the database touched (bench/README.md)
        "target": "1,000,000 lines in under 60 s, flat memory",
    }


def write_orders_csv(ctx, path, lines: int) -> int:
    """Write `lines` order lines in new orders of 1-4 distinct products; return the order count."""
    customers, skus = _keys(ctx)
    rng = random.Random(ctx.seed)
    start = dt.datetime.combine(ctx.as_of - dt.timedelta(days=30), dt.time(7), tzinfo=dt.UTC)
    written = orders = 0
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "customer_id", "placed_at", "sku", "quantity", "amount", "cost"])
        while written < lines:
            orders += 1
            placed = (start + dt.timedelta(seconds=rng.randrange(30 * 86400))).isoformat(timespec="seconds")
            customer = customers[rng.randrange(len(customers))]
            for sku in rng.sample(skus, min(rng.randint(1, 4), lines - written)):
                quantity = rng.randint(1, 5)
                amount = 0 if rng.random() < 0.03 else rng.randint(500, 20000) * quantity
                cost = int((amount or 1000 * quantity) * rng.uniform(0.55, 0.8))
                writer.writerow(
                    [
                        f"BENCH-{orders:08d}",
                        customer,
                        placed[:19],
                        sku,
                        quantity,
                        f"{amount / 100:.2f}",
                        f"{cost / 100:.2f}",
                    ]
                )
                written += 1
    return orders


def _keys(ctx) -> tuple[list[str], list[str]]:
    with ctx.connect() as conn:
        customers = [row[0] for row in conn.execute("SELECT external_id FROM customers_customer")]
        skus = [row[0] for row in conn.execute("SELECT sku FROM customers_product ORDER BY sku")]
    if not customers or len(skus) < 4:
        raise RuntimeError("the import benchmark needs seeded customers and at least 4 products")
    customers.sort()  # the file must not depend on the order the database returns rows in
    return customers, skus


def _reported_seconds(output: list[str]) -> float | None:
    """The import's own time from its summary line ("imported orders: ... in 12.3 s"), if printed."""
    for line in reversed(output):
        found = re.search(r"^imported orders: .* in ([0-9.]+) s$", line)
        if found:
            return float(found.group(1))
    return None


def _count_lines(ctx) -> int:
    with ctx.connect() as conn:
        return conn.execute("SELECT count(*) FROM customers_orderline").fetchone()[0]
