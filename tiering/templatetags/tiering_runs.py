from django import template

register = template.Library()


@register.filter
def get_count(counts: dict, level) -> int | None:
    """counts["2"] for level 2: run counts are JSON, keyed by the level as text."""
    return (counts or {}).get(str(level))
