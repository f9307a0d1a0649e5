"""Churn: the policy that says when a customer has lapsed, what each tier's lapse triggers, and
the follow-up items account managers work.

A `Lapse` is one customer going quiet after one last order (unique per customer and last order,
so detecting it again never duplicates it). A `FollowUp` is the work item it triggers; at most
one is open per customer at a time.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from . import policy


class ChurnPolicy(models.Model):
    """The one policy in force (row id 1), edited in the admin. See docs/churn.md."""

    min_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1)],
        help_text="A customer is never lapsed before this many days without an order.",
    )
    gap_multiple = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("2.50"),
        validators=[MinValueValidator(Decimal("1"))],
        help_text="Lapsed after this many times the customer's own median gap between orders, when that is longer.",
    )
    horizon_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(7)],
        help_text="Churn risk is the probability of no purchase in this many days.",
    )
    risk_threshold = models.FloatField(
        default=0.5,
        help_text="A customer counts as at risk from this churn risk (0 to 1); the backtest judges it.",
    )

    class Trigger(models.TextChoices):
        LAPSE = policy.TRIGGER_LAPSE, "the lapse rule: when a customer has lapsed (as before)"
        RISK = policy.TRIGGER_RISK, "churn risk: when a customer's risk reaches their tier's threshold"

    follow_up_trigger = models.CharField(
        max_length=8,
        choices=Trigger.choices,
        default=Trigger.LAPSE,
        db_default=Trigger.LAPSE,
        help_text="What opens a follow-up. With churn risk, each tier's follow-up policy needs a risk threshold "
        "(the backtest page suggests one per tier).",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "churn policy"
        verbose_name_plural = "churn policy"

    def __str__(self) -> str:
        return f"Lapsed after max({self.min_days} days, {self.gap_multiple} × median gap)"

    def clean(self) -> None:
        if not 0 < self.risk_threshold < 1:
            raise ValidationError({"risk_threshold": "A churn risk threshold is between 0 and 1 (both excluded)."})
        if self.follow_up_trigger == self.Trigger.RISK:
            missing = [
                str(p.tier)
                for p in FollowUpPolicy.in_force()
                if p.action != FollowUpPolicy.Action.NONE and p.risk_threshold is None
            ]
            if missing:
                raise ValidationError(
                    {
                        "follow_up_trigger": f"Set a risk threshold on the follow-up policy of tier {', '.join(missing)} "
                        "first (Follow-up policies; the backtest page suggests one per tier). Nothing was changed."
                    }
                )

    @classmethod
    def current(cls) -> "ChurnPolicy":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class Priority(models.TextChoices):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class FollowUpPolicy(models.Model):
    """What a lapse of a customer of this tier triggers."""

    class Action(models.TextChoices):
        INVESTIGATE = "investigate", "Investigate"
        WIN_BACK = "win_back", "Win back"
        NONE = "none", "No action"

    tier = models.PositiveSmallIntegerField(unique=True, help_text="Tier level (1, 2 or 3) held while still buying.")
    action = models.CharField(max_length=16, choices=Action.choices)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    due_days = models.PositiveSmallIntegerField(default=7, help_text="Days from detection until the item is due.")
    working_days = models.BooleanField(default=False, help_text="Count only Monday to Friday.")
    assign_to_account_manager = models.BooleanField(
        default=False, help_text="Assign to the customer's account manager; otherwise (or without one) the team queue."
    )
    risk_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.01), MaxValueValidator(0.99)],
        help_text="When follow-ups open on churn risk (Churn policy): open one when a customer of this tier reaches "
        "this risk (0.01 to 0.99). The backtest page suggests one from the last complete period.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-tier"]
        verbose_name_plural = "follow-up policies"

    def __str__(self) -> str:
        return f"Tier {self.tier}: {self.get_action_display()}"

    def clean(self) -> None:
        acts = self.action != self.Action.NONE
        if acts and self.risk_threshold is None and ChurnPolicy.current().follow_up_trigger == ChurnPolicy.Trigger.RISK:
            raise ValidationError(
                {"risk_threshold": "Follow-ups open on churn risk (Churn policy): this tier needs a risk threshold."}
            )

    @classmethod
    def in_force(cls) -> list["FollowUpPolicy"]:
        """The policies, the defaults filled in for any tier an admin has not set up."""
        policies = {p.tier: p for p in cls.objects.all()}
        missing = [
            cls(
                tier=tier,
                action=action,
                priority=priority,
                due_days=due_days,
                working_days=working_days,
                assign_to_account_manager=assign,
            )
            for tier, (action, priority, due_days, working_days, assign) in policy.DEFAULT_FOLLOW_UPS.items()
            if tier not in policies
        ]
        for created in cls.objects.bulk_create(missing):
            policies[created.tier] = created
        return [policies[tier] for tier in sorted(policies, reverse=True)]


class Release(models.Model):
    """A change the business released that customers may react to: a new method or process, a
    price or service change. New products need no entry: their launch dates come from the
    catalogue. The insights page lists both before each lost tier-3 customer's last order."""

    class Kind(models.TextChoices):
        METHOD_CHANGE = "method_change", "method or process change"
        PRICE = "price", "price change"
        SERVICE = "service", "service change"
        PRODUCT_CHANGE = "product_change", "product change"
        OTHER = "other", "other"

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    released_on = models.DateField(db_index=True)
    product = models.ForeignKey(
        "customers.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="releases"
    )
    description = models.TextField(blank=True)

    class Audience(models.TextChoices):
        EVERYONE = "everyone", "everyone"
        PRODUCT_BUYERS = "product_buyers", "buyers of the product"
        CATEGORY_BUYERS = "category_buyers", "buyers of a category"

    audience = models.CharField(
        max_length=16,
        choices=Audience.choices,
        default=Audience.EVERYONE,
        help_text="Whom it touched: everyone, or the customers who bought the product (or any product of the "
        "category) in the year before the release (docs/churn.md, suspects).",
    )
    category = models.CharField(
        max_length=100, blank=True, help_text="For buyers of a category: the catalogue's category, as spelled there."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-released_on", "id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.released_on:%Y-%m-%d})"

    def clean(self) -> None:
        if self.audience == self.Audience.PRODUCT_BUYERS and not self.product_id:
            raise ValidationError({"product": "Name the product whose buyers it touched."})
        if self.audience == self.Audience.CATEGORY_BUYERS and not self.category.strip():
            raise ValidationError({"category": "Name the category whose buyers it touched."})

    @property
    def audience_text(self) -> str:
        if self.audience == self.Audience.PRODUCT_BUYERS and self.product_id:
            return f"buyers of {self.product.sku} {self.product.name}"
        if self.audience == self.Audience.CATEGORY_BUYERS:
            return f"buyers of category {self.category}"
        return "everyone"


