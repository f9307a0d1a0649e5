"""Thin views over the selectors: the overview, the tier lists and the customer page.

Who sees what: Admins and Account managers (permission tiering.view_customermetrics) see the
overview, every tier list and every customer. Account managers see ALL customers, not only
their own: PRODUCT.md has them browse customers by tier, and a colleague's customer is often
the one to look at; "Only my customers" narrows a list to theirs. Marketing gets neither
(403); "/" shows them a short page linking to the pages they may use (promotions).
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.context_processors import navigation
from core.params import PER_PAGE_CHOICES, clean_list_params, small_int, valid_filterset
from customers import search as customer_search
from tiering.matrix import run_matrix
from tiering.metrics import METRICS
from tiering.models import TierChange
from tiering.preview import rules_as_applied
from tiering.rules import decide
from tiering.runs import reap_interrupted

from . import moves, saved_views, selectors
from .filters import CustomerFilter
from .formatting import currency, metric_value
from .models import SavedView
from .tables import SORTABLE, CustomerTable, ordering
from .trends import monthly_trends
from .trends_view import trends_context
from .why import describe_groups, summary

VIEW_METRICS = "tiering.view_customermetrics"
VIEW_PROMOTIONS = "promotions.view_promotion"  # marketing's home
MARKETING_LIST = 10  # promotions and exports listed on the marketing home
RUN_RETIER = "tiering.run_retier"  # the runs page's "Run re-tier now": offered where new customers wait for it
WORK_QUEUE = "churn.work_followup"  # the queue pages' permission: links to them only for who may open them
HISTORY_LIMIT = 50  # a customer page shows at most this many tier changes
HISTORY_INLINE_WHY = 8  # the why of older changes loads when opened (htmx): a long history stays fast


def home(request: HttpRequest) -> HttpResponse:
    if request.user.has_perm(VIEW_METRICS):
        return overview(request)
    if request.user.has_perm(VIEW_PROMOTIONS):
        return marketing_home(request)
    # A user with no role yet: a short page with the pages they may use.
    return render(request, "dashboard/no_pages.html", {"pages": navigation(request)["nav_items"]})


@permission_required(VIEW_PROMOTIONS, raise_exception=True)
def marketing_home(request: HttpRequest) -> HttpResponse:
    """Marketing's home: tier sizes and shares, trends, its promotions and its own exports.

    Only totals per tier, never a customer: marketing sees who is targeted through its promotions.
    """
    from promotions.selectors import EXPORT_LOG_ALL, export_log_for, recent_promotions

    tiers = selectors.tiers_by_level()
    succeeded = selectors.last_succeeded_run()
    pyramid = selectors.tier_pyramid(tiers=tiers, totals=selectors.tier_totals())
    context = {
        "tiers": tiers,
        "movement_run": succeeded,
        "pyramid": pyramid,
        "total_customers": sum(t.customers for t in pyramid),
        "chart_data": _chart_data(pyramid),
        "promotions": recent_promotions(limit=MARKETING_LIST),
        "exports": export_log_for(request.user, limit=MARKETING_LIST),
        "sees_all_exports": request.user.has_perm(EXPORT_LOG_ALL),
        **trends_context(monthly_trends(run=succeeded), tiers),
    }
    return render(request, "dashboard/marketing.html", context)


@permission_required(VIEW_METRICS, raise_exception=True)
def overview(request: HttpRequest) -> HttpResponse:
    tiers = selectors.tiers_by_level()
    run = selectors.latest_run()
    if run and run.status == "running" and reap_interrupted():  # its process may be gone (tiering.runs)
        run = selectors.latest_run()
    succeeded = run if run and run.status == "succeeded" else selectors.last_succeeded_run()
    pyramid = selectors.tier_pyramid(tiers=tiers, totals=selectors.tier_totals())
    context = {
        "tiers": tiers,
        "run": run,
        "movement_run": succeeded,
        "pyramid": pyramid,
        "total_customers": sum(t.customers for t in pyramid),
        "matrix": run_matrix(succeeded, tiers=tiers.values()) if succeeded else None,
        "chart_data": _chart_data(pyramid),
        "followups": selectors.follow_up_numbers(levels=sorted(tiers), user=request.user, today=timezone.localdate()),
        "can_work_queue": request.user.has_perm(WORK_QUEUE),
        **trends_context(monthly_trends(run=succeeded), tiers),
    }
    return render(request, "dashboard/overview.html", context)


def _chart_data(pyramid) -> dict:
    """Shares in percent for the chart; the template writes them with json_script."""
    return {
        "levels": [t.level for t in pyramid],
        "names": [t.name for t in pyramid],
        "customers": [round(t.customers_share * 100, 1) for t in pyramid],
        "revenue": [round(t.revenue_share * 100, 1) for t in pyramid],
        "margin": [round(t.margin_share * 100, 1) for t in pyramid],
    }


@permission_required(VIEW_METRICS, raise_exception=True)
def tier_list(request: HttpRequest, level: int | None = None) -> HttpResponse:
    tiers = selectors.tiers_by_level()
    if level is not None and level not in tiers:
        raise Http404("No such tier")
    params = clean_list_params(request.GET, sortable=SORTABLE)
    filterset = _valid_filterset(request, params.problems)
    rows = filterset.qs if level is None else filterset.qs.filter(tier=level)
    order = ordering(params.sort)
    page = selectors.page_of_customers(rows, order=order, number=params.page, size=params.per_page)
    if not page.rows and page.number > 1:
        params.problems.append(f"There is no page {params.page} for this list; showing the first page.")
        page = selectors.page_of_customers(rows, order=order, number=1, size=params.per_page)
    if customer_search.too_short(term := (filterset.form.cleaned_data.get("q") or "").strip()):
        params.problems.append(
            f"“{term}” is shorter than {customer_search.MIN_SUBSTRING} characters: "
            "only an exact customer id matches it. Type more to search names, emails and companies."
        )
    for problem in params.problems:
        messages.warning(request, problem)
    # The rows come already sorted and cut to the page; the table only draws them (and its
    # header links, which flip the sort and keep every other parameter).
    # On one tier's list every badge would be the same: the column goes.
    table = CustomerTable(page.rows, tiers=tiers, order_by=params.sort, exclude=("tier",) if level else ())
    filtered = filterset.is_filtered()
    context = {
        "page": page,
        "tiers": tiers,
        "level": level,
        "tier": tiers.get(level),
        "table": table,
        "filter": filterset,
        "filtered": filtered,
        "params": params,
        "per_page_choices": PER_PAGE_CHOICES,
        "currency": currency(),
        "known_total": None if filtered else _known_total(level),
        "total": selectors.count_rows(rows) if filtered else None,
        "not_placed": _not_placed(filterset) if level is None else None,
        "saved_views": list(SavedView.objects.filter(user=request.user)),
        "saved_query": _query_to_save(request),
        "can_run_retier": request.user.has_perm(RUN_RETIER),
    }
    return render(request, "dashboard/tier_list.html", context)


def _query_to_save(request: HttpRequest) -> str | None:
    """This list's query string as "Save this view" would keep it (None: too long to save)."""
    try:
        return saved_views.clean_query(request.GET.urlencode())
    except ValidationError:
        return None


