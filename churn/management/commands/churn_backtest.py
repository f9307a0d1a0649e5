import argparse
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
        parser.add_argument(
            "--thresholds",
            type=_thresholds,
            default={},
            help="risk thresholds to judge per tier, e.g. 3=0.3,2=0.62 (say, the ones an earlier period suggested)",
        )

    def handle(self, *args, as_of=None, horizon_days=None, thresholds=None, **options):
        self.stdout.write(as_text(run_backtest(as_of=as_of, horizon_days=horizon_days, thresholds=thresholds)))


def _thresholds(text: str) -> dict[int, float]:
    try:
        pairs = dict(part.split("=") for part in text.split(","))
        found = {int(tier): float(value) for tier, value in pairs.items()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"not TIER=THRESHOLD,…: {text!r}") from None
    if not all(0 < v < 1 for v in found.values()):
        raise argparse.ArgumentTypeError(f"a risk threshold is between 0 and 1: {text!r}")
    return found
