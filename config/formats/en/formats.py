"""One way to write dates on every page, the Django admin included: 2 Dec 2026, 2 Dec 2026, 14:05.

Templates write `{{ value|date }}` and `{{ value|date:"DATETIME_FORMAT" }}` (or no filter at all), never
a format string of their own. Form inputs accept what Django's English formats accept (ISO `2026-12-02` first)."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j M"
YEAR_MONTH_FORMAT = "M Y"
TIME_FORMAT = "H:i"
FIRST_DAY_OF_WEEK = 1
