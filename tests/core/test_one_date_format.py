"""Dates read the same on every page: the formats live in config/formats/en/formats.py, not in templates."""

import datetime as dt
import re
from pathlib import Path

from django.template import Context, Template

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# named formats, machine-readable ones (<time datetime="c" or "Y-m">, a time zone name), and day-month forms within a year
ALLOWED = {"DATETIME_FORMAT", "YEAR_MONTH_FORMAT", "c", "Y-m", "e", "j M", "D j M", "D j M Y"}


def test_templates_use_the_named_date_formats_only():
    used = {
        (path.relative_to(TEMPLATES).as_posix(), fmt)
        for path in TEMPLATES.rglob("*.html")
        for fmt in re.findall(r"""\|date:["']([^"']*)["']""", path.read_text())
    }
    assert {(name, fmt) for name, fmt in used if fmt not in ALLOWED} == set()


def test_a_date_and_a_time_read_the_same_way_everywhere():
    rendered = Template('{{ d|date }} · {{ d }} · {{ t|date:"DATETIME_FORMAT" }} · {{ t }}').render(
        Context({"d": dt.date(2026, 12, 2), "t": dt.datetime(2026, 12, 2, 14, 5)})
    )
    assert rendered == "2 Dec 2026 · 2 Dec 2026 · 2 Dec 2026, 14:05 · 2 Dec 2026, 14:05"
