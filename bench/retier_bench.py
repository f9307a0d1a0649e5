"""Re-tier figures: the nightly re-tier against the bare SQL aggregate over the same rows, in
seconds and in pages the database touched (bench.harness.counting_pages; bench/README.md).

Measured in this order on the seeded database (bench/run.py), each command in a fresh child:
- first_run: `manage.py retier --as-of <as_of - 1 day>` when nobody has a tier yet (every customer
  gets a first TierChange, with the why);
- aggregate_first_pass, then aggregate_seconds / aggregate_pages: the plain per-customer GROUP BY
  over all order lines up to as_of and over the window's tickets, results counted, nothing written
  (JIT off, as for the re-tier): the floor. The first pass warms the cache and is not the figure;
- retier_warmup, then retier: the nightly case, `manage.py retier --as-of <as_of>` one day after
  the first run (metrics, rules, grace, history of movers, metrics write, VACUUM ANALYZE), after
  the same command with --dry-run (the untimed pass that warms the cache). `seconds` is the
  command's wall time (Django start-up included); `run_seconds` is the run record's own start to
  finish (before VACUUM); ratio = seconds / aggregate_seconds and pages_ratio = pages touched /
  the aggregate's (targets <= 2); peak_rss_mb of the command (target < 300 MB);
- preview: the rules preview of the published rule set, in a child process (target < 10 s);
- metrics_select_seconds and _pages (a second reference, not the yardstick): the re-tier's own
  metrics SELECT (tiering.metrics.metrics_select_sql) over every range, one range after another on
  one connection, rows counted, nothing written: what the metrics phase costs before any write;
- cold: the figures whose cache was cold (their seconds measure the disk; their pages still compare).

Standalone, on whatever DATABASE_URL holds: `python bench/retier_bench.py [--as-of DATE]`.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import counting_pages  # noqa: E402

BARE_AGGREGATE = """
SELECT
  (SELECT COUNT(*) FROM (
      SELECT customer_id, SUM(amount), SUM(cost), COUNT(DISTINCT order_id), MIN(placed_at), MAX(placed_at)
      FROM customers_orderline WHERE placed_at < %(end)s GROUP BY customer_id) lines),
  (SELECT COUNT(*) FROM (
      SELECT customer_id, SUM(compensation), COUNT(*)
      FROM customers_ticket WHERE opened_at >= %(start)s AND opened_at < %(end)s GROUP BY customer_id) tickets)
"""

PREVIEW = """
import time, django
django.setup()
from tiering.models import RuleSet
from tiering.preview import preview_ruleset
ruleset = RuleSet.objects.get(status="published")
started = time.perf_counter()
preview = preview_ruleset(ruleset=ruleset)
print(f"preview_seconds={time.perf_counter() - started:.3f} moved={preview.moved}")
"""

METRICS_SELECT = """
import datetime as dt, sys, time, django
django.setup()
from django.db import connection
from tiering.metrics import customer_ranges, metrics_params, metrics_select_sql
from django.conf import settings
as_of = dt.date.fromisoformat(sys.argv[1])
sql = f"SELECT COUNT(*) FROM ({metrics_select_sql(as_of=as_of)}) q"
with connection.cursor() as cursor:
    cursor.execute("SET jit = off")
    cursor.execute("SET work_mem = '64MB'")
    started = time.perf_counter()
    for lo, hi in customer_ranges(size=settings.RETIER_RANGE_SIZE):
        cursor.execute(sql, metrics_params(run_id=0, as_of=as_of, lo=lo, hi=hi))
print(f"metrics_select_seconds={time.perf_counter() - started:.3f}")
"""


def window(as_of: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The re-tier's window (tiering.metrics.window), repeated so this runs without Django."""
    midnight = dt.time(0, 0, tzinfo=dt.UTC)
    try:
        start_day = as_of.replace(year=as_of.year - 1) + dt.timedelta(days=1)
    except ValueError:  # Feb 29
        start_day = dt.date(as_of.year - 1, 3, 1)
    return dt.datetime.combine(start_day, midnight), dt.datetime.combine(as_of + dt.timedelta(days=1), midnight)


