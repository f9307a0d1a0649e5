"""CSV import of customers, products, orders and tickets (the contract is PRODUCT.md, "CSV import").

How a file of 1,000,000 lines imports in seconds, all or nothing, with flat memory:

1. rows are streamed (never held in memory) and each value is checked and converted in Python;
2. clean rows go to a temporary staging table through COPY;
3. the checks that need the database (unknown customer or sku, duplicate keys, the lines of one
   order disagreeing) run as set-based SQL on the staging table and return line numbers;
4. only a file without a single error is written, with INSERT … SELECT … ON CONFLICT DO UPDATE
   … WHERE the values differ, so a second import of the same file rewrites no row.

All of it runs in one transaction. Every problem is reported as `line N: column: problem`.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import heapq
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction

MAX_LISTED_ERRORS = 200  # in the report; `errors_to` receives every one
PROGRESS_EVERY = 50_000
COPY_BLOCK_ROWS = 10_000
IMPORT_LOCK_ID = 7_411_001  # pg_advisory_xact_lock key that serialises imports
STAGE = "import_stage"
ORDERS = "import_orders"


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0  # every error found; `errors` lists the first MAX_LISTED_ERRORS

    @property
    def ok(self) -> bool:
        return self.error_count == 0


class FileProblem(Exception):
    """A problem that stops reading the file (encoding, header, malformed CSV)."""

    def __init__(self, line: int, column: str, problem: str):
        super().__init__(f"line {line}: {column}: {problem}")
        self.line = line


# --- value parsers: each takes a stripped, non-empty string and raises ValueError(problem) ---

MONEY_RE = re.compile(r"\d{1,10}(?:\.\d{1,2})?")
WHOLE_RE = re.compile(r"\d{1,9}")


def text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"is longer than {max_length} characters")
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        return value

    return parse


def email(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError(f"{value!r} is not a valid email address") from None
    return text(254)(value)


def iso_date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date like 2026-03-01") from None


def iso_datetime(value: str) -> str:
    """Normalised ISO text. A naive value is in settings.TIME_ZONE: the staging writer applies it
    (PostgreSQL reads it in the session time zone, see _tune_session); a date alone is midnight."""
    try:
        return dt.datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date-time like 2026-03-01T14:05:00") from None


def money(value: str) -> str:
    """A plain decimal (129.90), kept as text: the database converts it exactly."""
    if MONEY_RE.fullmatch(value):
        return value
    if value.startswith("-"):
        raise ValueError(f"{value!r} is negative; it must be 0 or more")
    if re.fullmatch(r"\d+\.\d{3,}", value):
        raise ValueError(f"{value!r} has more than 2 decimal places")
    if re.fullmatch(r"\d{11,}(\.\d*)?", value):
        raise ValueError(f"{value!r} is too large (at most 9999999999.99)")
    raise ValueError(f"{value!r} is not a plain decimal number like 129.90")


def quantity(value: str) -> str:
    if WHOLE_RE.fullmatch(value) and value.strip("0"):
        return value
    if re.fullmatch(r"-?\d+", value):
        raise ValueError(f"{value!r} must be a whole number of at least 1")
    raise ValueError(f"{value!r} is not a whole number")


def choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return parse


# --- what each kind of file holds ---


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[str], str]  # the value as the staging table takes it, or ValueError(problem)
    sql_type: str  # staging column type: text, date, datetime, int, money
    required: bool = False


@dataclass(frozen=True)
class Kind:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def optional(self) -> list[str]:
        return [c.name for c in self.columns if not c.required]


KINDS: dict[str, Kind] = {
    "customers": Kind(
        "customers",
        (
            Column("external_id", text(64), "text", required=True),
            Column("name", text(200), "text", required=True),
            Column("email", email, "text"),
            Column("company", text(200), "text"),
            Column("signed_up_on", iso_date, "date"),
            Column("account_manager", text(150), "text"),
        ),
        key=("external_id",),
        description="One row per customer. account_manager is the username of an existing user.",
    ),
    "products": Kind(
        "products",
        (
            Column("sku", text(64), "text", required=True),
            Column("name", text(200), "text", required=True),
            Column("category", text(100), "text", required=True),
            Column("launched_on", iso_date, "date"),
        ),
        key=("sku",),
        description="One row per product.",
    ),
    "orders": Kind(
        "orders",
        (
            Column("order_id", text(64), "text", required=True),
            Column("customer_id", text(64), "text", required=True),
            Column("placed_at", iso_datetime, "datetime", required=True),
            Column("sku", text(64), "text", required=True),
            Column("quantity", quantity, "int", required=True),
            Column("amount", money, "money", required=True),
            Column("cost", money, "money"),
        ),
        key=("order_id", "sku"),
        description=(
            "One row per order line; order_id groups the lines of an order, which must agree on "
            "customer_id (a customer's external_id) and placed_at. amount and cost are the line's "
            "totals; 0 is a valid amount (free items)."
        ),
    ),
    "tickets": Kind(
        "tickets",
        (
            Column("ticket_id", text(64), "text", required=True),
            Column("customer_id", text(64), "text", required=True),
            Column("opened_at", iso_datetime, "datetime", required=True),
            Column("kind", choice("complaint", "question", "return", "other"), "text", required=True),
            Column("outcome", choice("upheld", "rejected", "pending"), "text"),
            Column("compensation", money, "money"),
        ),
        key=("ticket_id",),
        description=(
            "One row per support ticket. kind: complaint, question, return or other; outcome: "
            "upheld, rejected or pending; compensation: money given (default 0)."
        ),
    ),
}


# --- the service ---


def import_csv(
    *,
    kind: str,
    stream: BinaryIO,
    progress: Callable[[int], None] | None = None,
    step: Callable[[str], None] | None = None,
    errors_to: TextIO | None = None,
) -> ImportReport:
    """Import one CSV file of `kind`: everything or, if any row is bad, nothing.

    The report counts every error and lists the first MAX_LISTED_ERRORS; `errors_to` receives every
    error, one per line, in line order. `progress` is told the rows read so far, `step` what the
    import is doing (WAITING, READING, CHECKING, WRITING)."""
    spec = KINDS[kind]
    report = ImportReport(kind=kind)
    step = step or (lambda name: None)
    with _Errors() as errors, transaction.atomic(), connection.cursor() as cursor:
        step(WAITING)
        time_zone = _tune_session(cursor)
        step(READING)
        _create_stage(cursor, spec)
        try:
            present = _stage_rows(cursor, spec, stream, report, errors, progress)
        except FileProblem as problem:
            errors.add_text(str(problem))
            present = None
        step(CHECKING)
        sources = [errors.read()]
        if present is not None:
            _analyze(cursor)
            sources += [_check_errors(cursor, check, number) for number, check in enumerate(_checks(spec))]
        _collect(report, heapq.merge(*sources, key=_line_of), errors_to)
        if report.ok and present is not None:
            step(WRITING)
            report.created, report.updated = _upsert(cursor, spec, present)
            report.unchanged = report.rows - report.created - report.updated
        _drop_temp_tables(cursor)
        _restore_session(cursor, time_zone)
    return report


# What an import is doing, for `step` (the job page shows it).
WAITING, READING, CHECKING, WRITING = "waiting for another import", "reading rows", "checking", "writing"


class _Errors:
    """The errors found while reading the file, in line order, spooled to disk: a bad file of a
    million rows has a million of them."""

    def __enter__(self) -> _Errors:
        self.file = tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()

    def add(self, line: int, column: str, problem: str) -> None:
        self.add_text(f"line {line}: {column}: {problem}")

    def add_text(self, message: str) -> None:
        self.file.write(_one_line(message) + "\n")

    def read(self) -> Iterator[str]:
        self.file.seek(0)
        return (line.rstrip("\n") for line in self.file)


def _one_line(message: str) -> str:
    """A value quoted in a message may hold a line break; one error stays one line."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def _line_of(message: str) -> int:
    """The line number of a `line N: column: problem` message."""
    return int(message[5 : message.index(":")])


