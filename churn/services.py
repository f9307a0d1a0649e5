"""Writes of the churn app: nightly detection and the changes people make to follow-ups.

Detection is set-based: a handful of statements whatever the number of customers. Changes to a
follow-up are conditional UPDATEs on its version number, so two people acting on the same item
at once cannot overwrite each other silently (the second is told and nothing changes).
"""

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.roles import ACCOUNT_MANAGER
from tiering import sql
from tiering.metrics import date_param_sql, derived_days_sql
from tiering.signals import RetierApplied

from . import policy
from .models import ChurnPolicy, FollowUp, FollowUpPolicy, LapseWatchState
from .signals import FollowUpClosed, follow_up_closed

ANALYZE_AFTER = 1000  # new lapses in one run (the first run finds every historical lapse)


@dataclass
class DetectionResult:
    returned: int = 0
    lapses: int = 0
    follow_ups: dict[int, int] = field(default_factory=dict)  # tier -> items created


# The lapse rule of policy.is_lapsed, for every customer at once.
# {days_since} is the days from the last order to the run's as_of: CustomerMetrics stores the date
# (tiering.metrics.derived_days_sql).
LAPSED_WHERE = """
    m.last_order_at IS NOT NULL
    AND {days_since} > CASE
        WHEN m.median_gap_days IS NOT NULL AND %(gap_multiple)s * m.median_gap_days > %(min_days)s
        THEN %(gap_multiple)s * m.median_gap_days
        ELSE %(min_days)s
    END
"""

# The highest tier held in the 12 months before the last order L (policy.tier_held_before, which
# says it in Python): the tier held as that window opens (the latest change at or before its start)
# and every tier on either side of a change within it, nightly or backfilled; else, when every
# change came after L, the tier held going into the first of them (its from_tier, or its to_tier
# when it was the customer's first tier); else (no history) the current tier. Evaluated only for
# the customers newly lapsed tonight (index tierchange_customer_idx: customer, changed_at).
TIER_AT_LAST_ORDER = """
    COALESCE(
        GREATEST(
            (SELECT tc.to_tier FROM tiering_tierchange tc
              WHERE tc.customer_id = m.customer_id AND tc.changed_at <= m.last_order_at - interval '12 months'
              ORDER BY tc.changed_at DESC, tc.id DESC LIMIT 1),
            (SELECT MAX(GREATEST(tc.from_tier, tc.to_tier)) FROM tiering_tierchange tc
              WHERE tc.customer_id = m.customer_id AND tc.changed_at > m.last_order_at - interval '12 months'
                AND tc.changed_at <= m.last_order_at)),
        (SELECT COALESCE(tc.from_tier, tc.to_tier) FROM tiering_tierchange tc
          WHERE tc.customer_id = m.customer_id AND tc.changed_at > m.last_order_at
          ORDER BY tc.changed_at ASC, tc.id ASC LIMIT 1),
        m.tier)
"""

# Customers lapsed as of the run with no lapse recorded for their current last order.
NEW_LAPSES = """
    SELECT m.customer_id, m.last_order_at, m.tier
      FROM tiering_customermetrics m
     WHERE {lapsed}
       AND NOT EXISTS (SELECT 1 FROM churn_lapse l
                        WHERE l.customer_id = m.customer_id AND l.last_order_at = m.last_order_at)
       AND {watched}
"""

# MATERIALIZED: the tier lookup runs once per new lapse; inlined,
# the planner copied it into every place tier_while_active is used (12 sub-plans).
# {new_lapses}: NEW_LAPSES itself, or a table PostgreSQL filled with it beforehand.
INSERT_LAPSES = """
    WITH lapsed AS MATERIALIZED (
        SELECT m.customer_id, m.last_order_at, m.tier, {tier_at_last_order} AS at_last_order
          FROM ({new_lapses}) m
    ), decided AS (
        -- never below the current tier: see policy.tier_while_active
        SELECT customer_id, last_order_at,
               CASE WHEN at_last_order > tier THEN at_last_order ELSE tier END AS tier_while_active
          FROM lapsed
    )
    INSERT INTO churn_lapse (customer_id, detected_at, detected_on, run_id, last_order_at, tier_while_active, response)
    SELECT d.customer_id, %(now)s, %(as_of)s, %(run_id)s, d.last_order_at, d.tier_while_active,
           COALESCE(CASE p.action WHEN 'investigate' THEN 'Investigate' WHEN 'win_back' THEN 'Win back' END,
                    'no action: tier ' || d.tier_while_active)
      FROM decided d
      LEFT JOIN churn_followuppolicy p ON p.tier = d.tier_while_active
"""

