"""Refuse file uploads from whoever may not make them, before the file's bytes are read.

Django parses a multipart body (writing files over FILE_UPLOAD_MAX_MEMORY_SIZE to disk) the first
time anything reads request.POST, and CsrfViewMiddleware does so for every POST that carries a CSRF
cookie, before LoginRequiredMiddleware or a view's permission check can answer. Anyone can get a
CSRF cookie from the sign-in page. So, in the request phase, before any of that: unless the URL is
named in settings.UPLOAD_PERMISSIONS and the signed-in user holds its permission, the request's
upload handlers are replaced by one that stops reading at the first file. The form fields before it
are still parsed (the CSRF token, a sign-in form sent as multipart), within DATA_UPLOAD_MAX_MEMORY_SIZE.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve


class UploadGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.content_type == "multipart/form-data" and not may_upload(request):
            request.upload_handlers = [RefuseFiles(request)]
        return self.get_response(request)


class RefuseFiles(FileUploadHandler):
    """Stops the upload at the first file part, leaving the rest of the body unread."""

    def new_file(self, *args, **kwargs):
        raise StopUpload(connection_reset=True)

    def receive_data_chunk(self, raw_data, start):  # never reached: new_file stops first
        return None

    def file_complete(self, file_size):
        return None


def may_upload(request: HttpRequest) -> bool:
    permission = upload_permission(request.path_info)
    return permission is not None and request.user.is_authenticated and request.user.has_perm(permission)


def upload_permission(path: str) -> str | None:
    """The permission a URL asks of an uploader, or None for a URL that takes no uploads."""
    try:
        view_name = resolve(path).view_name
    except Resolver404:
        return None
    return settings.UPLOAD_PERMISSIONS.get(view_name)
