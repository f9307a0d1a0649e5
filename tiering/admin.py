"""The admin's side of the rules: tiers, versioned rule sets, their groups and conditions.

Design: a rule set's change page lists its tier groups (inline, with a link to each group) and
shows the rules in plain words, its problems and its audit trail; a group's page edits its
conditions inline. Only drafts are editable; published and retired versions are read-only and
can be copied into a new draft. Preview, Publish and "Create draft from this" are buttons on the
rule set page that call the services in tiering/services_rules.py and tiering/preview.py.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnlyAdmin

from .calibration import calibrate_ruleset
from .matrix import build_matrix
from .metrics import METRICS
from .models import Condition, RuleGroup, RuleSet, Tier, TierBackfill
from .preview import preview_ruleset
from .rule_checks import condition_errors
from .rules import FALLBACK_LEVEL, NEEDS, describe_group, rules_from_ruleset
from .selectors_rules import ruleset_changes
from .services_rules import create_draft_from_ruleset, publish_ruleset, ruleset_problems

KIND_NAMES = {"money": "Money", "count": "Counts", "days": "Days", "ratio": "Shares (0.05 = 5%)"}


def _is_draft(ruleset: RuleSet | None) -> bool:
    return ruleset is None or ruleset.status == RuleSet.Status.DRAFT


def _tier_choice(formfield):
    """Tiers are edited on their own page: no add/change/view icons beside a group's tier."""
    widget = formfield.widget
    widget.can_add_related = widget.can_change_related = widget.can_view_related = widget.can_delete_related = False
    return formfield


# --- tiers ------------------------------------------------------------------------------------


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ["name", "colour", "description"]

    def clean_colour(self):
        colour = self.cleaned_data["colour"]
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
            raise ValidationError(f"“{colour}” is not a colour: write it as # and six hex digits, e.g. #2f6fba.")
        return colour.lower()


@admin.register(Tier)
class TierAdmin(SimpleHistoryAdmin):
    form = TierForm
    list_display = ["level", "name", "swatch", "description"]
    list_display_links = ["level", "name"]
    fields = ["level", "name", "colour", "description"]
    readonly_fields = ["level"]  # levels are what rules and history refer to: fixed

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Colour")
    def swatch(self, tier: Tier) -> str:
        return _tier_chip(tier.level, tier.name, tier.colour)


# --- rule sets --------------------------------------------------------------------------------


class RuleGroupInline(admin.TabularInline):
    model = RuleGroup
    fields = ["tier", "match", "conditions_text"]
    readonly_fields = ["conditions_text"]
    show_change_link = True
    verbose_name = "tier group"
    verbose_name_plural = (
        "Tier groups (tried from the highest tier down; the first that matches wins; everyone else is tier 1)"
    )

    def get_queryset(self, request):  # the tiers' own groups; nested ones are edited inside them
        return super().get_queryset(request).filter(parent=None).select_related("tier").prefetch_related("conditions")

    def get_extra(self, request, obj=None, **kwargs):
        if not _is_draft(obj):
            return 0
        return 2 if obj is None else max(0, 2 - len(obj.groups.all()))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tier":
            kwargs["queryset"] = Tier.objects.filter(level__gt=FALLBACK_LEVEL).order_by("-level")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        return _tier_choice(formfield) if db_field.name == "tier" and formfield else formfield

    def has_add_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_delete_permission(request, obj)

    @admin.display(description="Conditions")
    def conditions_text(self, group: RuleGroup) -> str:
        if not group.pk:
            return "Save, then open the group to add conditions."
        return _conditions_html(group)


