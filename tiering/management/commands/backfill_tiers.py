"""`python manage.py backfill_tiers [--months N] [--rules published|VERSION] [--before DATE]`: replay
the tiers at month ends over the loaded history (docs/backfill.md)."""

import datetime as dt
import threading

from django.core.management.base import BaseCommand, CommandError

from tiering.models import TierBackfill
from tiering.retier.backfill import DEFAULT_MONTHS
from tiering.services import RetierError, backfill_tiers, ruleset_for


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--before {text!r} is not a date: use YYYY-MM-DD, e.g. 2026-03-01.") from None


class Command(BaseCommand):
    help = (
        "Replay the tiers at month ends over the loaded history, as backfilled tier history "
        "(replacing the earlier backfill; the history nightly runs wrote is never touched)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--months", type=int, default=DEFAULT_MONTHS, help=f"Month ends (default {DEFAULT_MONTHS})."
        )
        parser.add_argument("--rules", default="published", help='"published" (default) or a rule set version.')
        parser.add_argument("--before", help="Replay month ends before this date (default: today).")

    def handle(self, *args, months=DEFAULT_MONTHS, rules="published", before=None, **options):
        if months < 1:
            raise CommandError(f"--months must be at least 1, not {months}.")
        day = _date(before) if before else None
        try:
            ruleset = ruleset_for(rules)
        except RetierError as exc:
            raise CommandError(str(exc)) from None
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(stop,), daemon=True)
        watcher.start()
        try:
            record = backfill_tiers(months=months, ruleset=ruleset, before=day, triggered_by="command line")
        except Exception as exc:
            raise CommandError(f"backfill failed: {exc}") from exc
        finally:
            stop.set()
            watcher.join(timeout=5)
        if record.status == TierBackfill.Status.SKIPPED:
            raise CommandError(
                f"backfill {record.pk} skipped: a re-tier or another backfill is going; try again later."
            )
        span = f"{record.first_as_of} to {record.last_as_of}" if record.months else "none (no orders before)"
        self.stdout.write(f"Backfill {record.pk} with rule set v{ruleset.version}: {record.months} month ends, {span}")
        self.stdout.write(f"Backfilled tier changes written: {record.entries} (replacing {record.replaced})")

    def _watch(self, stop: threading.Event) -> None:
        """Print the running backfill's progress every few seconds, from its record."""
        from django.db import connection

        seen = None
        try:
            while not stop.wait(5):
                record = TierBackfill.objects.filter(status=TierBackfill.Status.RUNNING).first()
                text = record.progress_text if record else None
                if text and text != seen:
                    self.stderr.write(text)
                    seen = text
        finally:
            connection.close()
