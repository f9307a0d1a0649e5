"""The upload page: admins upload a file, which is imported in the background; the import's page
shows its progress and then the same report as `manage.py import_data`. Other roles are refused.

Without REDIS_URL the import task runs eagerly once the upload is committed, as in the demo."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from customers.imports import MAX_LISTED_ERRORS
from customers.models import ImportJob, Product

pytestmark = pytest.mark.django_db
URL = reverse("customers:import")
GOOD = b"sku,name,category\nA1,Apple,fruit\nB2,Bean,veg\n"


def upload(content: bytes, name="products.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.fixture
def admin(client, make_user):
    user = make_user("Admin")
    client.force_login(user)
    return user


@pytest.fixture
def imported(client, admin, django_capture_on_commit_callbacks):
    """Upload a file and let the import run (eagerly); return the import's page."""

    def post(content: bytes, kind="products"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(URL, {"kind": kind, "file": upload(content)})
        assert response.status_code == 302
        return client.get(response["Location"])

    return post


def test_an_admin_sees_the_form_and_the_columns_of_each_kind(client, admin):
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'type="file"' in page
    for column in ("external_id", "launched_on", "order_id", "compensation"):
        assert f"<code>{column}</code>" in page


def test_an_upload_is_stored_on_disk_queued_and_its_page_waits_for_a_worker(client, admin, import_dir):
    response = client.post(URL, {"kind": "products", "file": upload(GOOD)})
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("customers:import_job", args=[job.pk])
    assert (job.status, job.kind, job.file_name, job.size, job.created_by) == (
        "queued",
        "products",
        "products.csv",
        len(GOOD),
        admin,
    )
    assert (import_dir / f"import-{job.pk}.csv").read_bytes() == GOOD
    page = client.get(response["Location"]).content.decode()
    assert "Waiting for a worker to start the import" in page
    assert f'hx-get="{reverse("customers:import_job_progress", args=[job.pk])}"' in page
    assert not Product.objects.exists()


def test_an_admin_imports_a_file_and_sees_what_was_created(imported, import_dir):
    page = imported(GOOD).content.decode()
    assert "Imported 2 rows of products" in page
    assert "2 created · 0 updated · 0 unchanged" in page
    assert Product.objects.count() == 2
    assert list(import_dir.iterdir()) == []  # the uploaded file is deleted once imported


def test_a_bad_file_imports_nothing_and_its_page_lists_the_problems(imported):
    page = imported(b"sku,name,category\nA1,,fruit\nA1,Apple,fruit\n").content.decode()
    assert "Nothing was imported: 2 problems in 2 rows" in page
    assert "line 2: name: is required" in page
    assert "line 3: sku: duplicate key &#x27;A1&#x27; (sku), first seen on line 2" in page
    assert not Product.objects.exists()


def test_the_page_shows_the_first_errors_and_every_error_can_be_downloaded(client, imported):
    bad = MAX_LISTED_ERRORS + 50
    page = imported(b"sku,name,category\n" + b"".join(b"S%d,,fruit\n" % i for i in range(bad))).content.decode()
    assert f"Nothing was imported: {bad} problems in {bad} rows" in page
    assert f"line {MAX_LISTED_ERRORS + 1}: name: is required" in page
    assert f"line {MAX_LISTED_ERRORS + 2}: name: is required" not in page
    assert "… and 50 more in the downloadable list" in page
    job = ImportJob.objects.get()
    download = client.get(reverse("customers:import_job_errors", args=[job.pk]))
    assert download["Content-Type"] == "text/plain; charset=utf-8"
    assert download["Content-Disposition"] == f'attachment; filename="import-{job.pk}-errors.txt"'
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines == [f"line {n}: name: is required" for n in range(2, bad + 2)]


def test_the_list_of_every_error_is_kept_for_30_days(client, imported, import_dir):
    import os
    import time

    imported(b"sku,name,category\nA1,,fruit\n")
    job = ImportJob.objects.get()
    errors = import_dir / f"import-{job.pk}-errors.txt"
    month_ago = time.time() - 31 * 86400
    os.utime(errors, (month_ago, month_ago))
    imported(GOOD)  # any later upload tidies up
    assert not errors.exists()
    page = client.get(reverse("customers:import_job", args=[job.pk])).content.decode()
    assert "line 2: name: is required" in page
    assert "The full list was deleted 30 days after the import." in page
    assert client.get(reverse("customers:import_job_errors", args=[job.pk])).status_code == 404


def test_an_import_page_and_its_errors_are_for_the_uploader_and_admins_only(client, imported, make_user):
    imported(b"sku,name,category\nA1,,fruit\n")
    job = ImportJob.objects.get()
    pages = [reverse(name, args=[job.pk]) for name in ("customers:import_job", "customers:import_job_errors")]

    client.force_login(make_user("Admin"))  # another admin
    assert [client.get(page).status_code for page in pages] == [200, 200]
    importer = make_user()  # may import, but is no admin
    importer.user_permissions.add(_permission("import_data"))
    client.force_login(importer)
    assert [client.get(page).status_code for page in pages] == [403, 403]
    assert "Recent imports" not in client.get(URL).content.decode()  # nor listed among recent imports
    client.force_login(make_user("Account manager"))
    assert [client.get(page).status_code for page in pages] == [403, 403]


def test_someone_allowed_to_import_follows_their_own_imports(client, make_user, django_capture_on_commit_callbacks):
    importer = make_user()
    importer.user_permissions.add(_permission("import_data"))
    client.force_login(importer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"kind": "products", "file": upload(b"sku,name,category\nA1,,fruit\n")})
    assert "line 2: name: is required" in client.get(response["Location"]).content.decode()
    assert client.get(response["Location"] + "errors.txt").status_code == 200