# One work item per new lapse of a tier whose policy calls for one, unless the customer already
# has an open item (the partial unique index would refuse a second one anyway).
INSERT_FOLLOW_UPS = """
    INSERT INTO churn_followup (customer_id, lapse_id, kind, priority, tier, status, assignee_id, due_on,
                                version, notes, cause_category, cause_text, created_at, updated_at,
                                risk, value_at_risk)
    SELECT l.customer_id, l.id, %(kind)s, %(priority)s, l.tier_while_active, 'open',
           {assignee}, %(due_on)s, 1, '', '', '', %(now)s, %(now)s, r.risk, {value_at_risk}
      FROM churn_lapse l
      JOIN customers_customer c ON c.id = l.customer_id
      LEFT JOIN churn_customerrisk r ON r.customer_id = l.customer_id
      LEFT JOIN tiering_customermetrics m ON m.customer_id = l.customer_id
     WHERE {new_lapses} AND l.tier_while_active = %(tier)s
       AND NOT EXISTS (SELECT 1 FROM churn_followup done WHERE done.lapse_id = l.id)
       AND NOT EXISTS (SELECT 1 FROM churn_followup f
                        WHERE f.customer_id = l.customer_id AND f.status IN ('open', 'contacted'))
    ON CONFLICT DO NOTHING
"""

# What a customer's silence puts at risk: the churn risk × the 12-month net margin (revenue − cost −
# compensation; on a log without costs, revenue less compensation), never below 0 (docs/churn.md).
# r: churn_customerrisk, m: tiering_customermetrics; NULL without a risk.
VALUE_AT_RISK = "round((r.risk::numeric * GREATEST(m.net_margin, 0)), 2)"


def detect_churn(
    *, run_id: int | None, as_of: dt.date, now: dt.datetime | None = None, changed: RetierApplied | None = None
) -> DetectionResult:
    """Resolve the items of customers who ordered again, then record tonight's new lapses and the
    work they call for. Runs in the caller's transaction (the re-tier's), or its own.

    `changed`: what the re-tier run `run_id` hands over (tiering.signals.RetierApplied): only the
    customers whose last order or median gap it changed can have ordered again or moved their
    lapse day. None looks at everyone."""
    now = now or timezone.now()
    result = DetectionResult()
    with transaction.atomic():
        churn_policy = ChurnPolicy.current()
        follow_up_policies = FollowUpPolicy.in_force()  # before the lapses: their response names the action
        history_changed = _history_changed_sql(changed)
        with connection.cursor() as cursor:
            sql.set_local(cursor, jit="off")  # compiling cost ~1 s, more than the statements themselves
            if not LapseWatchState.objects.filter(pk=1).exists():
                history_changed = None  # the watch was forgotten (lapses edited by hand): look at everyone
            result.returned = _resolve_returns(cursor, now=now, as_of=as_of, history_changed=history_changed)
            result.lapses = _insert_lapses(
                cursor, churn_policy=churn_policy, as_of=as_of, now=now, run_id=run_id, history_changed=history_changed
            )
            if result.lapses > ANALYZE_AFTER and _grew_by_a_tenth(cursor, result.lapses):
                # The planner still believes the lapses table holds last night's rows; with that
                # belief the follow-up insert below goes quadratic (minutes at 30k new lapses).
                cursor.execute("ANALYZE churn_lapse")
            if churn_policy.follow_up_trigger == policy.TRIGGER_RISK:
                return result  # the lapses are recorded; the churn risk's refresh opens the items
            for follow_up_policy in follow_up_policies:
                if follow_up_policy.action == FollowUpPolicy.Action.NONE:
                    continue
                result.follow_ups[follow_up_policy.tier] = _insert_follow_ups(
                    cursor, follow_up_policy=follow_up_policy, now=now, as_of=as_of
                )
    return result


