"""The rules in the dashboard: the versions, a draft's editor, its preview, publishing.

Permissions as in the Django admin: editing needs "change rule set", starting a draft "add rule
set", publishing "publish rule set"; starting a re-tier is the Runs page's own "Run re-tier now"
(tiering.views.run_now, "run re-tier"). The Django admin stays for power use.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .calibration import calibrate_ruleset
from .forms_rules import DraftEditor, apply_action
from .models import RuleSet, Tier
from .preview import preview_ruleset
from .rules import NEEDS, describe_group, rules_from_ruleset
from .services_rules import create_draft_from_ruleset, publish_ruleset, ruleset_problems, save_draft

EDIT = "tiering.change_ruleset"


@permission_required(EDIT, raise_exception=True)
def rules_index(request: HttpRequest) -> HttpResponse:
    """The rule set in force, the drafts and the latest retired versions. Three queries."""
    rulesets = list(
        RuleSet.objects.select_related("published_by", "created_by").prefetch_related(
            "groups__tier", "groups__conditions"
        )[:20]
    )
    rows = [{"ruleset": r, "groups": _groups_text(r)} for r in rulesets]
    return render(request, "tiering/rules.html", {"rows": rows})


@require_POST
@permission_required("tiering.add_ruleset", raise_exception=True)
def rules_start_draft(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(RuleSet, pk=pk)
    try:
        draft = create_draft_from_ruleset(ruleset=source, user=request.user)
    except IntegrityError:  # two admins at the same moment: the version number is taken
        messages.error(request, "Another draft was started at the same moment. Try again.")
        return redirect("tiering:rules")
    messages.success(request, f"Draft v{draft.version} started from v{source.version}. Edit it, then publish it.")
    return redirect("tiering:rules_edit", pk=draft.pk)


@permission_required(EDIT, raise_exception=True)
def rules_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the draft's editor (a published or retired version read-only). POST: "action" applies
    one editing step and saves nothing; otherwise the whole edit is checked and saved at once."""
    ruleset = get_object_or_404(RuleSet.objects.select_related("published_by"), pk=pk)
    if ruleset.status != RuleSet.Status.DRAFT:
        if request.method == "POST":
            messages.error(request, f"v{ruleset.version} is {ruleset.get_status_display()}: start a draft from it.")
            return redirect("tiering:rules_edit", pk=pk)
        return render(request, "tiering/rule_editor.html", {"ruleset": ruleset, "groups": _groups_text(ruleset)})
    editor, show_errors = DraftEditor(ruleset), False
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action:
            data, focus = apply_action(request.POST, action)
            editor = DraftEditor(ruleset, unsaved=data, focus=focus)
        else:
            editor, show_errors = DraftEditor(ruleset, request.POST), True
            if _save(request, ruleset, editor):
                messages.success(request, f"Draft v{ruleset.version} saved. The preview shows what it would do.")
                return redirect("tiering:rules_edit", pk=pk)
    errors = list(editor.error_summary()) if show_errors else []
    context = {
        "ruleset": ruleset,
        "editor": editor,
        "show_errors": show_errors,
        "errors": errors,
        "error_count": len(errors) + len(editor.errors),
        "can_publish": request.user.has_perm("tiering.publish_ruleset"),
    }
    return render(request, "tiering/rule_editor.html", context)


def _save(request: HttpRequest, ruleset: RuleSet, editor: DraftEditor) -> bool:
    if not editor.is_valid():
        return False
    groups, conditions = editor.edits()
    try:
        save_draft(ruleset=ruleset, user=request.user, groups=groups, conditions=conditions)
    except ValidationError as exc:
        editor.errors += exc.messages
        return False
    return True


@permission_required(EDIT, raise_exception=True)
def rules_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """What the rule set would do to every customer, as the editor shows it below the rules (loaded
    after the page, so the page does not wait for the scan); a page of its own without htmx."""
    ruleset = get_object_or_404(RuleSet, pk=pk)
    preview = preview_ruleset(ruleset=ruleset)
    tiers = list(Tier.objects.order_by("-level"))
    context = {
        "ruleset": ruleset,
        "preview": preview,
        "rows": _preview_rows(preview, tiers),
        "problems": ruleset_problems(ruleset=ruleset) if ruleset.status == RuleSet.Status.DRAFT else [],
        # each condition against the stored metrics (tiering/calibration.py; read from the run's stored
        # calibration, a new threshold costing one scan), shown below the rules after every save
        "calibration": calibrate_ruleset(ruleset=ruleset),
    }
    template = "tiering/_rule_preview.html" if request.htmx else "tiering/rule_preview.html"
    return render(request, template, context)


@require_POST
@permission_required("tiering.publish_ruleset", raise_exception=True)
def rules_publish(request: HttpRequest, pk: int) -> HttpResponse:
    ruleset = get_object_or_404(RuleSet, pk=pk)
    try:
        publish_ruleset(ruleset=ruleset, user=request.user)
    except ValidationError as exc:
        messages.error(request, f"v{ruleset.version} was not published: {' '.join(exc.messages)}")
    else:
        messages.success(
            request,
            f"v{ruleset.version} is now in force; the previous version is retired. "
            "The next re-tier run applies it: start one now below, or wait for tonight's.",
        )
    return redirect("tiering:rules_edit", pk=pk)


# --- helpers ------------------------------------------------------------------------------------


def _groups_text(ruleset: RuleSet) -> list[dict]:
    """The rules in plain words, highest tier first (no query with groups prefetched)."""
    return [
        {"level": g.level, "needs": NEEDS[g.match], "conditions": describe_group(g)}
        for g in rules_from_ruleset(ruleset).tried()
    ]


def _preview_rows(preview, tiers: list[Tier]) -> list[dict]:
    """Per tier, highest first: customers and shares (customers, revenue, margin) now → with the rules."""
    before = {s.level: s for s in preview.shares_before}
    after = {s.level: s for s in preview.shares_after}
    rows = []
    for tier in tiers:
        now = sum(n for (held, _), n in preview.matrix.items() if held == tier.level)
        then = sum(n for (_, new), n in preview.matrix.items() if new == tier.level)
        rows.append(
            {
                "tier": tier,
                "now": now,
                "then": then,
                "change": then - now,
                "before": before.get(tier.level),
                "after": after.get(tier.level),
            }
        )
    return rows
