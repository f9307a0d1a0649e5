from django.apps import AppConfig


class TieringConfig(AppConfig):
    name = "tiering"
    verbose_name = "Tiering"

    def ready(self) -> None:
        from django.conf import settings

        from . import catalogue
        from .receivers import calibrate_after_retier
        from .signals import retier_applied
        from .summary import record_after_retier

        catalogue.set_currency(settings.TIERBOARD_CURRENCY_SYMBOL)

        # Each real run records its tier totals in its own transaction (tiering.summary).
        retier_applied.connect(record_after_retier, dispatch_uid="tiering.record_tier_totals")
        retier_applied.connect(calibrate_after_retier, dispatch_uid="tiering.calibrate_after_retier")
