"""A nightly run recomputes only the customers whose metrics can have changed, and lands exactly
where recomputing everyone would (PostgreSQL: the triggers that mark changed data live there)."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Count

from customers.changes import marked_customers
from customers.models import Customer, DataChange, Order, OrderLine, Product, Ticket
from tests.churn.test_lapse_watch import lapsed_without_a_lapse
from tests.factories import CustomerFactory, ProductFactory
from tests.tiering.retier_helpers import at, buy, complain, metrics_as_of
from tests.tiering.rulesets import make_ruleset
from tiering import retier
from tiering.catalogue import DERIVED_DAYS
from tiering.models import CustomerMetrics, RetierRun
from tiering.services import ALL, CHANGED, retier_all
from tiering.signals import retier_applied

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 22)  # the demo data's "today": runs before it see later orders arrive
COMPARED = [*retier.COMPARED, *DERIVED_DAYS]


def mismatches_with_a_full_recompute(as_of: dt.date) -> list:
    """Every stored metric (and next-change date) that differs from recomputing everyone now."""
    fresh = metrics_as_of(as_of)
    stored = {m.customer_id: m for m in CustomerMetrics.objects.with_day_counts(as_of)}
    if stored.keys() != fresh.keys():
        return [("customers", sorted(stored.keys() ^ fresh.keys()))]
    wrong = []
    for customer_id, row in fresh.items():
        kept = stored[customer_id]
        wrong += [
            (customer_id, c, getattr(kept, c), getattr(row, c)) for c in COMPARED if getattr(kept, c) != getattr(row, c)
        ]
    return wrong


def counted_tiers() -> dict:
    return {str(t): n for t, n in CustomerMetrics.objects.values_list("tier").annotate(n=Count("pk")).order_by("tier")}


def moves_of_a_full_dry_run(as_of: dt.date, settings) -> dict:
    settings.RETIER_INCREMENTAL = False
    try:
        return retier_all(as_of=as_of, dry_run=True).matrix
    finally:
        settings.RETIER_INCREMENTAL = True


class Changes:
    """Random edits of the kinds a business's nightly imports and admins make."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.serial = 0

    def apply(self, as_of: dt.date, count: int) -> None:
        for _ in range(count):
            self.rng.choice(
                [
                    self.order_today,
                    self.order_today,
                    self.backfill,
                    self.dated_ahead,
                    self.delete_line,
                    self.reprice_line,
                    self.ticket,
                    self.reject_ticket,
                    self.sign_up,
                    self.newcomer,
                    self.leaves,
                ]
            )(as_of)

    def _customer(self) -> Customer:
        return Customer.objects.order_by("?").first()

    def _order(self, customer, when: dt.datetime) -> None:
        self.serial += 1
        order = Order.objects.create(order_id=f"INC-{self.serial}", customer=customer, placed_at=when)
        for product in Product.objects.order_by("?")[: self.rng.randint(1, 3)]:
            amount = Decimal(self.rng.randint(0, 40000)) / 100
            OrderLine.objects.create(
                order=order,
                product=product,
                customer=customer,
                placed_at=when,
                quantity=1,
                amount=amount,
                cost=(amount * Decimal("0.6")).quantize(Decimal("0.01")),
            )

    def _when(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(self.rng.randint(0, 23), 30), tzinfo=dt.UTC)

    def order_today(self, as_of):
        self._order(self._customer(), self._when(as_of))

    def backfill(self, as_of):  # an order from the past that arrives late
        self._order(self._customer(), self._when(as_of - dt.timedelta(days=self.rng.randint(1, 1100))))

    def dated_ahead(self, as_of):
        self._order(self._customer(), self._when(as_of + dt.timedelta(days=self.rng.randint(1, 20))))

    def delete_line(self, as_of):
        OrderLine.objects.filter(pk=OrderLine.objects.order_by("?").values("pk")[:1]).delete()

    def reprice_line(self, as_of):
        OrderLine.objects.filter(pk=OrderLine.objects.order_by("?").values("pk")[:1]).update(amount=Decimal("12.34"))

    def ticket(self, as_of):
        self.serial += 1
        Ticket.objects.create(
            ticket_id=f"INC-T{self.serial}",
            customer=self._customer(),
            kind="complaint",
            outcome="pending",
            opened_at=self._when(as_of - dt.timedelta(days=self.rng.randint(0, 400))),
            compensation=Decimal(self.rng.randint(0, 5000)) / 100,
        )

    def reject_ticket(self, as_of):
        Ticket.objects.filter(pk=Ticket.objects.order_by("?").values("pk")[:1]).update(
            kind="complaint", outcome="rejected"
        )

    def sign_up(self, as_of):
        Customer.objects.filter(pk=self._customer().pk).update(
            signed_up_on=as_of - dt.timedelta(days=self.rng.randint(0, 4000))
        )

    def leaves(self, as_of):  # a customer deleted, with everything of theirs
        self._customer().delete()

    def newcomer(self, as_of):
        self.serial += 1
        Customer.objects.create(external_id=f"INC-C{self.serial}", name=f"Newcomer {self.serial}", signed_up_on=as_of)