def new_lapses_sql(*, watched: str = "TRUE") -> str:
    """NEW_LAPSES among the customers `watched` names (a predicate on metrics row m), with the days
    since the last order counted to %(as_of)s."""
    days_since = derived_days_sql("days_since_last_order", alias="m", as_of=date_param_sql("as_of"))
    return sql.compose(NEW_LAPSES, lapsed=sql.compose(LAPSED_WHERE, days_since=days_since), watched=watched)


def _history_changed_sql(changed: RetierApplied | None) -> str | None:
    """A SELECT of the customers whose last order or median gap the run changed, from the table
    it hands over (None: everyone may have)."""
    if changed is None or not changed.complete:
        return None
    return sql.compose(
        "SELECT customer_id FROM {table} WHERE last_order_at IS DISTINCT FROM old_last_order_at"
        " OR median_gap_days IS DISTINCT FROM old_median_gap_days",
        table=sql.name(changed.changed_table),
    )


def _grew_by_a_tenth(cursor, new_lapses: int, table: str = "churn_lapse") -> bool:
    """Whether tonight's new rows are a tenth of what the planner believes the table holds: a
    thousand more among 400,000 change no plan, and their ANALYZE costs 0.1 s a night."""
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
    return new_lapses > 0.1 * max(cursor.fetchone()[0], 0)


def _insert_lapses(
    cursor,
    *,
    churn_policy: ChurnPolicy,
    as_of: dt.date,
    now: dt.datetime,
    run_id: int | None,
    history_changed: str | None,
) -> int:
    """Record tonight's new lapses, looking only at the customers the lapse watch names (_watched),
    found first with a CREATE TABLE AS, which may scan in parallel."""
    params = {
        "now": now,
        "as_of": as_of,
        "run_id": run_id,
        "min_days": churn_policy.min_days,
        "gap_multiple": churn_policy.gap_multiple,
    }
    watched = _watched(cursor, churn_policy=churn_policy, as_of=as_of, history_changed=history_changed, params=params)
    new_lapses = new_lapses_sql(watched=watched)
    cursor.execute("DROP TABLE IF EXISTS churn_new_lapses")
    cursor.execute(
        sql.compose("CREATE TEMP TABLE churn_new_lapses ON COMMIT DROP AS {new_lapses}", new_lapses=new_lapses), params
    )
    statement = sql.compose(
        INSERT_LAPSES, tier_at_last_order=TIER_AT_LAST_ORDER, new_lapses="SELECT * FROM churn_new_lapses"
    )
    cursor.execute(statement, params)
    return cursor.rowcount


# The first as-of date on which a customer counts as lapsed (LAPSED_WHERE: days since the last
# order > the threshold, so the day after the threshold's whole days), under the policy in params.
LAPSES_ON = """
    (m.last_order_at AT TIME ZONE 'UTC')::date + (floor(CASE
        WHEN m.median_gap_days IS NOT NULL AND %(gap_multiple)s * m.median_gap_days > %(min_days)s
        THEN %(gap_multiple)s * m.median_gap_days ELSE %(min_days)s END)::int + 1)
"""


WATCH_CHANGED = """
    INSERT INTO churn_lapsewatch (customer_id, lapses_on)
    SELECT m.customer_id, {lapses_on} FROM tiering_customermetrics m WHERE m.customer_id = ANY(ARRAY({changed}))
    ON CONFLICT (customer_id) DO UPDATE SET lapses_on = excluded.lapses_on
    WHERE churn_lapsewatch.lapses_on IS DISTINCT FROM excluded.lapses_on
"""
WATCH_EVERYONE = """
    INSERT INTO churn_lapsewatch (customer_id, lapses_on) SELECT m.customer_id, {lapses_on} FROM tiering_customermetrics m
"""
WATCHED = """(m.customer_id = ANY(ARRAY({changed})) OR m.customer_id = ANY(ARRAY(
    SELECT w.customer_id FROM churn_lapsewatch w WHERE w.lapses_on > %(since)s AND w.lapses_on <= %(as_of)s)))"""


