from django.apps import AppConfig
from django.core import checks


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Tierboard core"

    def ready(self):
        from core.triggers import check_triggers

        checks.register(check_triggers, checks.Tags.database)
