"""Webhook deliveries: what a night's run and a closed follow-up send, in batches, signed, logged,
retried with back-off, and an endpoint that keeps failing paused (docs/api.md).

A delivery row names its content (`subject`: a run's tier changes with ids first..last, a list of
follow-up ids); the body is built from it at each attempt and signed with that attempt's time.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from churn.models import FollowUp, Lapse
from tiering.models import RetierRun, TierChange

from . import signing
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .scopes import EVENTS, FOLLOWUP_CLOSED, LAPSE_DETECTED, TIER_CHANGED

log = logging.getLogger(__name__)
USER_AGENT = "Tierboard-Webhooks/1"
ERROR_TEXT_LIMIT = 500

# Consecutive rows of a run, `size` at a time: (first id, last id, rows) per batch, in one statement.
BATCHES_SQL = """
    SELECT min(id), max(id), count(*) FROM (
        SELECT id, (row_number() OVER (ORDER BY id) - 1) / %(size)s AS batch FROM {table} WHERE run_id = %(run)s
    ) numbered GROUP BY batch ORDER BY batch
"""
RUN_TABLES = {TIER_CHANGED: TierChange._meta.db_table, LAPSE_DETECTED: Lapse._meta.db_table}


# --- creating deliveries ------------------------------------------------------------------------


def queue_run_events(*, run_id: int) -> list[int]:
    """After run `run_id` committed: one delivery per batch of its tier changes, lapses and
    follow-ups it closed (customers who came back), for each endpoint taking the event. A paused
    endpoint's are created held, to go out when it is resumed. Returns the ids to send."""
    endpoints = list(WebhookEndpoint.objects.all())
    wanted = {event: [e for e in endpoints if event in e.events] for event in EVENTS}
    rows: list[WebhookDelivery] = []
    for event, table in RUN_TABLES.items():
        if wanted[event]:
            batches = _run_batches(table, run_id)
            for index, (first, last, items) in enumerate(batches):
                subject = {
                    "run_id": run_id,
                    "first_id": first,
                    "last_id": last,
                    "batch": index,
                    "batches": len(batches),
                }
                rows += [_delivery(endpoint, event, subject, items) for endpoint in wanted[event]]
    if wanted[FOLLOWUP_CLOSED]:
        returned = list(_returned_in_run(run_id))
        for start in range(0, len(returned), settings.WEBHOOK_BATCH_SIZE):
            ids = returned[start : start + settings.WEBHOOK_BATCH_SIZE]
            rows += [
                _delivery(e, FOLLOWUP_CLOSED, {"ids": ids, "run_id": run_id}, len(ids)) for e in wanted[FOLLOWUP_CLOSED]
            ]
    return _created(rows)


def queue_follow_up_closed(*, follow_up_id: int) -> list[int]:
    """A person closed a follow-up: one delivery to each endpoint taking followup.closed."""
    endpoints = [e for e in WebhookEndpoint.objects.all() if FOLLOWUP_CLOSED in e.events]
    return _created([_delivery(e, FOLLOWUP_CLOSED, {"ids": [follow_up_id]}, 1) for e in endpoints])


