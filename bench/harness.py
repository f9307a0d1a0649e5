"""What every benchmark section gets: the sizes, the database, and a way to measure a command.

A section is a module `bench/<name>_bench.py` with `run(ctx: Context) -> dict`; the dict goes into
the JSON report under the section's name. Sections measure real commands in fresh child
processes, so their peak memory is their own and not the harness's.
"""

from __future__ import annotations

import collections
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
