"""What the tiering app does when a re-tier has applied its tiers."""

from django.conf import settings
from django.db import transaction

from .signals import RetierApplied


def calibrate_after_retier(sender, *, applied: RetierApplied, **kwargs) -> None:
    # After commit, as a task of its own: two scans of the stored metrics (seconds at 1M
    # customers) that must not lengthen the run or roll it back.
    if not settings.RETIER_FOLLOW_UP_TASKS:
        return
    from .tasks import calibrate_run_task

    run_id = applied.run_id
    transaction.on_commit(lambda: calibrate_run_task.delay(run_id), robust=True)
