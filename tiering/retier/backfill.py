"""Tier history backfill: the tiers replayed at month ends over the loaded history (docs/backfill.md).

Each month end D is a plan of its own (mode ALL, as of D) run through the re-tier's stages: the
metrics of everyone as of D into the stage (stage.stage_metrics: the same SQL, ranges and threads),
the relative thresholds resolved over them (plan.with_cuts_resolved), then the rules' tier and the
downgrade grace (apply._grace_sql) against the tiers the replay reached at the month before, kept
in a temporary table (never CustomerMetrics: nothing users read changes while it runs). A change
goes, with its why, into a second temporary table.

All or nothing: the replay's changes, and each tier's totals at each month end (for the trends),
replace the earlier backfilled ones in one transaction at the end. A backfill that fails or whose
process dies leaves the history as it was (its temporary tables die with its session), and its
record says so. The history that nightly runs wrote is never touched: the month ends replayed all
come before the first run that wrote history.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from .. import runs, sql
from ..models import RuleSet, TierBackfill, TierChange
from ..rules import rules_from_ruleset, tier_sql, why_sql
from .apply import _grace_sql
from .lock import single_flight
from .plan import ALL, Plan, RetierError, failure_text, with_cuts_resolved
from .stage import clear_stage, stage_metrics

log = logging.getLogger(__name__)

DEFAULT_MONTHS = 24
INTERRUPTED_ERROR = "its process died or was killed: nothing it did was applied, the earlier history stands"


def month_ends(*, before: dt.date, months: int, first_day: dt.date | None) -> list[dt.date]:
    """The last `months` month ends strictly before `before`, oldest first, none before the month
    of `first_day` (the first order's day; None: no history, no month end)."""
    if first_day is None or months <= 0:
        return []
    ends: list[dt.date] = []
    day = before.replace(day=1) - dt.timedelta(days=1)  # the last month end before `before`
    while len(ends) < months and day >= first_day.replace(day=1):
        ends.append(day)
        day = day.replace(day=1) - dt.timedelta(days=1)
    return ends[::-1]


def end_of(day: dt.date) -> dt.datetime:
    """When a month end's replayed tier starts to hold: the end of its (UTC) day, after every
    order of that day (the metrics as of D count D's whole day)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)


def history_starts() -> dt.date | None:
    """The as-of date of the first real run that wrote tier history: backfills replay only before it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(r.as_of) FROM tiering_retierrun r WHERE NOT r.dry_run"
            " AND EXISTS (SELECT 1 FROM tiering_tierchange c WHERE c.run_id = r.id)"
        )
        return cursor.fetchone()[0]


def first_order_day() -> dt.date | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT (min(placed_at) AT TIME ZONE 'UTC')::date FROM customers_order")
        return cursor.fetchone()[0]


def wanted_on_first_run(months: int) -> bool:
    """A first run over loaded history: there are orders and no tier history yet."""
    if months <= 0 or TierChange.objects.exists():
        return False
    return first_order_day() is not None


def ruleset_for(rules: str = "published") -> RuleSet:
    """The rule set a backfill replays: the one in force ("published"), or a version that has been
    in force (a number). Raises RetierError saying what to do."""
    if rules == "published":
        ruleset = RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).first()
        if ruleset is None:
            raise RetierError("No published rule set: publish one in the admin before backfilling.")
        return ruleset
    if not rules.isdigit():
        raise RetierError(f'--rules takes "published" or a rule set version number, not "{rules}".')
    ruleset = RuleSet.objects.filter(version=int(rules)).first()
    if ruleset is None or ruleset.status == RuleSet.Status.DRAFT:
        raise RetierError(f"Rule set v{rules} has never been in force: backfill with a published or retired one.")
    return ruleset


def backfill_tiers(
    *,
    months: int = DEFAULT_MONTHS,
    ruleset: RuleSet | None = None,
    before: dt.date | None = None,
    triggered_by: str = "",
) -> TierBackfill:
    """Replay the tiers at the last `months` month ends before `before` (default: today) and before
    the first run that wrote history, with `ruleset` (default: the published one), replacing the
    earlier backfilled history. Returns the record: succeeded, skipped (the re-tier lock is held),
    or failed (re-raised)."""
    ruleset = ruleset or ruleset_for("published")
    with single_flight() as acquired:  # the stage table is the re-tier's: one of them at a time
        if not acquired:
            return TierBackfill.objects.create(
                ruleset=ruleset,
                triggered_by=triggered_by[:100],
                status=TierBackfill.Status.SKIPPED,
                error="A re-tier or another backfill was going; this one did nothing.",
                finished_at=timezone.now(),
            )
        return backfill_locked(months=months, ruleset=ruleset, before=before, triggered_by=triggered_by)