def _run_batches(table: str, run_id: int) -> list[tuple[int, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(BATCHES_SQL.format(table=table), {"size": settings.WEBHOOK_BATCH_SIZE, "run": run_id})
        return list(cursor.fetchall())


def _returned_in_run(run_id: int):
    """Follow-ups the run closed because their customer ordered again (churn.services), found by the
    run's span: runs never overlap (single flight), and people never set "returned"."""
    run = RetierRun.objects.filter(pk=run_id).values("started_at", "finished_at").first()
    if run is None or run["finished_at"] is None:
        return []
    return (
        FollowUp.objects.filter(
            status=FollowUp.Status.RETURNED, closed_at__gte=run["started_at"], closed_at__lte=run["finished_at"]
        )
        .order_by("id")
        .values_list("id", flat=True)
    )


def _delivery(endpoint: WebhookEndpoint, event: str, subject: dict, items: int) -> WebhookDelivery:
    status = WebhookDelivery.Status.HELD if endpoint.is_paused else WebhookDelivery.Status.PENDING
    return WebhookDelivery(endpoint=endpoint, event=event, subject=subject, items=items, status=status)


def _created(rows: list[WebhookDelivery]) -> list[int]:
    created = WebhookDelivery.objects.bulk_create(rows, batch_size=1000)
    return [row.pk for row in created if row.status == WebhookDelivery.Status.PENDING]


# --- the body -----------------------------------------------------------------------------------


def render_body(delivery: WebhookDelivery) -> bytes:
    """The delivery's JSON. Each change's `why` is placed as the database stores it (JSON text):
    parsing and re-encoding 500 of them (about 3 KB each) was most of a batch's time."""
    subject = delivery.subject
    document = {"id": delivery.pk, "event": delivery.event, "created_at": delivery.created_at}
    if "run_id" in subject:
        document["run"] = RetierRun.objects.filter(pk=subject["run_id"]).values("id", "as_of").first()
    if "batch" in subject:
        document["batch"] = {"index": subject["batch"], "count": subject["batches"]}
    items = ",".join(_encoded(row) for row in _data(delivery.event, subject))
    return (_encoded(document)[:-1] + f',"data":[{items}]}}').encode()


def _encoded(row: dict) -> str:
    """`row` as JSON, with a `why_json` value (JSON text already) placed as `why`."""
    raw = row.pop("why_json", None)
    encoded = json.dumps(row, cls=DjangoJSONEncoder, separators=(",", ":"))
    return encoded if raw is None else f'{encoded[:-1]},"why":{raw}}}'


def _data(event: str, subject: dict) -> list[dict]:
    if event == TIER_CHANGED:
        rows = TierChange.objects.filter(
            run_id=subject["run_id"], id__gte=subject["first_id"], id__lte=subject["last_id"]
        ).values(
            "id",
            "customer_id",
            "from_tier",
            "to_tier",
            "changed_at",
            external_id=F("customer__external_id"),
            why_json=Cast("why", TextField()),
        )
    elif event == LAPSE_DETECTED:
        rows = Lapse.objects.filter(
            run_id=subject["run_id"], id__gte=subject["first_id"], id__lte=subject["last_id"]
        ).values(
            "id",
            "customer_id",
            "detected_on",
            "last_order_at",
            "tier_while_active",
            "response",
            external_id=F("customer__external_id"),
        )
    else:
        rows = FollowUp.objects.filter(id__in=subject["ids"]).values(
            "id", "customer_id", "kind", "tier", "status", "closed_at", "cause_category", "cause_text",
            external_id=F("customer__external_id"), assignee_username=F("assignee__username"),
        )  # fmt: skip
    return list(rows.order_by("id"))


# --- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retry_in: int | None = None  # seconds until the next attempt; None: no further attempt


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx is the receiver's answer, not a new address
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def attempt_delivery(*, delivery_id: int) -> Outcome:
    """One attempt at a pending delivery: sign, POST, log the answer, and say whether to retry."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.status != WebhookDelivery.Status.PENDING:
        return Outcome(delivered=delivery.status == WebhookDelivery.Status.SUCCEEDED)
    endpoint = delivery.endpoint
    if endpoint.is_paused:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.HELD)
        return Outcome(delivered=False)
    body = render_body(delivery)
    started = time.monotonic()
    status, error = post(endpoint=endpoint, delivery=delivery, body=body)
    WebhookAttempt.objects.create(
        delivery=delivery, response_status=status, error=error, duration_ms=round((time.monotonic() - started) * 1000)
    )
    if status is not None and 200 <= status < 300:
        return _succeeded(delivery, status)
    return _failed(delivery, status, error)


def post(*, endpoint: WebhookEndpoint, delivery: WebhookDelivery, body: bytes) -> tuple[int | None, str]:
    """(HTTP status or None, error text): the receiver's answer to one signed POST."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Tierboard-Event": delivery.event,
        "Tierboard-Delivery": str(delivery.pk),
        signing.HEADER: signing.header_value(secret=endpoint.secret, timestamp=int(time.time()), body=body),
    }
    request = urllib.request.Request(endpoint.url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read(ERROR_TEXT_LIMIT).decode("utf-8", "replace")
    except (OSError, ValueError) as error:  # refused, timed out, DNS, TLS, a malformed URL
        return None, f"{error.__class__.__name__}: {error}"[:ERROR_TEXT_LIMIT]


def _succeeded(delivery: WebhookDelivery, status: int) -> Outcome:
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.SUCCEEDED,
        attempts=F("attempts") + 1,
        response_status=status,
        error="",
        last_attempt_at=now,
        delivered_at=now,
        next_attempt_at=None,
    )
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(consecutive_failures=0)
    return Outcome(delivered=True)


def _failed(delivery: WebhookDelivery, status: int | None, error: str) -> Outcome:
    now = timezone.now()
    attempts = delivery.attempts + 1
    paused = _count_failure(delivery.endpoint)
    if paused:
        state, retry_in = WebhookDelivery.Status.HELD, None
    elif attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        state, retry_in = WebhookDelivery.Status.FAILED, None
    else:
        state, retry_in = WebhookDelivery.Status.PENDING, backoff_seconds(attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=state,
        attempts=attempts,
        response_status=status,
        error=error,
        last_attempt_at=now,
        next_attempt_at=now + timezone.timedelta(seconds=retry_in) if retry_in else None,
    )
    return Outcome(delivered=False, retry_in=retry_in)


def backoff_seconds(attempts: int) -> int:
    """Wait after the `attempts`-th failed attempt: WEBHOOK_RETRY_SECONDS, doubled each time."""
    return settings.WEBHOOK_RETRY_SECONDS * 2 ** (attempts - 1)


def _count_failure(endpoint: WebhookEndpoint) -> bool:
    """Count a failed attempt; pause the endpoint on the WEBHOOK_PAUSE_AFTER-th in a row. True when
    the endpoint is paused (now or already). Only the attempt that pauses it tells the admins."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    endpoint.refresh_from_db(fields=["consecutive_failures", "paused_at"])
    if endpoint.paused_at is not None:
        return True
    if endpoint.consecutive_failures < settings.WEBHOOK_PAUSE_AFTER:
        return False
    reason = f"paused after {endpoint.consecutive_failures} failed attempts in a row"
    if WebhookEndpoint.objects.filter(pk=endpoint.pk, paused_at__isnull=True).update(
        paused_at=timezone.now(), paused_reason=reason
    ):
        WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
            status=WebhookDelivery.Status.HELD
        )
        notify_admins_paused(endpoint, reason)
    return True


def notify_admins_paused(endpoint: WebhookEndpoint, reason: str) -> None:
    from tiering.runs import admin_emails

    body = (
        f"The webhook endpoint {endpoint.url} ({endpoint.description or 'no description'}) was {reason}.\n\n"
        "Nothing more is sent to it; its deliveries wait, held. When the receiver works again, resume it in the "
        'admin (API and webhooks → Webhook endpoints → "Resume"): the held deliveries then go out.\n'
    )
    try:
        recipients = sorted(admin_emails())
        if recipients:
            send_mail(f"Webhook endpoint paused: {endpoint.url}", body, None, recipients)
    except Exception:
        log.exception("could not email the admins about paused webhook endpoint %s", endpoint.pk)


def resume(*, endpoint_id: int) -> list[int]:
    """Unpause an endpoint; its held deliveries become pending again. Returns their ids to send."""
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(paused_at=None, paused_reason="", consecutive_failures=0)
    held = WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=WebhookDelivery.Status.HELD)
    ids = list(held.order_by("id").values_list("id", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(status=WebhookDelivery.Status.PENDING, attempts=0)
    return ids
