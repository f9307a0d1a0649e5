import datetime as dt

from django.core.management.base import BaseCommand

from churn import risk, services
from churn.models import ChurnPolicy
from churn.risk_models import RiskModel
from core.measure import phase


class Command(BaseCommand):
    help = "Score every customer's churn risk as of a date (training first when the model is due or --train)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="default: today")
        parser.add_argument("--train", action="store_true", help="train a new model even if the last one is recent")

    def handle(self, *args, as_of=None, train=False, **options):
        as_of = as_of or dt.date.today()
        horizon = ChurnPolicy.current().horizon_days
        newest = RiskModel.objects.order_by("-id").values_list("id", flat=True).first() or 0
        try:
            with phase() as training:
                if train:
                    model = risk.train_model(as_of=as_of, horizon_days=horizon)
                else:
                    model = risk.model_for(as_of=as_of, horizon_days=horizon)
        except risk.HistoryTooShort as short:
            self.stdout.write(f"Not scored: the history is too short ({short}).")
            return
        if model.pk > newest:  # trained now (by --train, or because the last model was due)
            self.stdout.write(f"Trained in {training} on {model.train_rows} rows.")
        with phase() as scoring:
            written = risk.score_customers(model=model, as_of=as_of)
        self.stdout.write(f"Scored in {scoring}.")
        self.stdout.write(
            f"Scored as of {as_of} with model {model.pk} ({model.kind}, trained as of {model.as_of}, "
            f"held-out AUC {model.heldout_auc}): {written} rows written."
        )
        opened = services.refresh_follow_ups(as_of=as_of)
        self.stdout.write(
            f"Follow-ups: {opened.valued} open items revalued; opened on churn risk: "
            + (", ".join(f"tier {t}: {n}" for t, n in sorted(opened.follow_ups.items(), reverse=True)) or "none")
            + "."
        )
