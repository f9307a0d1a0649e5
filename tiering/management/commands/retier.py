"""`python manage.py retier [--as-of DATE] [--dry-run]`: the nightly re-tier, run here and now."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tiering.models import RetierRun
from tiering.services import CHANGED, retier_all
from tiering.tiers import LEVELS


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of {text!r} is not a date: use YYYY-MM-DD, e.g. 2026-03-01.") from None


class Command(BaseCommand):
    help = "Re-tier every customer with the published rules (as the nightly job does) and print the result."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", help="Date the windows end at (YYYY-MM-DD); default today.")
        parser.add_argument("--dry-run", action="store_true", help="Compute and print, write nothing.")

    def handle(self, *args, as_of=None, dry_run=False, **options):
        day = _date(as_of) if as_of else timezone.localdate()
        try:
            run = retier_all(as_of=day, dry_run=dry_run, triggered_by="command line")
        except Exception as exc:
            raise CommandError(f"re-tier failed: {exc}") from exc
        if run.status == RetierRun.Status.SKIPPED:
            raise CommandError(f"run {run.pk} skipped: another re-tier run is going; try again when it ends.")
        self._print(run)

    def _print(self, run: RetierRun) -> None:
        dry = " (dry run: nothing written)" if run.dry_run else ""
        self.stdout.write(f"Run {run.pk} as of {run.as_of} with rule set v{run.ruleset.version}{dry}")
        for level in LEVELS:
            self.stdout.write(f"  tier {level}: {run.counts.get(str(level), 0)} customers")
        self.stdout.write(f"Moved: {run.moved}")
        for move, count in run.matrix.items():
            self.stdout.write(f"  {move}: {count}")
        progress = run.progress or {}
        if progress.get("mode") == CHANGED:
            n = progress["recomputed"]
            self.stdout.write(f"Metrics computed for {n} customer{'' if n == 1 else 's'} whose data or window changed")
        elif "recomputed" in progress:
            self.stdout.write(f"Metrics computed for every customer ({progress['recomputed']})")
