from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import RetierRun


@permission_required("tiering.view_retierrun", raise_exception=True)
def run_list(request: HttpRequest) -> HttpResponse:
    runs = RetierRun.objects.select_related("ruleset")[:50]
    return render(request, "tiering/run_list.html", {"runs": runs})
