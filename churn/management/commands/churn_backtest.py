import datetime as dt

from django.core.management.base import BaseCommand

from churn.backtest import as_text, run_backtest


class Command(BaseCommand):
    help = "Judge the churn risk, the lapse rule and days since last order on the last complete period."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", type=dt.date.fromisoformat, help="End of the judged period (default: last order)"
        )
        parser.add_argument("--horizon-days", type=int, help="H (default: the churn policy's)")

    def handle(self, *args, as_of=None, horizon_days=None, **options):
        self.stdout.write(as_text(run_backtest(as_of=as_of, horizon_days=horizon_days)))
