from django.apps import AppConfig


class ChurnConfig(AppConfig):
    name = "churn"
    verbose_name = "Churn follow-up"

    def ready(self) -> None:
        from . import suspects  # noqa: F401  - forgets stored analyses when releases or products change

        # Detection runs inside the re-tier's transaction, after tiers are applied, so a run that
        # fails leaves no lapses behind either. The signal comes with the `retier` branch.
        try:
            from tiering.signals import retier_applied
        except ImportError:  # pragma: no cover - until tiering.signals is merged
            return
        from .receivers import detect_after_retier

        retier_applied.connect(detect_after_retier, dispatch_uid="churn.detect_after_retier")
