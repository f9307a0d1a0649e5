"""Backtest of the churn risk against today's lapse rule and plain days since the last order.

On the business's last complete period: judged as of J = as_of − H, the truth is who did not buy
in the H days after J; the model is trained only on labels that end by J (churn.risk). For every
customer who had ordered by J, three scores side by side: ROC AUC (how well each ranks who will
not buy), and precision / recall of the customers each flags (risk at the policy's threshold, the
lapse rule as the queue applies it, days since last order beyond the policy's minimum days).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np
from django.db import connection

from . import features as F
from . import risk
from .models import ChurnPolicy
from .risk_models import Backtest


@dataclass
class Score:
    name: str
    auc: float | None
    flagged: int
    precision: float | None
    recall: float | None


@dataclass
class Group:
    name: str
    customers: int
    positives: int
    scores: list[Score] = field(default_factory=list)


@dataclass
class Result:
    as_of: str
    judged_on: str
    horizon_days: int
    too_short: str = ""
    model: dict = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)


def last_order_day() -> dt.date | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT (max(placed_at) AT TIME ZONE 'UTC')::date FROM customers_orderline")
        return cursor.fetchone()[0]


def run_backtest(*, as_of: dt.date | None = None, horizon_days: int | None = None, save: bool = True) -> Result:
    policy = ChurnPolicy.current()
    h = horizon_days or policy.horizon_days
    as_of = as_of or last_order_day() or dt.date.today()
    judged_on = as_of - dt.timedelta(days=h)
    result = Result(as_of=as_of.isoformat(), judged_on=judged_on.isoformat(), horizon_days=h)
    try:
        model = risk.fit_model(as_of=judged_on, horizon_days=h)
    except risk.HistoryTooShort as short:
        result.too_short = f"The history is too short to judge a {h}-day risk as of {judged_on}: {short}."
    else:
        _judge(result, model, policy, judged_on)
    if save:
        Backtest.objects.create(as_of=as_of, horizon_days=h, result=asdict(result))
    return result


def _judge(result: Result, model, policy: ChurnPolicy, judged_on: dt.date) -> None:
    # the truth over H days; the features as the model was trained (its trend period is its label window)
    rows = risk.load_rows(
        cut_off=judged_on,
        horizon_days=result.horizon_days,
        period_days=model.train_horizon_days,
        population=F.BOUGHT,
    )
    result.model = {
        "kind": model.kind,
        "train_horizon_days": model.train_horizon_days,
        "cut_offs": model.cut_offs,
        "heldout_auc": model.heldout_auc,
        "train_rows": model.train_rows,
    }
    if not len(rows.ids):
        result.too_short = f"No customer had ordered by {judged_on}: nothing to judge."
        return
    predicted, _ = risk.predict(risk.load_estimators(model), rows.raw)
    raw = {name: rows.raw[:, i] for i, name in enumerate(F.RAW)}
    recency, gap = raw["recency"], raw["median_gap"]
    threshold = np.where(np.isnan(gap), policy.min_days, np.maximum(policy.min_days, float(policy.gap_multiple) * gap))
    scores = {
        f"churn risk (flag at ≥ {policy.risk_threshold:g})": (predicted, predicted >= policy.risk_threshold),
        "lapse rule (silence ÷ threshold; flag when lapsed)": (recency / threshold, recency > threshold),
        f"days since last order (flag at > {policy.min_days})": (recency, recency > policy.min_days),
    }
    for name, keep in (("all customers", slice(None)), ("repeat buyers", raw["occasions"] >= 2)):
        result.groups.append(_group(name, rows.labels[keep], {k: (s[keep], f[keep]) for k, (s, f) in scores.items()}))


def _group(name: str, truth: np.ndarray, scores: dict) -> Group:
    group = Group(name=name, customers=len(truth), positives=int(truth.sum()))
    for label, (score, flagged) in scores.items():
        hits = int((flagged & truth).sum())
        group.scores.append(
            Score(
                name=label,
                auc=risk._auc(truth, score),
                flagged=int(flagged.sum()),
                precision=hits / flagged.sum() if flagged.sum() else None,
                recall=hits / group.positives if group.positives else None,
            )
        )
    return group


def as_text(result: Result) -> str:
    lines = [
        f"Churn backtest: judged as of {result.judged_on}; the truth is who did not buy in the "
        f"{result.horizon_days} days to {result.as_of}."
    ]
    if result.too_short:
        return "\n".join([*lines, result.too_short])
    m = result.model
    lines.append(
        f"Model: {m['kind']}, trained on {m['train_rows']} rows at cut-offs {', '.join(m['cut_offs'])} "
        f"(label window {m['train_horizon_days']} days), held-out AUC {_num(m['heldout_auc'])}."
    )
    for group in result.groups:
        share = group.positives / group.customers if group.customers else 0
        lines += ["", f"{group.name}: {group.customers} judged, {group.positives} did not buy ({share:.1%})"]
        lines.append(f"{'score':<52} {'ROC AUC':>7} {'flagged':>8} {'precision':>9} {'recall':>6}")
        for s in group.scores:
            lines.append(f"{s.name:<52} {_num(s.auc):>7} {s.flagged:>8} {_num(s.precision):>9} {_num(s.recall):>6}")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
