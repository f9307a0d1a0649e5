from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .forms import ImportForm
from .imports import KINDS, import_csv


@permission_required("customers.import_data", raise_exception=True)
def import_upload(request: HttpRequest) -> HttpResponse:
    """Upload a CSV; the page shows the same report as `manage.py import_data`."""
    report = None
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        report = import_csv(kind=form.cleaned_data["kind"], stream=form.cleaned_data["file"])
    return render(request, "customers/import.html", {"form": form, "report": report, "kinds": KINDS.values()})
