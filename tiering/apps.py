from django.apps import AppConfig


class TieringConfig(AppConfig):
    name = "tiering"
    verbose_name = "Tiering"

    def ready(self) -> None:
        from .receivers import calibrate_after_retier
        from .signals import retier_applied

        retier_applied.connect(calibrate_after_retier, dispatch_uid="tiering.calibrate_after_retier")
