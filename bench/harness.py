"""What every benchmark section gets: the sizes, the database, and a way to measure a command.

A section is a module `bench/<name>_bench.py` with `run(ctx: Context) -> dict`; the dict goes into
the JSON report under the section's name. Sections measure real commands in fresh child
processes, so their peak memory is their own and not the harness's.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class CommandFailed(RuntimeError):
    pass


@dataclass
class Context:
    customers: int
    lines: int  # order lines in the database after seeding
    as_of: dt.date
    database_url: str
    scratch: Path
    seed: int = 1
    options: dict[str, str] = field(default_factory=dict)  # from --set name=value
    python: str = sys.executable
    last_output: list[str] = field(default_factory=list)  # last lines the last measured command printed

    @property
    def env(self) -> dict[str, str]:
        """The environment of every measured command: this database, development settings, no debug."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            # the re-tier alone: churn's follow-up tasks would run in-process after it (no broker)
            "RETIER_FOLLOW_UP_TASKS": "false",
            # and without the history backfill a first run over loaded history does first: the
            # backfill section measures that on its own
            "RETIER_BACKFILL_MONTHS": "0",
        }

    def manage(self, *args: str) -> list[str]:
        return [self.python, str(ROOT / "manage.py"), *args]

    def option(self, name: str, default, kind=int):
        return kind(self.options[name]) if name in self.options else default

    def measure_subprocess(self, cmd: list[str]) -> tuple[float, float]:
        """Run cmd in a fresh child; return (wall seconds, peak RSS in MB). Raises CommandFailed."""
        self.last_output = []
        return measure_subprocess(cmd, env=self.env, cwd=ROOT, output=self.last_output)

    def connect(self):
        import psycopg

        return psycopg.connect(self.database_url, autocommit=True)


def measure_subprocess(cmd: list[str], *, env=None, cwd=ROOT, output: list | None = None) -> tuple[float, float]:
    """Wall time and peak RSS (via /usr/bin/time) of one command; its output goes to stderr.

    stdout of the harness is kept for the JSON report alone, so the child's output is relayed to
    stderr line by line (progress stays visible) and its last lines go into the error on failure.
    """
    timer = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        full = [timer, "-f", "%M", "-o", rss_file.name, *cmd] if timer else cmd
        tail = collections.deque(maxlen=20)
        started = time.monotonic()
        with subprocess.Popen(
            full, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        ) as child:
            for line in child.stdout:
                sys.stderr.write(line)
                tail.append(line.rstrip())
        seconds = time.monotonic() - started
        if output is not None:
            output.extend(tail)
        if child.returncode != 0:
            raise CommandFailed(f"{' '.join(cmd)} exited with status {child.returncode}: " + " | ".join(tail))
        rss_text = rss_file.read().strip().splitlines()
    peak_kb = int(rss_text[-1]) if timer and rss_text else _children_peak_kb()
    return seconds, round(peak_kb / 1024, 1)


def _children_peak_kb() -> int:
    """Fallback without /usr/bin/time: the largest child so far (Linux reports KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


# --- pages the database touched ---------------------------------------------------------------
# Seconds on these machines swing up to 5x with the page cache; pages touched (blocks hit in shared
# buffers plus blocks read from outside them) do not, so each measured command reports both.

RELATION_BLOCKS_SQL = """
SELECT 'table', relid, relname, heap_blks_hit, heap_blks_read,
       COALESCE(toast_blks_hit, 0) + COALESCE(tidx_blks_hit, 0), COALESCE(toast_blks_read, 0) + COALESCE(tidx_blks_read, 0)
FROM pg_statio_user_tables
UNION ALL
SELECT 'index', indexrelid, relname, idx_blks_hit, idx_blks_read, 0, 0 FROM pg_statio_user_indexes
"""
DATABASE_BLOCKS_SQL = """
SELECT blks_hit + blks_read, blk_read_time, current_setting('track_io_timing') = 'on'
FROM pg_stat_database WHERE datname = current_database()
"""
OTHER_BACKENDS_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
WARM_READ_SHARE = 0.01  # at most 1% of the pages came from outside shared buffers
WARM_MS_PER_READ = 0.05  # a read served by the OS page cache takes microseconds, one from the disk far more


@dataclass(frozen=True)
class Blocks:
    """Cumulative counters of one moment: per relation (kind, oid) -> (table name, heap or index
    hit, read, toast hit, read); the database's blocks (catalogs and temporary tables included)
    and its read time in ms (None when track_io_timing is off)."""

    relations: dict
    database: int
    read_ms: float | None

    def since(self, before: Blocks) -> dict:
        """The pages touched between `before` and now, as report figures."""
        touched = collections.Counter()
        per_table = collections.Counter()
        for key, (table, hit, read, toast_hit, toast_read) in self.relations.items():
            _, *old = before.relations.get(key, (table, 0, 0, 0, 0))  # a relation created meanwhile
            delta = [new - was for new, was in zip((hit, read, toast_hit, toast_read), old)]
            part = "heap" if key[0] == "table" else "index"
            touched[part] += delta[0] + delta[1]
            touched["toast"] += delta[2] + delta[3]
            touched["hit"] += delta[0] + delta[2]
            touched["read"] += delta[1] + delta[3]
            per_table[table] += sum(delta)
        read_ms = None if self.read_ms is None or before.read_ms is None else round(self.read_ms - before.read_ms, 1)
        return _pages_figures(touched, per_table, database=self.database - before.database, read_ms=read_ms)


def _pages_figures(touched, per_table, *, database: int, read_ms: float | None) -> dict:
    total = touched["hit"] + touched["read"]
    share = touched["read"] / total if total else 0.0
    warm = share <= WARM_READ_SHARE or (read_ms is not None and read_ms / touched["read"] < WARM_MS_PER_READ)
    return {
        "touched": total,
        "hit": touched["hit"],
        "read": touched["read"],
        "heap": touched["heap"],
        "index": touched["index"],
        "toast": touched["toast"],
        "read_share": round(share, 4),
        "read_ms": read_ms,
        "cache": "warm" if warm else "cold",
        "database_blocks": database,
        "top_tables": dict((+per_table).most_common(5)),  # + drops tables not touched
    }


def blocks_now(conn, *, settle_seconds: float = 30) -> Blocks:
    """The counters once every other session of this database has ended (a backend flushes its
    counters as it exits, before it leaves pg_stat_activity) and this one's are flushed
    (pg_stat_force_next_flush: at the end of that statement's transaction, not up to 1 s later)."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    deadline = time.monotonic() + settle_seconds
    while conn.execute(OTHER_BACKENDS_SQL).fetchone()[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    conn.execute("SELECT pg_stat_clear_snapshot()")  # read the shared counters, not a cached snapshot
    relations = {(kind, oid): tuple(rest) for kind, oid, *rest in conn.execute(RELATION_BLOCKS_SQL).fetchall()}
    database, read_ms, timing = conn.execute(DATABASE_BLOCKS_SQL).fetchone()
    return Blocks(relations=relations, database=database, read_ms=read_ms if timing else None)


@contextlib.contextmanager
def counting_pages(conn):
    """`with counting_pages(conn) as pages: ...` fills `pages` with the pages touched meanwhile, by
    this connection or by any command run inside (run nothing else on the database meanwhile)."""
    pages: dict = {}
    before = blocks_now(conn)
    yield pages
    pages.update(blocks_now(conn).since(before))
