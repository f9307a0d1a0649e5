from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@permission_required("customers.import_data", raise_exception=True)
def import_upload(request: HttpRequest) -> HttpResponse:
    # The upload form and its per-row report are built with the import service.
    return render(request, "customers/import.html", {})
