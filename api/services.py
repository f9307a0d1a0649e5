"""Writes of the API app that people make: tokens and webhook endpoints (admin and command share them)."""

from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import ApiToken, WebhookEndpoint
from .scopes import EVENTS, SCOPES, unknown
from .tokens import hash_token, new_token, new_webhook_secret


def token_create(*, name: str, scopes: list[str], user=None, rate_limit_per_minute: int | None = None):
    """(token row, secret): the secret exists only in this return value; show it once."""
    if not name.strip():
        raise ValidationError("Name the token after who or what will use it.")
    if not scopes or unknown(scopes, SCOPES):
        raise ValidationError(f"Scopes must be some of {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}.")
    secret, prefix = new_token()
    token = ApiToken.objects.create(
        name=name.strip(),
        prefix=prefix,
        secret_hash=hash_token(secret),
        scopes=sorted(set(scopes)),
        created_by=user,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    return token, secret


def token_revoke(*, token: ApiToken, user=None) -> bool:
    """Revoke at once (the next call gets 401). False when it already was."""
    return bool(
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=user)
    )


def endpoint_prepare(*, endpoint: WebhookEndpoint, user=None) -> str | None:
    """Before the first save of an endpoint: its events checked and a new secret; returns the secret
    (to show once) for a new endpoint, None for an existing one."""
    if not endpoint.events or unknown(endpoint.events, EVENTS):
        raise ValidationError({"events": f"Choose some of {', '.join(EVENTS)}."})
    if endpoint.pk is not None:
        return None
    endpoint.secret = new_webhook_secret()
    endpoint.created_by = user
    return endpoint.secret