class Lapse(models.Model):
    """A customer found lapsed by a run, and the response their tier called for."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="lapses", db_index=False)
    detected_at = models.DateTimeField()
    detected_on = models.DateField(help_text="The run's as-of date.")
    run = models.ForeignKey(
        "tiering.RetierRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="lapses"
    )
    last_order_at = models.DateTimeField()
    tier_while_active = models.PositiveSmallIntegerField()
    response = models.CharField(max_length=40, help_text='"Investigate", "Win back" or "no action: tier 1".')
    returned_at = models.DateTimeField(null=True, blank=True, help_text="When a run saw the customer order again.")
    returned_on = models.DateField(
        null=True, blank=True, help_text="The as-of date of the run that saw the customer order again."
    )
    trigger = models.CharField(
        max_length=8,
        choices=[(policy.TRIGGER_LAPSE, "lapse rule"), (policy.TRIGGER_RISK, "churn risk")],
        default=policy.TRIGGER_LAPSE,
        db_default=policy.TRIGGER_LAPSE,
        help_text="What recorded it: the lapse rule, or the churn risk reaching the tier's threshold first.",
    )
    risk = models.FloatField(null=True, blank=True, help_text="The churn risk when the risk recorded it.")

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "last_order_at"], name="one_lapse_per_last_order"),
        ]
        indexes = [
            models.Index(
                fields=["customer"], condition=models.Q(returned_at__isnull=True), name="lapse_unreturned_idx"
            ),
            models.Index(fields=["detected_at"], name="lapse_detected_idx"),
            # lapses and win-backs per month (dashboard.trends), by the runs' as-of dates; only the
            # lapses that ended for the win-backs
            models.Index(fields=["detected_on"], name="lapse_detected_on_idx"),
            models.Index(
                fields=["returned_on"], condition=models.Q(returned_on__isnull=False), name="lapse_returned_on_idx"
            ),
        ]
        permissions = [("view_insights", "Can view churn insights")]

    def __str__(self) -> str:
        return f"{self.customer} lapsed after {self.last_order_at:%Y-%m-%d} (tier {self.tier_while_active})"


class FollowUp(models.Model):
    class Status(models.TextChoices):
        OPEN = policy.OPEN, "open"
        CONTACTED = policy.CONTACTED, "contacted"
        WON_BACK = policy.WON_BACK, "won back"
        LOST = policy.LOST, "lost"
        DISMISSED = policy.DISMISSED, "dismissed"
        RETURNED = policy.RETURNED, "returned"

    class Cause(models.TextChoices):
        NEW_PRODUCT = "new_product", "new product"
        PRODUCT_CHANGE = "product_change", "product change"
        PRICE = "price", "price"
        SERVICE = "service", "service"
        METHOD_CHANGE = "method_change", "method or process change"
        COMPETITOR = "competitor", "competitor"
        OTHER = "other", "other"

    class DismissReason(models.TextChoices):
        BUYING_AGAIN = "buying_again", "already buying again (elsewhere in the account)"
        EXPECTED_PAUSE = "expected_pause", "an expected pause (season, project, budget)"
        UNREACHABLE = "unreachable", "cannot be reached, or asked not to be contacted"
        NOT_A_CUSTOMER = "not_a_customer", "duplicate or test account, not a real customer"
        NOT_WORTH_IT = "not_worth_it", "not worth a follow-up"
        OTHER = "other", "other"

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="follow_ups")
    lapse = models.OneToOneField(Lapse, on_delete=models.CASCADE, related_name="follow_up")
    kind = models.CharField(max_length=16, choices=FollowUpPolicy.Action.choices)
    priority = models.CharField(max_length=8, choices=Priority.choices)
    tier = models.PositiveSmallIntegerField(help_text="The lapse's tier while active (copied for the queue's order).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
        help_text="Empty: the team queue.",
    )
    due_on = models.DateField()
    version = models.PositiveIntegerField(default=1, help_text="Raised by every change; a stale form is refused.")
    notes = models.TextField(blank=True)
    cause_category = models.CharField(max_length=16, choices=Cause.choices, blank=True)
    cause_product = models.ForeignKey(
        "customers.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="churn_causes"
    )
    cause_text = models.TextField(blank=True)
    dismiss_reason = models.CharField(max_length=16, choices=DismissReason.choices, blank=True, db_default="")
    dismiss_text = models.TextField(blank=True, db_default="")
    risk = models.FloatField(
        null=True, blank=True, help_text="The customer's churn risk, refreshed with every scoring."
    )
    value_at_risk = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Churn risk × 12-month net margin (never below 0), refreshed with every scoring (docs/churn.md).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-tier", "due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(status__in=policy.ACTIVE_STATUSES), name="one_open_follow_up"
            ),
        ]
        indexes = [
            models.Index(fields=["assignee", "status", "tier", "due_on"], name="followup_queue_idx"),
            # The team queue's order (tier, then due date) over the items still being worked.
            models.Index(
                models.F("tier").desc(),
                "due_on",
                "id",
                condition=models.Q(status__in=policy.ACTIVE_STATUSES),
                name="followup_active_order_idx",
            ),
            models.Index(fields=["status", "closed_at"], name="followup_closed_idx"),
            # The queues' default order, whole (churn.tables._ordered): value at risk, largest first,
            # then tier, due date, id, over the items still being worked. With the key's tail missing
            # the items not valued yet (every item, before a risk model) were all read and sorted:
            # 0.54 s for the team queue's first page at 1M, 7 ms with it.
            models.Index(
                models.F("value_at_risk").desc(nulls_last=True),
                models.F("tier").desc(),
                "due_on",
                "id",
                condition=models.Q(status__in=policy.ACTIVE_STATUSES),
                name="followup_value_order_idx",
            ),
        ]
        permissions = [
            ("work_followup", "Can work the churn follow-up queue"),
            ("lead_followup", "Can reassign, take over and close colleagues' follow-ups"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.customer} ({self.get_status_display()})"

    def is_colleagues(self, user) -> bool:
        """Assigned to someone other than `user`: only a team lead may change it (churn.services)."""
        return self.assignee_id is not None and self.assignee_id != user.pk

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return policy.TRANSITIONS.get(self.status, ())

    @property
    def is_active(self) -> bool:
        return self.status in policy.ACTIVE_STATUSES


class LapseWatch(models.Model):
    """The day each customer lapses if they order nothing more, under the policy the watch was
    built for (LapseWatchState). Nightly detection looks only at the customers whose day falls
    since the last detection, and at those whose metrics the run rewrote, instead of testing every
    customer. Written only by churn.services.detect_churn (PostgreSQL)."""

    customer_id = models.BigIntegerField(primary_key=True)  # no foreign key: rebuilt, never trusted alone
    lapses_on = models.DateField(null=True, help_text="Empty: no order, so never lapsed.")

    class Meta:
        indexes = [models.Index(fields=["lapses_on"], name="lapsewatch_lapses_on_idx")]


class LapseWatchState(models.Model):
    """One row: the policy the watch was built with, and the as-of date up to which every lapsed
    customer has been recorded. A policy edit, or a detection dated before it, rebuilds the watch;
    so does a lapse deleted or re-dated by hand (a trigger deletes this row, migration 0005)."""

    min_days = models.PositiveIntegerField()
    gap_multiple = models.DecimalField(max_digits=4, decimal_places=2)
    as_of = models.DateField()


class SuspectAnalysis(models.Model):
    """One run of the suspects analysis (churn.suspects): the ranked subjects and the top ones'
    curves, kept so the pages read one row instead of re-running it. Recomputed when missing for
    the as-of date and tiers asked, and forgotten when a release or a product changes."""

    as_of = models.DateField()
    tiers = models.CharField(max_length=16, help_text='Tier levels analysed, e.g. "3" or "2,3".')
    computed_at = models.DateTimeField(auto_now_add=True)
    seconds = models.FloatField(default=0, help_text="How long the analysis took.")
    rows = models.JSONField(default=list, help_text="The subjects, strongest first (churn.suspects.Suspect).")
    curves = models.JSONField(default=list, help_text="Share still buying over time for the top suspects.")

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["as_of", "tiers", "-computed_at"], name="suspects_lookup_idx")]
        verbose_name_plural = "suspect analyses"

    def __str__(self) -> str:
        return f"Suspects as of {self.as_of} (tiers {self.tiers})"


class DigestSent(models.Model):
    """One daily follow-up digest sent to one account manager (churn.digest). Unique per user and
    day, so a digest job that runs twice sends nothing twice; the last one's time is where the
    next one's "new" items begin."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_on = models.DateField()
    sent_at = models.DateTimeField()
    new_items = models.PositiveIntegerField(default=0)
    overdue_items = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "sent_on"], name="one_digest_per_user_and_day")]
        indexes = [models.Index(fields=["user", "-sent_at"], name="digest_user_sent_idx")]

    def __str__(self) -> str:
        return f"Digest to {self.user} on {self.sent_on}"


from .risk_models import Backtest, CustomerRisk, RiskModel  # noqa: E402, F401  (churn risk: docs/churn-risk.md)