# Relative thresholds whose cuts move night by night and nested groups: tier 3 spends at the top of
# everyone, and has tenure near the top or a margin near the top of the repeat buyers, and NONE of
# the costly pattern; tier 2 by a fixed rule, with grace.
RELATIVE_NESTED = {
    3: (
        "all",
        [
            ("revenue", "gte", 0, 90, "everyone"),
            ("any", [("tenure_days", "gte", 0, 75, "everyone"), ("net_margin", "gt", 0, 80, "buyers")]),
            ("none", [("rejected_complaints", "gte", 3), ("compensation_share", "gte", 0.25)]),
        ],
    ),
    2: (
        "any",
        [
            ("orders", "gte", 2),
            ("all", [("active_months", "gte", 1), ("days_since_last_order", "lte", 0, 40, "buyers")]),
        ],
    ),
}


@pytest.mark.parametrize("rules", ["the default rules", "relative and nested rules"])
def test_nightly_runs_on_changing_data_land_exactly_where_recomputing_everyone_would(settings, rules):
    call_command("seed_demo", customers=250, seed=11, today=TODAY, stdout=open("/dev/null", "w"))
    if rules == "relative and nested rules":
        make_ruleset(RELATIVE_NESTED, status="published", grace_runs=1)
    start = TODAY - dt.timedelta(days=45)
    assert retier_all(as_of=start).progress["mode"] == ALL  # the seed's bulk load marked everyone
    changes = Changes(seed=5)
    # consecutive nights, a night run twice, gaps of days and weeks, and the days the demo's
    # latest orders (dated up to TODAY) enter the window
    days = [1, 1, 0, 1, 3, 1, 9, 1, 14, 1, 20, 30]
    as_of = start
    for step, gap in enumerate(days):
        as_of += dt.timedelta(days=gap)
        changes.apply(as_of, count=step % 4 * 3)

        run = retier_all(as_of=as_of)

        assert run.progress["mode"] == CHANGED
        assert run.progress["recomputed"] < Customer.objects.count()
        assert mismatches_with_a_full_recompute(as_of) == []
        assert moves_of_a_full_dry_run(as_of, settings) == {}
        assert lapsed_without_a_lapse(as_of) == []  # churn detection looked only where it had to
        assert run.counts == counted_tiers()


def test_a_night_with_no_new_data_recomputes_only_the_customers_whose_window_moved():
    call_command("seed_demo", customers=250, seed=3, today=TODAY, stdout=open("/dev/null", "w"))
    retier_all(as_of=TODAY)
    due = CustomerMetrics.objects.filter(next_change_on__lte=TODAY + dt.timedelta(days=1)).count()

    run = retier_all(as_of=TODAY + dt.timedelta(days=1))

    assert (run.progress["mode"], run.progress["recomputed"]) == (CHANGED, due)
    assert 0 < due < 50
    assert retier_all(as_of=TODAY + dt.timedelta(days=1)).progress["recomputed"] == 0  # the same night again


