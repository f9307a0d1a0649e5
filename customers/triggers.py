"""The triggers that mark changed source data (customers.changes), as migration 0003 installed them."""

from core.triggers import Trigger

INSTALLED_BY = ("customers", "0003_data_changes")
EVERY_EVENT = ("insert", "update", "delete", "truncate")


def _marks(table: str, function: str, events: tuple[str, ...]) -> tuple[Trigger, ...]:
    return tuple(Trigger(f"{table}_mark_{event}", table, function, INSTALLED_BY) for event in events)


TRIGGERS = (
    *_marks("customers_orderline", "customers_mark_rows", EVERY_EVENT),
    *_marks("customers_order", "customers_mark_rows", EVERY_EVENT),
    *_marks("customers_ticket", "customers_mark_rows", EVERY_EVENT),
    *_marks("customers_customer", "customers_mark_customers", ("insert", "update", "truncate")),
    *_marks("customers_product", "customers_mark_products", ("update", "truncate")),
)
