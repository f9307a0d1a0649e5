"""Tier levels: the one place code names them. The `Tier` table holds each level's name and
colour; migration 0002 seeds these levels and the admin never changes a level."""

LEVELS = (1, 2, 3)  # lowest first
FALLBACK_LEVEL = LEVELS[0]  # anyone no rule group places higher
TOP_LEVEL = LEVELS[-1]
