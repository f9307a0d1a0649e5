"""Celery tasks of the webhooks: thin, ids in, a service called (api.webhooks)."""

from celery import shared_task


@shared_task(soft_time_limit=10 * 60, time_limit=11 * 60, acks_late=True)
def queue_run_events_task(run_id: int) -> int:
    from .webhooks import queue_run_events

    return _send_all(queue_run_events(run_id=run_id))


@shared_task(soft_time_limit=60, time_limit=90, acks_late=True)
def queue_follow_up_closed_task(follow_up_id: int) -> int:
    from .webhooks import queue_follow_up_closed

    return _send_all(queue_follow_up_closed(follow_up_id=follow_up_id))


@shared_task(bind=True, max_retries=None, soft_time_limit=60, time_limit=90, acks_late=True)
def deliver_webhook_task(self, delivery_id: int) -> bool:
    """One attempt; a failure is retried by Celery after the back-off the service names."""
    from .webhooks import attempt_delivery

    outcome = attempt_delivery(delivery_id=delivery_id)
    while outcome.retry_in is not None and self.request.is_eager:  # no broker (the demo): at once, no wait
        outcome = attempt_delivery(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.delivered


def _send_all(delivery_ids: list[int]) -> int:
    for delivery_id in delivery_ids:
        deliver_webhook_task.delay(delivery_id)
    return len(delivery_ids)
