"""Synthetic but believable demo data: `python manage.py seed_demo`.

The generator streams customers in chunks (each with its orders, lines and tickets) as rows of
plain strings, which PostgreSQL's COPY loads with flat memory at any size. Everything is drawn from
one `random.Random` per chunk, seeded by (seed, chunk number): the same seed and `today` give the
same data, byte for byte.

Customer kinds (PRODUCT.md), drawn from a shuffled deck so every 200 customers hold exact shares:
lifetime big spenders (active, and former ones who left after buying one of CHANGE_PRODUCTS),
loyal repeat buyers (active and former), serial complainers, occasional and one-time buyers, and
prospects who signed up but never ordered.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from customers import demo_words as words

CHUNK_CUSTOMERS = 5000  # a multiple of DECK_SIZE, so chunking never changes archetype shares
ARCHETYPE_DECK = (  # loyal buyers are the bulk, lifetime ones a very small share (PRODUCT.md)
    ("lifetime", 3),
    ("former_lifetime", 3),
    ("complainer", 10),
    ("loyal", 90),
    ("former_loyal", 24),
    ("occasional", 30),
    ("one_time", 36),
    ("prospect", 4),
)
DECK_SIZE = sum(n for _, n in ARCHETYPE_DECK)
# Average order lines per customer the archetypes produce at frequency 1.0 (measured on 100,000
# customers); `lines_per_customer` scales the order frequency of repeat buyers from it.
NATURAL_LINES_PER_CUSTOMER = 17.6
REPEAT_SHARE_OF_LINES = 0.94  # lines from repeat buyers (scaled); the rest are one-off orders


@dataclass(frozen=True)
class DemoProduct:
    id: int
    sku: str
    name: str
    category: str
    launched_on: dt.date
    price_cents: int


@dataclass
class Catalogue:
    products: list[DemoProduct]
    categories: list[str]
    # per category index: launch ordinals (sorted) and the matching product indexes
    launches: list[list[int]] = field(default_factory=list)
    members: list[list[int]] = field(default_factory=list)
    new_products: list[int] = field(default_factory=list)  # launched in the last 12 months, not changes
    change_products: list[int] = field(default_factory=list)

    def available(self, category: int, day: int) -> list[int]:
        """Product indexes of a category already launched on `day` (ordinal)."""
        return self.members[category][: bisect.bisect_right(self.launches[category], day)]


@dataclass
class Chunk:
    """Rows of one chunk per table: tuples of strings (None = NULL), or COPY text once encoded."""

    customers: list[tuple] | str = field(default_factory=list)
    orders: list[tuple] | str = field(default_factory=list)
    lines: list[tuple] | str = field(default_factory=list)
    tickets: list[tuple] | str = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)

    TABLES = ("customers", "orders", "lines", "tickets")

    def __post_init__(self):
        self.sizes = self.sizes or {}

    def size(self, table: str) -> int:
        return self.sizes.get(table, len(getattr(self, table)))

    def encoded(self) -> Chunk:
        """PostgreSQL COPY text format; values never hold tabs, newlines or backslashes."""
        sizes = {table: len(getattr(self, table)) for table in self.TABLES}
        text = {table: copy_text(getattr(self, table)) for table in self.TABLES}
        return Chunk(**text, sizes=sizes)


def copy_text(rows: list[tuple]) -> str:
    if not rows:
        return ""
    if any(None in row for row in rows):
        rows = [tuple("\\N" if v is None else v for v in row) for row in rows]
    return "\n".join(map("\t".join, rows)) + "\n"


def build_catalogue(*, seed: int, today: dt.date) -> Catalogue:
    """About 60 products in 10 categories; older launches spread over 8 years, new ones fixed."""
    rng = random.Random(f"products-{seed}")
    products, categories = [], [category for category, _ in words.CATALOGUE]
    for category, items in words.CATALOGUE:
        for name, price, days_ago in items:
            if days_ago is None:
                days_ago = rng.randint(420, 8 * 365)
            launched = today - dt.timedelta(days=days_ago)
            pid = len(products) + 1
            products.append(DemoProduct(pid, f"SKU-{pid:04d}", name, category, launched, price * 100))
    catalogue = Catalogue(products=products, categories=categories)
    for cat in categories:
        ranked = sorted((p.launched_on.toordinal(), i) for i, p in enumerate(products) if p.category == cat)
        catalogue.launches.append([day for day, _ in ranked])
        catalogue.members.append([i for _, i in ranked])
    year_ago = (today - dt.timedelta(days=365)).toordinal()
    for i, p in enumerate(products):
        if p.name in words.CHANGE_PRODUCTS:
            catalogue.change_products.append(i)
        elif p.launched_on.toordinal() > year_ago:
            catalogue.new_products.append(i)
    return catalogue


def product_rows(catalogue: Catalogue) -> list[tuple]:
    return [(str(p.id), p.sku, p.name, p.category, p.launched_on.isoformat()) for p in catalogue.products]


@dataclass(frozen=True)
class Plan:
    customers: int
    seed: int
    today: dt.date
    manager_ids: tuple[int, ...] = ()
    lines_per_customer: float | None = None

    @property
    def frequency(self) -> float:
        if not self.lines_per_customer:
            return 1.0
        repeat_target = self.lines_per_customer - NATURAL_LINES_PER_CUSTOMER * (1 - REPEAT_SHARE_OF_LINES)
        return max(0.05, repeat_target / (NATURAL_LINES_PER_CUSTOMER * REPEAT_SHARE_OF_LINES))


def generate(*, plan: Plan, catalogue: Catalogue, jobs: int = 1, encode: bool = False) -> Iterator[Chunk]:
    """Yield the demo data chunk by chunk, in customer order.

    Chunks depend only on (plan, chunk number): every id is derived from the customer's id, so
    with jobs > 1 worker processes make chunks side by side while the caller writes. At most
    2 x jobs chunks are in flight, so memory stays flat. `encode` turns rows into COPY text in
    the worker, to keep the writing process free for the database.
    """
    numbers = range((plan.customers + CHUNK_CUSTOMERS - 1) // CHUNK_CUSTOMERS)
    if jobs <= 1 or len(numbers) <= 1:
        for number in numbers:
            yield make_chunk(plan, catalogue, number, encode)
        return
    import multiprocessing
    from collections import deque

    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        pending = deque()
        for number in numbers:
            pending.append(pool.apply_async(make_chunk, (plan, catalogue, number, encode)))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def make_chunk(plan: Plan, catalogue: Catalogue, number: int, encode: bool = False) -> Chunk:
    first = number * CHUNK_CUSTOMERS
    maker = _CustomerMaker(plan, catalogue, random.Random(f"{plan.seed}-{number}"))
    chunk = maker.chunk(first_id=first + 1, size=min(CHUNK_CUSTOMERS, plan.customers - first))
    return chunk.encoded() if encode else chunk


class _CustomerMaker:
    """Makes one chunk of customers.

    Ids come from the customer's id, so no chunk depends on another: order id = customer id x 1000
    + the customer's order number, line id = order id x 10 + line number, ticket id = customer id
    x 100 + ticket number. The order and ticket keys read the same way ("O0000042-007").
    """

    MAX_ORDERS = 999

    def __init__(self, plan: Plan, catalogue: Catalogue, rng: random.Random):
        self.plan, self.cat, self.rng = plan, catalogue, rng
        self.order_no = self.ticket_no = 0
        # The newest data is from yesterday, as after a nightly import: nothing is placed later today.
        self.today = plan.today.toordinal() - 1
        self.freq = plan.frequency
        self.out = Chunk()
        self.cat_index = {name: i for i, name in enumerate(catalogue.categories)}
        self.consumables = [self.cat_index[c] for c in words.CONSUMABLES]
        self.equipment = [self.cat_index[c] for c in words.EQUIPMENT]

    def chunk(self, *, first_id: int, size: int) -> Chunk:
        deck = [kind for kind, n in ARCHETYPE_DECK for _ in range(n)]
        for offset in range(size):
            if offset % DECK_SIZE == 0:
                self.rng.shuffle(deck)
            self.customer(first_id + offset, deck[offset % DECK_SIZE])
        return self.out

    # --- one customer -------------------------------------------------------------------------

    def customer(self, cid: int, kind: str) -> None:
        rng = self.rng
        self.order_no = self.ticket_no = 0
        margin = getattr(self, f"_orders_{kind}")(cid)
        first_day = self._first_order_day or self.today - rng.randint(0, 700)
        signed_up = dt.date.fromordinal(first_day - rng.randint(0, 90)).isoformat()
        name, email, company = _identity(rng)
        manager = self._manager_for(kind)
        self.out.customers.append((str(cid), f"C{cid:07d}", name, email, company, signed_up, manager))
        if kind == "complainer":
            self._complaints(cid, margin)
        elif kind != "prospect" and rng.random() < 0.15:
            self._ordinary_tickets(cid)

    def _manager_for(self, kind: str) -> str | None:
        share = {"lifetime": 1.0, "former_lifetime": 1.0, "loyal": 0.6, "former_loyal": 0.4, "complainer": 0.2}
        if not self.plan.manager_ids or self.rng.random() >= share.get(kind, 0.0):
            return None
        return str(self.rng.choice(self.plan.manager_ids))

    # --- orders by archetype; each returns the customer's margin in cents ----------------------

    def _orders_lifetime(self, cid: int, *, stop: int | None = None, story: bool = False) -> int:
        rng = self.rng
        end = stop if stop is not None else self.today - rng.randint(0, 20)
        start = end - rng.randint(1100, 2500)
        prefs = rng.sample(self.consumables, 3) + [rng.choice(self.equipment)]
        days = self._days(start, end, rng.uniform(30, 50), min_span=800)
        next_growth = start + 365
        margin = 0
        for n, day in enumerate(days):
            if day >= next_growth:  # they keep expanding into categories they did not buy before
                launched = [c for c, ls in enumerate(self.cat.launches) if c not in prefs and ls[0] <= day]
                prefs.append(rng.choice(launched or prefs))
                next_growth += 365
            extra = self._lifetime_extra(day, story and n >= len(days) - 2)
            margin += self._order(cid, day, prefs, lines=(2, 4), qty=(4, 24), extra=extra)
        return margin

    def _lifetime_extra(self, day: int, churn_story: bool) -> int | None:
        """New products a lifetime customer adds to an order; for the churn story, a change product."""
        rng = self.rng
        if churn_story:
            launched = [p for p in self.cat.change_products if self.cat.products[p].launched_on.toordinal() < day]
            return rng.choice(launched) if launched else None
        if day > self.today - 365 and rng.random() < 0.4:
            launched = [p for p in self.cat.new_products if self.cat.products[p].launched_on.toordinal() < day]
            return rng.choice(launched) if launched else None
        return None

    def _orders_former_lifetime(self, cid: int) -> int:
        # Most left a few months after one of the year's changes; the rest for reasons of their own.
        story = self.rng.random() < 0.75
        stop = self.today - (self.rng.randint(125, 240) if story else self.rng.randint(125, 540))
        return self._orders_lifetime(cid, stop=stop, story=story)

    def _orders_loyal(self, cid: int, *, stop: int | None = None) -> int:
        rng = self.rng
        end = stop if stop is not None else self.today - rng.randint(0, 45)
        span = rng.randint(400, 1500)
        prefs = rng.sample(self.consumables, rng.randint(2, 3)) * 3 + [rng.choice(self.equipment)]
        margin = 0
        # They come back time after time, every one to four months.
        for day in self._days(end - span, end, rng.uniform(40, 110), min_span=300):
            extra = None
            if stop is not None and day > stop - 60 and rng.random() < 0.15:
                extra = self._lifetime_extra(day, churn_story=True)
            margin += self._order(cid, day, prefs, lines=(1, 2), qty=(1, 6), extra=extra)
        return margin

    def _orders_former_loyal(self, cid: int) -> int:
        return self._orders_loyal(cid, stop=self.today - self.rng.randint(125, 540))

    def _orders_complainer(self, cid: int) -> int:
        rng = self.rng
        end = self.today - rng.randint(0, 60)
        prefs = rng.sample(self.consumables, 2)
        days = self._days(end - rng.randint(250, 1000), end, rng.uniform(60, 140), min_span=250)
        return sum(self._order(cid, day, prefs, lines=(1, 2), qty=(1, 3)) for day in days)

    def _orders_occasional(self, cid: int) -> int:
        rng = self.rng
        end = self.today - rng.randint(0, 900)
        days = sorted(end - rng.randint(0, 700) for _ in range(rng.randint(2, 3)))
        prefs = rng.sample(self.consumables, 2)
        self._first_order_day = days[0]
        return sum(self._order(cid, day, prefs, lines=(1, 3), qty=(1, 3)) for day in days)

    def _orders_one_time(self, cid: int) -> int:
        day = self.today - self.rng.randint(0, 2000)
        self._first_order_day = day
        return self._order(cid, day, self.rng.sample(self.consumables, 2), lines=(1, 3), qty=(1, 3))

    def _orders_prospect(self, cid: int) -> int:
        self._first_order_day = None
        return 0

    def _days(self, start: int, end: int, gap: float, *, min_span: int = 0) -> list[int]:
        """Order days from start to end, about `gap` days apart.

        Asked for fewer lines than natural (benchmarks), a customer's history is shortened rather
        than thinned, down to min_span days: the last twelve months, which the rules read, keep
        the demo's rhythm, so tiers come out in similar shares at any size.
        """
        if self.freq < 1:
            start = end - max(min_span, int((end - start) * self.freq))
        else:
            gap /= self.freq
        rng, days, day = self.rng, [], start
        while day <= end:
            days.append(day)
            day += max(1, int(gap * rng.uniform(0.4, 1.6)))
        days = days[-self.MAX_ORDERS :] or [end]
        self._first_order_day = days[0]
        return days

    # --- one order ----------------------------------------------------------------------------

    def _order(self, cid: int, day: int, prefs: list[int], *, lines: tuple, qty: tuple, extra=None) -> int:
        """Write an order of 1-4 distinct products and return its margin (amount - cost) in cents.

        Hot path (10M lines at benchmark size): draws use rng.random() directly, not randint/choice.
        """
        rnd, cat = self.rng.random, self.cat
        chosen = []
        for _ in range(lines[0] + int(rnd() * (lines[1] - lines[0] + 1))):
            available = cat.available(prefs[int(rnd() * len(prefs))], day) or cat.available(self.consumables[0], day)
            if available:
                product = available[int(rnd() * len(available))]
                if product not in chosen:
                    chosen.append(product)
        if extra is not None and extra not in chosen:
            chosen = chosen[:3] + [extra]
        if not chosen:
            return 0
        self.order_no += 1
        oid = cid * 1000 + self.order_no
        placed = f"{_iso(day)} {_clock(25200 + int(rnd() * 46800))}+00"  # 07:00-19:59
        self.out.orders.append((str(oid), f"O{cid:07d}-{self.order_no:03d}", str(cid), placed))
        margin, span = 0, qty[1] - qty[0] + 1
        for n, product in enumerate(chosen):
            margin += self._line(oid * 10 + n, oid, cid, placed, cat.products[product], qty[0] + int(rnd() * span))
        return margin

    def _line(self, lid: int, oid: int, cid: int, placed: str, product: DemoProduct, quantity: int) -> int:
        rnd = self.rng.random
        if product.price_cents >= 30_000:
            quantity = 1  # machines, grinders and service plans come one at a time
        gross = product.price_cents * quantity
        cost = int(gross * (0.55 + 0.25 * rnd()))
        # Some small items are given away (samples, goodwill); never a machine.
        free = product.price_cents < 5000 and rnd() < 0.04
        amount = 0 if free else int(gross * (0.9 + 0.1 * rnd()))
        self.out.lines.append(
            (str(lid), str(oid), str(product.id), str(cid), placed, str(quantity), _money(amount), _money(cost))
        )
        return amount - cost

    # --- tickets ------------------------------------------------------------------------------

    def _complaints(self, cid: int, margin: int) -> None:
        """Many complaints, mostly unfounded, and compensation worth more than the margin they bring."""
        rng = self.rng
        opened = sorted(self.today - rng.randint(0, 400) for _ in range(rng.randint(6, 16)))
        outcomes = [_complaint_outcome(rng, self.today - day) for day in opened]
        paid = [i for i, outcome in enumerate(outcomes) if outcome != "pending"]
        total = int(max(margin, 5000) * rng.uniform(1.3, 2.5))
        weights = [rng.random() + 0.2 for _ in paid]
        shares = {i: int(total * w / sum(weights)) for i, w in zip(paid, weights)}
        for i, day in enumerate(opened):
            self._ticket(cid, day, "complaint", outcomes[i], shares.get(i, 0))

    def _ordinary_tickets(self, cid: int) -> None:
        rng = self.rng
        for _ in range(rng.randint(1, 2)):
            day = self._first_order_day + rng.randint(0, max(1, self.today - self._first_order_day))
            kind = rng.choices(("question", "return", "other", "complaint"), (50, 25, 10, 15))[0]
            outcome = _complaint_outcome(rng, self.today - day, upheld=0.6) if kind == "complaint" else ""
            paid = kind == "return" or outcome == "upheld"
            self._ticket(cid, day, kind, outcome, rng.randint(500, 6000) if paid else 0)

    def _ticket(self, cid: int, day: int, kind: str, outcome: str, compensation: int) -> None:
        rng = self.rng
        self.ticket_no += 1
        tid = cid * 100 + self.ticket_no
        opened = f"{_iso(min(day, self.today))} {rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00+00"
        self.out.tickets.append(
            (str(tid), f"T{cid:07d}-{self.ticket_no:02d}", str(cid), opened, kind, outcome, _money(compensation))
        )

    _first_order_day: int | None = None


def _complaint_outcome(rng: random.Random, age_days: int, *, upheld: float = 0.1) -> str:
    if age_days < 30 and rng.random() < 0.3:
        return "pending"
    return "upheld" if rng.random() < upheld else "rejected"


def _identity(rng: random.Random) -> tuple[str, str, str]:
    first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
    if rng.random() < 0.7:
        head, tail = rng.choice(words.COMPANY_FIRST), rng.choice(words.COMPANY_SECOND)
        company = f"{head} {tail}{rng.choice(words.COMPANY_SUFFIX)}"
        domain = f"{_ascii(head + tail)}.example.com"
    else:
        company, domain = "", rng.choice(("mail.example.com", "post.example.net", "inbox.example.org"))
    number = str(rng.randint(1, 99)) if rng.random() < 0.3 else ""
    return f"{first} {last}", f"{_ascii(first)}.{_ascii(last)}{number}@{domain}", company


_ASCII_CACHE: dict[str, str] = {}


def _ascii(text: str) -> str:
    if text not in _ASCII_CACHE:
        plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        _ASCII_CACHE[text] = "".join(ch for ch in plain.lower() if ch.isalnum())
    return _ASCII_CACHE[text]


_ISO_CACHE: dict[int, str] = {}


def _iso(day: int) -> str:
    if day not in _ISO_CACHE:
        _ISO_CACHE[day] = dt.date.fromordinal(day).isoformat()
    return _ISO_CACHE[day]


_CLOCK_CACHE: dict[int, str] = {}


def _clock(seconds: int) -> str:
    if seconds not in _CLOCK_CACHE:
        _CLOCK_CACHE[seconds] = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return _CLOCK_CACHE[seconds]


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# --- the service: seed_demo -------------------------------------------------------------------

# For the demo on a laptop only: fixed, printed passwords so anyone can try each role.
DEMO_USERS = (
    # username, group, password, first name, last name, is_staff
    ("admin", "Admin", "tierboard-admin", "Alex", "Kim", True),
    ("manager", "Account manager", "tierboard-manager", "Morgan", "Lee", False),
    ("manager2", "Account manager", "tierboard-manager2", "Sam", "Rivera", False),
    ("marketing", "Marketing", "tierboard-marketing", "Robin", "Park", False),
)
COLUMNS = {
    "product": ("id", "sku", "name", "category", "launched_on"),
    "customer": ("id", "external_id", "name", "email", "company", "signed_up_on", "account_manager_id"),
    "order": ("id", "order_id", "customer_id", "placed_at"),
    "orderline": ("id", "order_id", "product_id", "customer_id", "placed_at", "quantity", "amount", "cost"),
    "ticket": ("id", "ticket_id", "customer_id", "opened_at", "kind", "outcome", "compensation"),
}


class DemoDataExists(Exception):
    pass


@dataclass
class SeedResult:
    counts: dict[str, int]
    users: list[tuple[str, str, str]]  # username, group, password
    rebuild_seconds: float = 0.0


def seed_demo(
    *,
    customers: int,
    seed: int,
    today: dt.date,
    reset: bool = False,
    lines_per_customer: float | None = None,
    jobs: int = 1,
    progress=None,
) -> SeedResult:
    """Fill an empty database (or, with reset, an emptied one) with demo data and demo users.

    All in one transaction: a failure leaves the database as it was.
    """
    from django.db import transaction

    from customers import bulkload
    from customers.models import Customer, Order, OrderLine, Product, Ticket

    models = {"product": Product, "customer": Customer, "order": Order, "orderline": OrderLine, "ticket": Ticket}
    existing, products = Customer.objects.count(), Product.objects.count()
    if (existing or products) and not reset:
        raise DemoDataExists(
            f"The database already has customer data ({existing:,} customers, {products:,} products). "
            "seed_demo would mix demo data into it; run it again with --reset to delete all customer "
            "data (customers, products, orders, tickets and what was computed from them) first."
        )
    writer = bulkload.BulkWriter(models.values())
    with transaction.atomic():
        if reset:
            writer.wipe()
        users = ensure_demo_users()
        managers = tuple(user.pk for user, spec in zip(users, DEMO_USERS) if spec[1] == "Account manager")
        plan = Plan(
            customers=customers,
            seed=seed,
            today=today,
            manager_ids=managers,
            lines_per_customer=lines_per_customer,
        )
        catalogue = build_catalogue(seed=seed, today=today)
        counts = dict.fromkeys(models, 0)
        with writer.loading():
            writer.write(Product, COLUMNS["product"], product_rows(catalogue))
            counts["product"] = len(catalogue.products)
            for chunk in generate(plan=plan, catalogue=catalogue, jobs=jobs, encode=True):
                for name, table in (
                    ("customer", "customers"),
                    ("order", "orders"),
                    ("orderline", "lines"),
                    ("ticket", "tickets"),
                ):
                    writer.write(models[name], COLUMNS[name], getattr(chunk, table))
                    counts[name] += chunk.size(table)
                if progress:
                    progress(counts)
    writer.settle()
    return SeedResult(
        counts=counts, users=[(u, g, p) for u, g, p, *_ in DEMO_USERS], rebuild_seconds=writer.rebuild_seconds
    )


def ensure_demo_users():
    """One user per role with the documented demo password; re-running resets them."""
    from django.contrib.auth.models import Group, User

    users = []
    for username, group, password, first, last, is_staff in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.first_name, user.last_name, user.email = first, last, f"{username}@tierboard.example.com"
        user.is_staff, user.is_active = is_staff, True
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=group)])
        users.append(user)
    return users
