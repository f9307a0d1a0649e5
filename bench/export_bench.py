"""Export figure: the promotion export's rate against a bare COPY of the same rows, same run.

Two measurements, both on the promotion default (tiers 2 and 3):
- in one child process, interleaved `--set export_repeats=N` times (best of each, the machine is
  shared): `COPY (SELECT the same columns, no neutralisation) TO STDOUT` read through psycopg and
  dropped — the floor of PERF-NOTES.md — against the real export (`export_start`: logged,
  neutralised in SQL, gathered into 64 KiB chunks) written to a file. `ratio` is export rate /
  bare rate (target >= 0.5); `stream_ratio` the same for the CSV stream without its log entry
  (two small commits, a fixed cost that only weighs at small sizes); `python_peak_kib` is
  tracemalloc's peak over one more export (flat whatever the row count);
- `manage.py export_targets --output FILE` end to end in its own process: seconds (Django
  start-up included), rows/s and peak RSS.

Tiers come from CustomerMetrics, which a re-tier fills. When the table is empty (the seed alone
makes no tiers) the section places customers in tiers 1-3 by id for the measurement and removes
those rows afterwards; `metrics` in the figures says which happened.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(ctx) -> dict:
    synthetic = _ensure_metrics(ctx)
    try:
        figures = _measure_in_child(ctx)
        output = ctx.scratch / "targets.csv"
        seconds, peak_rss_mb = ctx.measure_subprocess(ctx.manage("export_targets", "--output", str(output)))
        figures |= {
            "command_seconds": round(seconds, 2),
            "command_rows_per_s": round(figures["rows"] / seconds),
            "command_peak_rss_mb": peak_rss_mb,
        }
        if output.stat().st_size != figures["bytes"]:
            raise RuntimeError(f"the command wrote {output.stat().st_size} bytes, the export {figures['bytes']}")
    finally:
        if synthetic:
            _drop_synthetic_metrics(ctx)
    return figures | {
        "metrics": "synthetic (no re-tier had run)" if synthetic else "from the last re-tier",
        "target": "export >= half the bare COPY rate, flat memory",
    }


def _measure_in_child(ctx) -> dict:
    result = ctx.scratch / "export_child.json"
    repeats = ctx.option("export_repeats", 5)
    seconds, peak_rss_mb = ctx.measure_subprocess(
        [ctx.python, str(Path(__file__).resolve()), "--child", "--repeats", str(repeats), "--json", str(result)]
    )
    return json.loads(result.read_text()) | {"child_peak_rss_mb": peak_rss_mb}


def _ensure_metrics(ctx) -> bool:
    with ctx.connect() as conn:
        if conn.execute("SELECT EXISTS (SELECT 1 FROM tiering_customermetrics)").fetchone()[0]:
            return False
        conn.execute(
            """
            INSERT INTO tiering_customermetrics (customer_id, changed_as_of, revenue, cost, compensation, net_margin,
                orders, active_months, tenure_start, categories, new_products, complaints,
                rejected_complaints, compensation_share, tier, below_runs)
            SELECT id, current_date, 0, 0, 0, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 1 + id % 3, 0 FROM customers_customer
            """
        )
        conn.execute("ANALYZE tiering_customermetrics")
    return True


def _drop_synthetic_metrics(ctx) -> None:
    with ctx.connect() as conn:
        conn.execute("TRUNCATE tiering_customermetrics")


# --- the child: Django set up, both ways measured on the same connection --------------------


def child(repeats: int) -> dict:
    from django.db import connection

    from promotions.exports import export_values
    from promotions.selectors import targets_queryset

    bare_rows = export_values(targets_queryset(), neutralised=False)
    bare, stream, export = [], [], []
    for _ in range(repeats):
        rows, seconds = _bare_copy(connection, bare_rows)
        bare.append(seconds)
        stream.append(_stream())
        exported, seconds, size = _export()
        export.append(seconds)
        if exported != rows:
            raise RuntimeError(f"the export wrote {exported} rows, the bare COPY {rows}")
    tracemalloc.start()
    _export()
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "rows": rows,
        "bytes": size,
        "repeats": repeats,
        "bare_copy_rows_per_s": round(rows / min(bare)),
        "stream_rows_per_s": round(rows / min(stream)),
        "stream_ratio": round(min(bare) / min(stream), 3),
        "export_rows_per_s": round(rows / min(export)),
        "ratio": round(min(bare) / min(export), 3),
        "ratio_of_medians": round(_median(bare) / _median(export), 3),
        "python_peak_kib": python_peak // 1024,
    }


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _bare_copy(connection, rows_qs) -> tuple[int, float]:
    sql, params = rows_qs.query.sql_with_params()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for _ in copy:
                pass
        rows = cursor.cursor.rowcount
    return rows, time.perf_counter() - started


def _stream() -> float:
    """The CSV stream alone (no log entry, whose two commits weigh at small sizes), into a file."""
    from promotions.exports import csv_chunks
    from promotions.selectors import targets_queryset

    with tempfile.TemporaryFile() as target:
        started = time.perf_counter()
        for chunk in csv_chunks(targets_queryset()):
            target.write(chunk)
        return time.perf_counter() - started


def _export() -> tuple[int, float, int]:
    """The real export into a file, as `export_targets --output` does; its log entry removed."""
    from promotions.models import ExportLog
    from promotions.services import export_start

    with tempfile.TemporaryFile() as target:
        started = time.perf_counter()
        log, chunks = export_start(actor="benchmark", source=ExportLog.Source.COMMAND)
        for chunk in chunks:
            target.write(chunk)
        seconds = time.perf_counter() - started
        size = target.tell()
    log.refresh_from_db()
    log.delete()  # a benchmark is not an export anybody took
    return log.row_count, seconds, size


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="The export benchmark's child process (bench/run.py starts it).")
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    args.json.write_text(json.dumps(child(args.repeats)))


if __name__ == "__main__":
    main(sys.argv[1:])