def _collect(report: ImportReport, messages: Iterable[str], errors_to: TextIO | None) -> None:
    for message in messages:
        report.error_count += 1
        if len(report.errors) < MAX_LISTED_ERRORS:
            report.errors.append(message)
        if errors_to is not None:
            errors_to.write(message + "\n")


# --- reading the file ---


def _decoded_lines(stream: Iterable[bytes]) -> Iterator[str]:
    """The file's lines as text; bytes that are not UTF-8 stop the import, naming where they are."""
    offset = 0
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FileProblem(
                number,
                "file",
                f"is not UTF-8: byte 0x{raw[exc.start]:02x} at byte {offset + exc.start + 1} of the file "
                '(save it as "CSV UTF-8")',
            ) from None
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        offset += len(raw)
        yield line


def _read_header(reader: Iterator[list[str]], spec: Kind) -> tuple[dict[str, int], int]:
    """Map each known column to its position (and count all columns), or raise FileProblem."""
    header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    if header is None:
        raise FileProblem(1, "file", f"is empty; expected a header row with {', '.join(spec.required)}")
    line = reader.line_num
    names = [cell.strip().lower() for cell in header]
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        if name and name in positions:
            raise FileProblem(
                line, name, f"the header names this column twice (columns {positions[name] + 1} and {index + 1})"
            )
        positions[name] = index
    missing = [name for name in spec.required if name not in positions]
    if missing:
        known = {c.name for c in spec.columns}
        unknown = [name for name in names if name and name not in known]
        raise FileProblem(line, missing[0], _missing_message(missing, unknown))
    return {c.name: positions[c.name] for c in spec.columns if c.name in positions}, len(names)


