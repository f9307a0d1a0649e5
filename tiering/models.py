"""Tiers, the versioned rules that place customers in them, and what the nightly run wrote.

`CustomerMetrics` is the one table the pages read: each customer's latest metrics and tier,
indexed for the sorts and filters of the tier lists.
"""

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from .catalogue import OPERATOR_CHOICES, POPULATION_CHOICES
from .tiers import FALLBACK_LEVEL


class Tier(models.Model):
    level = models.PositiveSmallIntegerField(unique=True)
    name = models.CharField(max_length=50)
    description = models.TextField(blank=True)
    colour = models.CharField(max_length=7, default="#64748b", help_text="Hex colour, e.g. #2563eb.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["level"]

    def __str__(self) -> str:
        return f"{self.level} — {self.name}"


class FrozenRulesError(ValidationError):
    """A write to a rule set that has been in force (or to its groups and conditions)."""


def frozen_message(version, status_label: str) -> str:
    return (
        f"Rule set v{version} is {status_label} and cannot be changed: the runs that used it must keep meaning "
        f'what they said. Create a draft from it (admin: "Create draft from this"), edit the draft, and publish it.'
    )


class RuleSet(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published", "in force"
        RETIRED = "retired"

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(blank=True)
    grace_runs = models.PositiveSmallIntegerField(
        default=0, help_text="A customer drops a tier only after this many runs in a row below it (0: at once)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="published"), name="one_published_ruleset"
            ),
        ]
        permissions = [("publish_ruleset", "Can publish a rule set"), ("run_retier", "Can start a re-tier")]

    def __str__(self) -> str:
        return f"Rule set v{self.version} ({self.get_status_display()})"

    # Fields a save may not change once the set has been in force (the users may only be emptied,
    # as deleting a user does); status may only go from published to retired. The database refuses
    # the same (a trigger, migration 0013_published_rules_frozen).
    FROZEN_FIELDS = ("version", "notes", "grace_runs")

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            stored = RuleSet.objects.filter(pk=self.pk).first()
            if stored is not None and stored.status != self.Status.DRAFT and not self._allowed_change(stored):
                raise FrozenRulesError(frozen_message(stored.version, stored.get_status_display()))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        stored = RuleSet.objects.filter(pk=self.pk).first()
        if stored is not None and stored.status != self.Status.DRAFT:
            raise FrozenRulesError(frozen_message(stored.version, stored.get_status_display()))
        return super().delete(*args, **kwargs)

    def _allowed_change(self, stored: "RuleSet") -> bool:
        """Retiring a published set, or a save that changes nothing frozen."""
        retiring = (stored.status, self.status) == (self.Status.PUBLISHED, self.Status.RETIRED)
        if self.status != stored.status and not retiring:
            return False
        users = all(getattr(self, f) in (None, getattr(stored, f)) for f in ("created_by_id", "published_by_id"))
        return users and all(getattr(self, f) == getattr(stored, f) for f in self.FROZEN_FIELDS)


def _refuse_if_frozen(ruleset_ids, *, adding: bool = False) -> None:
    """Refuse a write to the groups or conditions of a rule set that has been in force. Adding
    one is refused only once a run has used the set (as the database does)."""
    frozen = RuleSet.objects.filter(pk__in=[i for i in ruleset_ids if i is not None]).exclude(
        status=RuleSet.Status.DRAFT
    )
    if adding:
        frozen = frozen.filter(runs__isnull=False)
    stored = frozen.first()
    if stored is not None:
        raise FrozenRulesError(frozen_message(stored.version, stored.get_status_display()))


class RuleGroup(models.Model):
    class Match(models.TextChoices):
        ALL = "all", "ALL of these hold"
        ANY = "any", "ANY of these holds"
        NONE = "none", "NONE of these holds"

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="groups")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        help_text="Empty for a tier's group; set for a group nested in another (it counts as one of its conditions).",
    )
    match = models.CharField(max_length=4, choices=Match.choices, default=Match.ALL)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-tier__level", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ruleset", "tier"], condition=models.Q(parent__isnull=True), name="one_group_per_tier"
            )
        ]

    def __str__(self) -> str:
        nested = " (nested)" if self.parent_id else ""
        return f"Tier {self.tier.level}{nested}: {self.get_match_display()}"

    def save(self, *args, **kwargs):
        stored = RuleGroup.objects.filter(pk=self.pk).values_list("ruleset_id", flat=True).first()
        _refuse_if_frozen([stored, self.ruleset_id], adding=stored is None)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_if_frozen([self.ruleset_id])
        return super().delete(*args, **kwargs)

    def clean(self):
        if self.parent_id and not self.ruleset_id:  # added inside its parent: same rule set and tier
            self.ruleset_id, self.tier_id = self.parent.ruleset_id, self.parent.tier_id
        if self.parent_id and (self.parent.ruleset_id != self.ruleset_id or self.parent.tier_id != self.tier_id):
            raise ValidationError({"parent": "A nested group belongs to the same rule set and tier as its parent."})
        if self.tier_id and self.tier.level == FALLBACK_LEVEL:
            raise ValidationError(
                {"tier": f"Tier {FALLBACK_LEVEL} is the fallback for anyone no group places higher; it takes no group."}
            )


