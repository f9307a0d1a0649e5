"""What the churn risk stores: the fitted models, and each customer's risk, drivers and lifecycle stage.

Imported by `churn.models`; docs/churn-risk.md says how they are computed.
"""

from django.db import models

from .lifecycle import STAGES


class RiskModel(models.Model):
    """One fitted churn-risk model: when and on what it was trained, how well it ranked a later
    period it never saw, and the estimator itself (joblib, in the row)."""

    trained_at = models.DateTimeField(auto_now_add=True)
    as_of = models.DateField(help_text="The date it scores as of; every training label ends on or before it.")
    horizon_days = models.PositiveIntegerField(help_text="H: the risk is P(no purchase in the next H days).")
    train_horizon_days = models.PositiveIntegerField(
        help_text="The label window it was trained on: H, or shorter when the history is too short for H."
    )
    kind = models.CharField(max_length=32, help_text="logistic or gradient_boosting: whichever won the hold-out.")
    features = models.JSONField(help_text="Feature names, in the estimator's column order.")
    weights = models.JSONField(help_text="Coefficients (logistic) or permutation importances (boosting).")
    cut_offs = models.JSONField(help_text="The training cut-off dates (ISO).")
    holdout = models.JSONField(help_text="Hold-out period, sizes and the ROC AUC of each candidate.")
    heldout_auc = models.FloatField(null=True)
    train_rows = models.PositiveIntegerField()
    train_positives = models.PositiveIntegerField()
    estimator = models.BinaryField(help_text="joblib dump of {'model': winner, 'explainer': logistic pipeline}.")

    class Meta:
        ordering = ["-trained_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} as of {self.as_of} (H={self.horizon_days}, AUC {self.heldout_auc})"


class Backtest(models.Model):
    """One run of the backtest (churn.backtest): the table the admin page shows."""

    ran_at = models.DateTimeField(auto_now_add=True)
    as_of = models.DateField()
    horizon_days = models.PositiveIntegerField()
    result = models.JSONField()

    class Meta:
        ordering = ["-ran_at", "-id"]


class CustomerRisk(models.Model):
    """A customer's churn risk as of the last scoring, its top drivers and lifecycle stage."""

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="churn_risk"
    )
    risk = models.FloatField(help_text="P(no purchase in the next H days), 0 to 1.")
    drivers = models.JSONField(default=list, help_text="[[feature, contribution to the log-odds], ...], largest first.")
    model = models.ForeignKey(RiskModel, null=True, on_delete=models.SET_NULL, related_name="+")
    as_of = models.DateField()
    horizon_days = models.PositiveIntegerField(default=90, help_text="H of the model that scored it.")
    stage = models.CharField(max_length=16, choices=STAGES, blank=True, help_text="Empty: never ordered.")

    @property
    def driver_rows(self) -> list[dict]:
        """The drivers as the customer page reads them: what, and how much it raises or lowers the risk."""
        from .features import LABELS

        return [
            {"label": LABELS.get(name, name), "effect": effect, "raises": effect > 0} for name, effect in self.drivers
        ]

    class Meta:
        indexes = [
            models.Index(fields=["-risk"], name="customerrisk_risk_idx"),
            models.Index(fields=["stage"], name="customerrisk_stage_idx"),
            # the API's keyset pages of one stage, in customer order
            models.Index(fields=["stage", "customer"], name="customerrisk_stage_cust_idx"),
        ]
