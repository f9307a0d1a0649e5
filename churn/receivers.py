from django.conf import settings
from django.db import transaction

from tiering.signals import RetierApplied

from .services import detect_churn


def detect_after_retier(sender, *, applied: RetierApplied, **kwargs) -> None:
    # a customer's lapse depends only on their last order and median gap: only those who changed
    detect_churn(run_id=applied.run_id, as_of=applied.as_of, changed=applied)
    if not settings.RETIER_FOLLOW_UP_TASKS:
        return
    # Churn risk and the suspects run after the re-tier commits, as tasks of their own: at 1M
    # customers they take minutes and must neither hold the re-tier's lock and transaction nor
    # roll tiers back; the pages then read stored results instead of analysing in a request.
    from .tasks import refresh_churn_risk_task, refresh_suspects_task

    as_of = applied.as_of.isoformat()
    transaction.on_commit(lambda: refresh_churn_risk_task.delay(as_of), robust=True)
    transaction.on_commit(lambda: refresh_suspects_task.delay(as_of), robust=True)
