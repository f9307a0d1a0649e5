"""Thin views over churn.selectors (reads) and churn.services (writes)."""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import EmptyPage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.params import clean_list_params, shown, small_int, valid_filterset
from customers.models import Product

from . import selectors, services, suspects
from .filters import FollowUpFilter
from .forms import BulkForm, ClaimForm, ReassignForm, StatusForm, account_managers
from .models import FollowUp
from .tables import FollowUpTable

WORK = services.WORK


@permission_required(WORK, raise_exception=True)
def my_queue(request: HttpRequest) -> HttpResponse:
    items = selectors.queue_items().filter(assignee=request.user)
    return _queue(request, items, title="My queue", show_assignee=False)


@permission_required(WORK, raise_exception=True)
def team_queue(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy()
    data.setdefault("assignee", "none")  # the team queue is the unassigned items unless asked otherwise
    return _queue(request, selectors.queue_items(), title="Team queue", show_assignee=True, data=data)


QUEUE_SORTABLE = {name for name, column in FollowUpTable.base_columns.items() if column.orderable is not False}


def _queue(request, items, *, title: str, show_assignee: bool, data=None) -> HttpResponse:
    today = timezone.localdate()
    params = clean_list_params(
        request.GET, sortable=QUEUE_SORTABLE, default_sort="", sorted_as="value at risk, largest first"
    )
    filterset = valid_filterset(
        lambda d: FollowUpFilter(d, queryset=items, today=today, show_assignee=show_assignee),
        data if data is not None else request.GET,
        params.problems,
    )
    table = FollowUpTable(filterset.qs, order_by=params.sort or None)
    table.request = request
    try:
        table.paginate(page=params.page, per_page=params.per_page)
    except EmptyPage:
        params.problems.append(f"There is no page {params.page} for this list; showing the first page.")
        table.paginate(page=1, per_page=params.per_page)
    for problem in params.problems:
        messages.warning(request, problem)
    # the page's rows, read once here (the table reuses the same evaluated queryset)
    records = [row.record for row in table.page.object_list]
    selectors.count_suspects(records)
    return render(
        request,
        "churn/queue.html",
        {
            "title": title,
            "filter": filterset,
            "table": table,
            **_row_context(request),
            "products": Product.objects.values_list("sku", "name"),
            "dismiss_choices": FollowUp.DismissReason.choices,
        },
    )


def _row_context(request) -> dict:
    return {
        "today": timezone.localdate(),
        "managers": list(account_managers()),
        "cause_choices": FollowUp.Cause.choices,
        "dismiss_choices": FollowUp.DismissReason.choices,
        # the row offers a colleague's item's actions to team leads only (services._require_may_change)
        "user_id": request.user.pk,
        "is_lead": request.user.has_perm(services.LEAD),
    }


def _row(request, pk: int, *, error: str = "", form: StatusForm | None = None, refused: bool = False) -> HttpResponse:
    """The updated row for htmx; without htmx, back to the page with a message (a refusal: a 403
    page saying why)."""
    if refused and not request.htmx:
        return render(request, "churn/refused.html", {"error": error}, status=403)
    if not request.htmx:
        if error:
            messages.error(request, error)
        back = request.META.get("HTTP_REFERER", "")
        safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
        return redirect(back if safe else "churn:my_queue")
    item = get_object_or_404(selectors.queue_items(), pk=pk)
    selectors.count_suspects([item])
    context = {"item": item, "error": error, "form": form, "open_update": True, **_row_context(request)}
    return render(request, "churn/queue.html#row", context)


def _form_error(form) -> str:
    """Every form error as one sentence naming the field, e.g. "Cause: choose the cause …"."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts += [f"{label}: {error}" if label else error for error in errors]
    return " ".join(parts)


def _item_must_exist(view):
    """A change to a follow-up that does not exist (deleted, or an id made up) is a 404, not a 500."""

    @functools.wraps(view)
    def wrapped(request, pk: int):
        try:
            return view(request, pk)
        except FollowUp.DoesNotExist:
            raise Http404("No such follow-up") from None

    return wrapped


@require_POST
@permission_required(WORK, raise_exception=True)
@_item_must_exist
def change_status(request: HttpRequest, pk: int) -> HttpResponse:
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _row(request, pk, error="Nothing changed. " + _form_error(form), form=form)
    try:
        services.change_follow_up_status(follow_up_id=pk, user=request.user, **form.service_kwargs())
    except services.FollowUpError as exc:
        return _row(request, pk, error=str(exc), refused=isinstance(exc, services.NotAllowed))
    return _row(request, pk)


@require_POST
@permission_required(WORK, raise_exception=True)
@_item_must_exist
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    form = ClaimForm(request.POST)
    if not form.is_valid():
        return _row(request, pk, error="Nothing changed: the form was incomplete — reload.")
    try:
        services.claim_follow_up(follow_up_id=pk, user=request.user, version=form.cleaned_data["version"])
    except services.FollowUpError as exc:
        return _row(request, pk, error=str(exc), refused=isinstance(exc, services.NotAllowed))
    return _row(request, pk)


@require_POST
@permission_required(WORK, raise_exception=True)
@_item_must_exist
def reassign(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReassignForm(request.POST)
    if not form.is_valid():
        return _row(request, pk, error="Nothing changed. " + _form_error(form))
    try:
        services.reassign_follow_up(
            follow_up_id=pk,
            user=request.user,
            version=form.cleaned_data["version"],
            to_user=form.cleaned_data["to_user"],
        )
    except services.FollowUpError as exc:
        return _row(request, pk, error=str(exc), refused=isinstance(exc, services.NotAllowed))
    return _row(request, pk)


@require_POST
@permission_required(WORK, raise_exception=True)
def bulk(request: HttpRequest) -> HttpResponse:
    """The queue's action bar: one action on the ticked items, then back to the same page."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing changed. " + _form_error(form))
        return _back(request)
    data = form.cleaned_data
    kwargs = {
        BulkForm.CLAIM: {},
        BulkForm.ASSIGN: {"to_user": data["to_user"]},
        BulkForm.CLOSE: {
            "close_to": data["close_to"],
            "dismiss_reason": data["dismiss_reason"],
            "dismiss_text": data["dismiss_text"],
        },
    }[data["action"]]
    result = services.bulk_change(user=request.user, items=data["items"], action=data["action"], **kwargs)
    if result.done:
        messages.success(request, _done_text(data, len(result.done)))
    if result.refused:
        reasons = "; ".join(f"{name}: {why.rstrip('.')}" for name, why in result.refused)
        messages.error(request, f"{len(result.refused)} of {len(data['items'])} not changed — {reasons}.")
    return _back(request)


def _done_text(data: dict, n: int) -> str:
    items = f"{n} item{'s' if n != 1 else ''}"
    if data["action"] == BulkForm.CLAIM:
        return f"Claimed {items}: they are in your queue."
    if data["action"] == BulkForm.ASSIGN:
        user = data["to_user"]
        return f"Assigned {items} to {user.get_full_name() or user.username}."
    label = FollowUp.Status(data["close_to"]).label
    return f"Closed {items} as {label}."


def _back(request) -> HttpResponse:
    """To the queue page the form was on (its filters, sort and page), else my queue."""
    back = request.POST.get("next", "")
    safe = back.startswith("/") and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
    return redirect(back if safe else "churn:my_queue")


def _months(request, default: int = 3) -> int:
    raw = request.GET.get("months", "")
    if (months := small_int(raw, 1, 24)) is not None:
        return months
    if raw:
        messages.warning(request, f"Months “{shown(raw)}” is not a number from 1 to 24; showing {default}.")
    return default


@permission_required("churn.view_insights", raise_exception=True)
def insights(request: HttpRequest) -> HttpResponse:
    months = _months(request)
    by_cause = selectors.lost_by_month(field="cause_category")
    by_product = selectors.lost_by_month(field="cause_product__name")
    lost, ranking, change_ranking = selectors.releases_before_leaving(months=months)
    tiers = _tiers(request)
    analysis = suspects.latest(tiers=tiers)
    causes = dict(FollowUp.Cause.choices)
    for row in by_cause:
        row["cause_label"] = causes.get(row["cause_category"], "—")
    return render(
        request,
        "churn/insights.html",
        {
            "months": months,
            "by_cause": by_cause,
            "by_product": [r for r in by_product if r["cause_product__name"]],
            "cause_chart": selectors.chart_series(
                by_cause, field="cause_category", label_of=lambda v: causes.get(v, v or "—")
            ),
            "product_chart": selectors.chart_series(
                [r for r in by_product if r["cause_product__name"]], field="cause_product__name", label_of=str
            ),
            "causes": causes,
            "lost": lost,
            "ranking": ranking,
            "change_ranking": change_ranking,
            **_suspects_context(analysis, lost),
            "tiers": ",".join(map(str, tiers)),
            "tier_choices": TIER_CHOICES,
        },
    )


TIER_CHOICES = [("3", "tier 3 (lifetime)"), ("2,3", "tiers 2 and 3"), ("2", "tier 2 (loyal)")]


def _tiers(request) -> tuple[int, ...]:
    raw = request.GET.get("tiers", "3")
    if raw in dict(TIER_CHOICES):
        return tuple(int(t) for t in raw.split(","))
    messages.warning(request, f"Tiers “{shown(raw)}” is not one of 3, 2,3 or 2; showing tier 3.")
    return (3,)


def _suspects_context(analysis, lost) -> dict:
    rows = analysis.rows
    return {
        "analysis": analysis,
        "suspects": rows[: selectors.SUSPECTS_LISTED],
        "flagged_count": sum(1 for r in rows if r["flagged"]),
        "curves": analysis.curves,
        "causes_compared": selectors.compare_causes(lost, rows),
        "suspect_settings": suspects.settings_text(),
        "subject_range": suspects.subject_range(analysis.as_of),
    }


@permission_required(WORK, raise_exception=True)
def follow_up_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One follow-up, and the suspects its customer was exposed to, so the call starts with them."""
    item = get_object_or_404(selectors.queue_items(), pk=pk)
    analysis = suspects.latest(tiers=(item.tier,))
    return render(
        request,
        "churn/item.html",
        {
            "item": item,
            "analysis": analysis,
            "suspects": selectors.suspects_of(item, analysis.rows),
            "suspect_settings": suspects.settings_text(),
        },
    )