def _missing_message(missing: list[str], unknown: list[str]) -> str:
    parts = []
    for name in missing:
        close = difflib.get_close_matches(name, unknown, n=1, cutoff=0.6)
        parts.append(f"{name} (did you mean {close[0]!r}?)" if close else name)
    return "missing required column" + ("s " if len(parts) > 1 else " ") + ", ".join(parts)


def _stage_rows(cursor, spec, stream, report, errors, progress) -> set[str]:
    """Check every row and stage the clean ones; return the names of the columns the file has."""
    reader = csv.reader(_decoded_lines(stream))
    positions, width = _guard_csv(reader, lambda: _read_header(reader, spec))
    fields = [(positions.get(c.name), c.name, c.required, c.parse) for c in spec.columns]
    with _stage_writer(cursor, spec) as write:
        # A problem found mid-file must not abort the COPY (that would abort the transaction).
        problem = _guard_csv(reader, lambda: _stage_body(reader, fields, width, write, report, errors, progress))
    if problem:
        raise problem
    return set(positions)


def _guard_csv(reader, read):
    """Run `read`; a FileProblem is raised (header) or returned (body), malformed CSV becomes one."""
    try:
        return read()
    except csv.Error as exc:
        raise FileProblem(reader.line_num, "file", f"is not valid CSV: {exc}") from None


def _stage_body(reader, fields, width, write, report, errors, progress) -> FileProblem | None:
    last_line = reader.line_num
    try:
        for row in reader:
            line, last_line = last_line + 1, reader.line_num
            if not row:
                continue  # blank line
            report.rows += 1
            if progress and report.rows % PROGRESS_EVERY == 0:
                progress(report.rows)
            values = _convert_row(row, line, fields, width, errors)
            if values is not None:
                write(values)  # rows with bad values too: their keys still take part in the checks
    except FileProblem as problem:
        return problem
    except csv.Error as exc:
        return FileProblem(reader.line_num, "file", f"is not valid CSV: {exc}")
    return None


def _convert_row(row: list[str], line: int, fields, width: int, errors: _Errors) -> list | None:
    """The row's values for the staging table (line number first; a bad value is None).

    None for a row whose values cannot be told apart (wrong number of them)."""
    if len(row) != width:
        errors.add(
            line, "row", f"has {len(row)} values but the header has {width} columns (quote values that contain commas)"
        )
        return None
    values: list[Any] = [line]
    for index, name, required, parse in fields:
        raw = row[index].strip() if index is not None else ""
        if not raw:
            if required:
                errors.add(line, name, "is required")
            values.append(None)
            continue
        try:
            values.append(parse(raw))
        except ValueError as exc:
            errors.add(line, name, str(exc))
            values.append(None)
    return values


