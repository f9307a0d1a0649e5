"""Promotions marketing builds, and the log of every export of their targets."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from churn.lifecycle import STAGES as LIFECYCLE_STAGES

from .filters import DEFAULT_TIERS, TIER_LEVELS, TargetFilters, describe


def default_tiers() -> list[int]:
    return list(DEFAULT_TIERS)


class Promotion(models.Model):
    name = models.CharField(max_length=200)
    starts_on = models.DateField()
    ends_on = models.DateField()
    tiers = models.JSONField(
        default=default_tiers, help_text="Tier levels targeted; 2 and 3 unless tier 1 is asked for."
    )
    active_within_days = models.PositiveIntegerField(null=True, blank=True, help_text="Ordered within this many days.")
    lapsed_over_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="No order for more than this many days."
    )
    bought_category = models.CharField(max_length=100, blank=True)
    not_bought_category = models.CharField(max_length=100, blank=True)
    bought_product = models.ForeignKey(
        "customers.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    not_bought_product = models.ForeignKey(
        "customers.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    exclude_open_complaint = models.BooleanField(
        default=False, help_text="Leave out customers with a pending complaint."
    )
    exclude_open_follow_up = models.BooleanField(
        default=False, help_text="Leave out customers with an open churn follow-up."
    )
    lifecycle_stage = models.CharField(
        max_length=16,
        blank=True,
        choices=LIFECYCLE_STAGES,
        help_text="Only customers in this lifecycle stage (e.g. new: a second-purchase campaign).",
    )
    include_lost = models.BooleanField(
        default=False,
        help_text="Also target customers who are lost (lifecycle stage lost, or closed as lost on the churn queue).",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        permissions = [("export_targets", "Can export promotion targets")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            errors["ends_on"] = "The period ends before it starts."
        if (
            not isinstance(self.tiers, list)
            or not self.tiers
            or any(type(t) is not int or t not in TIER_LEVELS for t in self.tiers)
        ):
            errors["tiers"] = "Tiers are a list of levels 1, 2 or 3, e.g. [2, 3]."
        if self.lifecycle_stage == "lost" and not self.include_lost:
            errors["include_lost"] = (
                "Lost customers are left out unless you include them: tick this to target the lost stage."
            )
        if errors:
            raise ValidationError(errors)

    def target_filters(self) -> TargetFilters:
        return TargetFilters(
            tiers=tuple(sorted(self.tiers)),
            active_within_days=self.active_within_days,
            lapsed_over_days=self.lapsed_over_days,
            bought_category=self.bought_category,
            not_bought_category=self.not_bought_category,
            bought_product_id=self.bought_product_id,
            not_bought_product_id=self.not_bought_product_id,
            account_manager_id=self.account_manager_id,
            exclude_open_complaint=self.exclude_open_complaint,
            exclude_open_follow_up=self.exclude_open_follow_up,
            lifecycle_stage=self.lifecycle_stage,
            include_lost=self.include_lost,
        )


class ExportLog(models.Model):
    """One export of promotion targets: tiers are confidential, so who took which list is kept."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        EXCEL = "csv-excel", "CSV for Excel (BOM)"

    class Source(models.TextChoices):
        WEB = "web", "web page"
        COMMAND = "command", "command line"
        API = "api", "API token"

    created_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=200, help_text='The username, or "command line (os user)".')
    source = models.CharField(max_length=16, choices=Source.choices)
    promotion = models.ForeignKey(Promotion, null=True, blank=True, on_delete=models.SET_NULL, related_name="exports")
    filters = models.JSONField(default=dict)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.CSV)
    row_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty while running, or if it was interrupted."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Export {self.pk} by {self.actor}"

    def filters_text(self) -> str:
        return describe(self.filters)
