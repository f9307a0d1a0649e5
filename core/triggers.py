"""The database triggers that must exist, and the system check that says when one does not.

One way for every trigger: the migration that installs it holds its SQL frozen (never importing
code that can change), and the app declares it in `<app>/triggers.py` as `TRIGGERS`, a tuple of
`Trigger`. The check (tag `database`: `manage.py check --database default`, and `migrate` before
it migrates) reports a declared trigger that is missing, disabled or calls another function, once
the migration that installs it is applied; and warns of a trigger no app declares.

Changing a trigger: a new migration with its SQL written out, and the declaration updated.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from django.apps import apps
from django.core import checks
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.utils.module_loading import module_has_submodule


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str
    function: str  # the function it executes
    installed_by: tuple[str, str]  # (app label, migration name)

    @property
    def migration(self) -> str:
        return ".".join(self.installed_by)


def declared() -> list[Trigger]:
    """Every app's TRIGGERS, in app order."""
    found: list[Trigger] = []
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "triggers"):
            found += getattr(import_module(f"{app.name}.triggers"), "TRIGGERS", ())
    return found


INSTALLED_SQL = """
SELECT c.relname, t.tgname, p.proname, t.tgenabled <> 'D'
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
WHERE NOT t.tgisinternal AND pg_table_is_visible(c.oid)
"""


def installed(connection) -> dict[tuple[str, str], tuple[str, bool]]:
    """(table, trigger) -> (function, enabled) of the user triggers in the database."""
    with connection.cursor() as cursor:
        cursor.execute(INSTALLED_SQL)
        return {(table, name): (function, enabled) for table, name, function, enabled in cursor.fetchall()}


def check_triggers(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor == "postgresql":
            messages += _check_database(connection, declared())
    return messages


def _check_database(connection, expected: list[Trigger]) -> list[checks.CheckMessage]:
    applied = MigrationRecorder(connection).applied_migrations()
    present = installed(connection)
    messages = [_problem(t, present.get((t.table, t.name))) for t in expected if t.installed_by in applied]
    known = {(t.table, t.name) for t in expected}
    messages += [
        checks.Warning(
            f"Trigger {name} on {table} is not declared by any app.",
            hint="Declare it in <app>/triggers.py (TRIGGERS), beside the migration that installs it.",
            id="core.W001",
        )
        for table, name in sorted(present.keys() - known)
    ]
    return [message for message in messages if message is not None]


def _problem(trigger: Trigger, found: tuple[str, bool] | None) -> checks.CheckMessage | None:
    where = f"Trigger {trigger.name} on {trigger.table}"
    hint = f"Migration {trigger.migration} installs it: run its SQL again (the migration holds it)."
    if found is None:
        return checks.Error(f"{where} is missing.", hint=hint, id="core.E001")
    function, enabled = found
    if function != trigger.function:
        return checks.Error(f"{where} executes {function}(), not {trigger.function}().", hint=hint, id="core.E002")
    if not enabled:
        return checks.Error(
            f"{where} is disabled.", hint=f"ALTER TABLE {trigger.table} ENABLE TRIGGER {trigger.name}", id="core.E003"
        )
    return None
