"""TierCount's customers, revenue and net margin per tier follow every write to the metrics exactly
(a trigger, tiering 0026), and each real run's RunTierTotal rows, copied from it, are what summing
the whole metrics table gave before."""

import datetime as dt
import importlib
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F

from customers.models import Customer
from tests.factories import CustomerFactory, CustomerMetricsFactory
from tests.tiering.retier_helpers import at, buy, publish_rules
from tests.tiering.rulesets import make_ruleset
from tests.tiering.test_retier_incremental import RELATIVE_NESTED, TODAY, Changes
from tiering.models import CustomerMetrics, RetierRun, RunTierTotal, TierCount
from tiering.services import ALL, CHANGED, retier_all

# What the run's totals were before TierCount kept the sums: one GROUP BY over every metrics row.
FULL_SCAN = """
SELECT tier, COUNT(*), COALESCE(SUM(revenue), 0), COALESCE(SUM(net_margin), 0)
FROM tiering_customermetrics GROUP BY tier
"""
HUGE = Decimal("999999999999.99")  # the largest value a metrics column holds: floats lose its cents in a sum


def summed_now() -> dict[int, tuple[int, Decimal, Decimal]]:
    with connection.cursor() as cursor:
        cursor.execute(FULL_SCAN)
        return {tier: (n, revenue, margin) for tier, n, revenue, margin in cursor.fetchall()}


def kept_by_the_trigger() -> dict[int, tuple[int, Decimal, Decimal]]:
    """TierCount's rows; a tier nobody holds any more must have nothing left in its sums."""
    rows = {t.tier: (t.customers, t.revenue, t.net_margin) for t in TierCount.objects.all()}
    emptied = {tier: row for tier, row in rows.items() if row[0] == 0}
    assert all(row == (0, 0, 0) for row in emptied.values()), emptied
    return {tier: row for tier, row in rows.items() if tier not in emptied}


def run_totals(run: RetierRun) -> dict[int, tuple[int, Decimal, Decimal]]:
    return {t.tier: (t.customers, t.revenue, t.net_margin) for t in RunTierTotal.objects.filter(run=run)}


def money(rng: random.Random) -> Decimal:
    if rng.random() < 0.1:
        return rng.choice([HUGE, -HUGE, Decimal("0.01"), Decimal("-0.01")])
    return Decimal(rng.randint(-5_000_000, 50_000_000)) / 100


