"""The promotion target CSV (PRODUCT.md, Export): one byte stream for the page and the command.

The rows come from `COPY (SELECT …) TO STDOUT` with the formula neutralisation done in the SELECT
(promotions.csvsafe), so the export runs near COPY's rate; Python only gathers COPY's per-row
messages into 64 KiB chunks. Memory stays flat: nothing holds more than one chunk.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, CharField, F, Func, QuerySet, Value, When
from django.utils import timezone

from tiering.models import Tier

from .csvsafe import Neutralised, neutralise
from .models import ExportLog


@dataclass(frozen=True)
class Column:
    header: str
    lookup: str  # a CustomerMetrics lookup, or a name that `_expression` builds
    text: bool = False  # free text someone typed or imported: neutralised against formulas


# The order is the contract: PRODUCT.md's columns first (external_id, name, email, company, tier),
# then the churn columns (lifecycle_stage, churn_risk), then the columns added after them. Never
# reorder; add new columns at the end.
COLUMNS = (
    Column("external_id", "customer__external_id", text=True),
    Column("name", "customer__name", text=True),
    Column("email", "customer__email", text=True),
    Column("company", "customer__company", text=True),
    Column("tier", "tier"),  # the level number
    Column("lifecycle_stage", "customer__churn_risk__stage"),  # fixed words (churn.lifecycle)
    Column("churn_risk", "customer__churn_risk__risk"),  # 0 to 1; empty until a first scoring
    Column("tier_name", "tier_name", text=True),  # the Tier table's name, which admins edit
    Column("account_manager", "customer__account_manager__username", text=True),  # empty with none
    Column("last_order", "last_order"),  # the last order's UTC day, ISO 8601; empty with no order
    Column("revenue_12m", "revenue"),  # revenue in the run's 12-month window, a plain decimal
)
HEADERS = tuple(column.header for column in COLUMNS)
HEADER = ",".join(HEADERS).encode() + b"\n"
BOM = "\ufeff".encode()
CHUNK_BYTES = 64 * 1024


class RowCount:
    """Filled in while the stream runs, read once it is exhausted."""

    rows = 0


def csv_chunks(targets: QuerySet, *, excel: bool = False, counter: RowCount | None = None) -> Iterator[bytes]:
    counter = counter or RowCount()
    yield (BOM if excel else b"") + HEADER
    yield from _copy_chunks(targets, counter)


def export_values(targets: QuerySet, *, neutralised: bool = True) -> QuerySet:
    """The export's rows as a values_list in COLUMNS order (the benchmark's bare COPY: unneutralised)."""
    tier_names = dict(Tier.objects.values_list("level", "name"))  # one small query per export
    if neutralised:  # three names, known here: neutralised in Python, not per row
        tier_names = {level: neutralise(name) for level, name in tier_names.items()}
    expressions = []
    for column in COLUMNS:
        if column.lookup == "tier_name":
            whens = [When(tier=level, then=Value(name)) for level, name in sorted(tier_names.items())]
            expressions.append(Case(*whens, default=None, output_field=CharField()))
        elif column.lookup == "last_order":
            expressions.append(Func(F("last_order_at"), template=_UTC_DAY, output_field=CharField()))
        elif column.text and neutralised:
            expressions.append(Neutralised(column.lookup))
        else:
            expressions.append(F(column.lookup))
    return targets.values_list(*expressions)


# The UTC calendar day, as the metrics count days (tiering.metrics), written ISO 8601.
_UTC_DAY = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def copy_sql_with_params(targets: QuerySet) -> tuple[str, tuple]:
    """The COPY statement for the neutralised export rows, with the QuerySet's own parameters."""
    sql, params = export_values(targets).query.sql_with_params()
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params


def _copy_chunks(targets: QuerySet, counter: RowCount) -> Iterator[bytes]:
    copy_sql, params = copy_sql_with_params(targets)
    buffer = bytearray()
    with connection.cursor() as cursor:
        # Django's psycopg cursor binds parameters client-side, which COPY needs (no server binds).
        with cursor.cursor.copy(copy_sql, params) as copy:
            for block in copy:  # one block per row: gather them so the client sees few writes
                buffer += block
                if len(buffer) >= CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
        counter.rows = cursor.cursor.rowcount
    if buffer:
        yield bytes(buffer)


def logged_export(*, targets: QuerySet, log: ExportLog, excel: bool = False) -> Iterator[bytes]:
    """Stream the CSV and write the row count into its (already saved) log entry at the end.

    The entry is saved before the first byte so an interrupted download is still on record
    (with no row count); a finished one gets its count and finish time.
    """
    counter = RowCount()
    yield from csv_chunks(targets, excel=excel, counter=counter)
    ExportLog.objects.filter(pk=log.pk).update(row_count=counter.rows, finished_at=timezone.now())
