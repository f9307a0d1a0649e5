import django_tables2 as tables

from .models import FollowUp


class FollowUpTable(tables.Table):
    """Headers, sorting and paging; each row is the `row` partial of churn/queue.html so htmx can
    swap one row after a change."""

    customer = tables.Column(order_by=("customer__name",))
    tier = tables.Column(verbose_name="Tier")
    kind = tables.Column(verbose_name="Follow-up")
    status = tables.Column()
    assignee = tables.Column(verbose_name="Assignee", order_by=("assignee__username",))
    due_on = tables.Column(verbose_name="Due")
    actions = tables.Column(empty_values=(), orderable=False, verbose_name="")

    class Meta:
        model = FollowUp
        fields = ["customer", "tier", "kind", "status", "assignee", "due_on", "actions"]
        order_by = ("-tier", "due_on")
        template_name = "churn/_queue_table.html"
        attrs = {"class": "table queue"}
        empty_text = "Nothing here: no follow-up matches."
