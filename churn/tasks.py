import datetime as dt

from celery import shared_task


@shared_task(soft_time_limit=30 * 60, time_limit=35 * 60, acks_late=True)
def refresh_churn_risk_task(as_of: str) -> int | None:
    """After a re-tier commits: train when the model is due, score every customer (churn.risk)."""
    from .risk import refresh_churn_risk  # here: scikit-learn costs ~100 MB in every web process

    model = refresh_churn_risk(as_of=dt.date.fromisoformat(as_of))
    return model.pk if model else None


@shared_task(soft_time_limit=30 * 60, time_limit=35 * 60, acks_late=True)
def refresh_suspects_task(as_of: str) -> int:
    """After a re-tier commits: the suspects for every tier choice the pages offer (churn.suspects)."""
    from .suspects import PAGE_TIERS, refresh

    for tiers in PAGE_TIERS:
        refresh(as_of=dt.date.fromisoformat(as_of), tiers=tiers)
    return len(PAGE_TIERS)


@shared_task(soft_time_limit=30 * 60, time_limit=35 * 60)
def backtest_task() -> int:
    """The admin page's "Run the backtest": the last complete period under the policy's H."""
    from .backtest import run_backtest

    run_backtest()
    return 1


@shared_task(soft_time_limit=10 * 60, time_limit=12 * 60)
def send_follow_up_digests_task() -> int:
    """Every morning (beat): each account manager's new and overdue follow-ups (churn.digest)."""
    from .digest import send_digests

    return send_digests()
