"""The promotion target CSV (PRODUCT.md, Export): one byte stream for the page and the command.

The rows come from `COPY (SELECT …) TO STDOUT` with the formula neutralisation done in the SELECT
(promotions.csvsafe), so the export runs near COPY's rate; Python only gathers COPY's per-row
messages into 64 KiB chunks. Memory stays flat: nothing holds more than one chunk.
"""

from collections.abc import Iterator

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from .csvsafe import Neutralised
from .models import ExportLog

TEXT_COLUMNS = {  # CSV header name -> CustomerMetrics lookup; every one is neutralised
    "external_id": "customer__external_id",
    "name": "customer__name",
    "email": "customer__email",
    "company": "customer__company",
}
# Left exactly as the database has them. After `tier` (the column-order contract) come the churn
# columns: the lifecycle stage (fixed words) and the churn risk, 0 to 1 (churn.risk; empty until
# a first scoring).
NUMBER_COLUMNS = {
    "tier": "tier",
    "lifecycle_stage": "customer__churn_risk__stage",
    "churn_risk": "customer__churn_risk__risk",
}
HEADER = ",".join([*TEXT_COLUMNS, *NUMBER_COLUMNS]).encode() + b"\n"
BOM = "\ufeff".encode()
CHUNK_BYTES = 64 * 1024


class RowCount:
    """Filled in while the stream runs, read once it is exhausted."""

    rows = 0


def csv_chunks(targets: QuerySet, *, excel: bool = False, counter: RowCount | None = None) -> Iterator[bytes]:
    counter = counter or RowCount()
    yield (BOM if excel else b"") + HEADER
    yield from _copy_chunks(targets, counter)


def copy_sql_with_params(targets: QuerySet) -> tuple[str, tuple]:
    """The COPY statement for the neutralised export rows, with the QuerySet's own parameters."""
    rows = targets.values_list(*[Neutralised(lookup) for lookup in TEXT_COLUMNS.values()], *NUMBER_COLUMNS.values())
    sql, params = rows.query.sql_with_params()
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
