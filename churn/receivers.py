from .services import detect_churn


def detect_after_retier(sender, *, run, as_of, rewritten=None, **kwargs) -> None:
    detect_churn(run=run, as_of=as_of, rewritten=rewritten)
