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
class Cut:
    threshold: float | None  # None: the lapse rule's flag, which has no threshold on the risk
    flagged: int
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass
class TierThresholds:
    """The risk's flags at each candidate threshold among one tier's customers, today's lapse flag on
    the same customers, and the threshold suggested for that tier's follow-ups: the lowest (on a
    0.01 grid) that flags no more customers than the lapse rule, so the tier's workload stays as it
    is and goes to the riskiest (docs/churn-risk.md, "Judged on": best F1 doubled the queues)."""

    tier: int
    customers: int
    positives: int
    cuts: list[Cut] = field(default_factory=list)
    suggested: float | None = None
    lapse_rule: Cut | None = None  # today's lapse flag among the same customers, to compare with
    at_suggested: Cut | None = None
    best_f1: float | None = None  # shown for information (ties: the higher threshold)
    given: Cut | None = None  # a threshold asked for (--thresholds), judged on the same customers


@dataclass
class Result:
    as_of: str
    judged_on: str
    horizon_days: int
    too_short: str = ""
    model: dict = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)
    tiers: list[TierThresholds] = field(default_factory=list)


CANDIDATE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(2, 20))  # 0.10 to 0.95, shown
SUGGESTION_GRID = tuple(round(0.01 * i, 2) for i in range(1, 100))  # 0.01 to 0.99, searched


def last_order_day() -> dt.date | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT (max(placed_at) AT TIME ZONE 'UTC')::date FROM customers_orderline")
        return cursor.fetchone()[0]


def run_backtest(
    *,
    as_of: dt.date | None = None,
    horizon_days: int | None = None,
    thresholds: dict[int, float] | None = None,
    save: bool = True,
) -> Result:
    """`thresholds` (tier → risk threshold, e.g. chosen on an earlier period) are judged per tier
    beside the suggestion."""
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
        _judge(result, model, policy, judged_on, thresholds or {})
    if save:
        Backtest.objects.create(as_of=as_of, horizon_days=h, result=asdict(result))
    return result


def _judge(result: Result, model, policy: ChurnPolicy, judged_on: dt.date, thresholds: dict[int, float]) -> None:
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
    lapsed = recency > threshold
    scores = {
        f"churn risk (flag at ≥ {policy.risk_threshold:g})": (predicted, predicted >= policy.risk_threshold),
        "lapse rule (silence ÷ threshold; flag when lapsed)": (recency / threshold, lapsed),
        f"days since last order (flag at > {policy.min_days})": (recency, recency > policy.min_days),
    }
    for name, keep in (("all customers", slice(None)), ("repeat buyers", raw["occasions"] >= 2)):
        result.groups.append(_group(name, rows.labels[keep], {k: (s[keep], f[keep]) for k, (s, f) in scores.items()}))
    tiers = _tiers_held(rows.ids, judged_on)
    for tier in sorted(set(tiers.tolist()), reverse=True):
        keep = tiers == tier
        found = tier_thresholds(int(tier), rows.labels[keep], predicted[keep], lapsed=lapsed[keep])
        if int(tier) in thresholds:
            found.given = _cut(thresholds[int(tier)], rows.labels[keep], predicted[keep] >= thresholds[int(tier)])
        result.tiers.append(found)


# The tier each customer held on the day judged: their latest tier change up to then, else (no
# history that old) today's tier.
TIERS_HELD = """
    SELECT m.customer_id, COALESCE(h.to_tier, m.tier)
      FROM tiering_customermetrics m
      LEFT JOIN (SELECT DISTINCT ON (tc.customer_id) tc.customer_id, tc.to_tier
                   FROM tiering_tierchange tc WHERE tc.changed_at < %(until)s
                  ORDER BY tc.customer_id, tc.changed_at DESC, tc.id DESC) h ON h.customer_id = m.customer_id
     WHERE m.customer_id = ANY(%(ids)s)
"""


def _tiers_held(ids: np.ndarray, judged_on: dt.date) -> np.ndarray:
    until = dt.datetime.combine(judged_on + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute(TIERS_HELD, {"until": until, "ids": ids.tolist()})
        held = dict(cursor.fetchall())
    return np.array([held.get(int(i), 1) for i in ids.tolist()], dtype=np.int64)


def tier_thresholds(tier: int, truth: np.ndarray, risk_scores: np.ndarray, *, lapsed: np.ndarray) -> TierThresholds:
    """Flags, precision, recall and F1 at each candidate threshold and for the lapse rule's flag
    (`lapsed`) among the same customers; the suggestion: the lowest threshold that flags no more
    customers than the lapse rule (none when it flags nobody); the best F1 for information."""
    found = TierThresholds(tier=tier, customers=len(truth), positives=int(truth.sum()))
    found.cuts = [_cut(threshold, truth, risk_scores >= threshold) for threshold in CANDIDATE_THRESHOLDS]
    found.lapse_rule = _cut(None, truth, lapsed)
    workload = found.lapse_rule.flagged
    fitting = [t for t in SUGGESTION_GRID if workload and int((risk_scores >= t).sum()) <= workload]
    if fitting:
        found.suggested = fitting[0]
        found.at_suggested = _cut(fitting[0], truth, risk_scores >= fitting[0])
    scored = [c for c in found.cuts if c.f1 is not None]
    if scored:
        found.best_f1 = max(scored, key=lambda c: (c.f1, c.threshold)).threshold
    return found


def _cut(threshold: float | None, truth: np.ndarray, flagged: np.ndarray) -> Cut:
    hits, n, positives = int((flagged & truth).sum()), int(flagged.sum()), int(truth.sum())
    precision = hits / n if n else None
    recall = hits / positives if positives else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return Cut(threshold, n, precision, recall, f1)


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
    for t in result.tiers:
        lines += [
            "",
            f"tier {t.tier}: {t.customers} judged, {t.positives} did not buy; suggested risk threshold "
            f"{_threshold(t.suggested)} (at most the items of the lapse flag); best F1 at {_threshold(t.best_f1)}",
        ]
        lines.append(f"{'threshold':>9} {'flagged':>8} {'precision':>9} {'recall':>6} {'F1':>6}")
        lines += [_cut_line(f"{c.threshold:.2f}", c) for c in t.cuts]
        lines.append(_cut_line("lapse", t.lapse_rule, "today's lapse flag on the same customers"))
        if t.at_suggested:
            lines.append(_cut_line(f"{t.suggested:.2f}", t.at_suggested, "suggested"))
        if t.given:
            lines.append(_cut_line(f"{t.given.threshold:.2f}", t.given, "given (--thresholds)"))
    return "\n".join(lines)


def _cut_line(label: str, c: Cut | None, note: str = "") -> str:
    if c is None:
        return f"{label:>9} n/a"
    line = f"{label:>9} {c.flagged:>8} {_num(c.precision):>9} {_num(c.recall):>6} {_num(c.f1):>6}"
    return f"{line}  ({note})" if note else line


def _threshold(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
