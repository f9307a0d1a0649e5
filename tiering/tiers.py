"""Tier levels: the one place code names them. The `Tier` table holds each level's name, colour
and description (migration 0002 seeds them); the admin never changes a level. Forms that need
choices before any query use LEVEL_CHOICES, with the seeded short names."""

LEVELS = (1, 2, 3)  # lowest first
FALLBACK_LEVEL = LEVELS[0]  # anyone no rule group places higher
TOP_LEVEL = LEVELS[-1]
SHORT_NAMES = dict(zip(LEVELS, ("lowest", "loyal", "lifetime")))
LEVEL_CHOICES = [(level, f"{level} — {SHORT_NAMES[level]}") for level in LEVELS]
