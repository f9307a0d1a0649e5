from django import template
from django.utils.html import format_html

from dashboard import formatting

register = template.Library()


@register.filter
def money(value):
    return formatting.money(value)


@register.filter
def money_short(value):
    return formatting.money_short(value)


@register.filter
def percent(value):
    return formatting.percent(value)


@register.simple_tag
def tier_badge(level, tiers=None):
    """A tier's coloured badge with its name for screen readers and sighted users alike."""
    if level is None:
        return format_html('<span class="tier tier-none">{}</span>', "not placed yet")
    tier = (tiers or {}).get(level)
    name = tier.name if tier else ""
    label = f"{level} · {name}" if name else f"Tier {level}"
    return format_html('<span class="tier tier-{}" title="Tier {}">{}</span>', level, level, label)


@register.simple_tag
def tier_name(level, tiers):
    tier = (tiers or {}).get(level)
    return tier.name if tier else f"Tier {level}"
