"""The churn-risk backtest page, for admins: the latest backtest's table and a button to run one."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

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
    model = RiskModel.objects.defer("estimator").first()
    return render(
        request, "churn/backtest.html", {"backtest": latest, "result": latest and latest.result, "model": model}
    )
