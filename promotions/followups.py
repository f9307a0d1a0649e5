"""The "open follow-up" exclusion comes from the churn app, which this app does not own.

When `churn` is installed it is expected to offer `churn.selectors.open_follow_ups()`: a QuerySet
of its open follow-up items with a `customer_id` column. Without it the filter is not offered
(the form hides it and refuses it), so a promotion never silently ignores an exclusion.
"""

from django.apps import apps
from django.db.models import QuerySet
from django.utils.module_loading import import_string

OPEN_FOLLOW_UPS = "churn.selectors.open_follow_ups"


def open_follow_ups() -> QuerySet | None:
    if not apps.is_installed("churn"):
        return None
    try:
        return import_string(OPEN_FOLLOW_UPS)()
    except ImportError:
        return None


def follow_up_filter_available() -> bool:
    return apps.is_installed("churn") and _importable()


def _importable() -> bool:
    try:
        import_string(OPEN_FOLLOW_UPS)
    except ImportError:
        return False
    return True
