"""Admins create and revoke tokens and register webhook endpoints here. A new token's or endpoint's
secret is shown on the page that answers the save, once; only a hash of a token is stored."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from core.admin import ReadOnlyAdmin

from . import services, tasks, webhooks
from .models import ApiCall, ApiToken, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .scopes import EVENT_CHOICES, SCOPE_CHOICES


class TokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiToken
        fields = ["name", "scopes", "rate_limit_per_minute"]


def _show_secret_once(request, *, what: str, obj, secret: str, admin_site):
    context = {
        **admin_site.each_context(request),
        "title": f"{what} created",
        "what": what,
        "obj": obj,
        "secret": secret,
    }
    return TemplateResponse(request, "admin/api/secret_once.html", context)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "scopes", "created_at", "created_by", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    form = TokenForm

    def get_readonly_fields(self, request, obj=None):
        return (
            ["prefix", "scopes", "created_at", "created_by", "last_used_at", "revoked_at", "revoked_by"] if obj else []
        )

    def get_fields(self, request, obj=None):
        return (
            ["name", "rate_limit_per_minute", *self.get_readonly_fields(request, obj)]
            if obj
            else super().get_fields(request, obj)
        )

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the call log keeps naming the token

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, secret = services.token_create(
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            user=request.user,
            rate_limit_per_minute=obj.rate_limit_per_minute,
        )
        obj.pk, obj.prefix, request._api_secret = token.pk, token.prefix, secret

    def response_add(self, request, obj, post_url_continue=None):
        return _show_secret_once(
            request, what="API token", obj=obj, secret=request._api_secret, admin_site=self.admin_site
        )

    @admin.action(description="Revoke the selected tokens (their next call gets 401)")
    def revoke(self, request, queryset):
        revoked = sum(services.token_revoke(token=token, user=request.user) for token in queryset)
        messages.success(request, f"Revoked {revoked} token(s).")


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "token", "method", "path", "status", "row_count", "duration_ms"]
    list_filter = ["status"]
    search_fields = ["token__name", "token__prefix", "path"]
    list_select_related = ["token"]


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "description", "events", "state", "consecutive_failures", "created_at"]
    list_filter = [("paused_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["consecutive_failures", "paused_at", "paused_reason", "created_at", "created_by"]
    actions = ["resume"]
    form = EndpointForm

    @admin.display(description="state")
    def state(self, obj):
        return f"PAUSED: {obj.paused_reason}" if obj.is_paused else "active"

    def save_model(self, request, obj, form, change):
        request._api_secret = services.endpoint_prepare(endpoint=obj, user=request.user)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        return _show_secret_once(
            request, what="Webhook endpoint", obj=obj, secret=request._api_secret, admin_site=self.admin_site
        )

    @admin.action(description="Resume the selected endpoints (held deliveries go out)")
    def resume(self, request, queryset):
        sent = 0
        for endpoint in queryset:
            for delivery_id in webhooks.resume(endpoint_id=endpoint.pk):
                tasks.deliver_webhook_task.delay(delivery_id)
                sent += 1
        messages.success(request, f"Resumed {queryset.count()} endpoint(s); {sent} held deliveries queued.")


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "response_status", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "endpoint",
        "event",
        "items",
        "status",
        "attempts",
        "response_status",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    list_select_related = ["endpoint"]
    inlines = [AttemptInline]
