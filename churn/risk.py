"""Churn risk: P(no purchase in the next H days) for every customer, from a model trained on the
business's own history (docs/churn-risk.md).

Training: features as of earlier cut-off dates (churn.features), labels from the H days after each;
every label window ends on or before the date the model scores (`training_plan` holds that), so
the model never learns the period it is judged on. A logistic regression on standardised,
log-transformed features and a gradient-boosting classifier are both fitted on the earlier
cut-offs and judged on the latest one (other customers); the winner is refitted on all and kept.
Scoring: every customer's features as of the date in one statement, read through a server-side
cursor in chunks, written back through COPY into a temporary table and one INSERT … ON CONFLICT.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
from dataclasses import dataclass

import joblib
import numpy as np
from django.db import connection, transaction
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from tiering import sql

from . import features as F
from . import lifecycle, services
from .models import ChurnPolicy
from .risk_models import RiskModel

log = logging.getLogger(__name__)

MAX_TRAIN_ROWS = 200_000
SCORE_CHUNK = 50_000
MAX_CUT_OFFS = 6
FIRST_HISTORY_DAYS = 90  # history wanted before the latest training cut-off (or H, when shorter)
MIN_HISTORY_DAYS = 30  # before any earlier one
MIN_HORIZON_DAYS = 28
RETRAIN_AFTER_DAYS = 7
TOP_DRIVERS = 3
# A stored risk is rewritten only when a scoring moves it by this much (or the stage, or H, changes):
# the silence of every customer grows by a day each night, so at 4 places nearly every risk moved a
# little and the nightly scoring rewrote nearly every row (a table-sized bloat each night). A row
# keeps the risk, drivers, model and date of the scoring that last moved it by a point or more.
REWRITE_STEP = 0.01


class HistoryTooShort(Exception):
    """Not enough history before the date to train on any earlier period."""


@dataclass(frozen=True)
class TrainingPlan:
    as_of: dt.date
    horizon_days: int  # H asked for
    train_horizon_days: int  # the label window trained on: H, or shorter on a short history
    cut_offs: tuple[dt.date, ...]  # latest first; each cut-off + train_horizon_days <= as_of
    data_start: dt.date


def training_plan(*, as_of: dt.date, horizon_days: int, data_start: dt.date | None) -> TrainingPlan:
    """The cut-offs to train on for scoring as of `as_of`: the latest is as_of − H, then back in
    steps of H/3 while there is history before them. With less than H plus some history, the label
    window shrinks to half the history (the risk then ranks, but overstates the H-day risk)."""
    if data_start is None:
        raise HistoryTooShort("there are no orders yet")
    span = (as_of - data_start).days
    h = horizon_days
    if span - h < min(h, FIRST_HISTORY_DAYS):
        h = span // 2
    if h < MIN_HORIZON_DAYS:
        raise HistoryTooShort(
            f"orders span {max(span, 0)} days ({data_start} to {as_of}); training needs at least "
            f"{2 * MIN_HORIZON_DAYS} days, and {horizon_days + min(horizon_days, FIRST_HISTORY_DAYS)} for H = {horizon_days}"
        )
    step = max(h // 3, 14)
    cut_offs: list[dt.date] = []
    cut_off = as_of - dt.timedelta(days=h)
    while len(cut_offs) < MAX_CUT_OFFS:
        needed = MIN_HISTORY_DAYS if cut_offs else min(h, FIRST_HISTORY_DAYS)
        if (cut_off - data_start).days < needed:
            break
        cut_offs.append(cut_off)
        cut_off -= dt.timedelta(days=step)
    assert all(c + dt.timedelta(days=h) <= as_of for c in cut_offs)  # no label looks past as_of
    return TrainingPlan(as_of, horizon_days, h, tuple(cut_offs), data_start)


def data_start() -> dt.date | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT (min(placed_at) AT TIME ZONE 'UTC')::date FROM customers_orderline")
        return cursor.fetchone()[0]


def _sample_per_10k(cut_offs: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        customers = cursor.fetchone()[0]
    if customers * cut_offs <= MAX_TRAIN_ROWS:
        return 10_000
    return max(1, math.floor(10_000 * MAX_TRAIN_ROWS / (customers * cut_offs)))


def load_rows(
    *,
    cut_off: dt.date,
    horizon_days: int,
    period_days: int | None = None,
    sample: int = 10_000,
    population: str = F.BOUGHT_OR_SIGNED_UP,
):
    """Labelled rows as of one cut-off (a sample of customers per 10,000). `period_days` is the
    trend's period: the model's label window (default: the horizon)."""
    period = period_days or horizon_days
    params = F.features_params(cut_off=cut_off, horizon_days=horizon_days, period_days=period, sample=sample)
    with connection.cursor() as cursor:
        cursor.execute(F.features_sql(labelled=True, population=population, sampled=sample < 10_000), params)
        return F.rows_from(cursor.fetchall(), labelled=True)


def _logistic():
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def _boosting():
    return HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=40, random_state=0
    )


CANDIDATES = {"logistic": _logistic, "gradient_boosting": _boosting}


def _stack(parts: list[F.Rows]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.vstack([F.design_matrix(p.raw) for p in parts]) if parts else np.empty((0, len(F.FEATURES)))
    y = np.concatenate([p.labels for p in parts]) if parts else np.empty(0, dtype=bool)
    ids = np.concatenate([p.ids for p in parts]) if parts else np.empty(0, dtype=np.int64)
    return X, y, ids


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    return float(roc_auc_score(y, score)) if len(set(y.tolist())) == 2 else None


def _holdout(parts: list[F.Rows]) -> tuple[str, dict]:
    """Fit each candidate on the earlier cut-offs (even customer ids) and judge it on the latest
    (odd ids); with one cut-off, on its even and odd ids. The best ROC AUC wins; ties: logistic."""
    latest, earlier = parts[0], parts[1:] or parts[:1]
    X_val, y_val, ids_val = _stack([latest])
    X_fit, y_fit, ids_fit = _stack(earlier)
    val, fit = ids_val % 2 == 1, ids_fit % 2 == 0
    info = {"train_rows": int(fit.sum()), "rows": int(val.sum()), "positives": int(y_val[val].sum()), "auc": {}}
    if len(set(y_fit[fit].tolist())) < 2:
        return "logistic", info
    for kind, make in CANDIDATES.items():
        est = make().fit(X_fit[fit], y_fit[fit])
        info["auc"][kind] = _auc(y_val[val], est.predict_proba(X_val[val])[:, 1])
    scored = {k: v for k, v in info["auc"].items() if v is not None}
    winner = max(scored, key=lambda k: (scored[k], k == "logistic")) if scored else "logistic"
    return winner, info


def _weights(kind: str, est, X: np.ndarray, y: np.ndarray) -> dict:
    if kind == "logistic":
        lr = est[-1]
        return {"intercept": float(lr.intercept_[0]), **dict(zip(F.FEATURES, map(float, lr.coef_[0]), strict=True))}
    # Permutation importance on a slice: enough to rank the features, cheap at any size.
    n = min(len(y), 5_000)
    result = permutation_importance(est, X[:n], y[:n], scoring="roc_auc", n_repeats=2, random_state=0)
    return dict(zip(F.FEATURES, map(float, result.importances_mean), strict=True))


def train_model(*, as_of: dt.date, horizon_days: int) -> RiskModel:
    """Train on the history before as_of and record the model (raises HistoryTooShort)."""
    model = fit_model(as_of=as_of, horizon_days=horizon_days)
    model.save()
    return model


def fit_model(*, as_of: dt.date, horizon_days: int) -> RiskModel:
    """The model trained for scoring as of `as_of`, not saved (the backtest keeps it out of use)."""
    # One thread: on a busy 2-core machine OpenMP's threads made boosting 10x slower, not faster.
    with threadpool_limits(limits=1):
        return _fit_model(as_of=as_of, horizon_days=horizon_days)


def _fit_model(*, as_of: dt.date, horizon_days: int) -> RiskModel:
    plan = training_plan(as_of=as_of, horizon_days=horizon_days, data_start=data_start())
    sample = _sample_per_10k(len(plan.cut_offs))
    parts = [load_rows(cut_off=c, horizon_days=plan.train_horizon_days, sample=sample) for c in plan.cut_offs]
    X, y, _ = _stack(parts)
    if len(set(y.tolist())) < 2:
        raise HistoryTooShort("every customer in the training periods had the same outcome")
    kind, holdout = _holdout(parts)
    explainer = _logistic().fit(X, y)
    winner = explainer if kind == "logistic" else CANDIDATES[kind]().fit(X, y)
    buffer = io.BytesIO()
    joblib.dump({"model": winner, "explainer": explainer, "features": F.FEATURES}, buffer)
    return RiskModel(
        as_of=as_of,
        horizon_days=horizon_days,
        train_horizon_days=plan.train_horizon_days,
        kind=kind,
        features=F.FEATURES,
        weights=_weights(kind, winner, X, y),
        cut_offs=[c.isoformat() for c in plan.cut_offs],
        holdout={**holdout, "cut_off": plan.cut_offs[0].isoformat(), "sample_per_10k": sample},
        heldout_auc=holdout["auc"].get(kind),
        train_rows=len(y),
        train_positives=int(y.sum()),
        estimator=buffer.getvalue(),
    )


def load_estimators(model: RiskModel) -> dict:
    return joblib.load(io.BytesIO(bytes(model.estimator)))


def predict(estimators: dict, raw: np.ndarray) -> tuple[np.ndarray, list[list]]:
    """Risk of each row and its top drivers: the logistic terms coefficient × standardised value
    (log-odds; positive raises the risk), largest first."""
    X = F.design_matrix(raw)
    risk = estimators["model"].predict_proba(X)[:, 1]
    explainer = estimators["explainer"]
    scaler, lr = explainer[0], explainer[-1]
    terms = (X - scaler.mean_) / scaler.scale_ * lr.coef_[0]
    top = np.argsort(-np.abs(terms), axis=1)[:, :TOP_DRIVERS]
    drivers = [[[F.FEATURES[j], round(float(row[j]), 3)] for j in order] for row, order in zip(terms, top, strict=True)]
    return risk, drivers


_UPSERT = sql.compose(
    """
