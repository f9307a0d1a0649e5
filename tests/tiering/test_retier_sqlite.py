"""SQLite (the demo default) computes the same metrics and tiers as PostgreSQL on the same data."""

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from tiering.models import CustomerMetrics
from tiering.services import retier_all

ROOT = Path(__file__).resolve().parents[2]
SEED = ["seed_demo", "--customers", "150", "--seed", "7", "--today", "2026-11-22", "--jobs", "1"]
COLUMNS = ["revenue", "cost", "compensation", "net_margin", "orders", "active_months", "tenure_start",
           "last_order_at", "median_gap_days", "categories", "new_products", "complaints",
           "rejected_complaints", "compensation_share", "tier"]  # fmt: skip


def on_sqlite(tmp_path) -> dict[str, tuple]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
    }
    env.pop("REDIS_URL", None)
    for args in (["migrate", "-v0"], SEED, ["retier", "--as-of", "2026-11-22"]):
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=240
        )
    db = sqlite3.connect(tmp_path / "demo.sqlite3")
    rows = db.execute(
        f"SELECT c.external_id, {', '.join('m.' + c for c in COLUMNS)} FROM tiering_customermetrics m "
        "JOIN customers_customer c ON c.id = m.customer_id"
    ).fetchall()
    return {row[0]: _normal(row[1:]) for row in rows}


def _normal(values) -> tuple:
    """Numbers as Decimals rounded as the columns store them (SQLite hands back floats); dates and
    datetimes as their (UTC) day (SQLite hands back text)."""
    return tuple(
        None
        if v is None
        else str(v)[:10]
        if isinstance(v, (str, dt.date))
        else Decimal(str(v)).quantize(Decimal("0.0001"))
        for v in values
    )


@pytest.mark.django_db
def test_sqlite_and_postgresql_give_every_customer_the_same_metrics_and_tier(tmp_path):
    call_command(*SEED, stdout=open(os.devnull, "w"))
    retier_all(as_of=dt.date(2026, 11, 22))
    on_postgresql = {
        m["customer__external_id"]: _normal([m[c] for c in COLUMNS])
        for m in CustomerMetrics.objects.values("customer__external_id", *COLUMNS)
    }

    sqlite_rows = on_sqlite(tmp_path)

    assert len(on_postgresql) == 150
    assert sqlite_rows == on_postgresql
