"""`manage.py seed_demo`: believable, deterministic demo data and one demo user per role."""

import datetime as dt
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import ExtractYear
from django.urls import reverse

from config import embedded_pg
from customers import demo
from customers.models import Customer, Order, OrderLine, Product, Ticket
from tests.factories import CustomerMetricsFactory
from tiering.models import CustomerMetrics

TODAY = dt.date(2026, 11, 22)
ROOT = Path(__file__).resolve().parents[2]


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", today=TODAY, stdout=out, **{"customers": 400, "seed": 7, **options})
    return out.getvalue()


def fingerprint() -> str:
    """A hash of every customer, order, line and ticket as a user would see them (keys, not ids)."""
    digest = hashlib.sha256()
    for rows in (
        Customer.objects.order_by("external_id").values_list(
            "external_id", "name", "email", "company", "signed_up_on", "account_manager__username"
        ),
        Product.objects.order_by("sku").values_list("sku", "name", "category", "launched_on"),
        Order.objects.order_by("order_id").values_list("order_id", "customer__external_id", "placed_at"),
        OrderLine.objects.order_by("order__order_id", "product__sku").values_list(
            "order__order_id", "product__sku", "quantity", "amount", "cost"
        ),
        Ticket.objects.order_by("ticket_id").values_list(
            "ticket_id", "customer__external_id", "opened_at", "kind", "outcome", "compensation"
        ),
    ):
        for row in rows:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def customer_figures():
    """Per customer: revenue, margin, distinct order years, last order, rejected complaints, compensation."""
    lines = {
        row["customer"]: row
        for row in OrderLine.objects.values("customer").annotate(
            revenue=Sum("amount"),
            margin=Sum(F("amount") - F("cost")),
            years=Count(ExtractYear("placed_at"), distinct=True),
            last=Max("placed_at"),
            orders=Count("order", distinct=True),
        )
    }
    tickets = {
        row["customer"]: row
        for row in Ticket.objects.values("customer").annotate(
            rejected=Count("id", filter=Q(kind="complaint", outcome="rejected")), compensation=Sum("compensation")
        )
    }
    return lines, tickets


@pytest.mark.django_db
def test_the_same_seed_and_day_give_identical_data_and_another_seed_does_not():
    seed()
    first = fingerprint()
    seed(reset=True, interactive=False)
    assert fingerprint() == first
    seed(reset=True, seed=8, interactive=False)
    assert fingerprint() != first


def test_worker_processes_make_the_same_chunks_as_one_process():
    plan = demo.Plan(customers=demo.CHUNK_CUSTOMERS + 200, seed=3, today=TODAY, manager_ids=(5, 6))
    catalogue = demo.build_catalogue(seed=3, today=TODAY)
    alone = list(demo.generate(plan=plan, catalogue=catalogue, jobs=1, encode=True))
    side_by_side = list(demo.generate(plan=plan, catalogue=catalogue, jobs=2, encode=True))
    assert [c.lines for c in alone] == [c.lines for c in side_by_side]
    assert [c.customers for c in alone] == [c.customers for c in side_by_side]


@pytest.mark.django_db
def test_it_makes_serial_complainers_whose_compensation_exceeds_their_margin():
    seed()
    lines, tickets = customer_figures()
    complainers = [
        c for c, t in tickets.items() if t["rejected"] >= 5 and c in lines and t["compensation"] > lines[c]["margin"]
    ]
    assert len(complainers) >= 10  # 5% of 400


@pytest.mark.django_db
def test_it_makes_a_few_lifetime_big_spenders_over_several_years():
    seed()
    lines, _ = customer_figures()
    revenues = sorted((row["revenue"] for row in lines.values()), reverse=True)
    top_few_percent = revenues[int(len(revenues) * 0.03)]
    big = [c for c, row in lines.items() if row["revenue"] >= top_few_percent and row["years"] >= 3]
    assert len(big) >= 5
    # ...and most of them have an account manager
    assert Customer.objects.filter(pk__in=big, account_manager__isnull=False).count() >= 0.8 * len(big)