class Condition(models.Model):
    group = models.ForeignKey(RuleGroup, on_delete=models.CASCADE, related_name="conditions")
    metric = models.CharField(max_length=40)
    op = models.CharField(max_length=3, choices=OPERATOR_CHOICES)
    value = models.DecimalField(
        max_digits=14, decimal_places=4, help_text="The threshold; with a percentile, the floor that must also hold."
    )
    percentile = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Relative threshold: compare with this percentile (e.g. 98) of the population, resolved each run.",
    )
    population = models.CharField(
        max_length=16, choices=POPULATION_CHOICES, blank=True, help_text="Whom the percentile is taken over."
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Where the condition is listed in its group (the rules editor orders them)."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        from .rules import describe_condition

        return describe_condition(self.metric, self.op, self.value, self.percentile, self.population)

    def save(self, *args, **kwargs):
        stored = Condition.objects.filter(pk=self.pk).values_list("group__ruleset_id", flat=True).first()
        current = RuleGroup.objects.filter(pk=self.group_id).values_list("ruleset_id", flat=True).first()
        _refuse_if_frozen([stored, current], adding=stored is None)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_if_frozen(RuleGroup.objects.filter(pk=self.group_id).values_list("ruleset_id", flat=True))
        return super().delete(*args, **kwargs)

    def clean(self):
        from .rule_checks import validate_condition

        # A missing value or an unknown comparison is already reported by its field.
        if self.value is not None and self.op in dict(OPERATOR_CHOICES):
            validate_condition(self.metric, self.op, self.value, self.percentile, self.population)


class RetierRunQuerySet(models.QuerySet):
    def in_force(self) -> "models.QuerySet[RetierRun]":
        """The run whose results CustomerMetrics holds first: real runs that succeeded, newest
        first (`.first()` is the run in force; tiering.metrics.CURRENT_AS_OF_SQL says it in SQL)."""
        return self.filter(status=RetierRun.Status.SUCCEEDED, dry_run=False).order_by("-started_at", "-id")


class RetierRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped", "skipped (another run was going)"
        INTERRUPTED = "interrupted"  # its process died: nothing it did was applied (tiering.runs)

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    as_of = models.DateField()
    dry_run = models.BooleanField(default=False)
    ruleset = models.ForeignKey(RuleSet, null=True, on_delete=models.PROTECT, related_name="runs")
    triggered_by = models.CharField(max_length=100, blank=True, help_text="nightly, a username, or the command line.")
    counts = models.JSONField(default=dict, blank=True, help_text="Customers per tier level after the run.")
    matrix = models.JSONField(default=dict, blank=True, help_text='Movements as {"from->to": count}.')
    moved = models.PositiveIntegerField(default=0)
    progress = models.JSONField(default=dict, blank=True)
    cuts = models.JSONField(
        default=list, blank=True, help_text="Each relative threshold as resolved by the run (tiering.cuts.cuts_json)."
    )
    error = models.TextField(blank=True)
    note = models.TextField(blank=True, help_text="What a succeeded run did not do, e.g. changed nothing.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Written every few seconds by the running process (tiering.runs)."
    )
    task_id = models.CharField(max_length=255, blank=True, db_index=True, help_text="The Celery task that ran it.")

    objects = RetierRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Run {self.pk} as of {self.as_of} ({self.status})"

    @property
    def duration(self):
        """Time from start to finish (None while running)."""
        return self.finished_at - self.started_at if self.finished_at else None

    @property
    def duration_text(self) -> str:
        if self.duration is None:
            return ""
        seconds = self.duration.total_seconds()
        if seconds < 10:
            return f"{seconds:.2f} s"
        return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"

    @property
    def progress_text(self) -> str:
        """E.g. "computing metrics 3/8 ranges"."""
        p = self.progress or {}
        if not p.get("step"):
            return "starting"
        if p["step"] == "computing metrics":
            return f"computing metrics {p.get('done', 0)}/{p.get('total', 0)} ranges"
        return p["step"]


class TaskDelivery(models.Model):
    """How many times the broker handed a re-tier task to a worker: a task that kills its worker
    is delivered again (acks_late), and is given up after settings.RETIER_MAX_DELIVERIES."""

    task_id = models.CharField(max_length=255, primary_key=True)
    deliveries = models.PositiveIntegerField(default=0)
    last_delivered_at = models.DateTimeField(auto_now=True)


class CustomerMetricsQuerySet(models.QuerySet):
    def with_day_counts(self, as_of: dt.date | None = None) -> "models.QuerySet[CustomerMetrics]":
        """Rows whose day counts count to `as_of` (default: the as-of date of the run in force,
        read in the same query)."""
        if as_of is None:
            counted_to = models.Subquery(RetierRun.objects.in_force().values("as_of")[:1])
        else:
            counted_to = models.Value(as_of, output_field=models.DateField())
        return self.annotate(counted_to=counted_to)


class CustomerMetrics(models.Model):
    """A customer's metrics as of the last run, and the tier they hold.

    `changed_as_of` is the as-of date of the last run that changed the row: a nightly run
    rewrites only the rows whose stored values changed. The two day counts that grow every day for
    everyone (`tenure_days`, `days_since_last_order`) are therefore not stored; they are derived
    from the stored dates (`tenure_start`, `last_order_at`) and the as-of date of the run in force:
    read rows through `CustomerMetrics.objects.with_day_counts()` (in SQL:
    tiering.metrics.metric_sql). A row read otherwise counts to its own changed_as_of.
    """

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="metrics"
    )
    changed_as_of = models.DateField(help_text="The as-of date of the last run that changed this row.")
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    compensation = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    net_margin = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    orders = models.PositiveIntegerField(default=0)
    active_months = models.PositiveSmallIntegerField(default=0)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    tenure_start = models.DateField(
        null=True, blank=True, help_text="The earlier of sign-up and the first order's day."
    )
    median_gap_days = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    categories = models.PositiveSmallIntegerField(default=0)
    new_products = models.PositiveSmallIntegerField(default=0)
    complaints = models.PositiveIntegerField(default=0)
    rejected_complaints = models.PositiveIntegerField(default=0)
    compensation_share = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    lifetime_revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0, db_default=0)
    lifetime_net_margin = models.DecimalField(max_digits=14, decimal_places=2, default=0, db_default=0)
    lifetime_orders = models.PositiveIntegerField(default=0, db_default=0)
    prior_revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0, db_default=0)
    revenue_growth = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    next_change_on = models.DateField(
        null=True,
        blank=True,
        help_text="The first as-of date on which these metrics change with no new data (a line or ticket leaving "
        "the window, one dated later entering it, a product ceasing to be new); empty: never.",
    )
    tier = models.PositiveSmallIntegerField(default=1, help_text="Level of the tier held.")
    tier_since = models.DateTimeField(null=True, blank=True)
    below_runs = models.PositiveSmallIntegerField(
        default=0, help_text="Runs in a row the rules placed this customer below their tier."
    )

    class Meta:
        indexes = [
            models.Index(fields=["tier", "net_margin", "customer"], name="metrics_tier_margin_idx"),
            models.Index(fields=["tier", "revenue", "customer"], name="metrics_tier_revenue_idx"),
            models.Index(fields=["net_margin", "customer"], name="metrics_margin_idx"),
            models.Index(fields=["last_order_at"], name="metrics_last_order_idx"),
            # the customers in grace (tiering.retier.apply); partial, so rows not in grace cost nothing
            models.Index(fields=["below_runs"], condition=models.Q(below_runs__gt=0), name="metrics_in_grace_idx"),
            # No index on next_change_on, tenure_start or lifetime_net_margin: only the nightly run
            # reads them, and one scan of this table there costs fewer pages than keeping an index
            # for each on every row the run rewrites (migration 0022, docs/retier.md).
            # the API's keyset pages: one tier, or the records changed since a date, in customer order
            models.Index(fields=["tier", "customer"], name="metrics_tier_customer_idx"),
            models.Index(fields=["changed_as_of", "customer"], name="metrics_changed_customer_idx"),
        ]

    objects = CustomerMetricsQuerySet.as_manager()

    counted_to = None  # the date the day counts count to: set by with_day_counts()

    @property
    def days_as_of(self):
        """The date the day counts count to: the run in force's as-of (with_day_counts()), else the row's own."""
        return self.counted_to or self.changed_as_of

    @property
    def tenure_days(self) -> int:
        """Days from tenure_start to the as-of date (0 with no start, never negative)."""
        if self.tenure_start is None or self.days_as_of is None:
            return 0
        return max(0, (self.days_as_of - self.tenure_start).days)

    @property
    def days_since_last_order(self) -> int | None:
        """Days from the last order's (UTC) day to the as-of date; None with no order."""
        if self.last_order_at is None or self.days_as_of is None:
            return None
        return (self.days_as_of - self.last_order_at.astimezone(dt.UTC).date()).days


