from tiering.signals import RetierApplied

from .services import detect_churn


def detect_after_retier(sender, *, applied: RetierApplied, **kwargs) -> None:
    # a customer's lapse depends only on their last order and median gap: only those who changed
    detect_churn(run_id=applied.run_id, as_of=applied.as_of, changed=applied)
