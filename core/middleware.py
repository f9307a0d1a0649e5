"""Refuse file uploads from whoever may not make them, before a byte of the body is read.

Django parses a multipart body (writing files over FILE_UPLOAD_MAX_MEMORY_SIZE to disk) the first
time anything reads request.POST, and CsrfViewMiddleware does so for every POST that carries a CSRF
cookie, before LoginRequiredMiddleware or a view's permission check can answer. Anyone can get a
CSRF cookie from the sign-in page, so this gate runs in the request phase, before every view
middleware: a multipart body goes through only to a URL named in settings.UPLOAD_PERMISSIONS, from
a signed-in user who holds that URL's permission.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve


class UploadGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.content_type == "multipart/form-data":
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            permission = upload_permission(request.path_info)
            if permission is None or not request.user.has_perm(permission):
                # Rendered here: Django's 403 view checks the CSRF token, which reads the body.
                return render(request, "403.html", status=403)
        return self.get_response(request)


def upload_permission(path: str) -> str | None:
    """The permission a URL asks of an uploader, or None for a URL that takes no uploads."""
    try:
        view_name = resolve(path).view_name
    except Resolver404:
        return None
    return settings.UPLOAD_PERMISSIONS.get(view_name)
