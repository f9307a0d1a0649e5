"""The demo's embedded PostgreSQL (config.embedded_pg): up for the command it runs, gone after it."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from config import embedded_pg

ROOT = Path(__file__).resolve().parent.parent
ASK_THE_SERVER = (
    "import os, psycopg; url = os.environ['DATABASE_URL'].replace('postgres://', 'postgresql://', 1); "
    "conn = psycopg.connect(url, autocommit=True); "
    "print(conn.execute(\"SELECT current_database() || ' listen_addresses=' || current_setting('listen_addresses')\")"
    ".fetchone()[0]); "
    "[conn.execute(sql) for sql in os.environ.get('SQL', '').split(';') if sql.strip()]; "
    "print(conn.execute(os.environ['QUERY']).fetchone()[0] if os.environ.get('QUERY') else '')"
)


@pytest.fixture
def data_dir():
    """A fresh data directory outside pytest's tmp_path: pytest resets /tmp/pytest-of-<user> to mode 700
    whenever a session starts, which would lock out the user that PostgreSQL runs as under root."""
    parent = Path(tempfile.mkdtemp(prefix="tierboard-pg-"))
    yield parent / "postgres"
    embedded_pg.stop(parent / "postgres")
    shutil.rmtree(parent)


def run(data_dir: Path, *command: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "config.embedded_pg", "--data-dir", str(data_dir), "run", "--", *command],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": "postgres://not-this@127.0.0.1:9/none", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_gets_its_own_database_on_a_socket_with_no_tcp_port_and_the_server_stops_after(data_dir):
    done = run(data_dir, sys.executable, "-c", ASK_THE_SERVER)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tierboard listen_addresses=\n" in done.stdout  # not the shell's DATABASE_URL; no TCP port
    assert "Embedded PostgreSQL stopped." in done.stdout
    assert embedded_pg.server_pid(data_dir) is None
    assert not (data_dir / "postmaster.pid").exists()


def test_a_second_run_finds_what_the_first_one_wrote(data_dir):
    first = run(
        data_dir,
        sys.executable,
        "-c",
        ASK_THE_SERVER,
        SQL="CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)",
    )
    assert first.returncode == 0, first.stderr
    again = run(data_dir, sys.executable, "-c", ASK_THE_SERVER, QUERY="SELECT n FROM kept")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[2] == "42"


def test_the_command_exit_status_is_passed_on(data_dir):
    assert run(data_dir, sys.executable, "-c", "raise SystemExit(3)").returncode == 3


def test_sigterm_stops_the_command_and_then_the_server(data_dir):
    started = data_dir.parent / "command-started"
    demo = subprocess.Popen(
        [sys.executable, "-m", "config.embedded_pg", "--data-dir", str(data_dir), "run", "--"]
        + ["sh", "-c", f"touch {started}; exec sleep 60"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert embedded_pg.server_pid(data_dir) is not None
    demo.send_signal(signal.SIGTERM)  # to the wrapper alone: it passes it on to the command
    assert demo.wait(timeout=30) == 128 + signal.SIGTERM  # the command died of SIGTERM
    assert "Embedded PostgreSQL stopped." in demo.stdout.read()
    assert embedded_pg.server_pid(data_dir) is None


def test_the_url_names_the_socket_in_the_data_directory_when_nothing_runs(tmp_path):
    assert (
        embedded_pg.database_url(tmp_path / "pg")
        == f"postgres://postgres@{str(tmp_path / 'pg').replace('/', '%2F')}/tierboard"
    )


def test_a_run_leaves_up_a_server_it_did_not_start(data_dir):
    embedded_pg.start(data_dir)  # by hand, or by another `make demo`
    pid = embedded_pg.server_pid(data_dir)
    done = run(data_dir, sys.executable, "-c", "raise SystemExit(1)")  # e.g. runserver finds its port taken
    assert done.returncode == 1
    assert "Embedded PostgreSQL stopped." not in done.stdout
    assert embedded_pg.server_pid(data_dir) == pid
