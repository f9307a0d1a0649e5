"""The "open follow-up" exclusion and the "lost" exclusion read the churn app, which this app
does not own.

With `churn` installed, an open follow-up is a churn.FollowUp whose status is still active
(churn.policy.ACTIVE_STATUSES: open or contacted); at most one exists per customer, under a
partial unique index, so the EXISTS stays an index probe. Without the app the filter is not
offered (the form hides it, the selector refuses it), so a promotion never silently ignores an
exclusion it asked for.
"""

from django.apps import apps
from django.db.models import Exists, OuterRef, QuerySet


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


def lost_customers() -> list[Exists] | None:
    """A condition on CustomerMetrics rows that holds for a lost customer; None without churn.

    Lost is either of:
    - the lifecycle stage stored at the last scoring is `lost` (churn.lifecycle: closed as lost on
      the queue, or silent for more than twice their lapse threshold, until they buy again);
    - a follow-up closed as lost whose lapse's last order is still the customer's last order: the
      queue's word counts at once, before the next scoring writes the stage, and a customer who
      bought since is no longer lost.
    Two conditions, each excluded on its own: two NOT EXISTS that PostgreSQL runs as anti-joins
    (an OR of the two would be probed row by row).
    """
    if not follow_up_filter_available():
        return None
    from churn.policy import LOST

    stage_lost = "lost"  # churn.lifecycle.STAGES
    risk = apps.get_model("churn", "CustomerRisk").objects.filter(customer_id=OuterRef("customer_id"), stage=stage_lost)
    closed = apps.get_model("churn", "FollowUp").objects.filter(
        customer_id=OuterRef("customer_id"), status=LOST, lapse__last_order_at__gte=OuterRef("last_order_at")
    )
    return [Exists(risk), Exists(closed)]
