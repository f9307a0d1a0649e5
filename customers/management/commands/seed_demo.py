"""`python manage.py seed_demo`: believable demo data (customers.demo) and one demo user per role."""

import datetime as dt
import os
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from customers.demo import DemoDataExists, seed_demo


class Command(BaseCommand):
    help = "Fill the database with synthetic but believable customers, orders and tickets, and demo users."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=600, help="How many customers (default 600).")
        parser.add_argument("--seed", type=int, default=1, help="Same seed and --today give the same data.")
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="Date the data is relative to, YYYY-MM-DD (default: today).",
        )
        parser.add_argument(
            "--lines-per-customer",
            type=float,
            default=None,
            help="Target average order lines per customer (default: about 10).",
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=min(4, os.cpu_count() or 1),
            help="Processes generating data side by side for large sizes (default: cores, up to 4).",
        )
        parser.add_argument("--reset", action="store_true", help="Delete all customer data first (asks to type 'yes').")
        parser.add_argument(
            "--yes",
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask before --reset deletes the data (for scripts).",
        )

    def handle(self, *args, customers, seed, today, lines_per_customer, jobs, reset, interactive, **options):
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError(
                f"seed_demo refuses to run with these settings ({settings.SETTINGS_MODULE}): it makes demo "
                "accounts, a staff 'admin' among them, whose passwords are public, and fake customers. "
                "It is for a demo on config.settings.local; nothing was changed."
            )
        if customers < 1:
            raise CommandError("--customers must be at least 1.")
        if reset and interactive:
            self.confirm_reset()
        today = today or timezone.localdate()
        started = time.monotonic()
        show = _Progress(self.stdout, customers, started)
        try:
            result = seed_demo(
                customers=customers,
                seed=seed,
                today=today,
                reset=reset,
                lines_per_customer=lines_per_customer,
                jobs=jobs,
                progress=show,
            )
        except DemoDataExists as exc:
            raise CommandError(str(exc)) from None
        show.done()
        c = result.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {c['customer']:,} customers, {c['product']} products, {c['order']:,} orders, "
                f"{c['orderline']:,} order lines, {c['ticket']:,} tickets as of {today} (seed {seed}) "
                f"in {time.monotonic() - started:.1f} s."
            )
        )
        if result.rebuild_seconds:
            self.stdout.write(f"  (of which {result.rebuild_seconds:.1f} s rebuilding indexes and constraints)")
        self.stdout.write("Demo users (for the demo only; these passwords are public):")
        for username, group, password in result.users:
            self.stdout.write(f"  {username:<10} {password:<20} {group}")

    def confirm_reset(self) -> None:
        if not sys.stdin.isatty():
            raise CommandError(
                "--reset deletes all customer data and there is no terminal to confirm it on: add --yes "
                "(or --no-input) to reset without asking. Nothing was changed."
            )
        from customers.models import Customer

        database = connection.settings_dict["NAME"]
        self.stdout.write(
            f"--reset deletes all {Customer.objects.count():,} customers, their orders and tickets, and "
            f"everything computed from them, in database {database}."
        )
        self.stdout.write("Type 'yes' to continue: ", ending="")
        self.stdout.flush()
        if sys.stdin.readline().strip().lower() != "yes":
            raise CommandError("Reset cancelled: nothing was changed.")


class _Progress:
    """A one-line counter on a terminal; a line every ~10% otherwise (logs, benchmarks)."""

    def __init__(self, stdout, total, started):
        self.stdout, self.total, self.started = stdout, total, started
        self.tty = sys.stdout.isatty()
        self.next_report = 0.1

    def __call__(self, counts):
        share = counts["customer"] / self.total
        line = (
            f"  {counts['customer']:,}/{self.total:,} customers ({share:.0%}), "
            f"{counts['orderline']:,} lines, {time.monotonic() - self.started:.0f} s"
        )
        if self.tty:
            self.stdout.write("\r" + line, ending="")
            self.stdout.flush()
        elif share >= self.next_report:
            self.stdout.write(line)
            self.next_report = share + 0.1

    def done(self):
        if self.tty:
            self.stdout.write("")