class TierCount(models.Model):
    """Customers holding each tier and the sums of their revenue and net margin, kept exactly by a
    trigger on CustomerMetrics (PostgreSQL, migrations 0010 and 0026) whatever writes it: the run
    reads its counts and copies its RunTierTotal rows from here instead of reading a million rows.
    A tier nobody holds may keep a row with zero customers."""

    tier = models.PositiveSmallIntegerField(primary_key=True)
    customers = models.BigIntegerField(default=0)
    revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0, db_default=0)
    net_margin = models.DecimalField(max_digits=18, decimal_places=2, default=0, db_default=0)


class TierChange(models.Model):
    """One customer moving between tiers, and why: written by a re-tier run (`run`), or replayed
    at a month end over the loaded history by a backfill (`backfilled`, no run; changed_at is the
    end of the month's last day: docs/backfill.md)."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="tier_changes", db_index=False
    )
    run = models.ForeignKey(
        RetierRun,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="changes",
        help_text="Empty: backfilled.",
    )
    from_tier = models.PositiveSmallIntegerField(null=True, help_text="Empty for a customer's first tier.")
    to_tier = models.PositiveSmallIntegerField()
    changed_at = models.DateTimeField()
    why = models.JSONField(default=dict, help_text="The conditions that held and failed, with the values.")
    backfilled = models.BooleanField(
        default=False, db_default=False, help_text="Replayed over the loaded history at a month end, not a nightly run."
    )

    @property
    def replayed_as_of(self) -> dt.date | None:
        """The month end a backfilled change was replayed at (its changed_at is that day's end)."""
        if not self.backfilled:
            return None
        return (self.changed_at.astimezone(dt.UTC) - dt.timedelta(microseconds=1)).date()

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-changed_at"], name="tierchange_customer_idx"),
            # the trends read the history of months no run totals cover (dashboard.trends), by date
            models.Index(fields=["changed_at"], include=["from_tier", "to_tier"], name="tierchange_changed_at_idx"),
        ]