class MetricsWrites:
    """Writes straight to the metrics of the kinds the trigger must follow: single and multi-row
    inserts, updates that move tiers, change only the money or change neither, deletes."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.removed: list[CustomerMetrics] = []

    def apply(self, count: int) -> None:
        for _ in range(count):
            self.rng.choice(
                [
                    self.reinsert,
                    self.move_tiers,
                    self.reprice_within_tier,
                    self.rotate_tiers,
                    self.touch_nothing_counted,
                    self.save_one,
                    self.delete_some,
                ]
            )()

    def _some(self, most: int) -> list[int]:
        return list(CustomerMetrics.objects.order_by("?").values_list("pk", flat=True)[: self.rng.randint(1, most)])

    def reinsert(self):  # rows deleted earlier come back, with other numbers (one INSERT of many rows)
        gone = {r.pk for r in self.removed} - set(CustomerMetrics.objects.values_list("pk", flat=True))
        gone &= set(Customer.objects.filter(pk__in=gone).values_list("pk", flat=True))  # not left since
        back, self.removed = [r for r in self.removed if r.pk in gone], []
        for row in back:
            row.tier, row.revenue, row.net_margin = self.rng.randint(1, 3), money(self.rng), money(self.rng)
        CustomerMetrics.objects.bulk_create(back)

    def move_tiers(self):
        CustomerMetrics.objects.filter(pk__in=self._some(30)).update(
            tier=self.rng.randint(1, 3), revenue=money(self.rng), net_margin=-F("net_margin")
        )

    def reprice_within_tier(self):  # counts unchanged, sums not
        CustomerMetrics.objects.filter(pk__in=self._some(30)).update(
            revenue=money(self.rng), net_margin=money(self.rng)
        )

    def rotate_tiers(self):  # one customer of each tier moves up a tier: every count the same, the sums move
        rows = CustomerMetrics.objects.order_by("?").values_list("pk", flat=True)
        ids = [rows.filter(tier=tier).first() for tier in (1, 2, 3)]
        CustomerMetrics.objects.filter(pk__in=[i for i in ids if i]).update(tier=F("tier") % 3 + 1)

    def touch_nothing_counted(self):
        CustomerMetrics.objects.filter(pk__in=self._some(30)).update(below_runs=F("below_runs"))

    def save_one(self):
        row = CustomerMetrics.objects.order_by("?").first()
        row.net_margin = money(self.rng)
        row.save()

    def delete_some(self):
        ids = self._some(20)
        self.removed += list(CustomerMetrics.objects.filter(pk__in=ids))
        CustomerMetrics.objects.filter(pk__in=ids).delete()


def assert_exact(run: RetierRun | None = None) -> None:
    scanned = summed_now()
    assert kept_by_the_trigger() == scanned
    if run is not None:
        assert run_totals(run) == scanned


@pytest.mark.django_db
@pytest.mark.parametrize("rules", ["the default rules", "relative and nested rules"])
def test_tier_counts_and_sums_equal_a_fresh_sum_of_the_metrics_through_random_writes_and_runs(settings, rules):
    call_command("seed_demo", customers=250, seed=11, today=TODAY, stdout=open("/dev/null", "w"))
    if rules == "relative and nested rules":
        make_ruleset(RELATIVE_NESTED, status="published", grace_runs=1)
    as_of = TODAY - dt.timedelta(days=45)
    first = retier_all(as_of=as_of)
    assert first.progress["mode"] == ALL
    assert_exact(first)
    data, writes = Changes(seed=7), MetricsWrites(seed=3)
    modes = set()
    for step, gap in enumerate([1, 1, 0, 3, 1, 9, 1, 14, 20, 30]):
        as_of += dt.timedelta(days=gap)
        data.apply(as_of, count=step % 4 * 3)
        writes.apply(count=4)
        assert_exact()
        if step == 5:
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred key checks, first
                cursor.execute("TRUNCATE tiering_customermetrics")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            assert TierCount.objects.count() == 0 and summed_now() == {}
        settings.RETIER_INCREMENTAL = step % 3 != 2  # every third night recomputes everyone

        run = retier_all(as_of=as_of)

        modes.add(run.progress["mode"])
        assert_exact(run)
        assert run.counts == {str(t): n for t, (n, _, _) in summed_now().items()}
    assert modes == {ALL, CHANGED}


@pytest.mark.django_db
def test_sums_of_the_largest_amounts_stay_exact_to_the_cent():
    """120 customers near the largest revenue a row holds, in one INSERT: a float sum of them is
    off by 0.40 (it keeps 15 significant digits), numeric is exact."""
    customers = Customer.objects.bulk_create(Customer(external_id=f"BIG-{i}", name=f"Big {i}") for i in range(120))
    revenues = [HUGE - Decimal("0.37") * i for i in range(1, 121)]
    CustomerMetrics.objects.bulk_create(
        CustomerMetricsFactory.build(customer=c, tier=3, revenue=r, cost=0, net_margin=-r)
        for c, r in zip(customers, revenues, strict=True)
    )

    assert sum(revenues) == Decimal("119999999997312.60")
    assert kept_by_the_trigger() == {3: (120, sum(revenues), -sum(revenues))} == summed_now()


@pytest.mark.django_db
def test_a_tier_nobody_holds_any_more_gets_no_total_row_as_before():
    big, small = CustomerFactory(), CustomerFactory()
    buy(big, at("2026-03-01"), amount="1500.00")
    buy(small, at("2026-03-01"), amount="100.00")
    publish_rules()
    assert run_totals(retier_all(as_of=dt.date(2026, 11, 22))).keys() == {1, 3}

    big.delete()
    run = retier_all(as_of=dt.date(2026, 11, 23))

    assert TierCount.objects.get(tier=3).customers == 0  # the trigger keeps the emptied row
    assert run_totals(run) == summed_now() == {1: (1, Decimal("100.00"), Decimal("40.00"))}


@pytest.mark.django_db
def test_the_migration_sums_the_metrics_already_stored_and_recounts_the_tiers():
    for tier, revenue in ((1, "12.34"), (2, "-5.00"), (2, HUGE), (3, "0.01")):
        CustomerMetricsFactory(tier=tier, revenue=Decimal(revenue))
    with connection.cursor() as cursor:  # as a database from before tiering 0026 holds them: counts only
        cursor.execute("UPDATE tiering_tiercount SET revenue = 0, net_margin = 0, customers = customers + 7")
    migration = importlib.import_module("tiering.migrations.0026_totals10_tier_sums")

    with connection.schema_editor() as editor:
        migration.install(apps=None, schema_editor=editor)

    assert kept_by_the_trigger() == summed_now()
    assert kept_by_the_trigger()[2] == (2, HUGE - 5, HUGE - 5 - 1200)
