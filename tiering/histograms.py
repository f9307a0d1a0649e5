"""How a metric's distribution is cut into histogram buckets, and where a threshold falls on it.

Pure values, no queries: `tiering.calibration` asks the database for each metric's spread (one
scan), picks the bucket edges here, counts the customers per bucket with
`width_bucket(value, edges)` (a second scan), and places each condition's threshold here.

Edges are lower bounds, as `width_bucket(operand, thresholds array)` takes them: bucket i holds
edges[i] ≤ value < edges[i + 1], the last one everything from its edge to the highest value.
Three scales, chosen from the spread alone (no tuning to any data):

- **exact**: a whole-number metric spanning at most `EXACT_MAX` values, one bar per value
  (orders 0, 1, 2, …, months with an order 0 to 13);
- **log**: money and shares, which are heavy-tailed (a few customers spend a thousand times the
  median), and any other metric whose mean sits in the bottom eighth of its range: edges on the
  1-2-5 sequence (0, 1, 2, 5, 10, 20, 50, …), mirrored below zero for net margins, so every
  bar reads as a round range and a whale does not squash everyone else into one bar;
- **linear**: everything else (tenure, days since last order): `LINEAR_BARS` or so bars of a round
  width (1, 2 or 5 × a power of ten).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

from .catalogue import METRICS, OPERATORS, format_value, plain

Scale = Literal["exact", "linear", "log"]
Side = Literal["pass", "fail", "mixed"]

EXACT_MAX = 31  # whole-number metrics spanning this many values or fewer get one bar per value
LINEAR_BARS = 20
MAX_BARS = 40
# The stored precision of decimal metrics: the largest value of a bucket is its upper edge minus this.
STEP = {"money": Decimal("0.01"), "ratio": Decimal("0.0001"), "days": Decimal("0.1")}


@dataclass(frozen=True)
class Spread:
    """What one scan says of a metric over the customers with a value."""

    low: Decimal | None  # None: no customer has a value
    high: Decimal | None
    mean: Decimal | None = None
    least_positive: Decimal | None = None  # the smallest value above 0 (log scale)
    greatest_negative: Decimal | None = None  # the value below 0 closest to 0 (log scale)


@dataclass(frozen=True)
class Bucket:
    low: Decimal  # inclusive
    high: Decimal  # inclusive: the largest value the bucket can hold
    count: int
    label: str
    side: Side  # whether a condition holds over the whole bucket, none of it, or part of it


@dataclass(frozen=True)
class Marker:
    """A vertical line on the histogram: `at` in bars from the left edge (1.5 = half-way
    through the second bar)."""

    at: float
    label: str
    kind: Literal["threshold", "cut", "floor"]


def choose_edges(metric: str, spread: Spread) -> tuple[Scale, list[Decimal]]:
    """The scale and bucket edges (lower bounds, ascending) for a metric with this spread; no edges
    when no customer has a value."""
    low, high = spread.low, spread.high
    if low is None or high is None:
        return "exact", []
    m = METRICS[metric]
    if low == high:
        return "exact", [low]
    if m.whole and high - low < EXACT_MAX:
        return "exact", [low + i for i in range(int(high - low) + 1)]
    heavy = spread.mean is not None and (spread.mean - low) * 8 < (high - low)
    if m.kind in ("money", "ratio") or heavy:
        edges = _log_edges(spread, kind=m.kind, step=_step(metric))
        if len(edges) <= MAX_BARS:
            return "log", edges
    return "linear", _linear_edges(low, high, whole=m.whole)


def buckets(metric: str, edges: list[Decimal], high: Decimal, counts: dict[int, int], holds: Holds) -> list[Bucket]:
    """The bars: `counts` maps width_bucket's answer (1 = the first bucket) to customers."""
    result = []
    for i, low in enumerate(edges):
        last = i + 1 == len(edges)
        top = max(high if last else edges[i + 1] - _step(metric), low)
        # whole numbers read inclusive ("2–4"); decimals up to the next edge ("1k–2k": 1,000 to under 2,000)
        shown = top if last or METRICS[metric].whole or top == low else edges[i + 1]
        result.append(Bucket(low, top, counts.get(i + 1, 0), _label(metric, low, shown), _side(holds, low, top)))
    return result


Holds = tuple[str, Decimal]  # (op, threshold) of a condition


def marker(metric: str, edges: list[Decimal], high: Decimal, op: str, value: Decimal) -> float:
    """Where the boundary of `metric op value` lies, in bars from the left: the left edge of the
    first bar whose values pass `≥`/`>` (fail `<`/`≤`), interpolated inside a bar."""
    if not edges:
        return 0.0
    boundary = _boundary(metric, op, value)
    if boundary <= edges[0]:
        return 0.0
    for i, low in enumerate(edges):
        top = edges[i + 1] if i + 1 < len(edges) else high + _step(metric)
        if boundary < top:
            width = top - low
            return float(i + (boundary - low) / width) if width > 0 else float(i)
    return float(len(edges))