@pytest.mark.django_db
def test_it_makes_one_time_buyers_loyal_buyers_and_churners():
    seed()
    lines, _ = customer_figures()
    cutoff = dt.datetime.combine(TODAY - dt.timedelta(days=120), dt.time(), tzinfo=dt.UTC)
    one_order = [c for c, row in lines.items() if row["orders"] == 1]
    loyal = [c for c, row in lines.items() if row["orders"] >= 6 and row["margin"] > 0 and row["last"] >= cutoff]
    stopped = [c for c, row in lines.items() if row["last"] < cutoff and row["orders"] >= 4]
    assert len(one_order) >= 40 and len(loyal) >= 80 and len(stopped) >= 40
    assert Order.objects.filter(placed_at__date__gt=TODAY).count() == 0


@pytest.mark.django_db
def test_lifetime_churners_bought_a_recent_change_before_they_stopped():
    seed()
    lines, _ = customer_figures()
    cutoff = dt.datetime.combine(TODAY - dt.timedelta(days=120), dt.time(), tzinfo=dt.UTC)
    revenues = sorted((row["revenue"] for row in lines.values()), reverse=True)
    big_and_gone = [c for c, row in lines.items() if row["revenue"] >= revenues[15] and row["last"] < cutoff]
    changes = Product.objects.filter(name__in=demo.words.CHANGE_PRODUCTS)
    bought_change = OrderLine.objects.filter(customer__in=big_and_gone, product__in=changes)
    assert len(big_and_gone) >= 4
    assert bought_change.values("customer").distinct().count() >= 2


@pytest.mark.django_db
def test_products_span_categories_and_years_with_several_new_launches():
    seed()
    year_ago = TODAY - dt.timedelta(days=365)
    assert 50 <= Product.objects.count() <= 70
    assert Product.objects.values("category").distinct().count() >= 8
    assert Product.objects.filter(launched_on__gt=year_ago).count() >= 5
    assert Product.objects.filter(launched_on__lt=TODAY - dt.timedelta(days=5 * 365)).exists()
    assert OrderLine.objects.filter(product__launched_on__gt=year_ago).exists()


@pytest.mark.django_db
def test_lines_cost_55_to_80_percent_of_their_price_and_some_are_free():
    seed()
    assert OrderLine.objects.filter(amount=0).exists()
    assert not OrderLine.objects.filter(placed_at__lt=F("order__placed_at")).exists()
    charged = OrderLine.objects.filter(amount__gt=0)
    assert not charged.filter(cost__lt=F("amount") * Decimal("0.55")).exists()
    assert not charged.filter(
        cost__gt=F("amount") * Decimal("0.89")
    ).exists()  # 80% of a list price discounted up to 10%
    sizes = Order.objects.annotate(n=Count("lines")).aggregate(
        low=Count("id", filter=Q(n__lt=1)), high=Count("id", filter=Q(n__gt=4))
    )
    assert sizes == {"low": 0, "high": 0}


@pytest.mark.django_db
def test_demo_users_exist_in_their_groups_and_can_log_in(client):
    output = seed()
    expected = {"admin": "Admin", "manager": "Account manager", "manager2": "Account manager", "marketing": "Marketing"}
    for username, group in expected.items():
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [group]
        password = f"tierboard-{username}"
        assert password in output
        # Through the sign-in page: login throttling (django-axes) needs the request.
        signed_in = client.post(reverse("login"), {"username": username, "password": password})
        assert signed_in.status_code == 302, username
    assert User.objects.get(username="admin").is_staff
    assert not User.objects.get(username="marketing").is_staff
    assert "for the demo only" in output
    managed = Customer.objects.filter(account_manager__username__in=["manager", "manager2"])
    assert managed.filter(account_manager__username="manager").exists()
    assert managed.filter(account_manager__username="manager2").exists()


@pytest.mark.django_db
def test_it_refuses_to_seed_a_database_that_has_customers_unless_reset():
    seed(customers=50)
    before = fingerprint()
    with pytest.raises(CommandError, match="--reset"):
        seed(customers=60, seed=99)
    assert Customer.objects.count() == 50
    assert fingerprint() == before