def bare_aggregate_seconds(conn, as_of: dt.date) -> float:
    start, end = window(as_of)
    conn.execute("SET jit = off")
    started = time.perf_counter()
    conn.execute(BARE_AGGREGATE, {"start": start, "end": end}).fetchone()
    return time.perf_counter() - started


def bare_aggregate(conn, as_of: dt.date) -> dict:
    """One pass of the bare aggregate: seconds and the pages it touched."""
    with counting_pages(conn) as pages:
        seconds = bare_aggregate_seconds(conn, as_of)
    return {"seconds": round(seconds, 3), "pages": pages}


def measured(ctx, conn, cmd: list[str]) -> dict:
    """One command in a fresh child: wall seconds, peak RSS and the pages the database touched."""
    with counting_pages(conn) as pages:
        seconds, rss = ctx.measure_subprocess(cmd)
    return {"seconds": round(seconds, 2), "peak_rss_mb": rss, "pages": pages}


def last_run(conn) -> dict:
    row = conn.execute(
        "SELECT id, status, moved, counts, EXTRACT(EPOCH FROM finished_at - started_at) FROM tiering_retierrun"
        " WHERE dry_run = false ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return {"id": row[0], "status": row[1], "moved": row[2], "counts": row[3], "run_seconds": round(float(row[4]), 2)}


def run(ctx) -> dict:
    figures = {}
    with ctx.connect() as conn:
        if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM tiering_customermetrics)").fetchone()[0]:
            first = measured(ctx, conn, ctx.manage("retier", "--as-of", str(ctx.as_of - dt.timedelta(days=1))))
            figures["first_run"] = {**first, **last_run(conn)}
        # warm runs: each timed figure comes after one untimed pass over the same rows
        figures["aggregate_first_pass"] = bare_aggregate(conn, ctx.as_of)
        aggregate = bare_aggregate(conn, ctx.as_of)
        figures["retier_warmup"] = measured(ctx, conn, ctx.manage("retier", "--as-of", str(ctx.as_of), "--dry-run"))
        nightly = measured(ctx, conn, ctx.manage("retier", "--as-of", str(ctx.as_of)))
        nightly.update(last_run(conn))
        preview = measured(ctx, conn, [ctx.python, "-c", PREVIEW])
        reported = re.search(r"preview_seconds=([\d.]+)", " ".join(ctx.last_output))
        figures["preview"] = {**preview, "seconds": float(reported.group(1)) if reported else None,
                              "wall_seconds": preview["seconds"]}  # fmt: skip
        select = measured(ctx, conn, [ctx.python, "-c", METRICS_SELECT, str(ctx.as_of)])
    figures["aggregate_seconds"] = aggregate["seconds"]
    figures["aggregate_pages"] = aggregate["pages"]
    figures["retier"] = nightly
    figures["ratio"] = round(nightly["seconds"] / aggregate["seconds"], 2)
    figures["ratio_run"] = round(nightly["run_seconds"] / aggregate["seconds"], 2)
    figures["pages_ratio"] = round(nightly["pages"]["touched"] / aggregate["pages"]["touched"], 2)
    reported = re.search(r"metrics_select_seconds=([\d.]+)", " ".join(ctx.last_output))
    figures["metrics_select_seconds"] = float(reported.group(1)) if reported else None
    figures["metrics_select_pages"] = select["pages"]
    figures["cold"] = [name for name, pages in _pages_of(figures) if pages["cache"] == "cold"]
    figures["targets"] = "ratio and pages_ratio <= 2, peak RSS < 300 MB, preview < 10 s (at 1,000,000 customers)"
    return figures


def _pages_of(figures: dict):
    """(name, pages) of every measured figure, in the order they ran."""
    for name, value in figures.items():
        if isinstance(value, dict) and "pages" in value:
            yield name, value["pages"]
        elif name.endswith("_pages"):
            yield name.removesuffix("_pages"), value


if __name__ == "__main__":
    import json
    import os
    import tempfile

    from bench.harness import Context

    as_of = dt.date.fromisoformat(sys.argv[sys.argv.index("--as-of") + 1]) if "--as-of" in sys.argv else dt.date.today()
    ctx = Context(
        customers=0, lines=0, as_of=as_of, database_url=os.environ["DATABASE_URL"], scratch=Path(tempfile.gettempdir())
    )
    print(json.dumps(run(ctx), indent=2))
