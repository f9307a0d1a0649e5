"""`manage.py import_data` killed with SIGKILL in the middle of a file leaves nothing behind, and
running it again imports everything: the whole import is one transaction."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from customers.models import Order, OrderLine
from tests.factories import CustomerFactory, ProductFactory

ROOT = Path(__file__).resolve().parents[2]
LINES = 200_000

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the command must see committed rows
    pytest.mark.usefixtures("restore_migrated_data"),
]


def orders_file(path: Path, lines: int) -> Path:
    with open(path, "w") as out:
        out.write("order_id,customer_id,placed_at,sku,quantity,amount,cost\n")
        out.writelines(f"K{i:07d},C1,2026-03-01T10:00:00,A1,1,9.90,5.00\n" for i in range(lines))
    return path


def import_data(path: Path, **popen) -> subprocess.Popen:
    s = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"}
    env.pop("REDIS_URL", None)
    return subprocess.Popen([sys.executable, "manage.py", "import_data", "orders", str(path)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)  # fmt: skip


def test_an_import_killed_mid_file_leaves_nothing_and_a_rerun_imports_everything(tmp_path):
    CustomerFactory(external_id="C1")
    ProductFactory(sku="A1")
    path = orders_file(tmp_path / "orders.csv", LINES)

    command = import_data(path)
    backend = _wait_until_copying(command, at_least=20_000)
    command.send_signal(signal.SIGKILL)
    command.wait(timeout=10)
    _wait_until_gone(backend)

    assert not Order.objects.exists() and not OrderLine.objects.exists()
    with connection.cursor() as cursor:  # nor is anything left locked for the next import
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert cursor.fetchone()[0] == 0

    rerun = import_data(path)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert out.startswith(f"imported orders: {LINES} rows, {LINES} created, 0 updated, 0 unchanged in ")
    assert (Order.objects.count(), OrderLine.objects.count()) == (LINES, LINES)


def _wait_until_copying(command: subprocess.Popen, *, at_least: int, timeout: float = 120) -> int:
    """The server process of the command once its COPY into the staging table has taken `at_least` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert command.poll() is None, f"the import ended before it could be killed: {command.communicate()}"
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid, tuples_processed FROM pg_stat_progress_copy WHERE datname = current_database()")
            row = cursor.fetchone()
        if row and row[1] >= at_least:
            return row[0]
        time.sleep(0.05)
    pytest.fail(f"the import did not reach {at_least} staged rows within {timeout} s")


def _wait_until_gone(backend: int, timeout: float = 30) -> None:
    """PostgreSQL rolls back the killed client's transaction when it notices the closed connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend])
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"server process {backend} of the killed import is still there after {timeout} s")
