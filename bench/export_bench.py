"""Benchmark section: promotion export rate vs a bare COPY of the same rows, in the same run.

As a section of the `seed` harness: `run(ctx) -> dict` measures on the customers already in the
database (the harness seeds them). Standalone, on PostgreSQL:

    DATABASE_URL=postgres://… python bench/export_bench.py --customers 50000

adds synthetic customers (set-based SQL) up to that count first. Figures:
- bare_copy_rows_per_s: `COPY (SELECT the same columns, no neutralisation) TO STDOUT`, blocks
  read through psycopg and dropped — the floor PERF-NOTES.md speaks of;
- export_rows_per_s: the real export (`export_start`, logged, neutralised in SQL, 64 KiB chunks)
  written to a file, as `manage.py export_targets --output` does;
- ratio = export rate / bare rate, best of `export_repeats` interleaved runs (target >= 0.5),
  and the same from the medians; python_peak_kib (tracemalloc peak during one more export, not
  timed: flat whatever the row count) and the process's peak RSS.
"""

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path


def run(ctx=None) -> dict:
    from django.db import connection

    from promotions.exports import NUMBER_COLUMNS, TEXT_COLUMNS
    from promotions.selectors import targets_queryset

    if connection.vendor != "postgresql":
        return {"skipped": "the export benchmark compares with COPY: PostgreSQL only"}
    repeats = _setting(ctx, "export_repeats", 3)
    targets = targets_queryset()  # the promotion default: tiers 2 and 3
    bare_rows_qs = targets.values_list(*TEXT_COLUMNS.values(), *NUMBER_COLUMNS.values())
    bare, export = [], []
    for _ in range(repeats):  # interleaved, best of each: the machine is shared and noisy
        rows, seconds = _bare_copy(connection, bare_rows_qs)
        bare.append(seconds)
        exported, seconds, size = _export(trace=False)
        export.append(seconds)
        assert exported == rows, (exported, rows)
    _, _, _, python_peak = _export(trace=True)
    return {
        "rows": rows,
        "bytes": size,
        "repeats": repeats,
        "bare_copy_rows_per_s": round(rows / min(bare)),
        "export_rows_per_s": round(rows / min(export)),
        "ratio": round(min(bare) / min(export), 3),
        "ratio_median": round(sorted(bare)[len(bare) // 2] / sorted(export)[len(export) // 2], 3),
        "python_peak_kib": python_peak // 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def _setting(ctx, name, default):
    if isinstance(ctx, dict):
        return ctx.get(name, default)
    return getattr(ctx, name, default)


def _export(*, trace: bool):
    """The real export (logged, neutralised in SQL) into a file, as `export_targets --output`."""
    from promotions.models import ExportLog
    from promotions.services import export_start

    with tempfile.TemporaryFile() as target:
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        log, chunks = export_start(actor="benchmark", source=ExportLog.Source.COMMAND)
        for chunk in chunks:
            target.write(chunk)
        seconds = time.perf_counter() - started
        size = target.tell()
    log.refresh_from_db()
    log.delete()  # a benchmark is not an export anybody took
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return log.row_count, seconds, size, peak
    return log.row_count, seconds, size


def _bare_copy(connection, rows_qs) -> tuple[int, float]:
    sql, params = rows_qs.query.sql_with_params()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for _ in copy:
                pass
        rows = cursor.cursor.rowcount
    return rows, time.perf_counter() - started


def seed_synthetic(customers: int) -> None:
    """Top the database up to `customers` bench customers, a third in each tier, some formulas."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer WHERE external_id LIKE 'BENCH%'")
        have = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO customers_customer (external_id, name, email, company)
            SELECT 'BENCH' || g, CASE WHEN g %% 97 = 0 THEN '=HYPERLINK("x")' ELSE 'Customer ' || g END,
                   'c' || g || '@example.com', CASE WHEN g %% 5 = 0 THEN '' ELSE 'Company ' || (g %% 1000) END
            FROM generate_series(%s, %s) AS g
            """,
            [have + 1, customers],
        )  # an empty series when there are enough already
        cursor.execute(
            """
            INSERT INTO tiering_customermetrics (customer_id, as_of, revenue, cost, compensation, net_margin,
                orders, active_months, tenure_days, categories, new_products, complaints,
                rejected_complaints, compensation_share, tier, below_runs, last_order_at)
            SELECT c.id, current_date, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 + c.id % 3, 0, now()
            FROM customers_customer c
            WHERE c.external_id LIKE 'BENCH%' AND NOT EXISTS (
                SELECT 1 FROM tiering_customermetrics m WHERE m.customer_id = c.id)
            """
        )
        cursor.execute("ANALYZE customers_customer")
        cursor.execute("ANALYZE tiering_customermetrics")


def main(argv: list[str]) -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    seed_synthetic(args.customers)
    print(json.dumps({"export": run()}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