INSERT INTO churn_customerrisk (customer_id, risk, drivers, model_id, as_of, horizon_days, stage)
SELECT s.customer_id, s.risk, s.drivers, %(model)s, %(as_of)s, %(horizon_days)s, {stage} FROM churn_risk_scored s
ON CONFLICT (customer_id) DO UPDATE
SET risk = EXCLUDED.risk, drivers = EXCLUDED.drivers, model_id = EXCLUDED.model_id, as_of = EXCLUDED.as_of,
    horizon_days = EXCLUDED.horizon_days,
    stage = EXCLUDED.stage
WHERE abs(churn_customerrisk.risk - EXCLUDED.risk) >= %(rewrite_step)s
   OR churn_customerrisk.stage IS DISTINCT FROM EXCLUDED.stage
   OR churn_customerrisk.horizon_days IS DISTINCT FROM EXCLUDED.horizon_days
   OR churn_customerrisk.model_id IS NULL
""",
    stage=lifecycle.STAGE_SQL,
)


def score_customers(*, model: RiskModel, as_of: dt.date, policy: ChurnPolicy | None = None) -> int:
    """Score every customer as of `as_of` with `model`; returns the rows written."""
    if model.as_of > as_of:
        raise ValueError(f"a model trained as of {model.as_of} would score {as_of} with labels from after it")
    estimators = load_estimators(model)
    policy = policy or ChurnPolicy.current()
    params = F.features_params(cut_off=as_of, horizon_days=model.horizon_days, period_days=model.train_horizon_days)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS churn_risk_scored")  # a caller's transaction may hold one
        cursor.execute(
            "CREATE TEMP TABLE churn_risk_scored (customer_id bigint, risk float8, drivers jsonb,"
            " occasions int, last_day date, median_gap float8) ON COMMIT DROP"
        )
        with connection.connection.cursor(name="churn_risk_features") as features:
            features.execute(F.features_sql(labelled=False, population=F.EVERYONE), params)
            while batch := features.fetchmany(SCORE_CHUNK):
                _copy_scores(cursor, F.rows_from(batch, labelled=False), estimators, as_of)
        cursor.execute(
            "DELETE FROM churn_customerrisk r WHERE NOT EXISTS "
            "(SELECT 1 FROM customers_customer c WHERE c.id = r.customer_id)"
        )
        cursor.execute(
            _UPSERT,
            {
                "model": model.pk,
                "as_of": as_of,
                "horizon_days": model.horizon_days,
                "rewrite_step": REWRITE_STEP,
                **lifecycle.stage_params(policy),
            },
        )
        written = cursor.rowcount
        cursor.execute("DROP TABLE churn_risk_scored")
        # A first scoring writes every customer; later nights rewrite the few whose risk moved. With
        # the statistics of an empty table the queues' joins to the risks plan for a handful of
        # rows (autovacuum may be off, as on the machines measured here): refresh them when a
        # night's writes are a tenth of what the planner believes the table holds.
        if written > services.ANALYZE_AFTER and services._grew_by_a_tenth(cursor, written, "churn_customerrisk"):
            cursor.execute("ANALYZE churn_customerrisk")
        return written


def _copy_scores(cursor, rows: F.Rows, estimators: dict, as_of: dt.date) -> None:
    risk, drivers = predict(estimators, rows.raw)
    raw = {name: rows.raw[:, i].tolist() for i, name in enumerate(F.RAW)}
    columns = "customer_id, risk, drivers, occasions, last_day, median_gap"
    with cursor.cursor.copy(f"COPY churn_risk_scored ({columns}) FROM STDIN") as copy:
        for i, customer_id in enumerate(rows.ids.tolist()):
            recency, gap = raw["recency"][i], raw["median_gap"][i]
            last_day = None if math.isnan(recency) else as_of - dt.timedelta(days=int(recency))
            copy.write_row(
                (
                    customer_id,
                    round(risk[i], 4),
                    json.dumps(drivers[i]),
                    int(raw["occasions"][i]),
                    last_day,
                    None if math.isnan(gap) else gap,
                )
            )


def model_for(*, as_of: dt.date, horizon_days: int, retrain_after_days: int = RETRAIN_AFTER_DAYS) -> RiskModel:
    """The model to score `as_of` with: the latest trained as of a date on or before it for this H,
    unless it is `retrain_after_days` old or more (then a new one is trained)."""
    latest = RiskModel.objects.filter(as_of__lte=as_of, horizon_days=horizon_days).order_by("-as_of", "-id").first()
    if latest is not None and (as_of - latest.as_of).days < retrain_after_days:
        return latest
    return train_model(as_of=as_of, horizon_days=horizon_days)


def refresh_churn_risk(*, as_of: dt.date, retrain_after_days: int = RETRAIN_AFTER_DAYS) -> RiskModel | None:
    """The nightly stage: train when the model is a week old (or H changed), score everyone.
    With too little history nothing is scored (and the reason is logged)."""
    policy = ChurnPolicy.current()
    try:
        model = model_for(as_of=as_of, horizon_days=policy.horizon_days, retrain_after_days=retrain_after_days)
    except HistoryTooShort as short:
        log.info("churn risk not scored as of %s: %s", as_of, short)
        return None
    score_customers(model=model, as_of=as_of, policy=policy)
    services.refresh_follow_ups(as_of=as_of)  # value at risk; on churn risk, the items it opens
    return model