def test_an_order_of_a_leap_day_leaves_the_window_on_the_first_of_march_a_year_later():
    c = CustomerFactory()
    buy(c, at("2028-02-29"), amount="500.00")
    buy(c, at("2028-06-01"), amount="20.00")
    retier_all(as_of=dt.date(2029, 2, 27))
    revenue = {}
    for day in (dt.date(2029, 2, 28), dt.date(2029, 3, 1), dt.date(2029, 3, 2)):
        run = retier_all(as_of=day)
        assert run.progress["mode"] == CHANGED
        assert mismatches_with_a_full_recompute(day) == []
        revenue[day.isoformat()] = CustomerMetrics.objects.get(pk=c.pk).revenue

    assert revenue == {"2029-02-28": Decimal("520.00"), "2029-03-01": Decimal("20.00"), "2029-03-02": Decimal("20.00")}


def test_a_product_that_stops_being_new_changes_its_buyers_metrics_on_that_day():
    c = CustomerFactory()
    launched = ProductFactory(launched_on=dt.date(2025, 12, 1))
    buy(c, at("2026-01-10"), product=launched)
    retier_all(as_of=dt.date(2026, 11, 29))
    assert CustomerMetrics.objects.get(pk=c.pk).new_products == 1

    retier_all(as_of=dt.date(2026, 11, 30))
    retier_all(as_of=dt.date(2026, 12, 1))  # the window now starts on 2025-12-02

    assert CustomerMetrics.objects.get(pk=c.pk).new_products == 0
    assert mismatches_with_a_full_recompute(dt.date(2026, 12, 1)) == []


def test_an_import_marks_the_customers_it_changed_and_the_next_run_recomputes_just_them(tmp_path):
    bought, other = CustomerFactory(external_id="C-1"), CustomerFactory(external_id="C-2")
    product = ProductFactory(sku="SKU-1")
    buy(other, at("2026-10-01"), product=product)
    retier_all(as_of=dt.date(2026, 11, 20))
    assert not DataChange.objects.exists()  # the run took and released every mark
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "order_id,customer_id,placed_at,sku,quantity,amount,cost\nN-1,C-1,2026-11-20T10:00:00,SKU-1,2,300.00,100.00\n"
    )

    call_command("import_data", "orders", str(csv), stdout=open("/dev/null", "w"))

    assert marked_customers() == {bought.pk}
    run = retier_all(as_of=dt.date(2026, 11, 20))
    assert (run.progress["mode"], run.progress["recomputed"]) == (CHANGED, 1)
    assert CustomerMetrics.objects.get(pk=bought.pk).revenue == Decimal("300.00")
    assert not DataChange.objects.exists()


def test_a_catalogue_edit_makes_the_next_run_recompute_everyone():
    c = CustomerFactory()
    product = ProductFactory(category="garden")
    buy(c, at("2026-10-01"), product=product)
    retier_all(as_of=dt.date(2026, 11, 20))

    Product.objects.filter(pk=product.pk).update(name="A new name only")
    assert not DataChange.objects.exists()
    Product.objects.filter(pk=product.pk).update(category="kitchen")

    assert marked_customers() == {None}
    assert retier_all(as_of=dt.date(2026, 11, 21)).progress["mode"] == ALL
    assert retier_all(as_of=dt.date(2026, 11, 22)).progress["mode"] == CHANGED


def test_a_run_dated_before_the_last_one_recomputes_everyone():
    c = CustomerFactory()
    buy(c, at("2026-10-01"))
    retier_all(as_of=dt.date(2026, 11, 20))

    run = retier_all(as_of=dt.date(2026, 10, 15))

    assert run.progress["mode"] == ALL
    assert mismatches_with_a_full_recompute(dt.date(2026, 10, 15)) == []


def test_data_written_after_a_run_took_its_marks_is_recomputed_by_the_next_run():
    early, late = CustomerFactory(), CustomerFactory()
    buy(early, at("2026-10-01"))
    retier_all(as_of=dt.date(2026, 11, 20))
    buy(early, at("2026-11-20"), amount="50.00")

    def import_during_the_run(**kwargs):  # as if an import committed while the run was applying
        buy(late, at("2026-11-20"), amount="70.00")

    retier_applied.connect(import_during_the_run)
    try:
        retier_all(as_of=dt.date(2026, 11, 20))
    finally:
        retier_applied.disconnect(import_during_the_run)

    assert marked_customers() == {late.pk}
    retier_all(as_of=dt.date(2026, 11, 20))
    assert CustomerMetrics.objects.get(pk=late.pk).revenue == Decimal("70.00")


