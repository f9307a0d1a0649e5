from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API and webhooks"

    def ready(self) -> None:
        from churn.signals import follow_up_closed
        from tiering.signals import retier_applied

        from .receivers import queue_follow_up_closed, queue_run_events

        # After the run commits, its tier changes, lapses and returns go out in batches (api.webhooks).
        retier_applied.connect(queue_run_events, dispatch_uid="api.queue_run_events")
        follow_up_closed.connect(queue_follow_up_closed, dispatch_uid="api.queue_follow_up_closed")
