from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from .forms import ImportForm
from .import_jobs import create_import_job, errors_path, mark_stale_jobs_interrupted
from .imports import KINDS
from .models import ImportJob

RECENT_JOBS = 10


@permission_required("customers.import_data", raise_exception=True)
def import_upload(request: HttpRequest) -> HttpResponse:
    """Upload a CSV: it is imported in the background and its page follows the import."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = create_import_job(kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"], user=request.user)
        return redirect("customers:import_job", job.pk)
    mark_stale_jobs_interrupted()
    jobs = _jobs_for_user(request)[:RECENT_JOBS]
    return render(request, "customers/import.html", {"form": form, "kinds": KINDS.values(), "jobs": jobs})


@permission_required("customers.import_data", raise_exception=True)
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    mark_stale_jobs_interrupted()
    job = _get_job_for_user(request, pk)
    return render(request, "customers/import_job.html", {"job": job, "error_file": errors_path(job).exists()})


@permission_required("customers.import_data", raise_exception=True)
def import_job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The htmx-polled progress of a job; once it is over, the page reloads to show the report."""
    mark_stale_jobs_interrupted()
    job = _get_job_for_user(request, pk)
    response = render(request, "customers/_import_progress.html", {"job": job})
    if job.is_over:
        response["HX-Refresh"] = "true"
    return response


@permission_required("customers.import_data", raise_exception=True)
def import_job_errors(request: HttpRequest, pk: int) -> FileResponse:
    """Every error of a rejected file, one `line N: column: problem` per line."""
    job = _get_job_for_user(request, pk)
    try:
        errors = open(errors_path(job), "rb")  # noqa: SIM115 (FileResponse closes it)
    except FileNotFoundError:
        raise Http404("This import has no list of errors (any more).") from None
    response = FileResponse(errors, as_attachment=True, filename=f"import-{job.pk}-errors.txt")
    response["Content-Type"] = "text/plain; charset=utf-8"
    return response


def _jobs_for_user(request: HttpRequest):
    """Admins see every import; someone else allowed to import sees their own."""
    jobs = ImportJob.objects.select_related("created_by")
    if request.user.has_perm("customers.view_importjob"):
        return jobs
    return jobs.filter(created_by=request.user)


def _get_job_for_user(request: HttpRequest, pk: int) -> ImportJob:
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    if job.created_by_id != request.user.pk and not request.user.has_perm("customers.view_importjob"):
        raise PermissionDenied
    return job
