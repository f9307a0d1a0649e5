"""The CSV import contract (PRODUCT.md, "CSV import") through the service, on PostgreSQL."""

import datetime as dt
import io
from decimal import Decimal

import pytest

from customers.imports import MAX_LISTED_ERRORS, import_csv
from customers.models import Customer, Order, OrderLine, Product, Ticket
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
ORDERS_HEADER = "order_id,customer_id,placed_at,sku,quantity,amount,cost\n"


def run(kind: str, content: str | bytes, **kwargs):
    data = content.encode() if isinstance(content, str) else content
    return import_csv(kind=kind, stream=io.BytesIO(data), **kwargs)


@pytest.fixture
def catalogue():
    """Two customers and two products that order files can refer to."""
    CustomerFactory(external_id="C1")
    CustomerFactory(external_id="C2")
    ProductFactory(sku="A1")
    ProductFactory(sku="B2")


# --- a good file ---


def test_it_imports_customers_and_reports_what_it_created():
    UserFactory(username="maria")
    report = run(
        "customers",
        "external_id,name,email,company,signed_up_on,account_manager\n"
        "C1,Ann Lee,ann@example.com,Acme,2024-05-01,maria\n"
        "C2,Bob Roy,,,,\n",
    )
    assert (report.errors, report.rows, report.created, report.updated, report.unchanged) == ([], 2, 2, 0, 0)
    ann = Customer.objects.get(external_id="C1")
    assert (ann.name, ann.email, ann.company, ann.signed_up_on) == (
        "Ann Lee",
        "ann@example.com",
        "Acme",
        dt.date(2024, 5, 1),
    )
    assert ann.account_manager.username == "maria"
    assert Customer.objects.get(external_id="C2").account_manager is None


def test_it_imports_products_and_tickets():
    CustomerFactory(external_id="C1")
    assert run("products", "sku,name,category,launched_on\nA1,Apple,fruit,2025-01-01\n").created == 1
    report = run(
        "tickets",
        "ticket_id,customer_id,opened_at,kind,outcome,compensation\n"
        "T1,C1,2026-02-01T09:30:00,complaint,rejected,25.00\n"
        "T2,C1,2026-02-02,question,,\n",
    )
    assert (report.errors, report.created) == ([], 2)
    t1, t2 = Ticket.objects.order_by("ticket_id")
    assert (t1.kind, t1.outcome, t1.compensation) == ("complaint", "rejected", Decimal("25.00"))
    assert (t2.outcome, t2.compensation, t2.opened_at) == ("", Decimal("0"), dt.datetime(2026, 2, 2, tzinfo=UTC))
    assert Product.objects.get(sku="A1").launched_on == dt.date(2025, 1, 1)


def test_it_imports_order_lines_grouped_into_orders(catalogue):
    report = run(
        "orders",
        ORDERS_HEADER
        + "O1,C1,2026-03-01T14:05:00,A1,2,20.00,12.00\n"
        + "O1,C1,2026-03-01T14:05:00,B2,1,5.50,\n"
        + "O2,C2,2026-03-02,A1,1,10,6\n",
    )
    assert (report.errors, report.rows, report.created) == ([], 3, 3)
    order = Order.objects.get(order_id="O1")
    assert order.customer.external_id == "C1"
    assert order.placed_at == dt.datetime(2026, 3, 1, 14, 5, tzinfo=UTC)
    lines = {line.product.sku: line for line in order.lines.all()}
    assert (lines["A1"].quantity, lines["A1"].amount, lines["A1"].cost) == (2, Decimal("20.00"), Decimal("12.00"))
    assert lines["B2"].cost is None
    assert all(line.customer == order.customer and line.placed_at == order.placed_at for line in lines.values())
    assert Order.objects.get(order_id="O2").placed_at == dt.datetime(2026, 3, 2, tzinfo=UTC)  # a date alone is midnight


def test_a_zero_amount_is_a_valid_free_item(catalogue):
    report = run("orders", ORDERS_HEADER + "O1,C1,2026-03-01,A1,1,0,0.00\n")
    assert report.errors == []
    assert OrderLine.objects.get().amount == Decimal("0")