def _watched(cursor, *, churn_policy: ChurnPolicy, as_of: dt.date, history_changed: str | None, params: dict) -> str:
    """A predicate on metrics row m naming every customer who can have lapsed since the
    last detection, and keep the lapse watch up to date.

    After a detection as of P, every customer lapsed by P has their lapse recorded. So on a later
    date D with the same policy, a new lapse is a customer whose lapse day falls in (P, D], or one
    whose last order or median gap this run changed: the watch is brought up to date for those,
    and the scan reads a few thousand rows instead of every customer (0.5-0.7 s at 1M). With no
    such guarantee (no `history_changed`, a new policy, a date before P, no watch yet) the watch is
    rebuilt for everyone and every customer is tested.
    """
    # locked: a lapse deleted meanwhile (whose trigger forgets this row) waits for this run's commit
    state = LapseWatchState.objects.select_for_update().filter(pk=1).first()
    policy = (churn_policy.min_days, churn_policy.gap_multiple)
    incremental = history_changed and state and (state.min_days, state.gap_multiple) == policy and state.as_of <= as_of
    if incremental:
        cursor.execute(sql.compose(WATCH_CHANGED, lapses_on=LAPSES_ON, changed=history_changed), params)
        params["since"] = state.as_of
        predicate = sql.compose(WATCHED, changed=history_changed)
    else:
        cursor.execute("TRUNCATE churn_lapsewatch")
        cursor.execute(sql.compose(WATCH_EVERYONE, lapses_on=LAPSES_ON), params)
        predicate = "TRUE"
    cursor.execute(
        "INSERT INTO churn_lapsewatchstate (id, min_days, gap_multiple, as_of) VALUES (1, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET min_days = excluded.min_days, gap_multiple = excluded.gap_multiple, as_of = excluded.as_of",
        [*policy, as_of],
    )
    return predicate


def _insert_follow_ups(
    cursor,
    *,
    follow_up_policy: FollowUpPolicy,
    now: dt.datetime,
    as_of: dt.date,
    new_lapses: str = "l.detected_at = %(now)s",
) -> int:
    """The items tonight's lapses of this tier call for; `new_lapses`: a predicate on lapse row l."""
    assignee = "c.account_manager_id" if follow_up_policy.assign_to_account_manager else "NULL"
    cursor.execute(
        sql.compose(INSERT_FOLLOW_UPS, assignee=assignee, value_at_risk=VALUE_AT_RISK, new_lapses=new_lapses),
        {
            "kind": follow_up_policy.action,
            "priority": follow_up_policy.priority,
            "tier": follow_up_policy.tier,
            "due_on": policy.due_on(
                detected_on=as_of, due_days=follow_up_policy.due_days, working_days=follow_up_policy.working_days
            ),
            "now": now,
        },
    )
    return cursor.rowcount


# --- After each scoring: value at risk, and the items the churn risk opens --------------------


@dataclass
class RiskFollowUps:
    valued: int = 0  # open items whose risk or value at risk changed
    recorded: int = 0  # silences recorded because the risk reached the threshold first (Lapse, trigger risk)
    follow_ups: dict[int, int] = field(default_factory=dict)  # tier -> items opened


# Every item still being worked gets its customer's latest risk and value at risk; only the rows
# that change are written.
REFRESH_VALUES = """
    UPDATE churn_followup f SET risk = r.risk, value_at_risk = {value_at_risk}
      FROM churn_customerrisk r JOIN tiering_customermetrics m ON m.customer_id = r.customer_id
     WHERE f.status IN ('open', 'contacted') AND r.customer_id = f.customer_id
       AND (f.risk IS DISTINCT FROM r.risk OR f.value_at_risk IS DISTINCT FROM {value_at_risk})
"""

