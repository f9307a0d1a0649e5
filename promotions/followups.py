"""The "open follow-up" exclusion and the "lost" exclusion read the churn app, which this app
does not own.

With `churn` installed, an open follow-up is a churn.FollowUp whose status is still active
(churn.policy.ACTIVE_STATUSES: open or contacted); at most one exists per customer, under a
partial unique index, so the EXISTS stays an index probe. Without the app the filter is not
offered (the form hides it, the selector refuses it), so a promotion never silently ignores an
exclusion it asked for.
"""

from django.apps import apps
from django.db.models import Exists, OuterRef, Q, QuerySet


def open_follow_ups() -> QuerySet | None:
    if not follow_up_filter_available():
        return None
    from churn.policy import ACTIVE_STATUSES

    return apps.get_model("churn", "FollowUp").objects.filter(status__in=ACTIVE_STATUSES)


def follow_up_filter_available() -> bool:
    if not apps.is_installed("churn"):
        return False
    try:
        apps.get_model("churn", "FollowUp")
        from churn.policy import ACTIVE_STATUSES  # noqa: F401
    except (LookupError, ImportError):
        return False
    return True


def exclude_lost(qs: QuerySet) -> QuerySet:
    """CustomerMetrics rows `qs` without the lost customers (unchanged without the churn app).

    Lost is either of:
    - the lifecycle stage stored at the last scoring is `lost` (churn.lifecycle: closed as lost on
      the queue, or silent for more than twice their lapse threshold, until they buy again);
    - a follow-up closed as lost whose lapse's last order is still the customer's last order: the
      queue's word counts at once, before the next scoring writes the stage, and a customer who
      bought since is no longer lost.
    The stage is tested on the churn-risk row the export joins anyway; the follow-up is a NOT
    EXISTS that PostgreSQL runs as an anti-join over the few follow-ups closed as lost.
    """
    if not follow_up_filter_available():
        return qs
    from churn.policy import LOST

    stage_lost = "lost"  # churn.lifecycle.STAGES
    closed = apps.get_model("churn", "FollowUp").objects.filter(
        customer_id=OuterRef("customer_id"), status=LOST, lapse__last_order_at__gte=OuterRef("last_order_at")
    )
    not_lost_stage = Q(customer__churn_risk__stage__isnull=True) | ~Q(customer__churn_risk__stage=stage_lost)
    return qs.filter(not_lost_stage).exclude(Exists(closed))
