"""Pages figure: server time of the dashboard pages, in-process through Django's test Client.

After seeding, the section re-tiers (if nothing has yet) so CustomerMetrics is filled, gives one
customer a long tier history, then times each page in a fresh child process (settings from the
benchmark's environment, DEBUG off): a few warm-up requests, then `pages_requests` timed ones
(default 30), median and p95 in milliseconds, the page's query count, and `first_ms`, the first
(untimed) request of that page, which may find the cache cold. The timed requests are warm.
Target: p95 < 150 ms at 1,000,000 customers (every list page, search included).

    python bench/run.py --customers 50000 --sections pages
    python bench/pages_bench.py --existing postgres://…/tb_copy [requests]   # a database already seeded
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
        "target": "p95 < 150 ms per page at 1,000,000 customers",
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
        **_find_pages(tier),
        "overview": "/",
        "customer_long_history": f"/customer/{customer_id}/",
    }
    figures = {name: _time(client, url, requests) for name, url in pages.items()}
    figures["overview_uncached_totals"] = _time(client, "/", max(5, requests // 6), before_each=cache.clear)
    return figures


def _find_pages(tier: int) -> dict[str, str]:
    """Search (by a real customer's company, a word of it, an email, an id), sorts by name, tier and
    account manager (first page and 1,000 rows deep), and a broad filter whose total is capped."""
    from urllib.parse import urlencode

    from customers.models import Customer

    newest = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    row = (
        Customer.objects.exclude(company="")
        .filter(pk__gte=newest // 2)
        .order_by("pk")
        .values("company", "email", "external_id")
        .first()
    ) or {"company": "Acme Ltd", "email": "a@example.com", "external_id": "C0000001"}
    word = max(row["company"].split(), key=len)

    def q(term: str) -> str:
        return "/tiers/?" + urlencode({"q": term, "per_page": 50})

    deep = "&page=21"
    return {
        "search_by_company": q(row["company"]),
        "search_by_company_word": q(word),
        "search_by_email": q(row["email"]),
        "search_by_external_id": q(row["external_id"]),
        "all_by_name": "/tiers/?sort=name&per_page=50",
        "all_by_name_1000_rows_deep": "/tiers/?sort=name&per_page=50" + deep,
        "all_by_tier_desc": "/tiers/?sort=-tier&per_page=50",
        "all_by_manager": "/tiers/?sort=manager&per_page=50",
        "all_by_manager_1000_rows_deep": "/tiers/?sort=manager&per_page=50" + deep,
        "tier_by_name": f"/tiers/{tier}/?sort=name&per_page=50",
        "tier_3_by_manager": "/tiers/3/?sort=manager&per_page=50",
        "all_broad_filter_with_total": "/tiers/?min_margin=0&per_page=50",
    }


def _time(client, url: str, requests: int, before_each=None) -> dict:
    from django.db import connection

    started = time.perf_counter()
    _get(client, url)  # the first request of this page: the cache may be cold
    first_ms = round((time.perf_counter() - started) * 1000, 1)
    for _ in range(WARM_UP - 1):
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
        "first_ms": first_ms,
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(0, round(len(timings) * 0.95) - 1)], 1),
        "max_ms": round(timings[-1], 1),
        "queries": len(queries),
    }


def _get(client, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")


def run_on_existing(database_url: str, requests: int) -> dict:
    """The section on a database that is already seeded (and re-tiered): nothing is dropped."""
    import datetime as dt
    import tempfile

    sys.path.insert(0, str(ROOT))
    from bench.harness import Context

    with tempfile.TemporaryDirectory() as scratch:
        ctx = Context(
            customers=0,
            lines=0,
            as_of=dt.date.today(),
            database_url=database_url,
            scratch=Path(scratch),
            options={"pages_requests": str(requests)},
        )
        return run(ctx)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "--existing":
        print(json.dumps(run_on_existing(sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 30), indent=2))
    else:
        sys.exit(__doc__)
