"""The tier lists' table. Sortable columns order by (metric, customer id) so the order is total and
each page is a straight walk down the (tier, metric, customer) indexes."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from tiering.models import CustomerMetrics

from . import formatting


def _money_column(verbose_name: str, field: str) -> tables.Column:
    return tables.Column(
        verbose_name=verbose_name,
        accessor=field,
        order_by=(field, "customer_id"),
        attrs={"th": {"class": "num"}, "td": {"class": "num"}},
    )


# By account manager, then customer name: customer_manager_name_idx (account manager, name, id).
MANAGER_ORDER = ("customer__account_manager_id", "customer__name", "customer_id")


class CustomerTable(tables.Table):
    name = tables.Column(verbose_name="Customer", accessor="customer__name", order_by=("customer__name", "customer_id"))
    tier = tables.Column(verbose_name="Tier", order_by=("tier", "customer_id"))
    stage = tables.Column(
        verbose_name="Stage", accessor="customer__churn_risk__get_stage_display", orderable=False, default="—"
    )
    manager = tables.Column(
        verbose_name="Account manager", accessor="customer__account_manager", order_by=MANAGER_ORDER, default="—"
    )
    revenue = _money_column("Revenue", "revenue")
    net_margin = _money_column("Net margin", "net_margin")
    orders = tables.Column(
        verbose_name="Orders",
        order_by=("orders", "customer_id"),
        attrs={"th": {"class": "num"}, "td": {"class": "num"}},
    )
    last_order_at = tables.DateColumn(
        verbose_name="Last order", format="j M Y", order_by=("last_order_at", "customer_id"), default="never"
    )
    complaints = tables.Column(
        verbose_name="Complaints",
        order_by=("complaints", "customer_id"),
        attrs={"th": {"class": "num"}, "td": {"class": "num"}},
    )
    compensation_share = tables.Column(
        verbose_name="Comp. share",
        order_by=("compensation_share", "customer_id"),
        attrs={"th": {"class": "num", "title": "Compensation as a share of revenue"}, "td": {"class": "num"}},
    )

    class Meta:
        model = CustomerMetrics
        fields: tuple = ()
        sequence = (
            "name",
            "tier",
            "stage",
            "manager",
            "revenue",
            "net_margin",
            "orders",
            "last_order_at",
            "complaints",
            "compensation_share",
        )
        template_name = "dashboard/_customer_table.html"
        order_by_field = "sort"
        page_field = "page"
        per_page_field = "per_page"
        attrs = {"class": "table customers"}
        empty_text = "No customer matches these filters. Clear a filter or widen a range."

    def __init__(self, *args, tiers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tiers = tiers or {}

    @property
    def show_tier(self) -> bool:
        return "tier" not in (self.exclude or ())

    @property
    def records(self) -> list:
        """The page's rows, already sorted and cut by the view. The body is drawn by the partial
        dashboard/_customer_rows.html from these: django-tables2's per-cell rendering cost ~3 ms a
        row, the partial a tenth of that. The render_* methods below serve exports and tests."""
        return list(self.data.data)

    def render_name(self, record):
        url = reverse("dashboard:customer", args=[record.customer_id])
        return format_html(
            '<a href="{}">{}</a><span class="sub">{}</span>', url, record.customer.name, record.customer.external_id
        )

    def render_tier(self, value):
        tier = self.tiers.get(value)
        return format_html(
            '<span class="tier tier-{}" title="{}">{}</span>', value, tier.name if tier else f"Tier {value}", value
        )

    def render_manager(self, value):
        return value.get_full_name() or value.username

    def render_revenue(self, value):
        return formatting.money(value)

    def render_net_margin(self, value):
        if value < 0:
            return format_html('<span class="neg">{}</span>', formatting.money(value))
        return formatting.money(value)

    def render_compensation_share(self, value):
        return formatting.percent(value)


SORTABLE = {name for name, column in CustomerTable.base_columns.items() if column.orderable is not False}


def ordering(sort: str) -> list[str]:
    """ORDER BY fields of a sort alias, every one in the same direction and ending with the
    customer id: a total order (keyset-safe, pages never repeat or skip a row) that an index reads
    forwards or backwards: (tier, metric, customer), (tier, customer), customer (name, id) and
    (account manager, name, id)."""
    name = sort.removeprefix("-")
    prefix = "-" if sort.startswith("-") else ""
    column = CustomerTable.base_columns.get(name)
    fields = list(column.order_by) if column is not None and column.order_by else [name, "customer_id"]
    return [prefix + field for field in fields]
