from django.apps import AppConfig


class TieringConfig(AppConfig):
    name = "tiering"
    verbose_name = "Tiering"

    def ready(self) -> None:
        from django.conf import settings

        from . import catalogue

        catalogue.set_currency(settings.TIERBOARD_CURRENCY_SYMBOL)
