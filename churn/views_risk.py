"""The churn-risk backtest page, for admins: the latest backtest's table, a button to run one, and
what opens a follow-up (the lapse rule, or the risk at each tier's threshold the backtest suggests)."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import services
from .forms import FollowUpTriggerForm
from .models import ChurnPolicy, FollowUpPolicy
from .risk_models import Backtest, RiskModel
from .tasks import backtest_task

ADMIN = "churn.change_churnpolicy"


@permission_required(ADMIN, raise_exception=True)
def backtest(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        backtest_task.delay_on_commit()
        messages.success(request, "Backtest queued: reload this page in a few minutes for its table.")
        return redirect("churn:backtest")
    latest = Backtest.objects.first()
    return _page(request, latest, form=None)


@require_POST
@permission_required(ADMIN, raise_exception=True)
def follow_up_trigger(request: HttpRequest) -> HttpResponse:
    form = FollowUpTriggerForm(request.POST, tiers=_acting_tiers())
    if form.is_valid():
        try:
            services.set_follow_up_trigger(trigger=form.cleaned_data["trigger"], thresholds=form.thresholds())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Saved: " + _trigger_text())
            return redirect("churn:backtest")
    messages.error(request, "Nothing was saved: see the follow-up settings below.")
    return _page(request, Backtest.objects.first(), form=form, status=400)


def _acting_tiers() -> list[int]:
    return [p.tier for p in FollowUpPolicy.in_force() if p.action != FollowUpPolicy.Action.NONE]


def _trigger_text() -> str:
    churn_policy = ChurnPolicy.current()
    if churn_policy.follow_up_trigger != ChurnPolicy.Trigger.RISK:
        return "follow-ups open when a customer has lapsed (the lapse rule)."
    thresholds = ", ".join(
        f"tier {p.tier} at {p.risk_threshold:g}"
        for p in FollowUpPolicy.in_force()
        if p.action != FollowUpPolicy.Action.NONE
    )
    return f"follow-ups open on churn risk: {thresholds}."


def _page(request, latest, *, form, status: int = 200) -> HttpResponse:
    result = latest and latest.result
    horizon = ChurnPolicy.current().horizon_days
    # A threshold is a probability of no purchase within H days: one chosen for another H would
    # flag another share of customers. Offer the backtest's only when it judged the policy's H.
    other_horizon = latest.horizon_days if latest and latest.horizon_days != horizon else None
    tiers_judged = [] if other_horizon else (result or {}).get("tiers", [])
    suggested = {t["tier"]: t["suggested"] for t in tiers_judged}
    policies = [p for p in FollowUpPolicy.in_force() if p.action != FollowUpPolicy.Action.NONE]
    if form is None:
        initial = {"trigger": ChurnPolicy.current().follow_up_trigger}
        initial |= {f"threshold_{p.tier}": p.risk_threshold or suggested.get(p.tier) for p in policies}
        form = FollowUpTriggerForm(initial=initial, tiers=[p.tier for p in policies])
    tiers = [{"policy": p, "field": form[f"threshold_{p.tier}"], "suggested": suggested.get(p.tier)} for p in policies]
    model = RiskModel.objects.defer("estimator").first()
    context = {"backtest": latest, "result": result, "model": model, "form": form, "tier_fields": tiers}
    context |= {"other_horizon": other_horizon, "policy_horizon": horizon}
    return render(request, "churn/backtest.html", context | {"trigger_text": _trigger_text()}, status=status)