# Customers whose risk reached their tier's threshold with no item for their current silence (the
# silence = their current last order): none open, and none ever opened for a lapse of that last order.
# The tier is the one held while still buying as far as recorded: the lapse of this silence's
# tier_while_active when the lapse rule already recorded it, never below the current tier; a
# customer not lapsed yet is still in the tier they bought in (docs/churn.md).
CROSSINGS = """
    CREATE TEMP TABLE churn_crossings ON COMMIT DROP AS
    SELECT r.customer_id, m.last_order_at, r.risk, x.tier, l.id AS lapse_id
      FROM churn_customerrisk r
      JOIN tiering_customermetrics m ON m.customer_id = r.customer_id
      LEFT JOIN churn_lapse l ON l.customer_id = r.customer_id AND l.last_order_at = m.last_order_at
      CROSS JOIN LATERAL (SELECT GREATEST(m.tier, COALESCE(l.tier_while_active, 0)) AS tier) x
      JOIN unnest(%(tiers)s::int[], %(thresholds)s::float8[]) AS t(tier, threshold) ON t.tier = x.tier
     WHERE r.risk >= %(lowest)s AND r.risk >= t.threshold AND m.last_order_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM churn_followup f
                        WHERE f.customer_id = r.customer_id AND f.status IN ('open', 'contacted'))
       AND (l.id IS NULL OR NOT EXISTS (SELECT 1 FROM churn_followup done WHERE done.lapse_id = l.id))
"""
# The silence of each crossing without a lapse yet, recorded as one (trigger 'risk'), so the item
# has its episode: a return resolves it as any other, and the lapse rule never records it twice.
RECORD_CROSSINGS = """
    WITH recorded AS (
        INSERT INTO churn_lapse (customer_id, detected_at, detected_on, run_id, last_order_at, tier_while_active,
                                 response, trigger, risk)
        SELECT c.customer_id, %(now)s, %(as_of)s, NULL, c.last_order_at, c.tier,
               CASE p.action WHEN 'investigate' THEN 'Investigate' ELSE 'Win back' END, 'risk', c.risk
          FROM churn_crossings c JOIN churn_followuppolicy p ON p.tier = c.tier
         WHERE c.lapse_id IS NULL
        ON CONFLICT DO NOTHING
        RETURNING id, customer_id
    )
    UPDATE churn_crossings c SET lapse_id = recorded.id FROM recorded WHERE recorded.customer_id = c.customer_id
"""


def refresh_follow_ups(*, as_of: dt.date, now: dt.datetime | None = None) -> RiskFollowUps:
    """After the churn risk is scored: every open item's risk and value at risk, then, when follow-ups
    open on churn risk (ChurnPolicy.follow_up_trigger), one item for each customer whose risk reached
    their tier's threshold. Set-based: a fixed number of statements whatever the population."""
    now = now or timezone.now()
    result = RiskFollowUps()
    with transaction.atomic(), connection.cursor() as cursor:
        # the crossings hash-join every scored customer to the metrics and the lapses: at 1M customers
        # the default 4 MB spilled each hash to disk in batches
        sql.set_local(cursor, jit="off", work_mem="64MB")
        cursor.execute(sql.compose(REFRESH_VALUES, value_at_risk=VALUE_AT_RISK))
        result.valued = cursor.rowcount
        if ChurnPolicy.current().follow_up_trigger != policy.TRIGGER_RISK:
            return result
        acting = [
            p
            for p in FollowUpPolicy.in_force()
            if p.action != FollowUpPolicy.Action.NONE and p.risk_threshold is not None
        ]
        if not acting:
            return result
        thresholds = {"tiers": [p.tier for p in acting], "thresholds": [p.risk_threshold for p in acting]}
        cursor.execute("DROP TABLE IF EXISTS churn_crossings")
        cursor.execute(CROSSINGS, {**thresholds, "lowest": min(thresholds["thresholds"])})
        cursor.execute(RECORD_CROSSINGS, {"now": now, "as_of": as_of})
        result.recorded = cursor.rowcount
        crossing = "l.id IN (SELECT lapse_id FROM churn_crossings)"
        for follow_up_policy in acting:
            result.follow_ups[follow_up_policy.tier] = _insert_follow_ups(
                cursor, follow_up_policy=follow_up_policy, now=now, as_of=as_of, new_lapses=crossing
            )
        cursor.execute("DROP TABLE churn_crossings")
        opened = sum(result.follow_ups.values())
        # as in detect_churn: with the items' statistics of before a first night that opened tens of
        # thousands, the next revaluation chose index look-ups per item (127,000 blocks read at 1M)
        for table, added in (("churn_lapse", result.recorded), ("churn_followup", opened)):
            if added > ANALYZE_AFTER and _grew_by_a_tenth(cursor, added, table):
                cursor.execute(f"ANALYZE {table}")
    return result


