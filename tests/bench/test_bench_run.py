"""`bench/run.py` end to end at a tiny size, so the benchmark never rots (CI runs it)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench_database_url() -> str:
    """A database of its own beside this run's (tb_seed -> tb_seed_benchtest): the harness drops it."""
    url = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tierboard"))
    return url._replace(path=url.path + "_benchtest").geturl()


@pytest.mark.bench
def test_it_seeds_imports_and_prints_one_json_document_with_the_import_figures(tmp_path):
    output = tmp_path / "result.json"
    env = {**os.environ, "BENCH_DATABASE_URL": bench_database_url()}
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--customers", "300", "--sections", "import", "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report == json.loads(output.read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["postgresql"]
    assert report["sizes"]["customers"] == 300
    assert 2000 <= report["sizes"]["order_lines"] <= 4500  # about 10 lines per customer
    assert report["setup"]["seed_seconds"] > 0
    figures = report["sections"]["import"]
    assert figures["lines"] == 300
    assert figures["lines_per_s"] > 0 and figures["peak_rss_mb"] > 10
    assert figures["pages"]["touched"] > 0 and figures["pages"]["top_tables"]["customers_orderline"] > 0


def test_an_unknown_section_is_refused_before_touching_any_database():
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--sections", "nope"],
        cwd=ROOT,
        env={**os.environ, "BENCH_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unknown section(s) nope" in done.stderr