@admin.register(RuleSet)
class RuleSetAdmin(SimpleHistoryAdmin):
    list_display = [
        "version_text",
        "status_text",
        "rules_text",
        "grace_runs",
        "created_by",
        "published_at",
        "published_by",
    ]
    list_display_links = ["version_text"]
    list_select_related = ["created_by", "published_by"]
    fields = ["version", "status", "notes", "grace_runs", "created_at", "created_by", "published_at", "published_by"]
    readonly_fields = ["version", "status", "created_at", "created_by", "published_at", "published_by"]
    inlines = [RuleGroupInline]
    actions = None  # bulk delete would reach published versions

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups__tier", "groups__conditions")

    def has_change_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.version = (RuleSet.objects.aggregate(v=Max("version"))["v"] or 0) + 1
            obj.status = RuleSet.Status.DRAFT
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="Version", ordering="version")
    def version_text(self, ruleset: RuleSet) -> str:
        return f"v{ruleset.version}"

    @admin.display(description="Status", ordering="status")
    def status_text(self, ruleset: RuleSet) -> str:
        return _status_badge(ruleset)

    @admin.display(description="Rules")
    def rules_text(self, ruleset: RuleSet) -> str:
        joiners = {"all": " and ", "any": " or ", "none": " nor "}
        lines = [
            (g.level, g.match.upper(), joiners[g.match].join(describe_group(g)) or _conditions_html(None))
            for g in rules_from_ruleset(ruleset).tried()
        ]
        summary = format_html_join("", "<div><b>Tier {}</b> needs {} of: {}</div>", lines) or "No groups yet."
        problems = ruleset_problems(ruleset=ruleset) if _is_draft(ruleset) else []
        if problems:
            return format_html(
                '{}<div class="tb-problem">⚠ {} problem{} to fix before publishing</div>',
                summary,
                len(problems),
                "" if len(problems) == 1 else "s",
            )
        return summary

    # --- extra pages: preview, publish, copy -----------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", view(self.preview_view), name="tiering_ruleset_preview"),
            path("<int:pk>/publish/", view(require_POST(self.publish_view)), name="tiering_ruleset_publish"),
            path("<int:pk>/copy/", view(require_POST(self.copy_view)), name="tiering_ruleset_copy"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ruleset = self.get_object(request, object_id)
        extra = {}
        if ruleset is not None:
            calibration = calibrate_ruleset(ruleset=ruleset)
            extra = {
                "ruleset": ruleset,
                "groups_text": _groups_text(ruleset),
                "problems": ruleset_problems(ruleset=ruleset) if _is_draft(ruleset) else [],
                "calibration": calibration,
                "warnings": [w for c in calibration for w in c.warnings],
                "changes": ruleset_changes(ruleset=ruleset),
                "can_publish": _is_draft(ruleset) and request.user.has_perm("tiering.publish_ruleset"),
                "can_copy": self.has_add_permission(request),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        ruleset = get_object_or_404(RuleSet, pk=pk)
        if not self.has_view_permission(request, ruleset):
            raise PermissionDenied
        tiers = list(Tier.objects.order_by("-level"))
        by_level = {t.level: t for t in tiers}
        preview = preview_ruleset(ruleset=ruleset)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview of rule set v{ruleset.version}",
            "opts": self.model._meta,
            "ruleset": ruleset,
            "preview": preview,
            "as_of": preview.as_of,
            "matrix": build_matrix(preview.matrix, tiers=tiers, verb="would move", note=_preview_note(ruleset)),
            "shares": _shares_rows(preview, tiers),
            "tiers": tiers,
            "movers": [
                {
                    "mover": m,
                    "url": _customer_url(m.customer_id),
                    "from": by_level.get(m.from_tier),
                    "to": by_level.get(m.to_tier),
                }
                for m in preview.movers
            ],
            "can_publish": _is_draft(ruleset) and request.user.has_perm("tiering.publish_ruleset"),
        }
        return TemplateResponse(request, "admin/tiering/ruleset/preview.html", context)

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("tiering.publish_ruleset"):
            raise PermissionDenied
        ruleset = get_object_or_404(RuleSet, pk=pk)
        try:
            publish_ruleset(ruleset=ruleset, user=request.user)
        except ValidationError as exc:
            messages.error(request, f"Rule set v{ruleset.version} was not published:")
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(
                request,
                f"Rule set v{ruleset.version} is now in force; the previous version is retired. "
                "The next re-tier run applies it.",
            )
        return HttpResponseRedirect(reverse("admin:tiering_ruleset_change", args=[pk]))

    def copy_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        source = get_object_or_404(RuleSet, pk=pk)
        draft = create_draft_from_ruleset(ruleset=source, user=request.user)
        messages.success(
            request, f"Draft v{draft.version} created from v{source.version}. Edit it, preview it, then publish it."
        )
        return HttpResponseRedirect(reverse("admin:tiering_ruleset_change", args=[draft.pk]))


# --- groups and their conditions --------------------------------------------------------------


class ConditionForm(forms.ModelForm):
    metric = forms.ChoiceField(
        choices=[("", "---------")]
        + [(KIND_NAMES[kind], [(m.name, m.label) for m in METRICS.values() if m.kind == kind]) for kind in KIND_NAMES]
    )

    # text, so "5%" reaches the rule checks and is answered with what to type instead
    value = forms.CharField(label="Value (floor, with a percentile)", max_length=40)

    class Meta:
        model = Condition
        fields = ["metric", "op", "value", "percentile", "population"]
        labels = {"op": "Comparison"}

    def clean_value(self):
        text = self.cleaned_data["value"].strip().replace(",", "")
        errors = condition_errors(self.data.get(self.add_prefix("metric"), ""), "gte", text) if "%" in text else {}
        if errors:
            raise ValidationError(errors["value"])
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ValidationError(f"“{text}” is not a number.") from None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # 5000, not 5000.0000
            self.initial["value"] = f"{self.instance.value.normalize():f}"
            if self.instance.percentile is not None:
                self.initial["percentile"] = f"{self.instance.percentile.normalize():f}"


class ConditionInline(admin.TabularInline):
    model = Condition
    form = ConditionForm
    extra = 1

    def get_fields(self, request, obj=None):
        return ["metric", "op", "value", "percentile", "population"] if self._editable(obj) else ["condition_text"]

    def get_readonly_fields(self, request, obj=None):
        return [] if self._editable(obj) else ["condition_text"]

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if self._editable(obj) else 0

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)

    @staticmethod
    def _editable(group: RuleGroup | None) -> bool:
        return group is None or _is_draft(group.ruleset)

    @admin.display(description="Condition")
    def condition_text(self, cond: Condition) -> str:
        return str(cond)