# A customer whose last order is newer than their lapse's has come back. Correlated EXISTS per
# still-open item / unreturned lapse: bounded by those, not by the population, and the same plan
# whatever the (possibly stale) statistics say.
RESOLVE_RETURNED_FOLLOW_UPS = """
    UPDATE churn_followup
       SET status = 'returned', closed_at = %(now)s, updated_at = %(now)s, updated_by_id = NULL, version = version + 1
     WHERE status IN ('open', 'contacted') AND {only_customers}
       AND EXISTS (SELECT 1 FROM churn_lapse l
                     JOIN tiering_customermetrics m ON m.customer_id = l.customer_id
                    WHERE l.id = churn_followup.lapse_id AND m.last_order_at > l.last_order_at)
"""
MARK_RETURNED_LAPSES = """
    UPDATE churn_lapse SET returned_at = %(now)s, returned_on = %(as_of)s
     WHERE returned_at IS NULL AND {only_customers}
       AND EXISTS (SELECT 1 FROM tiering_customermetrics m
                    WHERE m.customer_id = churn_lapse.customer_id AND m.last_order_at > churn_lapse.last_order_at)
"""


def _resolve_returns(cursor, *, now: dt.datetime, as_of: dt.date, history_changed: str | None) -> int:
    """Only a customer whose last order moved can have returned: with `history_changed` the checks
    look at those alone, not at every open item and unreturned lapse (400,000 lapses at 1M
    customers: 0.7 s a night)."""
    params = {"now": now, "as_of": as_of}
    only = _only_customers("churn_followup.customer_id", history_changed)
    cursor.execute(sql.compose(RESOLVE_RETURNED_FOLLOW_UPS, only_customers=only), params)
    returned = cursor.rowcount
    only = _only_customers("churn_lapse.customer_id", history_changed)
    cursor.execute(sql.compose(MARK_RETURNED_LAPSES, only_customers=only), params)
    return returned


def _only_customers(column: str, customers: str | None) -> str:
    """`column` among the customers a SELECT gives, or no restriction. As an array, so the open
    items' and unreturned lapses' partial indexes on the customer serve (an IN (SELECT …) hashed
    the 400,000 lapses instead)."""
    return (
        sql.compose("{column} = ANY(ARRAY({customers}))", column=column, customers=customers) if customers else "TRUE"
    )


# --- People working the queue -------------------------------------------------------------


class FollowUpError(Exception):
    """A change that was refused; the message says why, for the person who tried."""


class StaleFollowUp(FollowUpError):
    pass


class NotAllowed(FollowUpError):
    """The person may not make this change (a colleague's item, or no queue role): a 403."""


WORK, LEAD = "churn.work_followup", "churn.lead_followup"


def _require_may_change(item: FollowUp, user: User, *, doing: str) -> None:
    """Account managers act on their own and unassigned items; a colleague's needs a team lead.
    Checked here, under every view, task and script that changes an item."""
    if not user.has_perm(WORK):
        raise NotAllowed("Your role does not work the follow-up queue; nothing changed.")
    if item.is_colleagues(user) and not user.has_perm(LEAD):
        raise NotAllowed(
            f"{_name(item.assignee)} works this item: only they or a team lead may {doing} it. Nothing changed."
        )


def _name(user: User) -> str:
    return user.get_full_name() or user.username


