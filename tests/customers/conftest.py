import pytest


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    """Uploaded files wait in a directory of the test's own."""
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR
