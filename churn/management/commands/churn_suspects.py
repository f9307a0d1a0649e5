"""`churn_suspects [--as-of DATE] [--tiers 3] [--format csv|table]`: launches and releases ranked by
how much more often the valuable customers exposed to them stopped buying (docs/churn.md)."""

import csv
import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from churn import suspects

COLUMNS = [
    "rank", "subject", "kind", "day", "audience", "compared_with", "exposed", "lapsed_exposed", "unexposed",
    "lapsed_unexposed", "lift", "low", "high", "p", "q", "flagged",
]  # fmt: skip


def _number(value, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def cells(row: dict) -> list[str]:
    """A row's values as printed: ratios to 3 decimals, p and q to 4 significant digits."""
    shown = dict(row)
    for name in ("lift", "low", "high"):
        shown[name] = _number(row[name], 3)
    for name in ("p", "q"):
        shown[name] = "" if row[name] is None else f"{row[name]:.4g}"
    shown["flagged"] = "true" if row["flagged"] else "false"
    return [str(shown[c]) for c in COLUMNS]


class Command(BaseCommand):
    help = "Launches and releases ranked by how much more often valuable customers exposed to them stopped buying."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", type=dt.date.fromisoformat, help="Date of the analysis (default: the run in force's)."
        )
        parser.add_argument("--tiers", default="3", help='Tier levels analysed, comma-separated (default "3").')
        parser.add_argument("--format", choices=["csv", "table"], default="csv")

    def handle(self, *args, as_of, tiers, format, **options):
        try:
            levels = sorted({int(t) for t in tiers.split(",") if t.strip()})
        except ValueError:
            raise CommandError(f"--tiers: tier levels separated by commas, e.g. 3 or 2,3 (not {tiers!r})") from None
        if not levels:
            raise CommandError("--tiers: name at least one tier level.")
        analysis = suspects.refresh(as_of=as_of or suspects.default_as_of(), tiers=levels)
        if format == "csv":
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows(cells(row) for row in analysis.rows)
        else:
            self._table(analysis)

    def _table(self, analysis) -> None:
        if not analysis.rows:
            self.stdout.write(f"No launch or release to analyse as of {analysis.as_of} (see docs/churn.md).")
            return
        rows = [COLUMNS] + [cells(r) for r in analysis.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        for r in rows:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
        self.stdout.write(f"as of {analysis.as_of}, tiers {analysis.tiers}: {analysis.seconds:.2f} s")
