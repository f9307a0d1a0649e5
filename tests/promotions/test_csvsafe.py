"""The OWASP rule, in Python and in the SQL that COPY runs, gives the same answers."""

import pytest

from promotions.csvsafe import neutralise
from promotions.exports import RowCount, _copy_chunks, _python_chunks
from promotions.selectors import targets_queryset

FORMULAS = [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("+1", "'+1"),
    ("-1+2", "'-1+2"),
    ("\tcmd", "'\tcmd"),
    ("\rcmd", "'\rcmd"),
]
HARMLESS = ["Ada Lovelace", "a=b", "x@example.com", "O'Brien", "", "1-2", " =not first"]


@pytest.mark.parametrize("value, expected", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(value, expected):
    assert neutralise(value) == expected


@pytest.mark.parametrize("value", HARMLESS)
def test_a_cell_that_is_not_a_formula_is_left_alone(value):
    assert neutralise(value) == value


def test_an_empty_cell_stays_empty():
    assert neutralise(None) is None


TRICKY = [v for v, _ in FORMULAS] + HARMLESS + ['Zoë "Z" Ünal, Ltd', "two\nlines", "€ and 日本"]


@pytest.mark.django_db
def test_the_sql_rule_under_copy_and_the_python_fallback_write_the_same_bytes(target):
    """Both paths run here on PostgreSQL over the same rows, so their bytes can be compared."""
    for i, text in enumerate(TRICKY):
        target(tier=2 + i % 2, external_id=f"X{i:03d}", name=text, company=text, email=f"{i}@x.org")
    copied = b"".join(_copy_chunks(targets_queryset(), RowCount()))
    written = b"".join(_python_chunks(targets_queryset(), RowCount()))
    assert copied == written
    assert b"'=HYPERLINK" in copied and b"'@SUM(A1)" in copied


@pytest.mark.django_db
def test_both_paths_count_the_rows_they_wrote(target):
    for _ in range(3):
        target()
    copy_count, python_count = RowCount(), RowCount()
    b"".join(_copy_chunks(targets_queryset(), copy_count))
    b"".join(_python_chunks(targets_queryset(), python_count))
    assert copy_count.rows == python_count.rows == 3


@pytest.mark.django_db
def test_the_copy_export_streams_in_bounded_chunks_rather_than_one_blob(target):
    from promotions.exports import CHUNK_BYTES, csv_chunks

    for i in range(1500):
        target(name=f"{'A long customer name ' * 4}{i}")  # ~100 bytes a row, ~150 KB in all
    chunks = list(csv_chunks(targets_queryset()))
    assert len(chunks) >= 3
    assert max(len(chunk) for chunk in chunks) < CHUNK_BYTES + 1024  # one chunk plus at most a row
