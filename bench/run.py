"""`python bench/run.py`: seed a fresh PostgreSQL database at a given size, run the benchmark
sections, and print one JSON document (also written to --output).

    python bench/run.py --customers 1000000 --lines-per-customer 10 --sections import

Adding a section: write bench/<name>_bench.py with `run(ctx) -> dict` and add its name to
SECTIONS below. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, Context, measure_subprocess  # noqa: E402

SECTIONS = [
    "import",
    "retier",
    "pages",
    "export",
    "api",
    "backfill",
]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tb_bench"


def main(argv=None) -> int:
    args = parse_args(argv)
    # Its own variable, never DATABASE_URL: the benchmark drops and recreates this database.
    database_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    report = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(database_url),
        "setup": {},
        "sizes": {},
        "sections": {},
    }
    say(f"bench: fresh database {urlparse(database_url).path.lstrip('/')}")
    recreate_database(database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="tierboard-bench-") as scratch:
            ctx = Context(
                customers=args.customers,
                lines=0,
                as_of=args.as_of,
                database_url=database_url,
                scratch=Path(scratch),
                seed=args.seed,
                options=dict(args.set),
            )
            report["setup"] = set_up(ctx, args)
            report["sizes"] = sizes(ctx)
            ctx.lines = report["sizes"]["order_lines"]
            failed = run_sections(ctx, args.sections, report["sections"])
    finally:
        if not args.keep_db:
            drop_database(database_url)
    document = json.dumps(report, indent=2, default=str)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(document + "\n")
    print(document)
    return 1 if failed else 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lines-per-customer", type=float, default=10)
    parser.add_argument(
        "--sections",
        type=lambda s: [x for x in s.split(",") if x],
        default=SECTIONS,
        help=f"comma-separated, from: {','.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards (to look into it)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=dt.date.today(),
        help="the date the data is relative to (default: today)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=lambda s: tuple(s.split("=", 1)),
        metavar="NAME=VALUE",
        help="a section option, e.g. --set import_lines=200000",
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    return args


def set_up(ctx: Context, args) -> dict:
    say("bench: migrate")
    migrate_s, _ = measure_subprocess(ctx.manage("migrate", "-v0"), env=ctx.env)
    say(f"bench: seed_demo {ctx.customers:,} customers")
    seed_s, seed_rss = ctx.measure_subprocess(
        ctx.manage(
            "seed_demo",
            "--customers",
            str(ctx.customers),
            "--lines-per-customer",
            str(args.lines_per_customer),
            "--seed",
            str(ctx.seed),
            "--today",
            ctx.as_of.isoformat(),
        )
    )
    return {"migrate_seconds": round(migrate_s, 2), "seed_seconds": round(seed_s, 2), "seed_peak_rss_mb": seed_rss}


def run_sections(ctx: Context, names: list[str], results: dict) -> bool:
    """Run each section; one that fails is reported with its error and the others still run."""
    failed = False
    for name in names:
        say(f"bench: section {name}")
        started = time.monotonic()
        try:
            results[name] = importlib.import_module(f"bench.{name}_bench").run(ctx)
        except Exception as exc:  # a broken section must not hide the others' figures
            traceback.print_exc(file=sys.stderr)
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed = True
        results[name]["section_seconds"] = round(time.monotonic() - started, 2)
    return failed


def sizes(ctx: Context) -> dict:
    with ctx.connect() as conn:
        count = lambda table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
        return {
            "customers": count("customers_customer"),
            "products": count("customers_product"),
            "orders": count("customers_order"),
            "order_lines": count("customers_orderline"),
            "tickets": count("customers_ticket"),
            "as_of": ctx.as_of.isoformat(),
            "seed": ctx.seed,
        }


def machine_info(database_url: str) -> dict:
    import psycopg

    with psycopg.connect(_maintenance_url(database_url), autocommit=True) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "memory_gb": _memory_gb(),
        "postgresql": pg,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            return round(int(meminfo.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        return None


def _maintenance_url(database_url: str) -> str:
    return urlparse(database_url)._replace(path="/postgres").geturl()


def _database_name(database_url: str) -> str:
    name = urlparse(database_url).path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"BENCH_DATABASE_URL={database_url!r}: the benchmark needs a plain database name it may drop")
    return name


def recreate_database(database_url: str) -> None:
    import psycopg

    name = _database_name(database_url)
    with psycopg.connect(_maintenance_url(database_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        # read time beside the pages read, to tell the OS page cache from the disk (superuser only)
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'ALTER DATABASE "{name}" SET track_io_timing = on')


def drop_database(database_url: str) -> None:
    import psycopg

    with psycopg.connect(_maintenance_url(database_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_database_name(database_url)}" WITH (FORCE)')


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