def _conflict(follow_up_id: int) -> StaleFollowUp:
    """Who changed the item, and where it is now: its status and whose it is (an admin may have
    given it to a colleague, whose name is then what the refused person needs)."""
    current = FollowUp.objects.select_related("updated_by", "assignee").get(pk=follow_up_id)
    who = _name(current.updated_by) if current.updated_by else "the nightly run"
    whose = f"assigned to {_name(current.assignee)}" if current.assignee else "in the team queue"
    return StaleFollowUp(
        f"This item was changed by {who} meanwhile (it is now {current.get_status_display()} and {whose})"
        " — reload and try again."
    )


def _note_line(*, user: User, now: dt.datetime, text: str) -> str:
    return f"{now:%Y-%m-%d %H:%M} {user.username}: {text.strip()}\n" if text.strip() else ""


def _apply(*, follow_up_id: int, version: int, expected: dict, changes: dict) -> None:
    """The conditional UPDATE: only if nobody changed the item since the form was shown."""
    rows = FollowUp.objects.filter(pk=follow_up_id, version=version, **expected).update(
        version=F("version") + 1, **changes
    )
    if rows != 1:
        raise _conflict(follow_up_id)


def _load(follow_up_id: int, version: int) -> FollowUp:
    item = FollowUp.objects.get(pk=follow_up_id)
    if item.version != version:
        raise _conflict(follow_up_id)
    return item


def change_follow_up_status(
    *,
    follow_up_id: int,
    user: User,
    version: int,
    to_status: str,
    note: str = "",
    cause_category: str = "",
    cause_product=None,
    cause_text: str = "",
    dismiss_reason: str = "",
    dismiss_text: str = "",
) -> FollowUp:
    item = _load(follow_up_id, version)
    _require_may_change(item, user, doing="close" if to_status not in policy.ACTIVE_STATUSES else "change")
    if not policy.can_move(item.status, to_status):
        allowed = ", ".join(FollowUp.Status(s).label for s in item.next_statuses) or "none (the item is closed)"
        target = FollowUp.Status(to_status).label if to_status in FollowUp.Status.values else repr(to_status)
        raise FollowUpError(f"Cannot move an item from {item.get_status_display()} to {target}. Allowed: {allowed}.")
    now = timezone.now()
    changes = {
        "status": to_status,
        "updated_by": user,
        "updated_at": now,
        "notes": item.notes + _note_line(user=user, now=now, text=note),
    }
    if to_status == policy.LOST:
        if not cause_category:
            raise FollowUpError("Closing as lost needs a cause category.")
        changes |= {"cause_category": cause_category, "cause_product": cause_product, "cause_text": cause_text.strip()}
    if to_status == policy.DISMISSED:
        changes |= _dismissal(item, user=user, now=now, note=note, reason=dismiss_reason, text=dismiss_text)
    if to_status not in policy.ACTIVE_STATUSES:
        changes["closed_at"] = now
    _apply(follow_up_id=follow_up_id, version=version, expected={"status": item.status}, changes=changes)
    if to_status not in policy.ACTIVE_STATUSES:
        follow_up_closed.send(sender=FollowUp, closed=FollowUpClosed(follow_up_id=follow_up_id, status=to_status))
    return FollowUp.objects.get(pk=follow_up_id)


def _dismissal(item: FollowUp, *, user: User, now: dt.datetime, note: str, reason: str, text: str) -> dict:
    """The reason recorded with a dismissal, also written into the notes so the history reads it."""
    if reason not in FollowUp.DismissReason.values:
        raise FollowUpError("Dismissing needs a reason: choose one from the list. Nothing changed.")
    if reason == FollowUp.DismissReason.OTHER and not text.strip():
        raise FollowUpError("Dismissing for “other” needs a few words saying why. Nothing changed.")
    label = FollowUp.DismissReason(reason).label
    line = f"dismissed: {label}" + (f" — {text.strip()}" if text.strip() else "")
    notes = item.notes + _note_line(user=user, now=now, text=note) + _note_line(user=user, now=now, text=line)
    return {"dismiss_reason": reason, "dismiss_text": text.strip(), "notes": notes}