class MetricsStage(models.Model):
    """Scratch rows of one run: metrics computed per range of customers, waiting for the atomic apply.

    Ranges may be computed by several workers; the apply step reads them all in one transaction and
    then empties the table. Only one run at a time uses it (single-flight), so a run may clear rows
    that a dead run left behind. Unlogged on PostgreSQL: it needs no crash safety.
    """

    # Plain ids, no foreign keys: no per-row constraint checks, and TRUNCATE stays possible inside
    # the run's transaction (deferred FK checks would block it).
    run_id = models.BigIntegerField()
    customer_id = models.BigIntegerField()
    as_of = models.DateField()
    revenue = models.DecimalField(max_digits=14, decimal_places=2)
    cost = models.DecimalField(max_digits=14, decimal_places=2)
    compensation = models.DecimalField(max_digits=14, decimal_places=2)
    net_margin = models.DecimalField(max_digits=14, decimal_places=2)
    orders = models.IntegerField()
    active_months = models.IntegerField()
    first_order_at = models.DateTimeField(null=True)
    last_order_at = models.DateTimeField(null=True)
    tenure_days = models.IntegerField()
    days_since_last_order = models.IntegerField(null=True)
    tenure_start = models.DateField(null=True)
    median_gap_days = models.DecimalField(max_digits=8, decimal_places=1, null=True)
    categories = models.IntegerField()
    new_products = models.IntegerField()
    complaints = models.IntegerField()
    rejected_complaints = models.IntegerField()
    compensation_share = models.DecimalField(max_digits=10, decimal_places=4)
    lifetime_revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0, db_default=0)
    lifetime_net_margin = models.DecimalField(max_digits=14, decimal_places=2, default=0, db_default=0)
    lifetime_orders = models.IntegerField(default=0, db_default=0)
    prior_revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0, db_default=0)
    revenue_growth = models.DecimalField(max_digits=10, decimal_places=4, null=True)
    next_change_on = models.DateField(null=True)


