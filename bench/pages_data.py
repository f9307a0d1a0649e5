"""Believable data for the dashboard pages, written set-based in PostgreSQL (generate_series).

Used by the pages benchmark and for screenshots until `seed_demo` exists: N customers with
metrics and tiers, a few account managers, a published rule set, a history of nightly runs with
movers in each, and one "long history" customer with hundreds of orders, tickets and tier changes.
Runs only on an empty customers table (it does not mix with real data).
"""

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer
from tiering.models import Condition, RetierRun, RuleGroup, RuleSet, Tier

AS_OF = dt.date(2026, 11, 1)
RUNS = 30
FIRST = ["Ada", "Ben", "Chloé", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ivo", "Jun", "Kemal", "Lena", "Mateo", "Nora", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomasz"]
LAST = ["Achterberg", "Brandt", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Horvat", "Ionescu", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "O'Brien", "Petrov", "Rossi", "Schmidt", "Tanaka", "Weber"]
COMPANY = ["Northwind", "Bluebird Labs", "Kettle & Co", "Fjord Foods", "Orchard Studio", "Lumen Works", "Harbour Tools", "", "", ""]
MANAGERS = [("amira", "Amira", "Haddad"), ("jonas", "Jonas", "Berg"), ("li", "Li", "Wei"), ("sofia", "Sofia", "Marin")]


def load(*, customers: int, long_history_changes: int = 200) -> dict:
    if Customer.objects.exists():
        return {"loaded": False, "customers": Customer.objects.count(), "long_history": _long_history_id()}
    with transaction.atomic():
        managers = _managers()
        _ruleset()
        with connection.cursor() as cursor:
            _customers(cursor, customers, [m.pk for m in managers])
            _metrics(cursor)
            runs = _runs(cursor, customers)
            long_id = _long_history(cursor, runs, long_history_changes)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer; ANALYZE tiering_customermetrics; ANALYZE tiering_tierchange")
    return {"loaded": True, "customers": customers, "long_history": long_id}


def _managers() -> list[User]:
    group = Group.objects.get(name="Account manager")
    users = []
    for username, first, last in MANAGERS:
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"})
        if created:
            user.set_password("demo-pass-123")
            user.save()
        user.groups.add(group)
        users.append(user)
    return users


def _ruleset() -> None:
    if RuleSet.objects.filter(status="published").exists():
        return
    ruleset = RuleSet.objects.create(version=1, status="published", published_at=timezone.now(), notes="Demo rules")
    tiers = {t.level: t for t in Tier.objects.all()}
    lifetime = RuleGroup.objects.create(ruleset=ruleset, tier=tiers[3], match="all")
    for metric, op, value in [("net_margin", "gte", "5000"), ("tenure_days", "gte", "730"), ("active_months", "gte", "8"), ("categories", "gte", "3")]:
        Condition.objects.create(group=lifetime, metric=metric, op=op, value=Decimal(value))
    loyal = RuleGroup.objects.create(ruleset=ruleset, tier=tiers[2], match="all")
    for metric, op, value in [("net_margin", "gt", "0"), ("orders", "gte", "2"), ("compensation_share", "lt", "0.2")]:
        Condition.objects.create(group=loyal, metric=metric, op=op, value=Decimal(value))


def _customers(cursor, n: int, manager_ids: list[int]) -> None:
    cursor.execute(
        """
        INSERT INTO customers_customer (external_id, name, email, company, signed_up_on, account_manager_id)
        SELECT 'C' || lpad(i::text, 7, '0'),
               (%(first)s::text[])[1 + (i * 7) %% 20] || ' ' || (%(last)s::text[])[1 + (i * 13 + i / 20) %% 20],
               'c' || i || '@example.com',
               (%(company)s::text[])[1 + (i * 3) %% 10],
               DATE '2018-01-01' + ((i * 37) %% 2800),
               CASE WHEN i %% 5 = 0 THEN NULL ELSE (%(managers)s::bigint[])[1 + i %% %(m)s] END
        FROM generate_series(1, %(n)s) AS i
        """,
        {"first": FIRST, "last": LAST, "company": COMPANY, "managers": manager_ids, "m": len(manager_ids), "n": n},
    )


def _metrics(cursor) -> None:
    # Tier 3 ~3 %, tier 2 ~55 %, tier 1 the rest; metrics drawn to fit each tier.
    cursor.execute("SELECT setseed(0.42)")
    cursor.execute(
        """
        INSERT INTO tiering_customermetrics (customer_id, as_of, revenue, cost, compensation, net_margin, orders,
            active_months, first_order_at, last_order_at, tenure_days, days_since_last_order, median_gap_days,
            categories, new_products, complaints, rejected_complaints, compensation_share, tier, tier_since, below_runs)
        SELECT id, %(as_of)s, revenue, cost, comp, revenue - cost - comp, orders, LEAST(orders, 12),
               %(as_of)s::timestamptz - make_interval(days => tenure), %(as_of)s::timestamptz - make_interval(days => since),
               tenure, since, round((tenure / GREATEST(orders, 1))::numeric, 1), LEAST(orders, 1 + tier * 2 - 1), tier - 1,
               complaints, rejected, CASE WHEN revenue > 0 THEN round(comp / revenue, 4) ELSE 0 END,
               tier, %(as_of)s::timestamptz - make_interval(days => (id %% 400)::int), 0
        FROM (
            SELECT id, tier,
                   round((CASE tier WHEN 3 THEN 9000 + r * 40000 WHEN 2 THEN 300 + r * 4000 ELSE r * 600 END)::numeric, 2) AS revenue,
                   round((CASE tier WHEN 3 THEN 9000 + r * 40000 WHEN 2 THEN 300 + r * 4000 ELSE r * 600 END * (0.55 + r2 * 0.2))::numeric, 2) AS cost,
                   round((CASE tier WHEN 1 THEN r2 * 300 ELSE r2 * 20 END)::numeric, 2) AS comp,
                   (CASE tier WHEN 3 THEN 14 + r * 30 WHEN 2 THEN 2 + r * 10 ELSE r * 3 END)::int AS orders,
                   (CASE tier WHEN 3 THEN 800 + r2 * 2000 ELSE 30 + r * 2000 END)::int AS tenure,
                   (CASE tier WHEN 1 THEN 20 + r2 * 500 ELSE r2 * 90 END)::int AS since,
                   (CASE tier WHEN 1 THEN r2 * 6 ELSE r2 * 1.2 END)::int AS complaints,
                   (CASE tier WHEN 1 THEN r2 * 4 ELSE 0 END)::int AS rejected
            FROM (
                SELECT id, random() AS r, random() AS r2,
                       CASE WHEN random() < 0.03 THEN 3 WHEN random() < 0.57 THEN 2 ELSE 1 END AS tier
                FROM customers_customer
            ) AS drawn
        ) AS m
        """,
        {"as_of": AS_OF},
    )


def _runs(cursor, n: int) -> list[RetierRun]:
    """RUNS nightly runs; in each, ~2 % of customers moved (history rows with a why)."""
    cursor.execute("SELECT tier, count(*) FROM tiering_customermetrics GROUP BY tier")
    counts = {str(level): count for level, count in cursor.fetchall()}
    ruleset = RuleSet.objects.get(status="published")
    runs = []
    for i in range(RUNS):
        day = AS_OF - dt.timedelta(days=RUNS - 1 - i)
        started = timezone.make_aware(dt.datetime.combine(day, dt.time(2, 0)))
        run = RetierRun.objects.create(as_of=day, ruleset=ruleset, status="succeeded", triggered_by="nightly", counts=counts)
        RetierRun.objects.filter(pk=run.pk).update(started_at=started, finished_at=started + dt.timedelta(seconds=9))
        cursor.execute(
            """
            INSERT INTO tiering_tierchange (customer_id, run_id, from_tier, to_tier, changed_at, why)
            SELECT customer_id, %(run)s, CASE WHEN tier = 1 THEN 2 WHEN tier = 3 THEN 2 ELSE 1 + (customer_id %% 2) * 2 END, tier, %(at)s,
                   jsonb_build_object('tier', tier, 'version', 1, 'groups', jsonb_build_array(
                     jsonb_build_object('level', 3, 'match', 'all', 'held', tier = 3, 'conditions', jsonb_build_array(
                       jsonb_build_object('metric', 'net_margin', 'op', 'gte', 'threshold', '5000', 'value', net_margin::text, 'held', net_margin >= 5000))),
                     jsonb_build_object('level', 2, 'match', 'all', 'held', tier = 2, 'conditions', jsonb_build_array(
                       jsonb_build_object('metric', 'net_margin', 'op', 'gt', 'threshold', '0', 'value', net_margin::text, 'held', net_margin > 0),
                       jsonb_build_object('metric', 'orders', 'op', 'gte', 'threshold', '2', 'value', orders::text, 'held', orders >= 2)))))
            FROM tiering_customermetrics WHERE (customer_id * 7919 + %(i)s * 104729) %% 50 = 0
            """,
            {"run": run.pk, "at": started, "i": i},
        )
        moved = cursor.rowcount
        cursor.execute("SELECT from_tier || '->' || to_tier, count(*) FROM tiering_tierchange WHERE run_id = %s GROUP BY 1", [run.pk])
        matrix = dict(cursor.fetchall())
        RetierRun.objects.filter(pk=run.pk).update(matrix=matrix, moved=moved)
        runs.append(run)
    return runs


def _long_history(cursor, runs: list[RetierRun], changes: int) -> int:
    """Customer #1: `changes` tier changes, 300 orders of 1-3 lines, 40 tickets."""
    customer_id = Customer.objects.order_by("id").values_list("id", flat=True).first()
    cursor.execute(
        "INSERT INTO customers_product (sku, name, category, launched_on) SELECT 'SKU-' || i, (ARRAY['Desk lamp','Notebook','Chair','Monitor arm','Headset','Cable kit','Backpack','Mug'])[1 + i %% 8] || ' ' || i, (ARRAY['office','audio','furniture','travel'])[1 + i %% 4], DATE '2024-01-01' + i * 20 FROM generate_series(1, 40) i ON CONFLICT DO NOTHING", []
    )
    cursor.execute(
        """
        INSERT INTO tiering_tierchange (customer_id, run_id, from_tier, to_tier, changed_at, why)
        SELECT %(c)s, %(run)s, 1 + (i %% 3), 1 + ((i + 1) %% 3), %(at)s::timestamptz - make_interval(days => i * 3), '{}'::jsonb
        FROM generate_series(1, %(n)s) i
        """,
        {"c": customer_id, "run": runs[0].pk, "at": timezone.make_aware(dt.datetime(2026, 10, 1)), "n": changes},
    )
    cursor.execute(
        """
        INSERT INTO customers_order (order_id, customer_id, placed_at)
        SELECT 'L-' || i, %(c)s, %(at)s::timestamptz - make_interval(days => i * 2) FROM generate_series(1, 300) i;
        INSERT INTO customers_orderline (order_id, product_id, customer_id, placed_at, quantity, amount, cost)
        SELECT o.id, p.id, o.customer_id, o.placed_at, 1 + (o.id %% 3), 40 + (o.id * 7 + p.id) %% 400, 25 + (o.id * 5 + p.id) %% 200
        FROM customers_order o JOIN LATERAL (SELECT id FROM customers_product ORDER BY (id * 31 + o.id) %% 40 LIMIT 1 + (o.id %% 3)) p ON true
        WHERE o.customer_id = %(c)s;
        INSERT INTO customers_ticket (ticket_id, customer_id, opened_at, kind, outcome, compensation)
        SELECT 'LT-' || i, %(c)s, %(at)s::timestamptz - make_interval(days => i * 11), (ARRAY['complaint','question','return','other'])[1 + i %% 4],
               (ARRAY['upheld','rejected','pending',''])[1 + i %% 4], (i %% 5) * 15
        FROM generate_series(1, 40) i;
        """,
        {"c": customer_id, "at": timezone.make_aware(dt.datetime(2026, 10, 30, 14, 0))},
    )
    return customer_id


def _long_history_id() -> int | None:
    return Customer.objects.order_by("id").values_list("id", flat=True).first()
