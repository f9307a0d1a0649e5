"""Files as spreadsheets and scripts really write them: header only, Windows line ends with a BOM,
quoted commas and quotes, very long lines. (An empty file, a BOM alone, duplicate keys and bytes
that are not UTF-8 are in test_imports.py.)"""

import io

import pytest

from customers.models import Product
from tests.customers.test_imports import run

pytestmark = pytest.mark.django_db


def test_a_file_with_only_its_header_imports_nothing_and_is_no_error():
    report = run("products", "sku,name,category\n")
    assert (report.errors, report.rows, report.created) == ([], 0, 0)


def test_a_file_of_blank_lines_is_reported_as_empty():
    report = run("products", "\n\r\n\n")
    assert report.errors == ["line 1: file: is empty; expected a header row with sku, name, category"]


def test_windows_line_ends_and_a_bom_as_excel_writes_them_are_read_like_any_file():
    report = run("products", "\ufeffsku,name,category\r\nA1,Apple,fruit\r\nB2,,veg\r\n".encode())
    assert report.errors == ["line 3: name: is required"]  # the line numbers count CRLF lines
    report = run("products", "\ufeffsku,name,category\r\nA1,Apple,fruit\r\n".encode())
    assert report.errors == []
    assert Product.objects.get().name == "Apple"  # no stray \r in the last column


def test_quoted_values_keep_their_commas_quotes_and_line_breaks():
    report = run("products", 'sku,name,category\nA1,"Apple, red","fruit ""fresh"""\nB2,"Two\r\nlines",veg\n')
    assert report.errors == []
    assert dict(Product.objects.values_list("sku", "name")) == {"A1": "Apple, red", "B2": "Two\r\nlines"}
    assert Product.objects.get(sku="A1").category == 'fruit "fresh"'


def test_a_very_long_value_is_reported_without_echoing_it():
    report = run("products", "sku,name,category\nA1," + "x" * 100_000 + ",fruit\nB2,Bean,veg\n")
    assert report.errors == ["line 2: name: is longer than 200 characters"]
    assert not Product.objects.exists()


def test_a_line_longer_than_the_csv_reader_takes_stops_the_import_naming_it():
    report = run("products", "sku,name,category\nA1,Apple,fruit\nB2," + "y" * 200_000 + ",veg\nC3,Corn,veg\n")
    assert report.errors == ["line 3: file: is not valid CSV: field larger than field limit (131072)"]
    assert not Product.objects.exists()


def test_an_error_about_a_value_with_a_line_break_stays_on_one_line(catalogue_c1):
    every_error = io.StringIO()
    report = run(
        "orders",
        'order_id,customer_id,placed_at,sku,quantity,amount\nO1,"C\n2",2026-03-01,A1,1,1\nO1,C1,2026-03-01,B2,1,1\n',
        errors_to=every_error,
    )
    assert report.error_count == 2
    assert every_error.getvalue().count("\n") == 2
    assert every_error.getvalue().splitlines()[1] == (
        "line 4: customer_id: order 'O1' has customer_id C\\n2 on line 2; all lines of an order must agree"
    )


@pytest.fixture
def catalogue_c1():
    from tests.factories import CustomerFactory, ProductFactory

    CustomerFactory(external_id="C1")
    ProductFactory(sku="A1")
    ProductFactory(sku="B2")