def _not_placed(filterset: CustomerFilter) -> dict | None:
    """The customers with no tier yet that this list's filters would show (only filters on the
    customer itself can hold for them: they have no metrics)."""
    if not filterset.customer_filters_only():
        return None
    rows, total = selectors.not_placed(filterset.customers())
    return {"rows": rows, "total": total} if rows else None


def _valid_filterset(request, problems: list[str]) -> CustomerFilter:
    """The filters with every invalid value dropped (and named in a message), never an error page."""
    return valid_filterset(
        lambda data: CustomerFilter(data, queryset=selectors.customer_rows(), request=request, user=request.user),
        request.GET,
        problems,
    )


def _known_total(level: int | None) -> int | None:
    """An unfiltered list's size from the last run's per-tier counts: no COUNT(*) over 1M rows."""
    run = selectors.last_succeeded_run()
    if run is None or not run.counts:
        return None
    counts = {int(k): v for k, v in run.counts.items() if str(k).isdigit()}
    return counts.get(level, 0) if level is not None else sum(counts.values())


@permission_required(["customers.view_customer", VIEW_METRICS], raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from customers.models import Customer

    try:
        customer = selectors.customer_for_page(pk)
    except Customer.DoesNotExist:
        raise Http404("No such customer") from None
    metrics = getattr(customer, "metrics", None)
    tiers = selectors.tiers_by_level()
    history = selectors.tier_history(customer=customer, limit=HISTORY_LIMIT)
    context = {
        "customer": customer,
        "metrics": metrics,
        "tiers": tiers,
        "why": _why_now(metrics),
        "history": _history(history),
        "orders": selectors.recent_orders(customer=customer),
        "tickets": selectors.recent_tickets(customer=customer),
        "metric_rows": _metric_rows(metrics),
        "history_limit": HISTORY_LIMIT,
        "lapses": selectors.customer_lapses(customer=customer),
        "lapse_limit": selectors.FOLLOW_UP_HISTORY_LIMIT,
        "can_work_queue": request.user.has_perm(WORK_QUEUE),
        "can_run_retier": request.user.has_perm(RUN_RETIER),
        "today": timezone.localdate(),
    }
    return render(request, "dashboard/customer.html", context)


def _history(changes: list[TierChange]) -> list[dict]:
    """Each change with its why (the newest inline) and what moved it: the rule set, a threshold
    or the customer's own figures, from its run and the run before (one query for all)."""
    runs = selectors.runs_with_previous(c.run_id for c in changes) if changes else {}
    items = []
    for i, change in enumerate(changes):
        run = runs.get(change.run_id)
        cause = moves.explain(why=change.why, **run) if run and change.from_tier is not None else []
        items.append(
            {"change": change, "why": describe_groups(change.why) if i < HISTORY_INLINE_WHY else None, "cause": cause}
        )
    return items


@permission_required(["customers.view_customer", VIEW_METRICS], raise_exception=True)
def change_why(request: HttpRequest, pk: int, change_id: int) -> HttpResponse:
    """The why of one past tier change, for the timeline's older entries (loaded when opened)."""
    change = get_object_or_404(TierChange, pk=change_id, customer_id=pk)
    context = {"groups": describe_groups(change.why), "tiers": selectors.tiers_by_level(), "verb": "was", "small": True}
    return render(request, "dashboard/_why_groups.html", context)


def _why_now(metrics) -> dict | None:
    """Each condition of the rule set in force against this customer's metrics, tier by tier."""
    if metrics is None:
        return None
    ruleset = selectors.ruleset_in_force()
    if ruleset is None:
        return {"ruleset": None, "groups": []}
    rules = rules_as_applied(ruleset=ruleset)  # relative thresholds as the run in force resolved them
    decision = decide({name: getattr(metrics, name) for name in METRICS}, rules)
    groups = describe_groups(decision.why())
    text = summary(groups=groups, decided=decision.level, held=metrics.tier, below_runs=metrics.below_runs)
    return {"ruleset": ruleset, "groups": groups, "level": decision.level, "summary": text}


def _metric_rows(metrics) -> list[dict]:
    if metrics is None:
        return []
    return [
        {"label": m.label, "help": m.help, "value": metric_value(name, getattr(metrics, name))}
        for name, m in METRICS.items()
    ]


# --- saved views: a user's own, never another's (404, as if it did not exist) ---


@require_POST
@permission_required(VIEW_METRICS, raise_exception=True)
def saved_view_create(request: HttpRequest) -> HttpResponse:
    level = small_int(request.POST.get("level"), 0, 32767)
    try:
        view = saved_views.save_view(
            user=request.user, name=request.POST.get("name", ""), level=level, query=request.POST.get("query", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(_list_url(level, request.POST.get("query", "")))
    messages.success(request, f"Saved the view “{view.name}”.")
    return redirect(view.url)


@require_POST
@permission_required(VIEW_METRICS, raise_exception=True)
def saved_view_rename(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk, user=request.user)
    old = view.name
    try:
        saved_views.rename_view(view=view, name=request.POST.get("name", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Renamed “{old}” to “{view.name}”.")
    return redirect(view.url)


@require_POST
@permission_required(VIEW_METRICS, raise_exception=True)
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk, user=request.user)
    saved_views.delete_view(view=view)
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect(_list_url(view.level, ""))


def _list_url(level: int | None, query: str) -> str:
    path = reverse("dashboard:tier_list") if level is None else reverse("dashboard:tier_list_level", args=[level])
    try:
        query = saved_views.clean_query(query)
    except ValidationError:
        query = ""
    return f"{path}?{query}" if query else path
