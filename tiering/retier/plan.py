"""The plan of one re-tier run: a frozen value built once, at the start, that every stage reads.

Building it fixes what the run will do: the rules (read once; the run applies exactly the version
it records), the dates, and who is recomputed (it takes the change marks, so marks written later
wait for the next run).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db import connection

from customers import changes

from .. import sql
from ..catalogue import POPULATIONS
from ..cuts import Key, cuts_from_json, relative_keys, resolve_cuts
from ..metrics import metric_sql
from ..models import RetierRun, RuleSet
from ..rules import Cut, Rules, rules_from_ruleset

# Which customers' metrics a run computes.
ALL = "all"  # everyone
CHANGED = "changed"  # only those whose metrics can differ from the stored ones


class RetierError(Exception):
    """A run that cannot start (no published rule set); the message says what to do."""


def failure_text(exc: BaseException) -> str:
    """What a failed run or backfill records: a RetierError's own words, else the exception's class too."""
    message = str(exc) or exc.__class__.__name__
    return message if isinstance(exc, RetierError) else f"{exc.__class__.__name__}: {message}"


@dataclass(frozen=True)
class LastRun:
    """The run whose results the metrics hold when this one starts (the run in force)."""

    as_of: dt.date
    ruleset_id: int | None
    cuts: dict[Key, Cut] = field(default_factory=dict)  # its relative thresholds as resolved


@dataclass(frozen=True)
class Plan:
    run_id: int
    started_at: dt.datetime
    as_of: dt.date
    dry_run: bool
    ruleset_id: int
    rules: Rules  # the snapshot this run applies
    mode: str  # ALL or CHANGED
    last: LastRun | None

    @property
    def same_rules_as_last(self) -> bool:
        """Whether the last run tiered with these rules, on a date not after this one."""
        return self.last is not None and self.last.ruleset_id == self.ruleset_id and self.last.as_of <= self.as_of


def build_plan(run: RetierRun, ruleset: RuleSet | None) -> Plan:
    """The run's plan. Raises RetierError when the rule set cannot run."""
    ruleset = _checked(ruleset, dry_run=run.dry_run)
    rules = rules_from_ruleset(ruleset)
    if not run.dry_run:
        with connection.cursor() as cursor:
            changes.take(cursor, run_id=run.pk)  # before any metric is read: later marks stay for the next run
    in_force = RetierRun.objects.in_force().exclude(pk=run.pk).values_list("as_of", "ruleset_id", "cuts").first()
    last = LastRun(in_force[0], in_force[1], cuts_from_json(in_force[2] or [])) if in_force else None
    return Plan(
        run_id=run.pk,
        started_at=run.started_at,
        as_of=run.as_of,
        dry_run=run.dry_run,
        ruleset_id=ruleset.pk,
        rules=rules,
        mode=_mode(run, last),
        last=last,
    )


def _checked(ruleset: RuleSet | None, *, dry_run: bool) -> RuleSet:
    if ruleset is None:
        raise RetierError("No published rule set: publish one in the admin before re-tiering.")
    in_force = RuleSet.objects.filter(pk=ruleset.pk, status=RuleSet.Status.PUBLISHED).exists()  # as stored now
    if not dry_run and not in_force:
        raise RetierError(
            f"Rule set v{ruleset.version} is not the one in force: try it with a dry run, or publish it first."
        )
    return ruleset


def _mode(run: RetierRun, last: LastRun | None) -> str:
    """CHANGED when the stored metrics are those of the last real run and every change since is
    known: the database marks changed source data (customers.changes), and each stored row says
    when it changes with the date alone (next_change_on). Else ALL: on a first run, a run dated
    before the last one, after an "everyone" mark (a catalogue edit, a bulk load), or with
    RETIER_INCREMENTAL off."""
    if not settings.RETIER_INCREMENTAL or last is None or run.as_of < last.as_of:
        return ALL
    with connection.cursor() as cursor:
        if changes.everyone_marked(cursor, run_id=None if run.dry_run else run.pk):
            return ALL
    return CHANGED


def with_cuts_resolved(plan: Plan) -> Plan:
    """The plan with its rules' relative thresholds resolved (tiering.cuts), in one statement over
    the metrics this run applies: the stage, and in CHANGED mode the stored metrics of everyone
    not recomputed (day counts counted to this as_of). Call once the stage is complete; the plan
    is unchanged, and nothing read, when the rules have no relative condition."""
    keys = relative_keys(plan.rules)
    if not keys:
        return plan
    needed = sorted({m for m, _, _ in keys} | {m for _, p, _ in keys for m, _, _ in POPULATIONS[p].where})
    staged = sql.join(", ", (sql.column("s", m) for m in needed))
    source = sql.compose("(SELECT {staged} FROM tiering_metricsstage s WHERE s.run_id = %s", staged=staged)
    params: list = [plan.run_id]
    if plan.mode == CHANGED:
        as_of = sql.literal(plan.as_of)
        stored = sql.join(
            ", ", (sql.compose("{v} AS {n}", v=metric_sql(m, alias="m", as_of=as_of), n=sql.name(m)) for m in needed)
        )
        source = sql.compose(
            "{source} UNION ALL SELECT {stored} FROM tiering_customermetrics m WHERE NOT EXISTS"
            " (SELECT 1 FROM tiering_metricsstage s WHERE s.run_id = %s AND s.customer_id = m.customer_id)",
            source=source,
            stored=stored,
        )
        params.append(plan.run_id)
    source = sql.compose("{source}) x", source=source)
    with connection.cursor() as cursor:
        rules = resolve_cuts(
            cursor, plan.rules, source=source, source_params=params, column=lambda m: sql.column("x", m)
        )
    return replace(plan, rules=rules)
