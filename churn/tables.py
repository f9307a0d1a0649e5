import django_tables2 as tables
from django.db.models import F

from .models import FollowUp


def _ordered(queryset, field: str, is_descending: bool):
    """Most valuable first with the items not valued yet last, whichever way; ties by tier, due date."""
    key = F(field).desc(nulls_last=True) if is_descending else F(field).asc(nulls_last=True)
    return queryset.order_by(key, "-tier", "due_on", "id"), True


class FollowUpTable(tables.Table):
    """Headers, sorting and paging; each row is the `row` partial of churn/queue.html so htmx can
    swap one row after a change. Default order: value at risk, largest first."""

    select = tables.Column(empty_values=(), orderable=False, verbose_name="Select")
    customer = tables.Column(order_by=("customer__name",))
    why = tables.Column(empty_values=(), orderable=False, verbose_name="Why it is here")
    value_at_risk = tables.Column(verbose_name="Value at risk", attrs={"th": {"class": "num"}})
    risk = tables.Column(verbose_name="Risk", attrs={"th": {"class": "num"}})
    last_order = tables.Column(empty_values=(), verbose_name="Last order", order_by=("lapse__last_order_at", "id"))
    assignee = tables.Column(verbose_name="Assignee", order_by=("assignee__username",))
    due_on = tables.Column(verbose_name="Due")
    actions = tables.Column(empty_values=(), orderable=False, verbose_name="Update")
    # shown inside "Why it is here"; kept as sort keys (?sort=tier, …) for links and bookmarks
    tier = tables.Column(visible=False)
    kind = tables.Column(visible=False)
    status = tables.Column(visible=False)

    class Meta:
        model = FollowUp
        fields = ["select", "customer", "why", "value_at_risk", "risk", "last_order", "assignee", "due_on", "actions"]
        order_by = ("-value_at_risk",)
        template_name = "churn/_queue_table.html"
        attrs = {"class": "table queue"}
        empty_text = "Nothing here: no follow-up matches."

    def order_value_at_risk(self, queryset, is_descending):
        return _ordered(queryset, "value_at_risk", is_descending)

    def order_risk(self, queryset, is_descending):
        return _ordered(queryset, "risk", is_descending)
