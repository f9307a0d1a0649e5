"""API figure: server time of 1,000-customer pages at the first page and deep cursors (each filter),
and a night's tier changes delivered as signed webhook batches to a local receiver.

Pages are timed in a fresh child process through Django's test Client (in-process, DEBUG off, a real
token, so authentication, rate limit and the call log are in the time): `api_requests` timed calls
per URL (default 20) after 3 warm-up calls: median, p95, max and the query count. Deep cursors start
90% of the way through the listing. Target: p95 < 150 ms at 1,000,000 customers, at any depth.

The night: the tier changes of a typical night are `api_night_share` (default 0.05) of the customers.
The section copies that many real tier changes (their why included) of the run in force into a new
run record, registers an endpoint on a receiver thread in the child (a real HTTP server on
127.0.0.1 that verifies every signature), and delivers them as the re-tier's hand-off does
(api.tasks.queue_run_events_task, tasks in-process without a broker): `changes`, `deliveries`,
`seconds`, `changes_per_s`, `body_mb`, and what the receiver got (`received`, `verified`).

    python bench/run.py --customers 50000 --sections api
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
WARM_UP = 3
DEPTH = 0.9


def run(ctx) -> dict:
    from bench.pages_bench import _ensure_metrics

    retier_seconds = _ensure_metrics(ctx)
    night_run = _copy_a_night(ctx, ctx.option("api_night_share", 0.05, float))
    requests = ctx.option("api_requests", 20)
    child = subprocess.run(
        [ctx.python, str(Path(__file__).resolve()), "--measure", str(requests), str(night_run)],
        env={key: value for key, value in ctx.env.items() if key not in ("REDIS_URL", "API_RATE_LIMIT_REDIS_URL")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stderr.write(child.stderr[-4000:])
    if child.returncode != 0:
        raise RuntimeError(f"api measurement failed: {child.stderr.strip().splitlines()[-1:]}")
    return {
        "retier_seconds": retier_seconds,
        "requests_per_url": requests,
        **json.loads(child.stdout.strip().splitlines()[-1]),  # the last line: anything printed before is noise
        "target": "p95 < 150 ms per 1,000-customer page at any depth; a night's changes within minutes",
    }


def _copy_a_night(ctx, share: float) -> int:
    """A run record holding `share` of the customers' tier changes, copied from the run in force."""
    with ctx.connect() as conn:
        source, as_of = conn.execute(
            "SELECT id, as_of FROM tiering_retierrun WHERE status = 'succeeded' AND NOT dry_run"
            " AND triggered_by <> 'bench: a copied night' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        night = conn.execute(
            """INSERT INTO tiering_retierrun (started_at, finished_at, status, as_of, dry_run, triggered_by, counts,
                   matrix, moved, progress, cuts, error, note, task_id)
               VALUES (now(), now(), 'succeeded', %s, false, 'bench: a copied night', '{}', '{}', 0, '{}', '[]', '',
                   'copied tier changes for the API benchmark', '') RETURNING id""",
            (as_of,),
        ).fetchone()[0]
        conn.execute(
            """INSERT INTO tiering_tierchange (customer_id, run_id, from_tier, to_tier, changed_at, why)
               SELECT customer_id, %s, from_tier, to_tier, now(), why FROM tiering_tierchange
                WHERE run_id = %s ORDER BY id LIMIT %s""",
            (night, source, max(1, round(ctx.customers * share))),
        )
        conn.execute("ANALYZE tiering_tierchange")
    return night


# --- the child process ----------------------------------------------------------------------------


def measure(requests: int, night_run: int) -> dict:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    from api import services

    _, secret = services.token_create(
        name="bench", scopes=["read:customers", "read:changes", "read:targets"], rate_limit_per_minute=10**9
    )
    pages = {name: _time(url, secret, requests) for name, url in _urls().items()}
    return {"pages": pages, "night": _deliver_night(night_run)}


def _urls() -> dict[str, str]:
    from django.db import connection

    from api import cursors

    def deep(where: str = "TRUE", table: str = "tiering_customermetrics") -> str:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}")
            total = cursor.fetchone()[0]
            cursor.execute(
                f"SELECT customer_id FROM {table} WHERE {where} ORDER BY customer_id OFFSET %s LIMIT 1",
                [int(total * DEPTH)],
            )
            row = cursor.fetchone()
        return cursors.encode(row[0] if row else 0)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stage FROM churn_customerrisk WHERE stage <> '' GROUP BY stage ORDER BY count(*) LIMIT 1"
        )
        stage = (cursor.fetchone() or ["new"])[0]
        cursor.execute("SELECT max(changed_as_of) FROM tiering_customermetrics")
        since = cursor.fetchone()[0]
        cursor.execute("SELECT max(id) FROM tiering_tierchange")
        last_change = cursor.fetchone()[0] or 0
    base = "/api/v1/customers?limit=1000"
    stage_cursor = deep(f"stage = '{stage}'", "churn_customerrisk")
    return {
        "customers_first_page": base,
        "customers_deep": f"{base}&cursor={deep()}",
        "tier_3_first_page": f"{base}&tier=3",
        "tier_3_deep": f"{base}&tier=3&cursor={deep('tier = 3')}",
        "tier_2_deep": f"{base}&tier=2&cursor={deep('tier = 2')}",
        f"stage_{stage}_first_page": f"{base}&stage={stage}",
        f"stage_{stage}_deep": f"{base}&stage={stage}&cursor={stage_cursor}",
        "changed_since_first_page": f"{base}&changed_since={since}",
        "tier_changes_deep": f"/api/v1/tier-changes?limit=1000&cursor={cursors.encode(max(0, last_change - 5000))}",
    }


def _time(url: str, secret: str, requests: int) -> dict:
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
    for _ in range(WARM_UP):
        _get(client, url)
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        items = _get(client, url)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        _get(client, url)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "url": url,
        "items": items,
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(0, round(len(timings) * 0.95) - 1)], 1),
        "max_ms": round(timings[-1], 1),
        "queries": len(queries),
    }


def _get(client, url: str) -> int:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}: {response.content[:200]!r}")
    return len(response.json()["items"])


def _deliver_night(run_id: int) -> dict:
    from api.models import WebhookDelivery, WebhookEndpoint
    from api.receiver import Receiver
    from api.tasks import queue_run_events_task
    from tiering.models import TierChange

    WebhookEndpoint.objects.filter(description="bench").delete()  # a receiver of an earlier run is gone
    with Receiver(secret_for=lambda: endpoint.secret, keep=False) as receiver:
        endpoint = WebhookEndpoint.objects.create(
            url=receiver.url, events=["tier.changed"], secret="whsec_bench", description="bench"
        )
        started = time.perf_counter()
        queue_run_events_task.apply(args=[run_id])
        seconds = time.perf_counter() - started
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    changes = TierChange.objects.filter(run_id=run_id).count()
    return {
        "changes": changes,
        "deliveries": deliveries.count(),
        "succeeded": deliveries.filter(status="succeeded").count(),
        "seconds": round(seconds, 2),
        "changes_per_s": round(changes / seconds) if seconds else None,
        "body_mb": round(receiver.bytes / 1e6, 1),
        "received": receiver.items,
        "verified": receiver.verified,
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]))))
    else:
        sys.exit(__doc__)
