"""Who is calling: a bearer token, checked on every call, and the log entry each call leaves.

- no token, an unknown one or a revoked one: 401 (nothing says which);
- a token without the endpoint's scope: 403;
- over the token's calls a minute: 429 with Retry-After.

Sessions never open the API: a signed-in browser without a token gets 401 too.
"""

import datetime as dt
import functools
import time

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from ninja.errors import AuthorizationError, Throttled
from ninja.security import HttpBearer

from . import ratelimit
from .models import ApiCall, ApiToken
from .tokens import hash_token, looks_like_token

LAST_USE_RESOLUTION = dt.timedelta(minutes=1)  # last_used_at is written at most once a minute per token


class TokenAuth(HttpBearer):
    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request, token: str) -> ApiToken | None:
        found = find_token(token)
        if found is None:
            return None
        request.api_token = found  # from here on the call is logged (api.auth.audited)
        if found.is_revoked:
            return None
        if self.scope not in found.scopes:
            raise AuthorizationError(message=f"This token lacks the scope {self.scope}.")
        limit = found.rate_limit_per_minute or settings.API_RATE_LIMIT_PER_MINUTE
        wait = ratelimit.seconds_to_wait(key=found.prefix, limit=limit)
        if wait:
            raise Throttled(wait=wait)
        record_use(found)
        return found


def find_token(token: str) -> ApiToken | None:
    if not looks_like_token(token):
        return None
    return ApiToken.objects.filter(secret_hash=hash_token(token)).first()


def record_use(token: ApiToken) -> None:
    now = timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USE_RESOLUTION)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)


def audited(view):
    """Wrap one of the API's URL views: no sign-in redirect (tokens, not sessions), and a log entry
    for every call made with a known token, with its status and row count."""

    @functools.wraps(view)
    def call(request, *args, **kwargs):
        started = time.monotonic()
        response = view(request, *args, **kwargs)
        token = getattr(request, "api_token", None)
        if token is not None:
            ApiCall.objects.create(
                token=token,
                method=request.method[:8],
                path=_loggable(request.path, 300),
                query={
                    _loggable(k, 100): [_loggable(v, 200) for v in request.GET.getlist(k)]
                    for k in list(request.GET)[:20]
                },
                status=response.status_code,
                row_count=getattr(request, "api_rows", None),
                duration_ms=round((time.monotonic() - started) * 1000),
            )
        return response

    call.login_required = False  # django.contrib.auth.middleware.LoginRequiredMiddleware
    return call


def _loggable(text: str, limit: int) -> str:
    """As sent, cut to `limit` characters, without the NUL characters PostgreSQL's text refuses."""
    return text.replace("\x00", "")[:limit]