def test_a_running_import_whose_worker_stopped_beating_is_shown_as_interrupted(client, admin, import_dir):
    import_dir.mkdir()
    quiet = timezone.now() - dt.timedelta(minutes=10)
    job = ImportJob.objects.create(kind="products", file_name="p.csv", size=10, created_by=admin, status="running",
                                   started_at=quiet, heartbeat_at=quiet)  # fmt: skip
    (import_dir / f"import-{job.pk}.csv").write_bytes(GOOD)
    page = client.get(reverse("customers:import_job", args=[job.pk])).content.decode()
    assert "Interrupted: nothing imported" in page
    assert "The worker running this import stopped" in page
    assert list(import_dir.iterdir()) == []


def test_an_upload_with_the_queue_down_fails_at_once_says_why_and_keeps_no_file(
    client, admin, import_dir, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"kind": "products", "file": upload(GOOD)})
    page = client.get(response["Location"]).content.decode()
    assert "The task queue (Redis) cannot be reached" in page
    assert "Waiting for a worker" not in page
    assert ImportJob.objects.get().status == "failed"
    assert list(import_dir.iterdir()) == []


def test_an_import_no_worker_started_within_an_hour_is_shown_as_failed_and_its_file_deleted(client, admin, import_dir):
    import_dir.mkdir()
    job = ImportJob.objects.create(kind="products", file_name="p.csv", size=10, created_by=admin)
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=61))
    (import_dir / f"import-{job.pk}.csv").write_bytes(GOOD)
    page = client.get(reverse("customers:import_job", args=[job.pk])).content.decode()
    assert "No worker started this import within an hour" in page
    assert ImportJob.objects.get().status == "failed"
    assert list(import_dir.iterdir()) == []


def test_an_import_queued_for_less_than_an_hour_still_waits(client, admin):
    job = ImportJob.objects.create(kind="products", file_name="p.csv", size=10, created_by=admin)
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=59))
    assert (
        "Waiting for a worker" in client.get(reverse("customers:import_job_progress", args=[job.pk])).content.decode()
    )


def test_an_error_list_left_by_a_reset_database_is_not_offered_for_a_new_upload(client, admin, import_dir):
    earlier = ImportJob.objects.create(kind="products", file_name="p.csv", size=10, created_by=admin)
    import_dir.mkdir()
    for pk in range(earlier.pk + 1, earlier.pk + 4):  # the next ids, as a reset database hands them out again
        (import_dir / f"import-{pk}-errors.txt").write_text("line 2: name: is required\n")
    response = client.post(URL, {"kind": "products", "file": upload(GOOD)})
    job = ImportJob.objects.latest("pk")
    assert response["Location"] == reverse("customers:import_job", args=[job.pk])
    assert client.get(reverse("customers:import_job_errors", args=[job.pk])).status_code == 404


def test_a_running_import_that_beats_is_shown_with_its_progress(client, admin):
    job = ImportJob.objects.create(kind="orders", file_name="o.csv", size=1000, created_by=admin, status="running",
                                   heartbeat_at=timezone.now(), step="reading rows", rows_read=50_000, bytes_read=250)  # fmt: skip
    response = client.get(reverse("customers:import_job_progress", args=[job.pk]))
    assert "Reading rows · 50,000 rows read" in response.content.decode()
    assert "25% of the file read" in response.content.decode()
    assert "HX-Refresh" not in response
    ImportJob.objects.filter(pk=job.pk).update(status="succeeded")
    assert client.get(reverse("customers:import_job_progress", args=[job.pk]))["HX-Refresh"] == "true"


def test_a_file_over_the_upload_limit_is_refused_with_a_clear_error(client, admin, settings):
    settings.IMPORT_UPLOAD_MAX_BYTES = 10
    response = client.post(URL, {"kind": "products", "file": upload(b"sku,name,category\nA1,Apple,fruit\n")})
    page = response.content.decode()
    assert "this page takes files up to 10\xa0bytes" in page
    assert "manage.py import_data KIND FILE" in page
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("role", ["Account manager", "Marketing"])
def test_other_roles_are_refused(client, make_user, role):
    client.force_login(make_user(role))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"kind": "products", "file": upload(b"sku,name,category\nA1,A,b\n")}).status_code == 403
    assert not ImportJob.objects.exists() and not Product.objects.exists()


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def _permission(codename: str):
    from django.contrib.auth.models import Permission

    return Permission.objects.get(content_type__app_label="customers", codename=codename)
