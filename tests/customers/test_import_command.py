"""`manage.py import_data KIND FILE`: a summary line on success; errors on stderr and exit status 1."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from customers.models import Product

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, content: str) -> str:
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_it_prints_a_one_line_summary(tmp_path):
    out = StringIO()
    call_command("import_data", "products", write(tmp_path, "sku,name,category\nA1,Apple,fruit\n"), stdout=out)
    assert out.getvalue().startswith("imported products: 1 rows, 1 created, 0 updated, 0 unchanged in ")
    assert out.getvalue().rstrip().endswith(" s")
    assert Product.objects.filter(sku="A1").exists()


def test_it_writes_every_error_to_stderr_and_fails(tmp_path):
    err = StringIO()
    path = write(tmp_path, "sku,name,category\nA1,,fruit\nA1,Apple,fruit\n")
    with pytest.raises(CommandError, match="2 error\\(s\\) in 2 rows of products; nothing was imported"):
        call_command("import_data", "products", path, stderr=err)
    assert err.getvalue().splitlines() == [
        "line 2: name: is required",
        "line 3: sku: duplicate key 'A1' (sku), first seen on line 2",
    ]
    assert not Product.objects.exists()


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot open .*nope.csv: No such file or directory"):
        call_command("import_data", "products", str(tmp_path / "nope.csv"))


def test_the_exit_status_is_non_zero_when_the_file_is_bad(tmp_path):
    """Run as a user would, in a separate process against the (empty) test database: a bad
    header needs no rows from this test's transaction."""
    from django.db import connection

    path = write(tmp_path, "sku,name\nA1,Apple\n")
    env = {"DATABASE_URL": _url(connection.settings_dict), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "manage.py", "import_data", "products", path], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "line 1: category: missing required column category" in result.stderr


def _url(db: dict) -> str:
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def test_every_bad_row_of_a_file_with_ten_percent_bad_rows_is_printed_in_line_order(tmp_path):
    """3,000 lines, every tenth bad in one of five ways (two found in Python, three in SQL)."""
    from customers.models import Order, OrderLine
    from tests.factories import CustomerFactory, ProductFactory

    CustomerFactory(external_id="C1")
    ProductFactory(sku="A1")
    ProductFactory(sku="B2")
    faults = ["O{i},C9,2026-03-01,A1,1,1", "O{i},C1,yesterday,A1,1,1", "O{i},C1,2026-03-01,A1,0,1",
              "O{i},C1,2026-03-01,Z9,1,1", "O{p},C1,2026-03-01,B2,1,1"]  # fmt: skip
    rows = [
        (faults[(i // 10) % 5] if i % 10 == 9 else "O{i},C1,2026-03-01,B2,1,1").format(i=i, p=i - 1)
        for i in range(3000)
    ]
    err = StringIO()
    path = write(tmp_path, "order_id,customer_id,placed_at,sku,quantity,amount\n" + "\n".join(rows) + "\n")
    with pytest.raises(CommandError, match="300 error\\(s\\) in 3000 rows of orders; nothing was imported"):
        call_command("import_data", "orders", path, stderr=err)
    printed = err.getvalue().splitlines()
    assert [int(error.split(":")[0].removeprefix("line ")) for error in printed] == list(range(11, 3002, 10))
    assert printed[:5] == [
        "line 11: customer_id: no customer has the external_id 'C9'",
        "line 21: placed_at: 'yesterday' is not an ISO date-time like 2026-03-01T14:05:00",
        "line 31: quantity: '0' must be a whole number of at least 1",
        "line 41: sku: no product has the sku 'Z9'",
        "line 51: sku: duplicate key 'O48 / B2' (order_id / sku), first seen on line 50",
    ]
    assert not Order.objects.exists() and not OrderLine.objects.exists()
