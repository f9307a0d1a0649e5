"""Tokens of machine clients, the log of every call they make, and webhook endpoints with the log
of every delivery to them (docs/api.md)."""

from django.conf import settings
from django.db import models

from .scopes import EVENT_CHOICES, SCOPES


class ApiToken(models.Model):
    """A machine client's bearer token. Only a SHA-256 of the secret is kept (the secret has 256
    random bits, so a fast hash is enough); the secret is shown once, when the token is created."""

    name = models.CharField(max_length=200, help_text="Who or what uses it, e.g. “CRM sync”.")
    prefix = models.CharField(max_length=16, unique=True, help_text="The token's first characters, to recognise it.")
    secret_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, help_text="What it may read: " + ", ".join(SCOPES) + ".")
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Calls a minute; empty: API_RATE_LIMIT_PER_MINUTE."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def actor(self) -> str:
        """How logs name the caller."""
        return f"API token {self.name} ({self.prefix})"


class ApiCall(models.Model):
    """One call with a known token (valid, revoked, out of scope or over its limit): tiers are
    confidential, so who read what is kept, as exports are."""

    created_at = models.DateTimeField(auto_now_add=True)
    token = models.ForeignKey(ApiToken, on_delete=models.PROTECT, related_name="calls")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    query = models.JSONField(default=dict, help_text="The query parameters, as sent.")
    status = models.PositiveSmallIntegerField()
    row_count = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["token", "-created_at"], name="apicall_token_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class WebhookEndpoint(models.Model):
    """A URL that receives signed event deliveries. The secret is kept as it is: the server needs it
    to sign (HMAC), as the receiver needs it to verify."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Events delivered: " + ", ".join(e for e, _ in EVENT_CHOICES))
    secret = models.CharField(max_length=80, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consecutive_failures = models.PositiveIntegerField(default=0, help_text="Failed attempts in a row.")
    paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Set after WEBHOOK_PAUSE_AFTER failed attempts in a row; nothing is sent."
    )
    paused_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None


class WebhookDelivery(models.Model):
    """One event (a batch of up to WEBHOOK_BATCH_SIZE items) for one endpoint, and how it went.

    `subject` says what the body holds (e.g. a run's tier changes with ids first_id..last_id); the
    body is built from it at each attempt and signed with the attempt's timestamp.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "waiting to be sent"
        SUCCEEDED = "succeeded"
        FAILED = "failed", "failed: gave up after every retry"
        HELD = "held", "held: the endpoint is paused"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=EVENT_CHOICES)
    subject = models.JSONField(default=dict)
    items = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Of the last attempt.")
    error = models.TextField(blank=True, help_text="Of the last attempt: the connection error or the response's start.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["endpoint", "status"], name="webhookdelivery_status_idx")]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} to {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """Each try of a delivery, with the receiver's answer."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(auto_now_add=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at", "id"]
