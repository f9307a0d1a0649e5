import logging

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError

from config.celery import publish_once

from .matrix import run_matrix
from .models import RetierRun, Tier
from .runs import reap_interrupted
from .tasks import retier_task
from .tiers import LEVELS

log = logging.getLogger(__name__)


@permission_required("tiering.view_retierrun", raise_exception=True)
def run_list(request: HttpRequest) -> HttpResponse:
    reap_interrupted()  # a run shown as running must really be going
    runs = list(RetierRun.objects.select_related("ruleset")[:50])
    return render(request, "tiering/run_list.html", {"runs": runs, "levels": LEVELS})


@permission_required("tiering.view_retierrun", raise_exception=True)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(RetierRun.objects.select_related("ruleset"), pk=pk)
    tiers = list(Tier.objects.all())
    matrix = run_matrix(run, tiers=tiers)
    context = {"run": run, "levels": [t.level for t in tiers], "matrix": matrix, "placed": matrix.new}
    return render(request, "tiering/run_detail.html", context)


@permission_required("tiering.view_retierrun", raise_exception=True)
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The htmx-polled progress of a run; once it is over, the page reloads to show the result."""
    run = get_object_or_404(RetierRun, pk=pk)
    response = render(request, "tiering/_run_progress.html", {"run": run})
    if run.status != RetierRun.Status.RUNNING:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@permission_required("tiering.run_retier", raise_exception=True)
def run_now(request: HttpRequest) -> HttpResponse:
    # Published at once, not on commit: the view writes nothing, and a refusal must reach the user.
    try:
        result = publish_once(retier_task, triggered_by=request.user.get_username())
    except OperationalError:
        messages.error(
            request,
            "The task queue (Redis) cannot be reached, so the re-tier was not started and nothing was recorded. "
            "Try again once the queue is back, or run “manage.py retier” on the server.",
        )
        return redirect("tiering:runs")
    except Exception:
        if not retier_task.app.conf.task_always_eager:
            raise
        log.exception("in-process re-tier failed")
        messages.error(request, "The re-tier ran and failed; the newest run below says why. Everyone kept their tier.")
        return redirect("tiering:runs")
    if retier_task.app.conf.task_always_eager:  # tasks run in-process (the demo): it is over, say how it ended
        run = RetierRun.objects.filter(pk=result.result).first() if result.successful() else None
        if run is not None and run.status == RetierRun.Status.SUCCEEDED:
            messages.success(request, f"Re-tier done: run {run.pk} finished.")
            return redirect("tiering:run_detail", pk=run.pk)
        messages.error(request, "The re-tier ran and failed; the newest run below says why. Everyone kept their tier.")
        return redirect("tiering:runs")
    messages.success(request, "Re-tier queued: it appears below as soon as a worker starts it.")
    return redirect("tiering:runs")
