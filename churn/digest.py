"""The daily follow-up digest: each account manager gets one email (plain text and HTML) with
their new and overdue follow-up items, and nothing when nothing is new.

- Whose item: the assignee's; an unassigned item (the team queue) is its customer's account
  manager's.
- New: created since that manager's last digest (DigestSent), or in the last 24 hours before a
  first one.
- Overdue: still active with its due date before today.
- Sent only when something is new: a new item, or an item that fell overdue since the last
  digest. Overdue items alone, already reported, send nothing again.

A digest is claimed (DigestSent, unique per user and day) before it is sent, so the job run
twice on one day sends each manager one email; a send that fails releases its claim.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.roles import ACCOUNT_MANAGER

from .models import DigestSent, FollowUp
from .policy import ACTIVE_STATUSES

log = logging.getLogger(__name__)
LISTED = 50  # items listed per section; the rest are counted
FIRST_WINDOW = dt.timedelta(hours=24)


@dataclass
class Digest:
    user: object
    since: dt.datetime
    new: list
    overdue: list
    newly_overdue: int = 0

    @property
    def worth_sending(self) -> bool:
        return bool(self.new) or self.newly_overdue > 0


def build_digests(*, now: dt.datetime, today: dt.date) -> list[Digest]:
    """Every account manager's digest, read in three queries whatever the number of managers."""
    users = list(
        get_user_model()
        .objects.filter(groups__name=ACCOUNT_MANAGER, is_active=True)
        .exclude(email="")
        .order_by("username")
    )
    if not users:
        return []
    last = dict(
        DigestSent.objects.filter(user__in=users)
        .values("user_id")
        .annotate(last=Max("sent_at"))
        .values_list("user_id", "last")
    )
    digests = {u.pk: Digest(user=u, since=last.get(u.pk) or now - FIRST_WINDOW, new=[], overdue=[]) for u in users}
    earliest = min(d.since for d in digests.values())
    for item in _items(users=users, since=earliest, today=today):
        owner = item.assignee_id or item.customer.account_manager_id
        digest = digests.get(owner)
        if digest is None:
            continue
        if item.created_at >= digest.since:
            digest.new.append(item)
        if item.due_on < today:
            digest.overdue.append(item)
            if item.due_on >= timezone.localtime(digest.since).date():  # not yet overdue at the last digest
                digest.newly_overdue += 1
    return list(digests.values())


def _items(*, users, since: dt.datetime, today: dt.date):
    mine = Q(assignee__in=users) | Q(assignee__isnull=True, customer__account_manager__in=users)
    return (
        FollowUp.objects.filter(status__in=ACTIVE_STATUSES)
        .filter(mine)
        .filter(Q(created_at__gte=since) | Q(due_on__lt=today))
        .select_related("customer")
        .order_by("-tier", "due_on", "id")
    )


def send_digests(*, now: dt.datetime | None = None) -> int:
    """Send today's digests; returns how many were sent."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    for digest in build_digests(now=now, today=today):
        if digest.worth_sending and _claim_and_send(digest, now=now, today=today):
            sent += 1
    return sent


def _claim_and_send(digest: Digest, *, now: dt.datetime, today: dt.date) -> bool:
    try:
        with transaction.atomic():
            claim = DigestSent.objects.create(
                user=digest.user,
                sent_on=today,
                sent_at=now,
                new_items=len(digest.new),
                overdue_items=len(digest.overdue),
            )
    except IntegrityError:  # already sent today (the job ran twice)
        return False
    try:
        message(digest, today=today).send()
    except Exception:
        claim.delete()  # not sent: the next run tries again
        log.exception("could not send the follow-up digest to %s", digest.user)
        return False
    return True


def message(digest: Digest, *, today: dt.date) -> EmailMultiAlternatives:
    base = settings.TIERBOARD_URL
    context = {
        "user": digest.user,
        "today": today,
        "new": [_row(item, base) for item in digest.new[:LISTED]],
        "new_count": len(digest.new),
        "overdue": [_row(item, base, today=today) for item in digest.overdue[:LISTED]],
        "overdue_count": len(digest.overdue),
        "listed": LISTED,
        "queue_url": base + reverse("churn:my_queue"),
    }
    subject = (
        f"Tierboard: {len(digest.new)} new, {len(digest.overdue)} overdue follow-up{'s' * (len(digest.overdue) != 1)}"
    )
    email = EmailMultiAlternatives(
        subject=subject, body=render_to_string("churn/email/digest.txt", context), to=[digest.user.email]
    )
    email.attach_alternative(render_to_string("churn/email/digest.html", context), "text/html")
    return email


def _row(item: FollowUp, base: str, *, today: dt.date | None = None) -> dict:
    return {
        "customer": item.customer.name,
        "tier": item.tier,
        "kind": item.get_kind_display(),
        "due_on": item.due_on,
        "days_overdue": (today - item.due_on).days if today else None,
        "unassigned": item.assignee_id is None,
        "url": base + reverse("churn:item", args=[item.pk]),
    }
