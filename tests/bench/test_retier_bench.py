"""The retier section of `bench/run.py`, end to end at a tiny size, so it never rots."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.test_bench_run import bench_database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.bench
def test_the_retier_section_reports_the_nightly_run_against_the_bare_aggregate(tmp_path):
    env = {**os.environ, "DATABASE_URL": bench_database_url().replace("_benchtest", "_retierbenchtest")}
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--customers", "300", "--sections", "retier", "--output", str(tmp_path / "r.json")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)["sections"]["retier"]
    assert figures["first_run"]["status"] == figures["retier"]["status"] == "succeeded"
    assert sum(figures["retier"]["counts"].values()) == 300
    assert figures["aggregate_seconds"] > 0 and figures["ratio"] > 0
    assert figures["retier"]["peak_rss_mb"] > 10 and figures["preview"]["seconds"] is not None
