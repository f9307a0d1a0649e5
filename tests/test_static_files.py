"""`make demo` and the Docker build run collectstatic with the hashed, compressed storage."""

import json

from django.core.management import call_command
from django.test import override_settings

from config.settings import base


def test_collectstatic_with_the_deployed_storage_finds_every_referenced_file(tmp_path):
    # The manifest storage fails on a file that references one we do not ship (e.g. a source map).
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=base.STORAGES):
        call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    assert {"css/tierboard.css", "admin/css/base.css"} <= set(manifest)
    assert (tmp_path / manifest["css/tierboard.css"]).is_file()
