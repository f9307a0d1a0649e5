"""The open-item count beside "My queue" in the menu: one indexed COUNT per request, only for
people who work the queue, and only once however often a page names it."""

from .policy import ACTIVE_STATUSES

WORK = "churn.work_followup"


def open_items(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm(WORK):
        return {}
    return {"nav_open_items": lambda: my_open_items(request)}  # a callable: counted only if the page shows it


def my_open_items(request) -> int:
    """Active follow-ups assigned to the signed-in user (their "My queue"), counted once per request."""
    if not hasattr(request, "_nav_open_items"):
        from .models import FollowUp

        request._nav_open_items = FollowUp.objects.filter(assignee=request.user, status__in=ACTIVE_STATUSES).count()
    return request._nav_open_items
