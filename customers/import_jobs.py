"""Imports in the background: the upload page stores the file and queues a job; a Celery worker runs
the same all-or-nothing import as `manage.py import_data` (customers.imports) and records the report.

A running job shows its progress through a heartbeat: a thread with its own database connection
writes the rows read every few seconds, because the import's own transaction shows nothing until it
commits. A job whose heartbeat stops (its worker was killed, or hit the hard time limit) is marked
interrupted the next time a page looks at it: its transaction died with it, so nothing was imported.
The job's final state is written inside the import's transaction, so "imported" and the rows commit
together, and a job already marked interrupted rolls its import back instead of committing it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from functools import partial
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.move import file_move_safe
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from config.celery import publish_once

from .imports import ImportReport, import_csv
from .models import ImportJob

logger = logging.getLogger(__name__)

Status = ImportJob.Status
HEARTBEAT_EVERY = dt.timedelta(seconds=3)
STALE_AFTER = dt.timedelta(seconds=90)  # 30 missed beats: the worker is gone
NEVER_STARTED_AFTER = dt.timedelta(hours=1)  # queued this long: its message is lost, or no worker runs
QUEUE_DOWN = (
    "The task queue (Redis) cannot be reached, so the import was not started and nothing was imported. "
    "Upload the file again once the queue is back, or run “manage.py import_data” on the server."
)
NEVER_STARTED = (
    "No worker started this import within an hour (is a Celery worker running?). Nothing was imported: "
    "upload the file again."
)
KEEP_ERROR_FILES = dt.timedelta(days=30)


class JobLost(Exception):
    """The job was marked interrupted while it ran: its import must not commit."""


# --- files ---


def upload_path(job: ImportJob) -> Path:
    return Path(settings.IMPORT_DIR) / f"import-{job.pk}.csv"


def errors_path(job: ImportJob) -> Path:
    return Path(settings.IMPORT_DIR) / f"import-{job.pk}-errors.txt"


def _store(upload: UploadedFile, path: Path) -> None:
    """The upload into the import directory: a big one is moved from where Django spooled it to
    disk, a small one (held in memory) is written out. The job is new, so a file already at its
    path is a leftover of a database that was reset, and is replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(upload, "temporary_file_path"):
        file_move_safe(upload.temporary_file_path(), str(path), allow_overwrite=True)
        return
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


# --- the web side ---


def create_import_job(*, kind: str, upload: UploadedFile, user) -> ImportJob:
    """Store the file, record the job and queue it once the record is committed. A job whose task
    cannot be queued fails at once, its page saying why."""
    forget_old_error_files()
    with transaction.atomic():
        job = ImportJob.objects.create(kind=kind, file_name=upload.name[:255], size=upload.size, created_by=user)
        _store(upload, upload_path(job))
        errors_path(job).unlink(missing_ok=True)  # a leftover of a database that was reset
        transaction.on_commit(partial(_queue, job))
    return job


def _queue(job: ImportJob) -> None:
    from .tasks import import_job_task  # tasks imports this module

    try:
        publish_once(import_job_task, job_id=job.pk)
    except OperationalError:
        logger.warning("import job %s: the task queue cannot be reached", job.pk, exc_info=True)
        _give_up(job, Status.QUEUED, Status.FAILED, QUEUE_DOWN)


def _give_up(job: ImportJob, was: str, status: str, message: str) -> bool:
    """Mark a job that is still `was` as over, and delete its files; False if it had moved on."""
    marked = ImportJob.objects.filter(pk=job.pk, status=was).update(
        status=status, finished_at=timezone.now(), step="", message=message
    )
    if marked:
        upload_path(job).unlink(missing_ok=True)
        errors_path(job).unlink(missing_ok=True)
    return bool(marked)


