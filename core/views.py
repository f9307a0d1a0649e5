import math

from axes.helpers import get_client_username, get_cool_off
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and docker-compose: answers only when the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What django-axes answers (AXES_LOCKOUT_CALLABLE) to a sign-in while the account or address is locked.

    Every failed attempt during the lock starts the cool-off again, so "from now" is when it ends.
    """
    cool_off = get_cool_off(request)
    context = {
        "username": get_client_username(request, credentials) or "",
        "cool_off_minutes": math.ceil(cool_off.total_seconds() / 60),
        "retry_at": timezone.now() + cool_off,
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