def backfill_locked(*, months: int, ruleset: RuleSet, before: dt.date | None, triggered_by: str) -> TierBackfill:
    """The backfill, for a caller holding the re-tier lock (backfill_tiers, a first re-tier run)."""
    TierBackfill.objects.filter(status=TierBackfill.Status.RUNNING).update(  # the lock is ours: they died
        status=TierBackfill.Status.INTERRUPTED, error=INTERRUPTED_ERROR, finished_at=timezone.now()
    )
    bound = min(d for d in (before or timezone.localdate(), history_starts()) if d is not None)
    ends = month_ends(before=bound, months=months, first_day=first_order_day())
    record = TierBackfill.objects.create(
        ruleset=ruleset,
        triggered_by=triggered_by[:100],
        months=len(ends),
        first_as_of=ends[0] if ends else None,
        last_as_of=ends[-1] if ends else None,
    )
    try:
        with runs.heartbeat(record):
            _replay(record, ruleset, ends)
    except BaseException as exc:
        _record_failure(record, exc)
        raise
    finally:
        _drop_scratch()
    return record


def _replay(record: TierBackfill, ruleset: RuleSet, ends: list[dt.date]) -> None:
    base = Plan(
        run_id=-record.pk,  # stage rows of this backfill; negative, never a re-tier run's id
        started_at=record.started_at,
        as_of=ends[0] if ends else timezone.localdate(),
        dry_run=False,
        ruleset_id=ruleset.pk,
        rules=rules_from_ruleset(ruleset),
        mode=ALL,
        last=None,
    )
    _create_scratch()
    for done, day in enumerate(ends):
        plan = replace(base, as_of=day)

        def report(step: str, ranges_done: int, ranges: int, day=day, done=done) -> None:
            _save_progress(record, step=f"month end {day}: {step} {ranges_done}/{ranges}", done=done, total=len(ends))

        stage_metrics(plan, report)
        plan = with_cuts_resolved(plan)
        _replay_month(plan)
        _save_progress(record, step="replaying month ends", done=done + 1, total=len(ends), month=day.isoformat())
    clear_stage()
    _save_progress(record, step="replacing the backfilled history", done=len(ends), total=len(ends))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tiering_tierchange WHERE backfilled")
            record.replaced = cursor.rowcount
            cursor.execute(_PUBLISH)
            record.entries = cursor.rowcount
            cursor.execute("DELETE FROM tiering_backfilltiertotal")  # the earlier backfill's, with its entries
            cursor.execute(_PUBLISH_TOTALS, [record.pk])
        _finish(record)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tiering_tierchange")  # a first backfill can write a million rows


# One month end, in two statements. First the replay's next state: every customer known by D (signed
# up or ordered by then) with the rules' tier over the staged metrics and the grace against the state
# the month before; a new narrow table, hash-joined, rather than an upsert into the old one (a month
# rewrote a million index entries of a temporary table: 45 s at 1M customers). Then the changes: the
# customers whose tier changes or who are placed first, with the why over their staged metrics.
_NEXT_STATE = """
CREATE TEMP TABLE backfill_next AS
SELECT r.customer_id, r.as_of, r.rule_tier, m.tier AS old_tier, {new_tier} AS tier, {new_below} AS below_runs,
       r.revenue, r.net_margin
FROM {staged} LEFT JOIN backfill_state m ON m.customer_id = r.customer_id
WHERE r.tenure_start <= r.as_of
"""
_CHANGES = """
INSERT INTO backfill_changes (customer_id, from_tier, to_tier, as_of, why)
SELECT n.customer_id, n.old_tier, n.tier, n.as_of, {why}
FROM backfill_next n JOIN tiering_metricsstage s ON s.run_id = %s AND s.customer_id = n.customer_id
WHERE n.old_tier IS NULL OR n.old_tier <> n.tier
"""

# Each tier's size, revenue and margin at the month end, for the trends (dashboard.trends): the sizes
# the history's net moves add up to by then, and the margin share no history row carries.
_TOTALS = """
INSERT INTO backfill_totals (as_of, tier, customers, revenue, net_margin)
SELECT as_of, tier, COUNT(*), COALESCE(SUM(revenue), 0), COALESCE(SUM(net_margin), 0)
FROM backfill_next GROUP BY as_of, tier
"""