# --- the database side: staging, set-based checks, upsert ---


def _tune_session(cursor) -> str:
    """Session settings for this transaction; returns the time zone to restore afterwards."""
    # One import at a time: two files touching the same orders would otherwise race.
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_ID])
    # Aggregates for the checks stay in memory; JIT costs more than it saves here.
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL jit = off")
    # Naive date-times in the file mean settings.TIME_ZONE; explicit offsets are kept.
    cursor.execute("SHOW TimeZone")
    previous = cursor.fetchone()[0]
    cursor.execute("SELECT set_config('TimeZone', %s, true)", [settings.TIME_ZONE])
    return previous


def _restore_session(cursor, time_zone: str) -> None:
    """Django reads date-times assuming its own connection time zone: put it back at once,
    because SET LOCAL lasts until the end of an outer transaction if there is one."""
    cursor.execute("SELECT set_config('TimeZone', %s, true)", [time_zone])


SQL_TYPES = {"text": "text", "date": "date", "datetime": "timestamptz", "int": "integer", "money": "numeric(12, 2)"}


def _create_stage(cursor, spec: Kind) -> None:
    _drop_temp_tables(cursor)  # a previous import inside the same outer transaction left them
    columns = ", ".join(f"{c.name} {SQL_TYPES[c.sql_type]}" for c in spec.columns)
    cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} (line integer NOT NULL, {columns})")