def test_a_utf8_bom_is_accepted():
    report = run("products", "\ufeffsku,name,category\nA1,Äpfel,obst\n".encode("utf-8"))
    assert report.errors == []
    assert Product.objects.get(sku="A1").name == "Äpfel"


def test_columns_may_come_in_any_order_and_extra_columns_are_ignored(catalogue):
    report = run(
        "orders",
        "amount,sku,notes,quantity,order_id,placed_at,customer_id\n12.50,A1,call back,3,O1,2026-03-01,C2\n",
    )
    assert report.errors == []
    line = OrderLine.objects.get()
    assert (line.order.order_id, line.customer.external_id, line.quantity, line.amount) == (
        "O1",
        "C2",
        3,
        Decimal("12.50"),
    )


def test_naive_date_times_are_in_the_configured_time_zone(catalogue, settings):
    settings.TIME_ZONE = "Europe/Copenhagen"
    run("orders", ORDERS_HEADER + "O1,C1,2026-03-01T14:05:00,A1,1,1,\nO2,C1,2026-03-01T14:05:00+00:00,A1,1,1,\n")
    assert Order.objects.get(order_id="O1").placed_at == dt.datetime(2026, 3, 1, 13, 5, tzinfo=UTC)
    assert Order.objects.get(order_id="O2").placed_at == dt.datetime(2026, 3, 1, 14, 5, tzinfo=UTC)


def test_progress_is_reported_as_rows_are_read(catalogue, monkeypatch):
    monkeypatch.setattr("customers.imports.PROGRESS_EVERY", 2)
    seen = []
    run("orders", ORDERS_HEADER + "".join(f"O{i},C1,2026-03-01,A1,1,1,\n" for i in range(5)), progress=seen.append)
    assert seen == [2, 4]


# --- importing again ---


def test_importing_the_same_file_twice_changes_nothing(catalogue):
    content = ORDERS_HEADER + "O1,C1,2026-03-01T14:05:00,A1,2,20.00,12.00\nO1,C1,2026-03-01T14:05:00,B2,1,5.50,\n"
    run("orders", content)
    before = list(OrderLine.objects.order_by("id").values_list("id", "customer_id", "placed_at", "amount", "cost"))
    report = run("orders", content)
    assert (report.errors, report.created, report.updated, report.unchanged) == ([], 0, 0, 2)
    assert (
        list(OrderLine.objects.order_by("id").values_list("id", "customer_id", "placed_at", "amount", "cost")) == before
    )


def test_a_later_file_can_add_lines_to_an_existing_order_and_change_others(catalogue):
    run("orders", ORDERS_HEADER + "O1,C1,2026-03-01,A1,1,10.00,\n")
    report = run(
        "orders",
        ORDERS_HEADER + "O1,C1,2026-03-01,A1,2,20.00,\nO1,C1,2026-03-01,B2,1,5.00,\nO2,C2,2026-03-01,A1,1,1,\n",
    )
    assert (report.errors, report.created, report.updated, report.unchanged) == ([], 2, 1, 0)
    assert sorted(OrderLine.objects.values_list("order__order_id", "product__sku", "quantity")) == [
        ("O1", "A1", 2),
        ("O1", "B2", 1),
        ("O2", "A1", 1),
    ]


def test_a_second_import_of_customers_updates_only_the_changed_rows():
    run("customers", "external_id,name\nC1,Ann\nC2,Bob\n")
    report = run("customers", "external_id,name\nC1,Ann\nC2,Robert\nC3,Cy\n")
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert Customer.objects.get(external_id="C2").name == "Robert"


def test_a_column_missing_from_the_file_is_left_as_it_was():
    run("customers", "external_id,name,email\nC1,Ann,ann@example.com\n")
    run("customers", "external_id,name\nC1,Ann Lee\n")
    assert Customer.objects.get(external_id="C1").email == "ann@example.com"


