from django.db import transaction

from tiering.signals import RetierApplied

from .services import detect_churn


def detect_after_retier(sender, *, applied: RetierApplied, **kwargs) -> None:
    # a customer's lapse depends only on their last order and median gap: only those who changed
    detect_churn(run_id=applied.run_id, as_of=applied.as_of, changed=applied)
    # Churn risk runs after the re-tier commits, as its own task: training takes minutes at 1M
    # customers and must neither hold the re-tier's lock and transaction nor roll tiers back.
    from .tasks import refresh_churn_risk_task

    as_of = applied.as_of.isoformat()
    transaction.on_commit(lambda: refresh_churn_risk_task.delay(as_of), robust=True)
