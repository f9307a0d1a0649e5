"""`python manage.py import_data KIND FILE`: the CSV import contract of PRODUCT.md.

Output (scripts and `make bench` read it; keep it stable):
  stdout, one line:  imported KIND: ROWS rows, CREATED created, UPDATED updated, UNCHANGED unchanged in SECONDS s
  stderr on failure: every error, one `line N: column: problem` per line, then a summary; exit status 1.
"""

import sys
import tempfile
import time

from django.core.management.base import BaseCommand, CommandError

from customers.imports import KINDS, import_csv


class Command(BaseCommand):
    help = "Import a CSV file of customers, products, orders or tickets (all rows or none)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("file", help="path to a UTF-8 CSV file with a header row")

    def handle(self, *args, kind: str, file: str, **options):
        started = time.monotonic()
        try:
            stream = open(file, "rb")
        except OSError as exc:
            raise CommandError(f"cannot open {file}: {exc.strerror}") from None
        # Every error goes to a file first: the progress line must end before the errors start.
        with stream, tempfile.TemporaryFile("w+", encoding="utf-8") as every_error:
            report = import_csv(kind=kind, stream=stream, progress=self._progress(started), errors_to=every_error)
            if self._progress_shown:
                sys.stderr.write("\n")
            every_error.seek(0)
            for error in every_error:
                self.stderr.write(error.rstrip("\n"))
        seconds = time.monotonic() - started
        if not report.ok:
            raise CommandError(
                f"{file}: {report.error_count} error(s) in {report.rows} rows of {kind}; nothing was imported."
            )
        self.stdout.write(
            f"imported {kind}: {report.rows} rows, {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged in {seconds:.1f} s"
        )

    _progress_shown = False

    def _progress(self, started: float):
        """Progress on a terminal only, on one line that rewrites itself."""
        if not sys.stderr.isatty():
            return None

        def show(rows: int) -> None:
            rate = rows / max(time.monotonic() - started, 1e-6)
            sys.stderr.write(f"\r{rows:,} rows read ({rate:,.0f} rows/s)")
            sys.stderr.flush()
            self._progress_shown = True

        return show
