"""Every model change ships with its migration (the fresh clone and docker-compose only migrate)."""

import pytest
from django.core.management import call_command


def test_no_model_change_is_missing_a_migration(db, capsys):
    try:
        call_command("makemigrations", check=True, dry_run=True, verbosity=1)
    except SystemExit:
        pytest.fail(f"run makemigrations; missing:\n{capsys.readouterr().out}")
