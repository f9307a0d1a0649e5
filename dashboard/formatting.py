"""How the pages write money, shares and metric values. Pure functions, shared by templates and tables."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from tiering.metrics import METRICS

MINUS = "\u2212"


def currency() -> str:
    return settings.TIERBOARD_CURRENCY_SYMBOL


def money(value) -> str:
    """€1,234.50 and −€80.00; an empty value is a dash."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = MINUS if amount < 0 else ""
    return f"{sign}{currency()}{abs(amount):,.2f}"


def money_short(value) -> str:
    """€45.0M, €812.4k, €950: for totals where cents are noise. The exact figure goes in a title."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    sign = MINUS if amount < 0 else ""
    size = abs(amount)
    for limit, suffix in ((Decimal(10**9), "bn"), (Decimal(10**6), "M"), (Decimal(10**3), "k")):
        if size >= limit:
            return f"{sign}{currency()}{size / limit:,.1f}{suffix}"
    return f"{sign}{currency()}{size:,.0f}"


def percent(value, places: int = 1) -> str:
    """0.254 → 25.4 %."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{places}f} %"


def metric_value(metric: str, value) -> str:
    """A metric's value as a person reads it, by the metric's kind."""
    kind = METRICS[metric].kind if metric in METRICS else "count"
    if value is None:
        return "no orders" if kind == "days" else "—"
    if kind == "money":
        return money(value)
    if kind == "ratio":
        return percent(value)
    if kind == "days":
        number = Decimal(value).normalize()
        return f"{number:,f} days" if number != 1 else "1 day"
    number = Decimal(value).normalize()
    return f"{number:,f}"