@pytest.mark.django_db
def test_reset_replaces_the_data_and_what_was_computed_from_it_and_keeps_indexes_and_constraints():
    seed(customers=50)
    CustomerMetricsFactory(customer=Customer.objects.first())
    seed(customers=80, reset=True, interactive=False)
    assert Customer.objects.count() == 80
    assert not CustomerMetrics.objects.exists()
    from django.db import IntegrityError, connection, transaction

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, OrderLine._meta.db_table)
    assert "orderline_customer_placed_idx" in constraints
    assert "orderline_order_product_uniq" in constraints
    line = OrderLine.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderLine.objects.create(
            order=line.order,
            product=line.product,
            customer=line.customer,
            placed_at=line.placed_at,
            quantity=1,
            amount=1,
        )
    # new rows get ids after the seeded ones
    assert (
        Customer.objects.create(external_id="NEW", name="New").pk
        > Customer.objects.exclude(external_id="NEW").aggregate(m=Max("pk"))["m"]
    )


def test_it_runs_on_the_demos_embedded_postgresql():
    """What `make demo` does first: migrate and seed a new embedded server (config.embedded_pg)."""
    parent = Path(tempfile.mkdtemp(prefix="tierboard-pg-"))  # not tmp_path: see tests/test_embedded_pg.py
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    env.pop("REDIS_URL", None)
    manage = f"{sys.executable} manage.py"
    steps = f"{manage} migrate -v0 && {manage} seed_demo --customers 200 --today 2026-11-22"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "config.embedded_pg", "--data-dir", str(parent / "postgres"), "run", "--"]
            + ["sh", "-c", steps],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        embedded_pg.stop(parent / "postgres")  # already stopped, unless the run timed out
        shutil.rmtree(parent)
    assert done.returncode == 0, done.stderr
    assert "Seeded 200 customers" in done.stdout and "tierboard-admin" in done.stdout


class Keyboard(io.StringIO):
    """Standard input that is (or is not) a person at a terminal, typing `text`."""

    def __init__(self, text: str = "", *, tty: bool = True):
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.django_db
def test_it_refuses_to_run_under_production_settings_and_changes_nothing(settings):
    settings.DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="seed_demo refuses to run with these settings"):
        seed(customers=50)
    assert not Customer.objects.exists()
    assert not User.objects.filter(username="admin").exists()


def test_production_settings_turn_demo_data_off():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 20 + "-a-throwaway-key-only-these-tests-ever-use-0123456789",
        "DATABASE_URL": "postgres://tierboard:pw@db.invalid:5432/tierboard",  # never reached
        "REDIS_URL": "redis://redis.invalid:6379/0",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--customers", "10"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "seed_demo refuses to run with these settings (config.settings.production)" in done.stderr


@pytest.mark.django_db
def test_reset_asks_and_goes_ahead_when_yes_is_typed(monkeypatch):
    seed(customers=50)
    monkeypatch.setattr(sys, "stdin", Keyboard("yes\n"))
    output = seed(customers=60, reset=True)
    assert "--reset deletes all 50 customers" in output
    assert "Type 'yes' to continue" in output
    assert Customer.objects.count() == 60


@pytest.mark.django_db
@pytest.mark.parametrize("answer", ["", "no\n", "y\n"])
def test_reset_changes_nothing_unless_yes_is_typed(monkeypatch, answer):
    seed(customers=50)
    before = fingerprint()
    monkeypatch.setattr(sys, "stdin", Keyboard(answer))
    with pytest.raises(CommandError, match="Reset cancelled: nothing was changed"):
        seed(customers=60, reset=True)
    assert fingerprint() == before


@pytest.mark.django_db
def test_reset_without_a_terminal_refuses_unless_told_not_to_ask(monkeypatch):
    seed(customers=50)
    monkeypatch.setattr(sys, "stdin", Keyboard("yes\n", tty=False))
    with pytest.raises(CommandError, match="no terminal to confirm it on: add --yes"):
        seed(customers=60, reset=True)
    assert Customer.objects.count() == 50
    seed(customers=60, reset=True, interactive=False)
    assert Customer.objects.count() == 60


def test_yes_and_no_input_are_the_same_flag():
    from customers.management.commands.seed_demo import Command

    parser = Command().create_parser("manage.py", "seed_demo")
    for flag in ("--yes", "--no-input", "--noinput"):
        assert parser.parse_args(["--reset", flag]).interactive is False
    assert parser.parse_args(["--reset"]).interactive is True
