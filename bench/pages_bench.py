"""Pages figure: server time of the dashboard pages, in-process through Django's test Client.

After seeding, the section re-tiers (if nothing has yet) so CustomerMetrics is filled, gives one
customer a long tier history, then times each page in a fresh child process (settings from the
benchmark's environment, DEBUG off): a few warm-up requests, then `pages_requests` timed ones
(default 30), median and p95 in milliseconds, and the page's query count. Target: p95 < 100 ms
at 1,000,000 customers.

    python bench/run.py --customers 50000 --sections pages
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LONG_HISTORY = 300  # tier changes given to the "long history" customer
WARM_UP = 3


def run(ctx) -> dict:
    retier_seconds = _ensure_metrics(ctx)
    # DEBUG is off, as in production: pages need the static files manifest.
    ctx.measure_subprocess(ctx.manage("collectstatic", "--noinput", "-v0"))
    customer_id = _give_one_customer_a_long_history(ctx, LONG_HISTORY)
    tier = ctx.option("pages_tier", 2)
    requests = ctx.option("pages_requests", 30)
    child = subprocess.run(
        [ctx.python, str(Path(__file__).resolve()), "--measure", str(requests), str(tier), str(customer_id)],
        env=ctx.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stderr.write(child.stderr)
    if child.returncode != 0:
        raise RuntimeError(f"pages measurement failed: {child.stderr.strip().splitlines()[-1:]}")
    figures = json.loads(child.stdout)
    return {
        "retier_seconds": retier_seconds,
        "requests_per_page": requests,
        "tier": tier,
        **figures,
        "target": "p95 < 100 ms per page at 1,000,000 customers",
    }


def _ensure_metrics(ctx) -> float | None:
    with ctx.connect() as conn:
        if conn.execute("SELECT EXISTS (SELECT 1 FROM tiering_customermetrics)").fetchone()[0]:
            return None
    seconds, _ = ctx.measure_subprocess(ctx.manage("retier", "--as-of", ctx.as_of.isoformat()))
    return round(seconds, 2)


def _give_one_customer_a_long_history(ctx, changes: int) -> int:
    """The highest-margin tier-3 customer (or any) gets `changes` past tier changes in the last run."""
    with ctx.connect() as conn:
        customer_id = conn.execute(
            "SELECT customer_id FROM tiering_customermetrics ORDER BY tier DESC, net_margin DESC LIMIT 1"
        ).fetchone()[0]
        run_id, why = conn.execute(
            "SELECT r.id, COALESCE((SELECT why FROM tiering_tierchange WHERE run_id = r.id LIMIT 1), '{}'::jsonb) "
            "FROM tiering_retierrun r WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        conn.execute(
            """
            INSERT INTO tiering_tierchange (customer_id, run_id, from_tier, to_tier, changed_at, why)
            SELECT %s, %s, 1 + (i %% 3), 1 + ((i + 1) %% 3), now() - make_interval(days => i), %s
            FROM generate_series(1, %s) AS i
            """,
            (customer_id, run_id, json.dumps(why), changes),
        )
        conn.execute("ANALYZE tiering_tierchange")
    return customer_id


# --- the child process: Django set up, pages timed ----------------------------------------------


def measure(requests: int, tier: int, customer_id: int) -> dict:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.cache import cache
    from django.test import Client

    user, _ = User.objects.get_or_create(username="bench-pages")
    user.groups.add(Group.objects.get(name="Account manager"))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    listing = f"/tiers/{tier}/?sort=-net_margin&min_margin=0&per_page=50"
    pages = {
        "tier_list_first_page": listing,
        "tier_list_1000_rows_deep": listing + "&page=21",
        "all_customers_unfiltered": "/tiers/?sort=-net_margin&per_page=50",
        "overview": "/",
        "customer_long_history": f"/customer/{customer_id}/",
    }
    figures = {name: _time(client, url, requests) for name, url in pages.items()}
    figures["overview_uncached_totals"] = _time(client, "/", max(5, requests // 6), before_each=cache.clear)
    return figures


def _time(client, url: str, requests: int, before_each=None) -> dict:
    from django.db import connection

    for _ in range(WARM_UP):
        _get(client, url)
    queries = []  # counted by a wrapper: the request's own signals reset connection.queries

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        _get(client, url)
    timings = []
    for _ in range(requests):
        if before_each:
            before_each()
        started = time.perf_counter()
        _get(client, url)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "url": url,
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(0, round(len(timings) * 0.95) - 1)], 1),
        "max_ms": round(timings[-1], 1),
        "queries": len(queries),
    }


def _get(client, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
    else:
        sys.exit(__doc__)