def mark_stale_jobs_interrupted() -> None:
    """A job shown as running must really be going: one whose heartbeat stopped is interrupted, and
    one that no worker started within NEVER_STARTED_AFTER has failed."""
    never_started = ImportJob.objects.filter(status=Status.QUEUED, created_at__lt=timezone.now() - NEVER_STARTED_AFTER)
    for job in never_started:
        _give_up(job, Status.QUEUED, Status.FAILED, NEVER_STARTED)
    stale = ImportJob.objects.filter(status=Status.RUNNING, heartbeat_at__lt=timezone.now() - STALE_AFTER)
    for job in stale:
        _give_up(
            job,
            Status.RUNNING,
            Status.INTERRUPTED,
            "The worker running this import stopped (it was killed, restarted or ran out of time). "
            "Nothing was imported: upload the file again.",
        )


def forget_old_error_files() -> None:
    """Error lists of jobs older than KEEP_ERROR_FILES are deleted (the count and first lines stay)."""
    directory = Path(settings.IMPORT_DIR)
    cutoff = (timezone.now() - KEEP_ERROR_FILES).timestamp()
    for path in directory.glob("import-*-errors.txt") if directory.is_dir() else ():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


# --- the worker side ---


def run_import_job(*, job_id: int) -> str:
    """Run a queued job to its end and return its final status. A job that is no longer queued (a
    message delivered twice, or a job already marked interrupted) is left as it is."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now
    )
    job = ImportJob.objects.get(pk=job_id)
    if not claimed:
        return job.status
    try:
        _import(job)
    except JobLost:
        pass
    except SoftTimeLimitExceeded:
        _fail(job, "The import took longer than its time limit and was stopped. Nothing was imported.")
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        _fail(job, f"The import failed: {exc.__class__.__name__}: {exc}. Nothing was imported.")
    finally:
        upload_path(job).unlink(missing_ok=True)
    job.refresh_from_db()
    if job.status != Status.REJECTED:
        errors_path(job).unlink(missing_ok=True)
    return job.status


def _import(job: ImportJob) -> None:
    with _Heartbeat(job.pk) as beat, transaction.atomic():
        with open(upload_path(job), "rb") as stream, open(errors_path(job), "w", encoding="utf-8") as errors_to:
            report = import_csv(
                kind=job.kind,
                stream=stream,
                progress=lambda rows: beat.read(rows, stream.tell()),
                step=beat.step,
                errors_to=errors_to,
            )
        _finish(job, report)


def _finish(job: ImportJob, report: ImportReport) -> None:
    """Record the report in the import's own transaction: the job says "imported" only if the rows are."""
    finished = ImportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.SUCCEEDED if report.ok else Status.REJECTED,
        finished_at=timezone.now(),
        step="",
        bytes_read=job.size,
        rows_read=report.rows,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        error_count=report.error_count,
        errors=report.errors,
    )
    if not finished:
        raise JobLost(job.pk)


def _fail(job: ImportJob, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.FAILED, finished_at=timezone.now(), step="", message=message
    )


class _Heartbeat:
    """While the import runs, a thread records its progress and that it is alive, every
    HEARTBEAT_EVERY, through its own database connection."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.values = {"step": "", "rows_read": 0, "bytes_read": 0}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"import-job-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        # bounded, as the re-tier's: a beat stuck on a lost connection must not hold the import open
        self.thread.join(timeout=HEARTBEAT_EVERY.total_seconds() + 30)

    def read(self, rows: int, offset: int) -> None:
        self.values = {**self.values, "rows_read": rows, "bytes_read": offset}

    def step(self, name: str) -> None:
        self.values = {**self.values, "step": name}

    def _beat(self) -> None:
        try:
            while not self.stopped.wait(HEARTBEAT_EVERY.total_seconds()):
                try:
                    ImportJob.objects.filter(pk=self.job_id, status=Status.RUNNING).update(
                        heartbeat_at=timezone.now(), **self.values
                    )
                except Exception:  # the database may be briefly away; the import decides the outcome
                    logger.warning("import job %s: heartbeat failed", self.job_id, exc_info=True)
        finally:
            connection.close()  # this thread's own connection