def test_the_marks_of_a_failed_run_are_taken_again_by_the_next():
    c = CustomerFactory()
    buy(c, at("2026-10-01"))
    retier_all(as_of=dt.date(2026, 11, 20))
    buy(c, at("2026-11-20"), amount="50.00")

    def fail(**kwargs):
        raise RuntimeError("disk full")

    retier_applied.connect(fail)
    try:
        with pytest.raises(RuntimeError):
            retier_all(as_of=dt.date(2026, 11, 20))
    finally:
        retier_applied.disconnect(fail)

    assert RetierRun.objects.filter(status="failed").count() == 1
    assert c.pk in marked_customers()
    run = retier_all(as_of=dt.date(2026, 11, 20))
    assert run.progress["recomputed"] == 1
    assert CustomerMetrics.objects.get(pk=c.pk).revenue == Decimal("150.00")


def test_a_dry_run_reads_the_marks_but_leaves_them_for_the_real_run():
    c = CustomerFactory()
    buy(c, at("2026-10-01"))
    retier_all(as_of=dt.date(2026, 11, 20))
    complain(c, at("2026-11-20"), compensation="30")

    dry = retier_all(as_of=dt.date(2026, 11, 20), dry_run=True)

    assert (dry.progress["mode"], dry.progress["recomputed"]) == (CHANGED, 1)
    assert c.pk in marked_customers()
    assert CustomerMetrics.objects.get(pk=c.pk).compensation == 0


def test_with_the_setting_off_every_run_recomputes_everyone(settings):
    settings.RETIER_INCREMENTAL = False
    c = CustomerFactory()
    buy(c, at("2026-10-01"))
    retier_all(as_of=dt.date(2026, 11, 20))

    run = retier_all(as_of=dt.date(2026, 11, 21))

    assert (run.progress["mode"], run.progress["recomputed"]) == (ALL, 1)
    assert not DataChange.objects.exists()  # marks are still taken, so turning it on again is safe


def test_a_customer_reaching_two_years_of_tenure_moves_up_that_night_with_no_new_data():
    make_ruleset({3: ("all", [("tenure_days", "gte", 730), ("revenue", "gte", 100)])}, status="published")
    c = CustomerFactory(signed_up_on=dt.date(2024, 11, 21))  # 730 days on 2026-11-21
    buy(c, at("2026-10-01"), amount="150.00")
    retier_all(as_of=dt.date(2026, 11, 19))

    eve = retier_all(as_of=dt.date(2026, 11, 20))
    night = retier_all(as_of=dt.date(2026, 11, 21))

    assert (eve.moved, night.moved, night.matrix) == (0, 1, {"1->3": 1})
    assert night.progress["recomputed"] == 0  # the tier moved with the date alone
    assert CustomerMetrics.objects.get(pk=c.pk).tier == 3


def test_a_customer_silent_too_long_for_a_recency_rule_drops_after_the_grace_runs():
    make_ruleset({2: ("all", [("days_since_last_order", "lte", 30)])}, status="published", grace_runs=1)
    c = CustomerFactory()
    buy(c, at("2026-10-01"))
    tiers_by_day = {}
    for day in range(29, 34):  # 2026-10-31 is the 30th day since the order
        as_of = dt.date(2026, 10, 1) + dt.timedelta(days=day)
        retier_all(as_of=as_of)
        tiers_by_day[day] = CustomerMetrics.objects.values_list("tier", "below_runs").get(pk=c.pk)

    assert tiers_by_day == {29: (2, 0), 30: (2, 0), 31: (2, 1), 32: (1, 0), 33: (1, 0)}
    assert mismatches_with_a_full_recompute(dt.date(2026, 11, 3)) == []