def test_an_order_re_imported_with_a_changed_date_and_customer_moves_all_its_lines(catalogue):
    other_line = OrderLineFactory(
        order=OrderFactory(order_id="O1", customer=Customer.objects.get(external_id="C1")),
        product=ProductFactory(sku="OLD"),
    )
    report = run("orders", ORDERS_HEADER + "O1,C2,2026-04-01T10:00:00,A1,1,10,\n")
    assert report.errors == []
    new_time = dt.datetime(2026, 4, 1, 10, tzinfo=UTC)
    order = Order.objects.get(order_id="O1")
    assert (order.customer.external_id, order.placed_at) == ("C2", new_time)
    # Both the imported line and the line the file did not mention follow their order.
    assert set(order.lines.values_list("customer__external_id", "placed_at")) == {("C2", new_time)}
    other_line.refresh_from_db()
    assert other_line.placed_at == new_time


# --- bad files: nothing is written and every problem is listed ---


def test_a_file_that_is_not_utf8_is_rejected_naming_the_line_and_byte():
    report = run("products", "sku,name,category\nA1,Apple,fruit\nB2,Cr\u00e8me,dairy\n".encode("latin-1"))
    assert report.errors == ['line 3: file: is not UTF-8: byte 0xe8 at byte 39 of the file (save it as "CSV UTF-8")']
    assert not Product.objects.exists()


def test_an_empty_file_is_rejected():
    report = run("products", b"")
    assert report.errors == ["line 1: file: is empty; expected a header row with sku, name, category"]


def test_a_missing_required_column_is_named():
    report = run("products", "sku,name\nA1,Apple\n")
    assert report.errors == ["line 1: category: missing required column category"]


def test_a_misspelled_required_column_gets_a_suggestion():
    report = run("orders", "order_id,customerid,placed_at,sku,quantity,amount\n")
    assert report.errors == ["line 1: customer_id: missing required column customer_id (did you mean 'customerid'?)"]


def test_a_header_that_names_a_column_twice_is_rejected():
    report = run("products", "sku,name,category,sku\nA1,Apple,fruit,A1\n")
    assert report.errors == ["line 1: sku: the header names this column twice (columns 1 and 4)"]


def test_duplicate_keys_inside_one_file_are_reported(catalogue):
    report = run("products", "sku,name,category\nA1,Apple,fruit\nB2,Bean,veg\nA1,Apricot,fruit\n")
    assert report.errors == ["line 4: sku: duplicate key 'A1' (sku), first seen on line 2"]
    orders = run("orders", ORDERS_HEADER + "O1,C1,2026-03-01,A1,1,1,\nO1,C1,2026-03-01,A1,2,2,\n")
    assert orders.errors == ["line 3: sku: duplicate key 'O1 / A1' (order_id / sku), first seen on line 2"]
    assert not Order.objects.exists()


def test_unknown_customers_and_skus_are_reported(catalogue):
    report = run("orders", ORDERS_HEADER + "O1,C9,2026-03-01,A1,1,1,\nO2,C1,2026-03-01,Z9,1,1,\n")
    assert report.errors == [
        "line 2: customer_id: no customer has the external_id 'C9'",
        "line 3: sku: no product has the sku 'Z9'",
    ]
    tickets = run("tickets", "ticket_id,customer_id,opened_at,kind\nT1,C9,2026-03-01,other\n")
    assert tickets.errors == ["line 2: customer_id: no customer has the external_id 'C9'"]


def test_an_unknown_account_manager_is_reported():
    report = run("customers", "external_id,name,account_manager\nC1,Ann,nobody\n")
    assert report.errors == ["line 2: account_manager: no user has the username 'nobody'"]


def test_bad_dates_numbers_and_negative_quantities_are_reported(catalogue):
    report = run(
        "orders",
        ORDERS_HEADER
        + "O1,C1,01/03/2026,A1,1,1.00,\n"
        + "O2,C1,2026-03-01,A1,-2,1.00,\n"
        + "O3,C1,2026-03-01,A1,0,1.00,\n"
        + "O4,C1,2026-03-01,A1,1,12.5x,-1\n"
        + "O5,C1,2026-03-01,A1,1,1.999,\n",
    )
    assert report.errors == [
        "line 2: placed_at: '01/03/2026' is not an ISO date-time like 2026-03-01T14:05:00",
        "line 3: quantity: '-2' must be a whole number of at least 1",
        "line 4: quantity: '0' must be a whole number of at least 1",
        "line 5: amount: '12.5x' is not a plain decimal number like 129.90",
        "line 5: cost: '-1' is negative; it must be 0 or more",
        "line 6: amount: '1.999' has more than 2 decimal places",
    ]


