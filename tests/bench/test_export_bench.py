"""The export section of `bench/run.py` at a tiny size, so its figures never rot."""

import json
import os
import subprocess
import sys

import pytest

from tests.bench.test_bench_run import ROOT, bench_database_url


@pytest.mark.bench
def test_the_export_section_compares_the_export_with_a_bare_copy_of_the_same_rows(tmp_path):
    env = {**os.environ, "BENCH_DATABASE_URL": bench_database_url()}
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--customers", "300", "--sections", "export",
         "--set", "export_repeats=2", "--output", str(tmp_path / "result.json")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)["sections"]["export"]
    assert figures["rows"] == 200  # tiers 2 and 3 of 300 customers placed by id
    assert figures["bare_copy_rows_per_s"] > 0 and figures["export_rows_per_s"] > 0
    assert 0 < figures["ratio"] and figures["python_peak_kib"] > 0
    assert figures["command_peak_rss_mb"] > 10 and figures["metrics"].startswith("synthetic")
