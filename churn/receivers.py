from .services import detect_churn


def detect_after_retier(sender, *, run, as_of, history_changed=None, **kwargs) -> None:
    # a customer's lapse depends only on their last order and median gap: only those who changed
    detect_churn(run=run, as_of=as_of, history_changed=history_changed)