class NestedGroupInline(admin.TabularInline):
    """Groups nested in this one: each counts as one of its conditions (open it to edit its own)."""

    model = RuleGroup
    fk_name = "parent"
    fields = ["match", "conditions_text"]
    readonly_fields = ["conditions_text"]
    show_change_link = True
    extra = 0
    verbose_name = "nested group"
    verbose_name_plural = "Nested groups (each counts as one condition of this group)"

    def has_add_permission(self, request, obj=None):
        return ConditionInline._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return ConditionInline._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return ConditionInline._editable(obj) and super().has_delete_permission(request, obj)

    @admin.display(description="Conditions")
    def conditions_text(self, group: RuleGroup) -> str:
        if not group.pk:
            return "Save, then open the group to add conditions."
        return _conditions_html(group)


@admin.register(RuleGroup)
class RuleGroupAdmin(SimpleHistoryAdmin):
    inlines = [ConditionInline, NestedGroupInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is RuleGroup:  # a nested group belongs to its parent's rule set and tier
            for nested in formset.forms:
                nested.instance.ruleset_id, nested.instance.tier_id = form.instance.ruleset_id, form.instance.tier_id
        super().save_formset(request, form, formset, change)

    def get_model_perms(self, request):
        return {}  # reached from its rule set's page, not listed on the admin index

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("ruleset", "tier")

    def get_fields(self, request, obj=None):
        return ["tier", "match"] if obj else ["ruleset", "tier", "match"]  # the page header names the rule set

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        return _tier_choice(formfield) if db_field.name in ("tier", "ruleset") and formfield else formfield

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tier":
            kwargs["queryset"] = Tier.objects.filter(level__gt=FALLBACK_LEVEL).order_by("-level")
        if db_field.name == "ruleset":
            kwargs["queryset"] = RuleSet.objects.filter(status=RuleSet.Status.DRAFT)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return (obj is None or _is_draft(obj.ruleset)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (obj is None or _is_draft(obj.ruleset)) and super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        group = self.get_object(request, object_id)
        extra = {"metrics": METRICS.values(), "group": group}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def response_change(self, request, obj):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_change(request, obj)
        messages.success(request, f"Tier {obj.tier.level} group of v{obj.ruleset.version} saved.")
        return HttpResponseRedirect(reverse("admin:tiering_ruleset_change", args=[obj.ruleset_id]))

    def response_add(self, request, obj, post_url_continue=None):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return HttpResponseRedirect(reverse("admin:tiering_ruleset_change", args=[obj.ruleset_id]))


# --- helpers ----------------------------------------------------------------------------------


def _tier_chip(level: int, name: str, colour: str) -> str:
    return format_html('<span class="tb-chip" style="background:{}">{} · {}</span>', colour, level, name)


def _status_badge(ruleset: RuleSet) -> str:
    return format_html('<span class="tb-status tb-status-{}">{}</span>', ruleset.status, ruleset.get_status_display())


def _conditions_html(group: RuleGroup | None) -> str:
    conditions = [str(c) for c in group.conditions.all()] if group else []
    conditions += [f"{NEEDS[g.match]} ({_conditions_html(g)})" for g in group.children.all()] if group else []
    if not conditions or group is None:
        return format_html('<span class="tb-problem">{}</span>', "No condition: publishing refuses an empty group.")
    joiner = {"all": " and ", "any": " or ", "none": " nor "}[group.match]
    return joiner.join(conditions)


def _groups_text(ruleset: RuleSet) -> list[dict]:
    """The rules in plain words, highest tier first, as the change page shows them."""
    return [
        {
            "level": g.level,
            "needs": NEEDS[g.match],
            "conditions": describe_group(g),
        }
        for g in rules_from_ruleset(ruleset).tried()
    ]


def _shares_rows(preview, tiers: list[Tier]) -> list[dict]:
    """Each tier's share now and with the rules, highest first, as the preview shows them: the
    customers (count and share), the revenue and the margin, with the change in points. A tier
    nobody holds counts 0."""
    from .preview import Share

    before = {s.level: s for s in preview.shares_before}
    after = {s.level: s for s in preview.shares_after}
    empty = lambda level: Share(level, 0.0, None, None)  # noqa: E731
    rows = []
    for tier in tiers:
        now, then = before.get(tier.level, empty(tier.level)), after.get(tier.level, empty(tier.level))
        rows.append(
            {
                "tier": tier,
                "count_now": now.count,
                "count_then": then.count,
                "cells": [_share_cells(now.customers, then.customers)]
                + [_share_cells(a, b) for a, b in ((now.revenue, then.revenue), (now.margin, then.margin))],
            }
        )
    return rows


def _share_cells(now: float | None, then: float | None) -> dict:
    """One share now and with the rules, one decimal (0.4%, never rounded to 0%), and the change
    in percentage points."""
    if now is None or then is None:
        return {"now": "—", "then": "—", "change": "", "up": False}
    points = round((then - now) * 100, 1)
    change = "" if points == 0 else f"{points:+.1f} pt".replace("-", "−")
    return {"now": _pct(now), "then": _pct(then), "change": change, "up": points > 0}


def _pct(share: float) -> str:
    if 0 < abs(share) < 0.001:
        return "<0.1%" if share > 0 else "−<0.1%"
    return f"{share * 100:.1f}%".replace("-", "−")


def _preview_note(ruleset: RuleSet) -> str:
    return (
        f"Rows: the tier each customer holds now; columns: the tier v{ruleset.version} would give. "
        "No list holds the customers a draft would move, so the numbers are not links: "
        "the customers below link to their pages."
    )


def _customer_url(customer_id: int) -> str | None:
    """The customer's page on the dashboard (a URL name, not an import: tiering sits below it)."""
    try:
        return reverse("dashboard:customer", args=[customer_id])
    except NoReverseMatch:
        return None


# --- history backfills ------------------------------------------------------------------------


@admin.register(TierBackfill)
class TierBackfillAdmin(ReadOnlyAdmin):
    """The replays of the tiers at month ends (docs/backfill.md): read only, with a button that queues
    one (the changelist's "Replay tier history now", for admins who may start a re-tier)."""

    list_display = ["id", "status", "progress_text", "ruleset", "months", "first_as_of", "last_as_of", "entries",
                    "replaced", "started_at", "finished_at", "triggered_by"]  # fmt: skip
    readonly_fields = [f.name for f in TierBackfill._meta.fields]
    change_list_template = "admin/tiering/tierbackfill/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.start_view))
        return [path("start/", view, name="tiering_tierbackfill_start")] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        from .runs import reap_backfills

        reap_backfills()  # a backfill shown as running must really be going
        can_start = request.user.has_perm("tiering.run_retier")
        return super().changelist_view(request, {"can_start": can_start, **(extra_context or {})})

    def start_view(self, request: HttpRequest) -> HttpResponse:
        from kombu.exceptions import OperationalError

        from config.celery import publish_once

        from .tasks import backfill_tiers_task

        if not request.user.has_perm("tiering.run_retier"):
            raise PermissionDenied
        try:
            publish_once(backfill_tiers_task, triggered_by=request.user.get_username())
        except OperationalError:
            messages.error(
                request,
                "The task queue (Redis) cannot be reached, so the backfill was not started. Try again once the "
                "queue is back, or run “manage.py backfill_tiers” on the server.",
            )
        else:
            messages.success(request, "Backfill queued: it appears below, with its progress, once a worker starts it.")
        return HttpResponseRedirect(reverse("admin:tiering_tierbackfill_changelist"))