_PUBLISH = """
INSERT INTO tiering_tierchange (customer_id, run_id, from_tier, to_tier, changed_at, why, backfilled)
SELECT b.customer_id, NULL, b.from_tier, b.to_tier, (b.as_of + 1)::timestamp AT TIME ZONE 'UTC', b.why, TRUE
FROM backfill_changes b JOIN customers_customer k ON k.id = b.customer_id
ORDER BY b.customer_id, b.as_of
"""
_PUBLISH_TOTALS = """
INSERT INTO tiering_backfilltiertotal (backfill_id, as_of, tier, customers, revenue, net_margin)
SELECT %s, as_of, tier, customers, revenue, net_margin FROM backfill_totals
"""


def _replay_month(plan: Plan) -> None:
    expression, tier_params = tier_sql(plan.rules, column=lambda name: sql.column("s", name))
    staged = sql.compose(
        "(SELECT s.customer_id, s.as_of, s.tenure_start, s.revenue, s.net_margin, {tier} AS rule_tier"
        " FROM tiering_metricsstage s"
        " WHERE s.run_id = %s) r",
        tier=expression,
    )
    new_tier, new_below = _grace_sql(plan.rules, stored_as_of="m.as_of")
    why, why_params = why_sql(plan.rules, column=lambda name: sql.column("s", name), tier="n.rule_tier")
    with transaction.atomic(), connection.cursor() as cursor:
        sql.set_local(cursor, jit="off", work_mem="64MB")
        cursor.execute("DROP TABLE IF EXISTS backfill_next")
        next_state = sql.compose(_NEXT_STATE, staged=staged, new_tier=new_tier, new_below=new_below)
        cursor.execute(next_state, [*tier_params, plan.run_id])
        # a temporary table has no statistics: without them the changes' join to the stage spilled
        # a hash of both to disk (40 s a month at 1M customers) instead of hashing the few changed
        cursor.execute("ANALYZE backfill_next")
        cursor.execute(sql.compose(_CHANGES, why=why), [*why_params, plan.run_id])
        cursor.execute(_TOTALS)
        cursor.execute("DROP TABLE backfill_state")
        cursor.execute("ALTER TABLE backfill_next RENAME TO backfill_state")


def _create_scratch() -> None:
    _drop_scratch()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE backfill_state (customer_id bigint, as_of date, rule_tier smallint,"
            " old_tier smallint, tier smallint, below_runs integer, revenue numeric, net_margin numeric)"
        )
        cursor.execute(
            "CREATE TEMP TABLE backfill_changes (customer_id bigint NOT NULL, from_tier smallint,"
            " to_tier smallint NOT NULL, as_of date NOT NULL, why jsonb NOT NULL)"
        )
        cursor.execute(
            "CREATE TEMP TABLE backfill_totals (as_of date NOT NULL, tier smallint NOT NULL, customers bigint NOT NULL,"
            " revenue numeric NOT NULL, net_margin numeric NOT NULL)"
        )


def _drop_scratch() -> None:
    """Temporary tables die with the session; a worker's session lives on, so drop them."""
    if connection.connection is None or connection.needs_rollback:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS backfill_state, backfill_next, backfill_changes, backfill_totals")
    except DatabaseError:  # the connection broke: the session and its tables are gone
        log.warning("could not drop the backfill's scratch tables", exc_info=True)


def _save_progress(record: TierBackfill, **values) -> None:
    record.progress = {**(record.progress or {}), **values}
    TierBackfill.objects.filter(pk=record.pk).update(progress=record.progress)


def _finish(record: TierBackfill) -> None:
    """Record success, only on a backfill still recorded as running (else it was declared dead:
    roll back, so what the admins were told holds)."""
    now = timezone.now()
    fields = {"entries": record.entries, "replaced": record.replaced, "progress": record.progress}
    if not TierBackfill.objects.filter(pk=record.pk, status=TierBackfill.Status.RUNNING).update(
        status=TierBackfill.Status.SUCCEEDED, finished_at=now, **fields
    ):
        raise RetierError(f"Backfill {record.pk} was marked {INTERRUPTED_ERROR.split(':')[0]}; nothing applied.")
    record.status, record.finished_at = TierBackfill.Status.SUCCEEDED, now


def _record_failure(record: TierBackfill, exc: BaseException) -> None:
    if not connection.is_usable():
        connection.close()
    message = failure_text(exc)
    try:
        TierBackfill.objects.filter(pk=record.pk, status=TierBackfill.Status.RUNNING).update(
            status=TierBackfill.Status.FAILED, error=message, finished_at=timezone.now()
        )
    except Exception:  # the database itself is gone; the next backfill marks this one interrupted
        log.exception("could not record the failure of backfill %s", record.pk)
    record.status, record.error = TierBackfill.Status.FAILED, message
