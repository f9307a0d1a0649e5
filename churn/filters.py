import datetime as dt

import django_filters
from django import forms
from django.db.models import QuerySet

from core.params import ID_RANGE, IntegerFilter
from tiering.tiers import LEVEL_CHOICES

from . import policy
from .forms import account_managers
from .models import FollowUp

ACTIVE = "active"


class FollowUpFilter(django_filters.FilterSet):
    """Filters of the queue pages. Status defaults to the items still being worked."""

    tier = django_filters.ChoiceFilter(choices=LEVEL_CHOICES[::-1], empty_label="any tier", label="Tier")
    status = django_filters.ChoiceFilter(
        choices=[(ACTIVE, "open or contacted"), *FollowUp.Status.choices, ("all", "any status")],
        method="filter_status",
        empty_label=None,
        label="Status",
    )
    assignee = django_filters.ChoiceFilter(method="filter_assignee", empty_label="anyone", label="Assignee")
    due = django_filters.ChoiceFilter(
        choices=[("overdue", "overdue"), ("week", "due this week")],
        method="filter_due",
        empty_label="any date",
        label="Due",
    )
    # One customer's items: the customer page's "work this item" link. Hidden; the page names it.
    customer = IntegerFilter(field_name="customer_id", widget=forms.HiddenInput, label="Customer", **ID_RANGE)

    class Meta:
        model = FollowUp
        fields = ["tier", "status", "assignee", "due", "customer"]

    def __init__(self, data=None, *args, today: dt.date, show_assignee: bool = True, **kwargs):
        data = data.copy() if data is not None else {}
        data.setdefault("status", ACTIVE)
        super().__init__(data, *args, **kwargs)
        self.today = today
        if show_assignee:
            self.filters["assignee"].extra["choices"] = [("none", "team queue (unassigned)")] + [
                (str(u.pk), u.get_full_name() or u.username) for u in account_managers()
            ]
        else:
            del self.filters["assignee"]

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == ACTIVE:
            return queryset.filter(status__in=policy.ACTIVE_STATUSES)
        if value == "all":
            return queryset
        return queryset.filter(status=value)

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee_id=value)

    def filter_due(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "overdue":
            return queryset.filter(due_on__lt=self.today, status__in=policy.ACTIVE_STATUSES)
        end_of_week = self.today + dt.timedelta(days=6 - self.today.weekday())
        return queryset.filter(due_on__gte=self.today, due_on__lte=end_of_week)
