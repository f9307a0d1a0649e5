"""manage.py export_targets: the CSV contract of PRODUCT.md, safe cells, and a log entry."""

import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from promotions.models import ExportLog, Promotion

pytestmark = pytest.mark.django_db


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_targets", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_it_writes_the_contract_columns_for_tiers_2_and_3_by_default(target):
    target(tier=1, external_id="LOW")
    target(tier=2, external_id="LOYAL", name="Ada", email="ada@example.com")
    target(tier=3, external_id="LIFE")
    written = rows(export())
    assert [r["external_id"] for r in written] == ["LOYAL", "LIFE"]
    assert written[0] == {
        "external_id": "LOYAL",
        "name": "Ada",
        "email": "ada@example.com",
        "company": "",
        "tier": "2",
        "lifecycle_stage": "",  # not scored yet
        "churn_risk": "",
        "tier_name": "Loyal",
        "account_manager": "",
        "last_order": "",  # no order
        "revenue_12m": "1000.00",
    }


def test_tier_1_is_exported_only_when_named(target):
    target(tier=1, external_id="LOW")
    target(tier=3, external_id="LIFE")
    assert [r["external_id"] for r in rows(export("--tiers", "1"))] == ["LOW"]
    assert [r["external_id"] for r in rows(export("--tiers", "1,2,3"))] == ["LOW", "LIFE"]


@pytest.mark.parametrize(
    "formula",
    ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+1", "-1+2", "\tcmd", "\rcmd"],
)
def test_a_formula_in_a_name_email_or_company_is_neutralised(target, formula):
    target(name=formula, email=formula, company=formula)
    row = rows(export())[0]
    assert row["name"] == row["email"] == row["company"] == "'" + formula


def test_numbers_are_left_intact(target):
    target(tier=2, name="-1")
    target(tier=3)
    lines = export().splitlines()
    assert [line.split(",")[4] for line in lines[1:]] == ["2", "3"]  # the tier: unquoted, no leading quote
    assert lines[1].split(",")[1] == "'-1"  # text that looks like a number is still text: neutralised


def test_excel_adds_a_utf8_bom_and_plain_csv_does_not(target, tmp_path):
    target(name="Zoë")
    call_command("export_targets", "--excel", "--output", str(tmp_path / "x.csv"), stderr=io.StringIO())
    call_command("export_targets", "--output", str(tmp_path / "p.csv"), stderr=io.StringIO())
    assert (tmp_path / "x.csv").read_bytes().startswith(b"\xef\xbb\xbfexternal_id,")
    assert (tmp_path / "p.csv").read_bytes().startswith(b"external_id,")
    assert "Zoë".encode() in (tmp_path / "p.csv").read_bytes()


def test_every_run_is_logged_with_the_os_user_filters_and_row_count(target, tmp_path):
    for _ in range(3):
        target(tier=3)
    target(tier=2)
    err = io.StringIO()
    call_command("export_targets", "--tiers", "3", "--excel", "--output", str(tmp_path / "t.csv"), stderr=err)
    log = ExportLog.objects.get()
    assert log.actor.startswith("command line (") and log.user is None
    assert (log.source, log.row_count, log.format) == ("command", 3, "csv-excel")
    assert log.filters == {"tiers": [3]}
    assert log.finished_at is not None
    assert "Wrote 3 rows" in err.getvalue()


def test_a_saved_promotion_gives_its_filters_and_is_named_in_the_log(target):
    target(tier=2, external_id="LOYAL")
    target(tier=3, external_id="LIFE")
    promotion = Promotion.objects.create(
        name="Launch", starts_on=dt.date(2026, 5, 1), ends_on=dt.date(2026, 5, 31), tiers=[3]
    )
    assert [r["external_id"] for r in rows(export("--promotion", str(promotion.pk)))] == ["LIFE"]
    assert ExportLog.objects.get().promotion == promotion


def test_bad_tiers_are_refused_naming_the_value_and_nothing_is_logged():
    with pytest.raises(CommandError, match="--tiers: '4' is not a tier level"):
        export("--tiers", "2,4")
    with pytest.raises(CommandError, match="no tier given"):
        export("--tiers", ",")
    assert not ExportLog.objects.exists()


def test_an_unknown_promotion_is_refused():
    with pytest.raises(CommandError, match="no promotion with id 999"):
        export("--promotion", "999")