def test_bad_values_in_the_other_kinds_are_reported():
    customers = run("customers", "external_id,name,email,signed_up_on\nC1,,ann@,2024-13-01\n")
    assert customers.errors == [
        "line 2: name: is required",
        "line 2: email: 'ann@' is not a valid email address",
        "line 2: signed_up_on: '2024-13-01' is not an ISO date like 2026-03-01",
    ]
    CustomerFactory(external_id="C1")
    tickets = run("tickets", "ticket_id,customer_id,opened_at,kind,outcome\nT1,C1,2026-03-01,rant,won\n")
    assert tickets.errors == [
        "line 2: kind: 'rant' is not one of complaint, question, return, other",
        "line 2: outcome: 'won' is not one of upheld, rejected, pending",
    ]


def test_lines_of_one_order_must_agree_on_customer_and_date(catalogue):
    report = run("orders", ORDERS_HEADER + "O1,C1,2026-03-01,A1,1,1,\nO1,C2,2026-03-01,B2,1,1,\n")
    assert report.errors == [
        "line 3: customer_id: order 'O1' has customer_id C1 on line 2; all lines of an order must agree"
    ]
    report = run("orders", ORDERS_HEADER + "O1,C1,2026-03-01,A1,1,1,\nO1,C1,2026-03-02,B2,1,1,\n")
    assert len(report.errors) == 1 and report.errors[0].startswith(
        "line 3: placed_at: order 'O1' has placed_at 2026-03-01"
    )


def test_a_row_with_too_many_values_is_reported():
    report = run("products", "sku,name,category\nA1,Apple, red,fruit\n")
    assert report.errors == [
        "line 2: row: has 4 values but the header has 3 columns (quote values that contain commas)"
    ]


def test_every_bad_row_is_reported_and_nothing_is_written(catalogue):
    report = run(
        "orders",
        ORDERS_HEADER
        + "O1,C1,2026-03-01,A1,1,1,\n"  # good
        + "O2,C9,2026-03-01,A1,1,1,\n"  # unknown customer
        + "O3,C1,yesterday,A1,1,1,\n"  # bad date
        + "O4,C1,2026-03-01,A1,1,1,\n"  # good
        + "O5,C1,2026-03-01,Z9,1,1,\n",  # unknown sku
    )
    assert [error.split(":")[0] for error in report.errors] == ["line 3", "line 4", "line 6"]
    assert report.error_count == 3
    assert (report.created, report.updated) == (0, 0)
    assert not Order.objects.exists() and not OrderLine.objects.exists()


def test_a_long_list_of_errors_is_capped_in_the_report_but_every_error_is_written_out(catalogue):
    bad_rows = "".join(f"O{i},C1,2026-03-01,A1,x,1,\n" for i in range(MAX_LISTED_ERRORS + 5))
    every_error = io.StringIO()
    report = run("orders", ORDERS_HEADER + bad_rows, errors_to=every_error)
    assert report.error_count == MAX_LISTED_ERRORS + 5
    assert len(report.errors) == MAX_LISTED_ERRORS
    written = every_error.getvalue().splitlines()
    assert written[: len(report.errors)] == report.errors
    assert written[-1] == f"line {MAX_LISTED_ERRORS + 6}: quantity: 'x' is not a whole number"
    assert len(written) == MAX_LISTED_ERRORS + 5


def test_line_numbers_count_the_physical_lines_of_quoted_multi_line_values():
    report = run("products", 'sku,name,category\nA1,"Big\nApple",fruit\nB2,,veg\n')
    assert report.errors == ["line 4: name: is required"]


def test_a_nul_character_is_reported_not_sent_to_the_database():
    report = run("products", "sku,name,category\nA1,Ap\x00ple,fruit\n")
    assert report.errors == ["line 2: name: contains a NUL character"]


def test_blank_lines_are_skipped():
    report = run("products", "sku,name,category\n\nA1,Apple,fruit\n\n")
    assert (report.errors, report.rows, report.created) == ([], 1, 1)
