"""The retier section of `bench/run.py`, end to end at a tiny size, so it never rots."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.test_bench_run import bench_database_url

ROOT = Path(__file__).resolve().parents[2]


def run_retier_section(tmp_path) -> dict:
    # its own database (the harness reads BENCH_DATABASE_URL alone, and drops it)
    env = {**os.environ, "BENCH_DATABASE_URL": bench_database_url().replace("_benchtest", "_retierbenchtest")}
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--customers", "300", "--sections", "retier", "--output", str(tmp_path / "r.json")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["sections"]["retier"]


@pytest.mark.bench
def test_the_retier_section_reports_the_nightly_run_against_the_bare_aggregate_in_seconds_and_pages(tmp_path):
    figures = run_retier_section(tmp_path)

    assert figures["first_run"]["status"] == figures["retier"]["status"] == "succeeded"
    assert sum(figures["retier"]["counts"].values()) == 300
    assert figures["aggregate_seconds"] >= 0 and figures["ratio"] > 0  # a few ms at this size
    assert figures["retier"]["peak_rss_mb"] > 10 and figures["preview"]["seconds"] is not None
    measured = [figures[name]["pages"] for name in ("first_run", "retier_warmup", "retier", "preview")]
    for pages in [*measured, figures["aggregate_pages"], figures["metrics_select_pages"]]:
        assert pages["touched"] == pages["hit"] + pages["read"] == pages["heap"] + pages["index"] + pages["toast"]
        assert pages["touched"] > 0 and pages["cache"] in ("warm", "cold")
    # the bare aggregate reads order lines and tickets alone; the nightly run more than that
    assert set(figures["aggregate_pages"]["top_tables"]) == {"customers_orderline", "customers_ticket"}
    assert figures["pages_ratio"] == round(
        figures["retier"]["pages"]["touched"] / figures["aggregate_pages"]["touched"], 2
    )
    assert figures["pages_ratio"] > 0
    # Which figures ran on a cold cache depends on the machine's load, not on the code: only named figures.
    assert set(figures["cold"]) <= set(figures) - {"cold"}
