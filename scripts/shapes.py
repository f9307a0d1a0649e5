"""Businesses shaped unlike our demo, written as the four import CSVs: the test bed of the truth rule.

    python scripts/shapes.py SHAPE [--customers N] [--seed S] [--out DIR]
    python scripts/shapes.py --list

The truth rule (docs/judging.md): never tune a tier or churn rule to `seed_demo`. Judge every change on
these shapes instead (`scripts/judge.py`), whose businesses differ from the demo on purpose:

- spend is heavy-tailed (a lognormal basket per customer, and a few Pareto whales), not archetype bands;
- many customers buy once and never again; repeat buyers drop out after any order with a probability of
  their own (a beta-geometric drop-out, as in BG/NBD), so lifetimes and order counts vary widely;
- cadences differ: random (Poisson), regular (subscriptions), seasonal (one season a year), bursty;
- costs and complaints are independent of spend: a whale can be a complainer.

The shapes (`SHAPES`): `base` (3 years, 8 categories, costs, tickets), `one-category-no-costs`,
`18-months`, `half-one-order`, `small-currency` (the base business priced in a unit 100x smaller:
every amount x 100, exact), `big-currency` (a unit 100x bigger: every amount / 100, to the cent),
`tiny` (40 customers), `huge` (100,000 by default) and `cdnow` (the CDNOW log, see `cdnow_lines`).

Each shape is deterministic for (shape, customers, seed): the currency shapes draw the very same
business as `base`. Besides the CSVs, `truth.csv` says what the generator planted for each customer
(segment, cadence, the day they stopped buying, or empty if still buying at the end) and `shape.json`
the dates a judge needs (`start`, `end`, costs or not).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import math
import random
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
END = dt.date(2025, 12, 31)  # every synthetic log ends here, whatever today is

COLUMNS = {
    "customers": ("external_id", "name", "email", "signed_up_on"),
    "products": ("sku", "name", "category", "launched_on"),
    "orders": ("order_id", "customer_id", "placed_at", "sku", "quantity", "amount", "cost"),
    "tickets": ("ticket_id", "customer_id", "opened_at", "kind", "outcome", "compensation"),
    "truth": ("external_id", "segment", "cadence", "acquired_on", "stopped_on", "orders"),
}
KINDS = ("customers", "products", "orders", "tickets")  # the import order


@dataclass(frozen=True)
class Shape:
    name: str
    about: str
    customers: int = 5000
    months: int = 36
    categories: int = 8
    products: int = 120
    costs: bool = True
    tickets: bool = True
    one_time_share: float = 0.15  # buy once and never again (repeat buyers may also stop after one)
    prospect_share: float = 0.03  # signed up, never ordered
    whale_share: float = 0.01  # of repeat buyers
    money_factor: Decimal = Decimal(1)  # the currency: every amount, cost and compensation times this
    draws_as: str = ""  # draw the same business as this shape (currency shapes)


SHAPES = {
    s.name: s
    for s in (
        Shape("base", "3 years, 8 categories, costs and tickets, heavy-tailed spend"),
        Shape(
            "one-category-no-costs",
            "one product category, no cost column, no tickets",
            categories=1,
            products=15,
            costs=False,
            tickets=False,
        ),
        Shape("18-months", "only 18 months of history", months=18),
        Shape("half-one-order", "about half the customers with exactly one order", one_time_share=0.4),
        Shape(
            "small-currency",
            "the base business priced in a unit 100x smaller (yen-like): amounts x 100",
            money_factor=Decimal(100),
            draws_as="base",
        ),
        Shape(
            "big-currency",
            "the base business priced in a unit 100x bigger: amounts / 100, to the cent",
            money_factor=Decimal("0.01"),
            draws_as="base",
        ),
        Shape("tiny", "the base business with 40 customers", customers=40, draws_as="base"),
        Shape("huge", "the base business at 100,000 customers (or --customers)", customers=100_000, draws_as="base"),
        Shape("cdnow", "the CDNOW order log (real): one product, no costs, no tickets", months=18, costs=False),
    )
}


# --- one synthetic customer -------------------------------------------------------------------


@dataclass
class Line:
    order_id: str
    day: dt.date
    seconds: int
    sku: str
    quantity: int
    amount_cents: int
    cost_cents: int


@dataclass
class Ticket:
    ticket_id: str
    day: dt.date
    kind: str
    outcome: str
    compensation_cents: int


@dataclass
class Customer:
    external_id: str
    signed_up_on: dt.date
    segment: str  # prospect | one_time | repeat | whale
    cadence: str  # none | once | poisson | regular | seasonal | bursty
    stopped_on: dt.date | None = None  # the last order of someone who will never buy again
    lines: list[Line] = dataclasses.field(default_factory=list)
    tickets: list[Ticket] = dataclasses.field(default_factory=list)

    @property
    def orders(self) -> int:
        return len({line.order_id for line in self.lines})


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: int
    price_cents: int
    margin: float  # gross margin rate; negative for loss leaders
    launched_on: dt.date | None


class Business:
    """Draws one synthetic business: its catalogue, then customers one by one, all from `seed`."""

    def __init__(self, shape: Shape, *, seed: int):
        self.shape = shape
        self.seed = seed
        self.end = END
        self.start = _months_before(END, shape.months) + dt.timedelta(days=1)
        self.products = self._catalogue(random.Random(f"{shape.draws_as or shape.name}-catalogue-{seed}"))
        self.by_category = [[p for p in self.products if p.category == c] for c in range(shape.categories)]

    def _catalogue(self, rng: random.Random) -> list[Product]:
        shape, products = self.shape, []
        span = (self.end - self.start).days
        for n in range(shape.products):
            category = n % shape.categories
            # A third of the range (and each category's first product) existed before the log starts;
            # the rest launched during it.
            before = n < shape.categories or rng.random() < 0.33
            launched = None if before else self.start + dt.timedelta(days=rng.randint(0, span - 30))
            price = int(math.exp(rng.gauss(math.log(2500), 1.1)))  # 25.00 median, a few in the thousands
            margin = -0.1 if rng.random() < 0.05 else rng.uniform(0.08, 0.6)
            products.append(Product(f"P{n + 1:04d}", f"Item {n + 1}", category, max(price, 50), margin, launched))
        return products

    def customers(self, count: int) -> Iterator[Customer]:
        for n in range(1, count + 1):
            yield self.customer(n, random.Random(f"{self.shape.draws_as or self.shape.name}-{self.seed}-{n}"))

    def customer(self, n: int, rng: random.Random) -> Customer:
        shape = self.shape
        acquired = self._acquisition_day(rng)
        signed_up = acquired - dt.timedelta(days=int(rng.expovariate(1 / 20)))
        roll = rng.random()
        if roll < shape.prospect_share:
            return Customer(f"X{n:06d}", signed_up, "prospect", "none")
        if roll < shape.prospect_share + shape.one_time_share:
            customer = Customer(f"X{n:06d}", signed_up, "one_time", "once", stopped_on=acquired)
            self._order(customer, rng, acquired, basket=_lognormal(rng, 3500, 0.9), categories=[self._category(rng)])
        else:
            customer = self._repeat_buyer(f"X{n:06d}", signed_up, acquired, rng)
        if shape.tickets:
            self._tickets(customer, rng)
        return customer

    def _acquisition_day(self, rng: random.Random) -> dt.date:
        # A growing business: more customers arrive late in the log than early.
        span = (self.end - self.start).days
        return self.start + dt.timedelta(days=int(span * rng.random() ** 0.7))

    def _category(self, rng: random.Random) -> int:
        # Zipf-like: the first categories sell most.
        weights = [1 / (c + 1) for c in range(self.shape.categories)]
        return rng.choices(range(self.shape.categories), weights)[0]

    def _repeat_buyer(self, external_id: str, signed_up: dt.date, acquired: dt.date, rng: random.Random) -> Customer:
        whale = rng.random() < self.shape.whale_share
        cadence = rng.choices(("poisson", "regular", "seasonal", "bursty"), (50, 20, 15, 15))[0]
        per_year = _lognormal(rng, 4, 0.8) * (3 if whale else 1)
        basket = _lognormal(rng, 4500, 1.0) * (5 * rng.paretovariate(1.8) if whale else 1)
        drop = rng.betavariate(1.2, 8)  # chance of never coming back after each order
        categories = sorted({self._category(rng) for _ in range(1 + int(rng.expovariate(0.8)))})
        customer = Customer(external_id, signed_up, "whale" if whale else "repeat", cadence)
        for day in self._order_days(rng, acquired, cadence, per_year):
            self._order(customer, rng, day, basket=basket, categories=categories)
            if rng.random() < drop:
                customer.stopped_on = day
                break
            if rng.random() < 0.05:  # now and then they try one more category
                categories = sorted({*categories, self._category(rng)})
        return customer

    def _order_days(self, rng: random.Random, first: dt.date, cadence: str, per_year: float) -> Iterator[dt.date]:
        day, mean_gap = first, 365 / per_year
        while day <= self.end:
            if cadence != "seasonal" or day.month in (11, 12) or day == first:
                yield day
            if cadence == "regular":
                gap = mean_gap * rng.uniform(0.85, 1.15)
            elif cadence == "bursty":  # a few orders close together, then a long pause
                gap = rng.expovariate(1 / 6) if rng.random() < 0.6 else rng.expovariate(1 / (mean_gap * 2.5))
            elif cadence == "seasonal":
                gap = rng.uniform(5, 25) if day.month in (11, 12) else _days_to_november(day) + rng.randint(0, 20)
            else:
                gap = rng.expovariate(1 / mean_gap)
            day += dt.timedelta(days=max(1, round(gap)))

    def _order(self, customer: Customer, rng: random.Random, day: dt.date, *, basket: float, categories) -> None:
        value = basket * _lognormal(rng, 1, 0.45)
        lines = min(1 + int(rng.expovariate(1.2)), 5)
        order_id = f"{customer.external_id}-{customer.orders + 1:04d}"
        seconds = rng.randint(6 * 3600, 23 * 3600)
        shares = [rng.random() + 0.1 for _ in range(lines)]
        chosen: set[str] = set()
        for share in shares:
            product = self._pick(rng, rng.choice(categories), day)
            if product is None or product.sku in chosen:
                continue
            chosen.add(product.sku)
            amount = 0 if rng.random() < 0.02 else int(value * share / sum(shares))
            quantity = max(1, round(max(amount, product.price_cents) / product.price_cents))
            cost = int((amount or product.price_cents * quantity) * (1 - product.margin))  # free items cost too
            customer.lines.append(Line(order_id, day, seconds, product.sku, quantity, amount, cost))

    def _pick(self, rng: random.Random, category: int, day: dt.date) -> Product | None:
        on_sale = [p for p in self.by_category[category] if p.launched_on is None or p.launched_on <= day]
        if not on_sale:
            return None
        return on_sale[min(int(rng.expovariate(0.25)), len(on_sale) - 1)]  # bestsellers first

    def _tickets(self, customer: Customer, rng: random.Random) -> None:
        if not customer.lines:
            return
        first, revenue = customer.lines[0].day, sum(line.amount_cents for line in customer.lines)
        costly = rng.random() < 0.02  # many complaints, mostly unfounded, paid off: spend does not matter
        count = rng.randint(4, 12) if costly else (1 if rng.random() < 0.1 else 0)
        for n in range(count):
            day = first + dt.timedelta(days=rng.randint(0, max(0, (self.end - first).days)))
            kind = "complaint" if costly else rng.choice(("question", "return", "complaint", "other"))
            outcome = ("rejected" if rng.random() < 0.8 else "upheld") if kind == "complaint" and day < self.end else ""
            paid = costly or kind == "return" or outcome == "upheld"
            compensation = int(revenue * rng.uniform(0.05, 0.3)) if paid else 0
            customer.tickets.append(Ticket(f"{customer.external_id}-T{n + 1:02d}", day, kind, outcome, compensation))


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def _months_before(day: dt.date, months: int) -> dt.date:
    month = day.month - months
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return dt.date(year, month, min(day.day, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31))


def _days_to_november(day: dt.date) -> int:
    year = day.year if day.month < 11 else day.year + 1
    return (dt.date(year, 11, 1) - day).days


# --- writing the CSVs -------------------------------------------------------------------------


def money(cents: int, factor: Decimal = Decimal(1)) -> str:
    """Cents as a plain decimal in the shape's currency, to the cent (the import format)."""
    return str((Decimal(cents) / 100 * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def write_shape(name: str, *, out: Path, customers: int | None = None, seed: int = 1) -> dict:
    """Write the shape's CSVs, truth.csv and shape.json into `out`; return shape.json's content."""
    shape = SHAPES[name]
    out.mkdir(parents=True, exist_ok=True)
    if name == "cdnow":
        return write_cdnow(out=out, customers=customers)
    business = Business(shape, seed=seed)
    count = customers or shape.customers
    with _writers(out, costs=shape.costs) as w:
        for product in business.products:
            launched = product.launched_on.isoformat() if product.launched_on else ""
            w["products"].writerow((product.sku, product.name, f"Category {product.category + 1}", launched))
        for customer in business.customers(count):
            _write_customer(w, customer, shape)
    meta = {
        "shape": name,
        "about": shape.about,
        "customers": count,
        "seed": seed,
        "start": business.start.isoformat(),
        "end": business.end.isoformat(),
        "costs": shape.costs,
        "money_factor": str(shape.money_factor),
        "draws_as": shape.draws_as or name,
        "planted_truth": True,
    }
    (out / "shape.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _write_customer(w: dict, customer: Customer, shape: Shape) -> None:
    n = customer.external_id[1:].lstrip("0")
    w["customers"].writerow((customer.external_id, f"Customer {n}", f"c{n}@shapes.example.com", customer.signed_up_on))
    factor = shape.money_factor
    for line in customer.lines:
        placed = f"{line.day.isoformat()}T{line.seconds // 3600:02d}:{line.seconds // 60 % 60:02d}:00"
        row = [line.order_id, customer.external_id, placed, line.sku, line.quantity, money(line.amount_cents, factor)]
        w["orders"].writerow(row + [money(line.cost_cents, factor)] if shape.costs else row)
    for t in customer.tickets:
        money_text = money(t.compensation_cents, factor)
        w["tickets"].writerow((t.ticket_id, customer.external_id, f"{t.day}T12:00:00", t.kind, t.outcome, money_text))
    stopped = customer.stopped_on.isoformat() if customer.stopped_on else ""
    first = customer.lines[0].day.isoformat() if customer.lines else ""
    w["truth"].writerow((customer.external_id, customer.segment, customer.cadence, first, stopped, customer.orders))


class _writers:
    """The five CSV writers of a shape, with their header rows; the files close on exit."""

    def __init__(self, out: Path, *, costs: bool):
        self.out, self.costs, self.files = out, costs, []

    def __enter__(self) -> dict:
        writers = {}
        for kind, columns in COLUMNS.items():
            handle = open(self.out / f"{kind}.csv", "w", newline="", encoding="utf-8")
            self.files.append(handle)
            writers[kind] = csv.writer(handle, lineterminator="\n")
            writers[kind].writerow(columns if kind != "orders" or self.costs else columns[:-1])
        return writers

    def __exit__(self, *exc) -> None:
        for handle in self.files:
            handle.close()


# --- CDNOW: the real log, read out of the Lifetimes wheel --------------------------------------

CDNOW_WHEEL = "Lifetimes-0.11.3-py3-none-any.whl"
CDNOW_WHEEL_SHA256 = "261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8"  # PyPI's file
CDNOW_MEMBER = "lifetimes/datasets/CDNOW_master.txt"
CDNOW_LICENSE = "Lifetimes-0.11.3.dist-info/LICENSE.txt"


class CdnowUnavailable(RuntimeError):
    pass


def cdnow_wheel(cache: Path = ROOT / "var" / "cdnow") -> Path:
    """The Lifetimes 0.11.3 wheel (MIT), downloaded once into var/cdnow with pip; never installed."""
    wheel = cache / CDNOW_WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
        try:
            done = subprocess.run([*command, "lifetimes==0.11.3", "-d", str(cache)], capture_output=True, text=True)
            problem = done.stderr.strip() if done.returncode or not wheel.exists() else ""
        except OSError as exc:
            problem = str(exc)
        if problem:
            raise CdnowUnavailable(
                f"Could not download {CDNOW_WHEEL} with pip (offline, or no package index?):\n{problem}\n"
                f"Put a copy of the wheel at {wheel} and run again."
            )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != CDNOW_WHEEL_SHA256:
        raise CdnowUnavailable(f"{wheel} has sha256 {digest}, not PyPI's {CDNOW_WHEEL_SHA256}: delete it and retry.")
    return wheel


def cdnow_lines(wheel: Path | None = None) -> Iterator[tuple[str, dt.date, int, str]]:
    """(customer id, day, quantity, amount) per line of CDNOW_master.txt, read from the wheel.

    The log of 23,570 customers who first bought at CDNOW in Q1 1997, with every purchase to June 1998
    (Fader & Hardie's data set, as shipped in Lifetimes under its MIT licence, checked here).
    """
    with zipfile.ZipFile(wheel or cdnow_wheel()) as archive:
        licence = archive.read(CDNOW_LICENSE).decode()
        if "MIT License" not in licence or "Permission is hereby granted" not in licence:
            raise CdnowUnavailable(f"{CDNOW_LICENSE} is not the MIT licence this script was checked against.")
        text = io.TextIOWrapper(archive.open(CDNOW_MEMBER), encoding="ascii")
        next(text)  # the header: customer_id date number_of_cds dollar_value
        for raw in text:
            customer, day, quantity, amount = raw.split()
            yield customer, dt.datetime.strptime(day, "%Y%m%d").date(), int(quantity), amount


def write_cdnow(*, out: Path, customers: int | None = None, wheel: Path | None = None) -> dict:
    """One product, no costs, no tickets; an order per customer and day (its lines summed: one sku)."""
    orders: dict[tuple[str, dt.date], list] = {}
    for customer, day, quantity, amount in cdnow_lines(wheel):
        if customers and int(customer) > customers:
            continue
        order = orders.setdefault((customer, day), [0, Decimal(0)])
        order[0] += max(quantity, 1)
        order[1] += Decimal(amount)
    ids = sorted({customer for customer, _ in orders}, key=int)
    with _writers(out, costs=False) as w:
        w["products"].writerow(("CD", "CDs", "Music", ""))
        for customer in ids:
            w["customers"].writerow((customer, f"CDNOW customer {int(customer)}", "", ""))
        for (customer, day), (quantity, amount) in sorted(orders.items()):
            w["orders"].writerow((f"{customer}-{day:%Y%m%d}", customer, f"{day}T12:00:00", "CD", quantity, amount))
    days = [day for _, day in orders]
    meta = {
        "shape": "cdnow",
        "about": SHAPES["cdnow"].about,
        "customers": len(ids),
        "seed": None,
        "start": min(days).isoformat(),
        "end": dt.date(1998, 6, 30).isoformat(),  # the log's last day (its last order is on 1998-06-30)
        "costs": False,
        "money_factor": "1",
        "draws_as": "cdnow",
        "planted_truth": False,
    }
    (out / "shape.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def shape_dir(name: str, *, customers: int | None, seed: int) -> Path:
    size = customers or (None if name == "cdnow" else SHAPES[name].customers)
    return ROOT / "var" / "shapes" / f"{name}-{size or 'all'}-s{seed}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shape", nargs="?", choices=sorted(SHAPES))
    parser.add_argument("--customers", type=int, help="population size (default: the shape's own)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="directory (default var/shapes/SHAPE-SIZE-sSEED)")
    parser.add_argument("--list", action="store_true", help="list the shapes and exit")
    args = parser.parse_args(argv)
    if args.list or not args.shape:
        for shape in SHAPES.values():
            print(f"{shape.name:24} {shape.about}")
        return 0
    out = args.out or shape_dir(args.shape, customers=args.customers, seed=args.seed)
    try:
        meta = write_shape(args.shape, out=out, customers=args.customers, seed=args.seed)
    except CdnowUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.shape}: {meta['customers']} customers, {meta['start']} to {meta['end']} in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
