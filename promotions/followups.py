"""The "open follow-up" exclusion reads the churn app, which this app does not own.

With `churn` installed, an open follow-up is a churn.FollowUp whose status is still active
(churn.policy.ACTIVE_STATUSES: open or contacted); at most one exists per customer, under a
partial unique index, so the EXISTS stays an index probe. Without the app the filter is not
offered (the form hides it, the selector refuses it), so a promotion never silently ignores an
exclusion it asked for.
"""

from django.apps import apps
from django.db.models import QuerySet


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
