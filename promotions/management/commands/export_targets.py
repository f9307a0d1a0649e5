"""python manage.py export_targets [--tiers 2,3] [--promotion ID] [--include-lost] [--output FILE] [--excel]

The same CSV the page's export button gives (PRODUCT.md, Export), recorded in the export log as
"command line (os user)". Without --tiers the promotion default applies: tiers 2 and 3. Lost
customers are left out unless --include-lost is given (or the promotion includes them).
"""

import dataclasses
import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from promotions.filters import TargetFilters, parse_tiers
from promotions.models import ExportLog, Promotion
from promotions.selectors import FollowUpFilterUnavailable
from promotions.services import export_start


class Command(BaseCommand):
    help = "Write the promotion target CSV (stdout without --output) and record it in the export log."

    def add_arguments(self, parser):
        parser.add_argument("--tiers", help="Tier levels, comma-separated (default 2,3; tier 1 only when named).")
        parser.add_argument(
            "--promotion", type=int, help="Use a saved promotion's filters (--tiers overrides its tiers)."
        )
        parser.add_argument(
            "--include-lost",
            action="store_true",
            help="Also export lost customers (lifecycle stage lost, or closed as lost on the churn queue).",
        )
        parser.add_argument("--output", help="File to write; stdout when left out.")
        parser.add_argument("--excel", action="store_true", help="UTF-8 with a BOM, so Excel reads accents right.")

    def handle(self, *args, tiers, promotion, include_lost, output, excel, **options):
        promo = self._promotion(promotion)
        filters = promo.target_filters() if promo else TargetFilters()
        if tiers is not None:
            try:
                filters = dataclasses.replace(filters, tiers=parse_tiers(tiers))
            except ValueError as error:
                raise CommandError(f"--tiers: {error}") from None
        if include_lost:
            filters = dataclasses.replace(filters, include_lost=True)
        try:
            log, chunks = export_start(
                actor=f"command line ({getpass.getuser()})",
                source=ExportLog.Source.COMMAND,
                promotion=promo,
                filters=filters,
                excel=excel,
            )
        except FollowUpFilterUnavailable as error:
            raise CommandError(str(error)) from None
        self._write(chunks, output)
        if output:
            log.refresh_from_db()
            self.stderr.write(f"Wrote {log.row_count} rows to {output}.")

    def _promotion(self, pk):
        if pk is None:
            return None
        try:
            return Promotion.objects.get(pk=pk)
        except Promotion.DoesNotExist:
            raise CommandError(f"--promotion: no promotion with id {pk}.") from None

    def _write(self, chunks, output):
        if output:
            with open(output, "wb") as target:
                for chunk in chunks:
                    target.write(chunk)
            return
        out = self.stdout._out  # the real stream: CSV bytes must pass through untouched
        binary = getattr(out, "buffer", None)
        try:
            for chunk in chunks:
                if binary is not None:
                    binary.write(chunk)
                else:  # a text stream given by a caller (call_command(stdout=StringIO()))
                    out.write(chunk.decode())
            out.flush()
        except BrokenPipeError:  # e.g. `| head`: the log keeps the export as not finished
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            raise CommandError(
                "the reader closed stdout before the end; the export is logged as not finished."
            ) from None
