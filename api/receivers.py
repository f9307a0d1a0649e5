"""What the API app does when other apps hand over values: queue webhook work after their commit."""

from django.db import transaction

from churn.signals import FollowUpClosed
from tiering.signals import RetierApplied


def queue_run_events(sender, *, applied: RetierApplied, **kwargs) -> None:
    # After commit: receivers must never see a change the run then rolls back, and a slow or down
    # broker must not hold (or fail) the re-tier's transaction.
    from .tasks import queue_run_events_task

    run_id = applied.run_id
    transaction.on_commit(lambda: queue_run_events_task.delay(run_id), robust=True)


def queue_follow_up_closed(sender, *, closed: FollowUpClosed, **kwargs) -> None:
    from .tasks import queue_follow_up_closed_task

    follow_up_id = closed.follow_up_id
    transaction.on_commit(lambda: queue_follow_up_closed_task.delay(follow_up_id), robust=True)
