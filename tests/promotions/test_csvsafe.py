"""The OWASP rule as the export's COPY applies it, and the CSV it streams reads back as written."""

import csv
import io

import pytest

from promotions.exports import CHUNK_BYTES, RowCount, csv_chunks
from promotions.selectors import targets_queryset

pytestmark = pytest.mark.django_db

FORMULAS = [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("+1", "'+1"),
    ("-1+2", "'-1+2"),
    ("\tcmd", "'\tcmd"),
    ("\rcmd", "'\rcmd"),
]
HARMLESS = ["Ada Lovelace", "a=b", "x@example.com", "O'Brien", "1-2", " =not first"]
TRICKY = ['Zoë "Z" Ünal, Ltd', "two\nlines", "€ and 日本", "a,b", '"quoted"']


def exported_names(counter: RowCount | None = None) -> list[str]:
    text = b"".join(csv_chunks(targets_queryset(), counter=counter)).decode()
    return [row["name"] for row in csv.DictReader(io.StringIO(text, newline=""))]


@pytest.mark.parametrize("value, expected", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(target, value, expected):
    target(name=value)
    assert exported_names() == [expected]


@pytest.mark.parametrize("value", HARMLESS + TRICKY)
def test_a_cell_that_is_not_a_formula_reads_back_exactly_as_stored(target, value):
    target(name=value)
    assert exported_names() == [value]


def test_an_empty_cell_stays_empty_rather_than_a_quoted_empty_string(target):
    target(external_id="E1", name="Ada", email="ada@example.com", company="")
    row = b"".join(csv_chunks(targets_queryset())).splitlines()[1]
    # No company; not scored yet: stage and risk empty too; no manager, no order: empty as well.
    assert row == b"E1,Ada,ada@example.com,,2,,,Loyal,,,1000.00"


def test_the_stream_counts_the_rows_it_wrote(target):
    for _ in range(3):
        target()
    counter = RowCount()
    assert len(exported_names(counter)) == 3
    assert counter.rows == 3


def test_the_export_streams_in_bounded_chunks_rather_than_one_blob(target):
    for i in range(1500):
        target(name=f"{'A long customer name ' * 4}{i}")  # ~100 bytes a row, ~150 KB in all
    chunks = list(csv_chunks(targets_queryset()))
    assert len(chunks) >= 3
    assert max(len(chunk) for chunk in chunks) < CHUNK_BYTES + 1024  # one chunk plus at most a row