def claim_follow_up(*, follow_up_id: int, user: User, version: int) -> FollowUp:
    item = _load(follow_up_id, version)
    _require_may_change(item, user, doing="claim")
    if item.assignee_id == user.pk:
        raise FollowUpError("This item is already yours.")
    if item.assignee_id is not None:
        raise FollowUpError(f"Already assigned to {item.assignee.username}; ask them or reassign it.")
    _require_active(item)
    _apply(
        follow_up_id=follow_up_id,
        version=version,
        expected={"assignee__isnull": True},
        changes={"assignee": user, "updated_by": user, "updated_at": timezone.now()},
    )
    return FollowUp.objects.get(pk=follow_up_id)


def reassign_follow_up(*, follow_up_id: int, user: User, version: int, to_user: User) -> FollowUp:
    item = _load(follow_up_id, version)
    _require_may_change(item, user, doing="reassign")
    _require_active(item)
    if not to_user.groups.filter(name=ACCOUNT_MANAGER).exists():
        raise FollowUpError(f"{to_user.username} is not an account manager.")
    now = timezone.now()
    _apply(
        follow_up_id=follow_up_id,
        version=version,
        expected={},
        changes={
            "assignee": to_user,
            "updated_by": user,
            "updated_at": now,
            "notes": item.notes + _note_line(user=user, now=now, text=f"reassigned to {to_user.username}"),
        },
    )
    return FollowUp.objects.get(pk=follow_up_id)


def _require_active(item: FollowUp) -> None:
    if not item.is_active:
        raise FollowUpError(f"This item is closed ({item.get_status_display()}); it can no longer be assigned.")


def set_follow_up_trigger(*, trigger: str, thresholds: dict[int, float | None]) -> None:
    """The admin's choice of what opens a follow-up, and each acting tier's risk threshold: all or
    nothing (ValidationError), each policy's history kept (simple_history)."""
    with transaction.atomic():
        policies = {p.tier: p for p in FollowUpPolicy.in_force()}
        for tier, threshold in thresholds.items():
            follow_up_policy = policies[tier]
            if follow_up_policy.risk_threshold != threshold:
                follow_up_policy.risk_threshold = threshold
                follow_up_policy.clean_fields()  # the range; the trigger is checked below, once all are saved
                follow_up_policy.save()
        churn_policy = ChurnPolicy.current()
        churn_policy.follow_up_trigger = trigger
        churn_policy.full_clean()  # on churn risk: every acting tier has its threshold
        churn_policy.save()


@dataclass
class BulkResult:
    done: list[FollowUp] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (customer name or item id, why)


def bulk_change(*, user: User, items: dict[int, int], action: str, **kwargs) -> BulkResult:
    """One action on many items, in one transaction: each item checked as if changed alone (whose it
    is, its status, the version it was shown at); the allowed ones change together, each refusal is
    named. A failure other than a refusal rolls every change back."""
    change = _BULK_ACTIONS[action]
    result = BulkResult()
    with transaction.atomic():
        # locked in id order, so two people's overlapping selections wait for each other, never deadlock
        found = FollowUp.objects.select_for_update(of=("self",)).select_related("customer").order_by("id")
        names = {f.pk: f.customer.name for f in found.filter(pk__in=items)}
        for follow_up_id, version in sorted(items.items()):
            if follow_up_id not in names:
                result.refused.append((f"item {follow_up_id}", "it no longer exists"))
                continue
            try:
                result.done.append(change(follow_up_id=follow_up_id, user=user, version=version, **kwargs))
            except FollowUpError as refusal:
                result.refused.append((names[follow_up_id], str(refusal).removesuffix(" Nothing changed.")))
    return result


def _bulk_close(*, follow_up_id: int, user: User, version: int, close_to: str, **kwargs) -> FollowUp:
    return change_follow_up_status(follow_up_id=follow_up_id, user=user, version=version, to_status=close_to, **kwargs)


_BULK_ACTIONS = {
    "claim": claim_follow_up,
    "assign": lambda *, to_user, **kwargs: reassign_follow_up(to_user=to_user, **kwargs),
    "close": _bulk_close,
}