def _drop_temp_tables(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    cursor.execute(f"DROP TABLE IF EXISTS {ORDERS}")


def _analyze(cursor) -> None:
    """Fresh statistics so the planner hash-joins the staging table instead of guessing its size."""
    cursor.execute(f"ANALYZE {STAGE}")


@contextmanager
def _stage_writer(cursor, spec: Kind):
    """A function that stages one row of values (through COPY)."""
    names = "line, " + ", ".join(c.name for c in spec.columns)
    with _copy_writer(cursor, f"COPY {STAGE} ({names}) FROM STDIN (FORMAT csv)") as write:
        yield write


@contextmanager
def _copy_writer(cursor, copy_sql: str):
    """Rows are CSV-encoded by the C csv writer and sent in large blocks: the fastest way
    through psycopg's COPY. Values are never empty strings, so an empty field is NULL."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    pending = 0
    with cursor.cursor.copy(copy_sql) as copy:

        def write(values: list) -> None:
            nonlocal pending
            writer.writerow(values)
            pending += 1
            if pending >= COPY_BLOCK_ROWS:
                copy.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
                pending = 0

        yield write
        if pending:
            copy.write(buffer.getvalue())


@dataclass(frozen=True)
class Check:
    """A query over the staging table returning (line, value, ...) of the rows it rejects."""

    column: str
    select: str
    problem: str  # formatted with the values after the line


def _checks(spec: Kind) -> list[Check]:
    checks = [_duplicate_key_check(spec)]
    customer = "customers_customer"
    if spec.name == "customers":
        users = get_user_model()._meta.db_table
        checks.append(_unknown_check("account_manager", users, "username", "no user has the username {!r}"))
    if spec.name in ("orders", "tickets"):
        checks.append(_unknown_check("customer_id", customer, "external_id", "no customer has the external_id {!r}"))
    if spec.name == "orders":
        checks.append(_unknown_check("sku", "customers_product", "sku", "no product has the sku {!r}"))
        checks += [_order_agreement_check("customer_id"), _order_agreement_check("placed_at")]
    return checks


def _unknown_check(column: str, table: str, target: str, problem: str) -> Check:
    return Check(
        column,
        f"SELECT s.line, s.{column} FROM {STAGE} s WHERE s.{column} IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{target} = s.{column})",
        problem,
    )


def _duplicate_key_check(spec: Kind) -> Check:
    """Hash aggregates find the few repeated keys; only those rows are joined back."""
    key = ", ".join(spec.key)
    same_key = " AND ".join(f"s.{k} = d.{k}" for k in spec.key)
    shown = " || ' / ' || ".join(f"s.{k}" for k in spec.key)
    return Check(
        spec.key[-1],
        f"SELECT s.line, {shown}, d.first_line FROM {STAGE} s JOIN (SELECT {key}, min(line) AS first_line "
        f"FROM {STAGE} WHERE {' AND '.join(f'{k} IS NOT NULL' for k in spec.key)} GROUP BY {key} "
        f"HAVING count(*) > 1) d ON {same_key} WHERE s.line <> d.first_line",
        f"duplicate key {{!r}} ({' / '.join(spec.key)}), first seen on line {{}}",
    )


def _order_agreement_check(column: str) -> Check:
    """Lines of one order that disagree with the order's first line on `column`."""
    return Check(
        column,
        f"SELECT s.line, s.order_id, f.{column}, f.line FROM {STAGE} s "
        f"JOIN (SELECT order_id, min(line) AS first_line FROM {STAGE} GROUP BY order_id "
        f"HAVING min({column}) <> max({column})) d ON d.order_id = s.order_id "
        f"JOIN {STAGE} f ON f.line = d.first_line WHERE s.{column} <> f.{column}",
        f"order {{!r}} has {column} {{}} on line {{}}; all lines of an order must agree",
    )


def _check_errors(cursor, check: Check, number: int) -> Iterator[str]:
    """The rows a check rejects, as messages in line order, read through a server-side cursor so
    that a million of them never sit in memory at once."""
    with cursor.connection.cursor(name=f"import_check_{number}") as rows:
        rows.itersize = 10_000
        rows.execute(f"SELECT * FROM ({check.select}) c ORDER BY 1")
        for row in rows:
            yield _one_line(f"line {row[0]}: {check.column}: {check.problem.format(*row[1:])}")


def _differs(table: str, columns: list[str]) -> str:
    return " OR ".join(f"{table}.{c} IS DISTINCT FROM excluded.{c}" for c in columns)


def _upsert_sql(table: str, columns: list[str], select: str, key: list[str], update: list[str]) -> str:
    """INSERT … SELECT that updates an existing row only when a value differs."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in update)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) {select} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets} WHERE {_differs(table, update)}"
    )


def _execute_counted(cursor, sql: str) -> tuple[int, int]:
    """Run an upsert; return (rows created, rows updated)."""
    # xmax is 0 on a freshly inserted row version and set on an updated one.
    cursor.execute(
        f"WITH up AS ({sql} RETURNING (xmax = 0) AS created) "
        "SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up"
    )
    created, updated = cursor.fetchone()
    return created, updated


def _upsert(cursor, spec: Kind, present: set[str]) -> tuple[int, int]:
    """Write the staged rows. Columns the file does not have are left as they are on existing rows."""
    return UPSERTS[spec.name](cursor, present)


def _upsert_customers(cursor, present: set[str]) -> tuple[int, int]:
    users = get_user_model()._meta.db_table
    targets = {
        "name": "s.name",
        "email": "COALESCE(s.email, '')",
        "company": "COALESCE(s.company, '')",
        "signed_up_on": "s.signed_up_on",
        "account_manager_id": "u.id",
    }
    update = [t for t in targets if t.removesuffix("_id") in present]
    select = (
        f"SELECT s.external_id, {', '.join(targets.values())} FROM {STAGE} s "
        f"LEFT JOIN {users} u ON u.username = s.account_manager WHERE true"
    )
    sql = _upsert_sql("customers_customer", ["external_id", *targets], select, ["external_id"], update)
    return _execute_counted(cursor, sql)


def _upsert_products(cursor, present: set[str]) -> tuple[int, int]:
    targets = ["name", "category", "launched_on"]
    update = [t for t in targets if t in present]
    select = f"SELECT s.sku, {', '.join('s.' + t for t in targets)} FROM {STAGE} s WHERE true"
    sql = _upsert_sql("customers_product", ["sku", *targets], select, ["sku"], update)
    return _execute_counted(cursor, sql)


def _upsert_tickets(cursor, present: set[str]) -> tuple[int, int]:
    targets = {
        "customer_id": "c.id",
        "opened_at": "s.opened_at",
        "kind": "s.kind",
        "outcome": "COALESCE(s.outcome, '')",
        "compensation": "COALESCE(s.compensation, 0)",
    }
    update = [t for t in targets if t in present]
    select = (
        f"SELECT s.ticket_id, {', '.join(targets.values())} FROM {STAGE} s "
        "JOIN customers_customer c ON c.external_id = s.customer_id WHERE true"
    )
    sql = _upsert_sql("customers_ticket", ["ticket_id", *targets], select, ["ticket_id"], update)
    return _execute_counted(cursor, sql)


def _upsert_orders(cursor, present: set[str]) -> tuple[int, int]:
    """Orders, then their lines; lines carry copies of their order's customer and date."""
    _stage_orders(cursor)
    columns = ["order_id", "customer_id", "placed_at"]
    select = f"SELECT {', '.join(columns)} FROM {ORDERS} WHERE existing_id IS"
    # New orders need no conflict handling (imports are serialised); existing ones change only if they differ.
    cursor.execute(f"INSERT INTO customers_order ({', '.join(columns)}) {select} NULL")
    cursor.execute(_upsert_sql("customers_order", columns, f"{select} NOT NULL", ["order_id"], columns[1:]))
    created = _insert_lines_of_new_orders(cursor)
    upserted, updated = _upsert_lines_of_existing_orders(cursor, present)
    _realign_other_lines(cursor)
    return created + upserted, updated


def _stage_orders(cursor) -> None:
    """One row per order in the file (its lines agree, checked before), and whether it existed."""
    cursor.execute(
        f"CREATE TEMPORARY TABLE {ORDERS} AS SELECT s.order_id, c.id AS customer_id, s.placed_at, "
        "o.id AS existing_id, "
        "(o.customer_id IS DISTINCT FROM c.id OR o.placed_at IS DISTINCT FROM s.placed_at) AS changed "
        f"FROM (SELECT order_id, min(customer_id) AS customer_id, min(placed_at) AS placed_at FROM {STAGE} "
        "GROUP BY order_id) s JOIN customers_customer c ON c.external_id = s.customer_id "
        "LEFT JOIN customers_order o ON o.order_id = s.order_id"
    )
    cursor.execute(f"ANALYZE {ORDERS}")


LINE_COLUMNS = ["order_id", "product_id", "customer_id", "placed_at", "quantity", "amount", "cost"]


def _lines_select(existing: bool) -> str:
    return (
        f"SELECT o.id, p.id, o.customer_id, o.placed_at, s.quantity, s.amount, s.cost FROM {STAGE} s "
        f"JOIN {ORDERS} i ON i.order_id = s.order_id AND i.existing_id IS {'NOT ' if existing else ''}NULL "
        "JOIN customers_order o ON o.order_id = s.order_id JOIN customers_product p ON p.sku = s.sku WHERE true"
    )


def _insert_lines_of_new_orders(cursor) -> int:
    """An order created by this import has no lines yet: a plain INSERT, cheaper than an upsert.
    (Imports are serialised by an advisory lock, so no other import adds lines meanwhile.)"""
    cursor.execute(f"INSERT INTO customers_orderline ({', '.join(LINE_COLUMNS)}) {_lines_select(existing=False)}")
    return cursor.rowcount


def _upsert_lines_of_existing_orders(cursor, present: set[str]) -> tuple[int, int]:
    update = [c for c in LINE_COLUMNS[2:] if c != "cost" or "cost" in present]
    sql = _upsert_sql(
        "customers_orderline", LINE_COLUMNS, _lines_select(existing=True), ["order_id", "product_id"], update
    )
    return _execute_counted(cursor, sql)


def _realign_other_lines(cursor) -> None:
    """Lines of a re-dated or re-assigned order that the file does not list follow their order too."""
    line = "customers_orderline"
    cursor.execute(
        f"UPDATE {line} SET customer_id = o.customer_id, placed_at = o.placed_at FROM customers_order o "
        f"WHERE {line}.order_id = o.id AND o.id IN (SELECT existing_id FROM {ORDERS} WHERE changed) "
        f"AND ({line}.customer_id IS DISTINCT FROM o.customer_id OR {line}.placed_at IS DISTINCT FROM o.placed_at)"
    )


UPSERTS = {
    "customers": _upsert_customers,
    "products": _upsert_products,
    "orders": _upsert_orders,
    "tickets": _upsert_tickets,
}
