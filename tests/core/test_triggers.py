"""Every trigger is declared one way (core/triggers.py): the migration that installs it holds its SQL,
the app's triggers.py declares it, and `manage.py check --database default` says when one is gone."""

import ast
import importlib
import inspect

import pytest
from django.core.checks import Tags, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from core.triggers import declared, installed


def trigger_problems():
    return [m for m in run_checks(databases=["default"], tags=[Tags.database]) if m.id.startswith("core.")]


def test_every_declared_trigger_exists_after_migrate_and_no_other_does(db):
    expected = {(t.table, t.name): (t.function, True) for t in declared()}

    assert len(expected) == 29  # 17 marks on source data, 2 on the metrics, 4 tier counts, 3 on lapses, 3 rules frozen
    assert installed(connection) == expected
    assert trigger_problems() == []


def test_the_check_reports_a_dropped_trigger_and_names_the_migration_that_installs_it(db):
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER customers_orderline_mark_insert ON customers_orderline")

    [problem] = trigger_problems()

    assert problem.id == "core.E001" and problem.is_serious()
    assert problem.msg == "Trigger customers_orderline_mark_insert on customers_orderline is missing."
    assert "customers.0003_data_changes" in problem.hint
    with pytest.raises(SystemCheckError, match="customers_orderline_mark_insert"):
        call_command("check", "--database", "default")


def test_the_check_reports_a_disabled_trigger(db):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tiering_customermetrics DISABLE TRIGGER tiering_count_update")

    [problem] = trigger_problems()

    assert (problem.id, problem.msg) == (
        "core.E003",
        "Trigger tiering_count_update on tiering_customermetrics is disabled.",
    )


def test_the_check_reports_a_trigger_that_calls_another_function(db):
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER churn_lapse_forget_watch_truncate ON churn_lapse")
        cursor.execute(
            "CREATE TRIGGER churn_lapse_forget_watch_truncate AFTER TRUNCATE ON churn_lapse"
            " FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()"
        )

    [problem] = trigger_problems()

    assert problem.id == "core.E002" and "executes customers_mark_rows()" in problem.msg


def test_the_check_warns_of_a_trigger_no_app_declares(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER stray_truncate AFTER TRUNCATE ON customers_product"
            " FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_products()"
        )

    [problem] = trigger_problems()

    assert (problem.id, problem.is_serious()) == ("core.W001", False)
    assert "stray_truncate on customers_product" in problem.msg


def test_a_trigger_is_not_expected_before_the_migration_that_installs_it_is_applied(db):
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER churn_lapse_forget_watch_delete ON churn_lapse")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'churn' AND name = '0005_lapse_watch'")

    assert trigger_problems() == []


def test_no_migration_that_installs_a_trigger_imports_code_that_can_change():
    for migration in sorted({t.installed_by for t in declared()}):
        module = importlib.import_module(f"{migration[0]}.migrations.{migration[1]}")
        imported = {
            name.split(".")[0]
            for node in ast.walk(ast.parse(inspect.getsource(module)))
            for name in (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else
                [node.module] if isinstance(node, ast.ImportFrom) else []
            )
        }  # fmt: skip
        assert imported <= {"django"}, f"{migration}: imports {imported - {'django'}}"
