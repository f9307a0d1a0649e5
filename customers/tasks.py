"""Celery tasks of the customers app: the background import of an uploaded file.

Time limits: at about 15,000 lines/s a 200 MB file (the upload limit) imports in a few minutes.
The soft limit stops the import inside its transaction (nothing is written, the job says so);
the hard limit kills the worker process, whose job is then shown as interrupted when its
heartbeat stops (customers.import_jobs). acks_late: a message whose worker vanished is delivered
again, and finds its job no longer queued.
"""

from celery import shared_task

from .import_jobs import run_import_job

IMPORT_SOFT_TIME_LIMIT = 30 * 60
IMPORT_HARD_TIME_LIMIT = 32 * 60


@shared_task(soft_time_limit=IMPORT_SOFT_TIME_LIMIT, time_limit=IMPORT_HARD_TIME_LIMIT, acks_late=True)
def import_job_task(job_id: int) -> str:
    """Run one queued import job; returns its final status."""
    return run_import_job(job_id=job_id)