class RunTierTotal(models.Model):
    """Each tier's size, revenue and net margin right after a real run applied its tiers: one row
    per run and tier, written in the run's transaction (tiering.summary). The trends read these
    few rows instead of aggregating a million metrics rows per month shown."""

    run = models.ForeignKey(RetierRun, on_delete=models.CASCADE, related_name="tier_totals")
    tier = models.PositiveSmallIntegerField()
    customers = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=18, decimal_places=2)
    net_margin = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "tier"], name="one_total_per_run_and_tier")]

    def __str__(self) -> str:
        return f"Run {self.run_id}, tier {self.tier}: {self.customers} customers"


class RunCalibration(models.Model):
    """What tiering.calibration measured over the stored metrics a run left: each metric's spread
    and histogram, and each condition's passing counts, so the rule page reads them instead of
    scanning a million rows in its request. Written after the run commits for the rules in force
    and every metric of the catalogue; a condition or metric measured later (a draft's new
    threshold) is merged in. Valid while its run is in force: nothing else writes the metrics."""

    run = models.OneToOneField(RetierRun, primary_key=True, on_delete=models.CASCADE, related_name="calibration")
    total = models.PositiveIntegerField(help_text="Customers with stored metrics.")
    metrics = models.JSONField(default=dict, help_text="{metric: spread, scale, edges, counts per bucket}.")
    conditions = models.JSONField(
        default=dict, help_text='{"metric op threshold population": [passing, eligible, passing eligible]}.'
    )
    computed_at = models.DateTimeField(auto_now_add=True)


class TierBackfill(models.Model):
    """One replay of the tiers at month ends over the loaded history (tiering.retier.backfill):
    its progress while it runs, and what it wrote. Its TierChange rows are marked backfilled."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped", "skipped (a re-tier or another backfill was going)"
        INTERRUPTED = "interrupted"  # its process died: the previous backfilled history stands

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    ruleset = models.ForeignKey(RuleSet, null=True, on_delete=models.PROTECT, related_name="backfills")
    triggered_by = models.CharField(max_length=100, blank=True)
    months = models.PositiveSmallIntegerField(default=0, help_text="Month ends replayed.")
    first_as_of = models.DateField(null=True, blank=True)
    last_as_of = models.DateField(null=True, blank=True)
    entries = models.PositiveIntegerField(default=0, help_text="Backfilled tier changes written.")
    replaced = models.PositiveIntegerField(default=0, help_text="Backfilled tier changes of earlier backfills removed.")
    progress = models.JSONField(default=dict, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Backfill {self.pk} ({self.status})"

    @property
    def progress_text(self) -> str:
        p = self.progress or {}
        if not p.get("step"):
            return "starting"
        if p.get("total"):
            return f"{p['step']} ({p.get('done', 0)} of {p['total']} month ends done)"
        return p["step"]


class BackfillTierTotal(models.Model):
    """Each tier's size, revenue and net margin at one month end a backfill replayed: one row per
    month end and tier, written with its history entries and replaced with them (tiering.retier.
    backfill). Not a RunTierTotal: no run happened, and the month end is not a run's as-of date.
    The trends read these rows for the months no real run covers."""

    backfill = models.ForeignKey(TierBackfill, on_delete=models.CASCADE, related_name="tier_totals")
    as_of = models.DateField(help_text="The month end replayed.")
    tier = models.PositiveSmallIntegerField()
    customers = models.BigIntegerField()
    revenue = models.DecimalField(max_digits=18, decimal_places=2)
    net_margin = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["backfill", "as_of", "tier"], name="one_total_per_month_end_and_tier")
        ]

    def __str__(self) -> str:
        return f"Backfill {self.backfill_id}, {self.as_of}, tier {self.tier}: {self.customers} customers"