def scale_note(scale: Scale) -> str:
    return {
        "exact": "one bar per value",
        "linear": "bars of equal width",
        "log": "log scale: bars on the 1-2-5 steps, each wider than the one before",
    }[scale]


def compact(metric: str, value: Decimal) -> str:
    """A short axis label: 12k, 1.5M for money; otherwise as format_value writes it, without units."""
    kind = METRICS[metric].kind
    if kind == "money":
        for size, suffix in ((Decimal(10) ** 9, "bn"), (Decimal(10) ** 6, "M"), (Decimal(1000), "k")):
            if abs(value) >= size:
                return f"{plain((value / size).quantize(Decimal('0.1')))}{suffix}"
        return plain(value.quantize(Decimal("0.01")))
    return format_value(metric, value).removesuffix(" days")


# --- internals --------------------------------------------------------------------------------


def _step(metric: str) -> Decimal:
    m = METRICS[metric]
    return Decimal(1) if m.whole else STEP.get(m.kind, Decimal("0.01"))


def _boundary(metric: str, op: str, value: Decimal) -> Decimal:
    """The value where passing starts (`≥`, `>`) or stops (`<`, `≤`), as a lower bucket edge:
    for a whole-number metric `> 2` starts at 3 and `≤ 2` stops before 3."""
    if op in ("gt", "lte"):
        return value.to_integral_value(ROUND_FLOOR) + 1 if METRICS[metric].whole else value
    if op in ("gte", "lt"):
        return value.to_integral_value(ROUND_CEILING) if METRICS[metric].whole else value
    return value


def _side(holds: Holds, low: Decimal, high: Decimal) -> Side:
    op, threshold = holds
    compare = OPERATORS[op].holds
    if op in ("eq", "ne") and low < threshold < high:
        return "mixed"
    at_low, at_high = compare(low, threshold), compare(high, threshold)
    if at_low and at_high:
        return "pass"
    return "fail" if not at_low and not at_high else "mixed"


def _label(metric: str, low: Decimal, high: Decimal) -> str:
    if low == high:
        return compact(metric, low)
    first, last = compact(metric, low), compact(metric, high)
    if METRICS[metric].kind == "ratio":  # 0–5%, not 0%–5%
        first = first.removesuffix("%")
    if low < 0:
        return f"{first} to {last}".replace("-", "−")
    return f"{first}–{last}"


def _nice(value: Decimal, *, up: bool) -> Decimal:
    """The 1-2-5 step at or below (or at or above) a positive value."""
    exponent = value.adjusted()
    candidates = [Decimal(f).scaleb(e) for e in range(exponent - 1, exponent + 2) for f in (1, 2, 5)]
    if up:
        return min(c for c in candidates if c >= value)
    return max(c for c in candidates if c <= value)


def _series(start: Decimal, stop: Decimal) -> list[Decimal]:
    """1-2-5 steps from `start` (itself a step) while at or below `stop`."""
    out, current = [], start
    while current <= stop:
        out.append(current)
        digit = current.scaleb(-current.adjusted())
        current = current * 2 if digit in (1, 5) else current * Decimal("2.5")
        current = current.normalize()
    return out


def _log_edges(spread: Spread, *, kind: str, step: Decimal) -> list[Decimal]:
    assert spread.low is not None and spread.high is not None
    low, high = spread.low, spread.high
    # the smallest bar above (or below) zero: cents and fractions of a day are noise; shares go to 0.01%
    floor_step = Decimal("0.0001") if kind == "ratio" else Decimal(1)
    edges: list[Decimal] = []
    if low < 0:
        nearest = -(spread.greatest_negative if spread.greatest_negative is not None else low)
        far = _nice(-low, up=True)
        magnitudes = _series(max(_nice(nearest, up=False), floor_step), far)
        if not magnitudes or magnitudes[-1] < -low:
            magnitudes.append(far)
        edges += [-m for m in reversed(magnitudes)]
    if low <= 0 <= high:
        edges.append(Decimal(0))
    if high > 0:
        smallest = spread.least_positive if spread.least_positive is not None else max(low, floor_step)
        start = max(_nice(max(smallest, floor_step), up=False), floor_step)
        if low > 0:
            start = max(_nice(low, up=False), floor_step)
        elif step < start:
            # zero keeps a bar of its own (the dormant, the never compensated): the values between
            # it and the first step (cents) get the next one
            edges.append(step)
        edges += [e for e in _series(start, high) if not edges or e > edges[-1]]
    return edges


def _linear_edges(low: Decimal, high: Decimal, *, whole: bool) -> list[Decimal]:
    width = _nice((high - low) / LINEAR_BARS, up=True)
    if whole:
        width = max(width.to_integral_value(ROUND_CEILING), Decimal(1))
    start = (low / width).to_integral_value(ROUND_FLOOR) * width
    count = int(((high - start) / width).to_integral_value(ROUND_FLOOR)) + 1
    return [start + i * width for i in range(count)]
