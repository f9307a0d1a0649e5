"""Bulk writes of generated rows with PostgreSQL COPY, and the fast wipe for --reset.

Rows are tuples of strings (None for NULL) in the column order given. The loaded tables' secondary
indexes, unique and foreign-key constraints are dropped for the load and recreated from their own
definitions afterwards: building an index once is far cheaper than
maintaining it row by row, and Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, so a COPY
of 10M lines would otherwise queue tens of millions of deferred checks until commit.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from django.core.management.color import no_style
from django.db import connection

from customers import changes
from customers.demo import copy_text


class BulkWriter:
    rebuild_seconds = 0.0  # time spent restoring indexes and constraints after the load

    def __init__(self, models):
        self.models = list(models)
        self.tables = [m._meta.db_table for m in self.models]

    @contextmanager
    def loading(self):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            saved = self._drop_secondary(cursor)
            marked = [t for t in self.tables if t in changes.TRIGGERED_TABLES]
            for table in marked:  # one "everyone" mark instead of a trigger call per COPY
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield self
            started = time.monotonic()
            for table in marked:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            if marked:
                changes.mark_everyone(cursor)
            for statement in saved:
                cursor.execute(statement)
            for sql in connection.ops.sequence_reset_sql(no_style(), self.models):
                cursor.execute(sql)
            cursor.execute(f"ANALYZE {', '.join(self.tables)}")
            self.rebuild_seconds = time.monotonic() - started

    def _drop_secondary(self, cursor) -> list[str]:
        """Drop non-primary indexes and constraints of the tables; return the DDL that restores them."""
        cursor.execute(
            """
            SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f')
            """,
            [self.tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype <> 'f')
            """,
            [self.tables],
        )
        indexes = cursor.fetchall()
        for table, name, _, _ in sorted(constraints, key=lambda c: c[2]):  # 'f' before 'u'
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
        restore = [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, kind, d in constraints if kind == "u"]
        restore += [definition for _, definition in indexes]
        restore += [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, kind, d in constraints if kind == "f"]
        return restore

    def write(self, model, columns, rows):
        """rows: tuples of strings, or text already in COPY format."""
        if not rows:
            return
        text = rows if isinstance(rows, str) else copy_text(rows)
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write(text)

    def settle(self) -> None:
        # Freshly copied rows have no visibility map yet, so index-only scans over the covering
        # indexes would visit the heap for every row until autovacuum came by. Not possible (nor
        # needed) inside an outer transaction, such as a test's.
        if connection.in_atomic_block:
            return
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {', '.join(self.tables)}")

    def wipe(self) -> None:
        # CASCADE also empties what is derived from customers (metrics, tier history, churn work).
        with connection.cursor() as cursor:
            # TRUNCATE refuses tables with deferred FK checks still queued in this transaction.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(self.tables)} RESTART IDENTITY CASCADE")
