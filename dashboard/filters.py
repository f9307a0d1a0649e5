"""The tier lists' filters. Every field maps to a URL parameter, so a filtered list is a link to share."""

import datetime as dt

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db.models import Exists, F, Lookup, OuterRef
from django.utils import timezone

from churn import policy as churn_policy
from churn.lifecycle import STAGES
from churn.models import FollowUp, Lapse
from core.params import ID_RANGE, IntegerFilter
from core.roles import ACCOUNT_MANAGER
from customers import search as customer_search
from customers.models import Customer
from tiering.models import CustomerMetrics, TierChange

# Churn status → the customer's follow-ups or lapses that must exist (each an EXISTS probe by
# customer: the follow-up's customer index, the partial one-open-follow-up index, or the partial
# index of unreturned lapses), so a sorted page still walks the metrics index.
CHURN_STATUSES = [
    ("open", "Open follow-up"),
    ("no_action", "Lapsed, no action"),  # "no action: tier 1" by default; an admin may set others so
    ("won_back", "Won back"),
    ("lost", "Lost"),
]


def _churn_subquery(status: str):
    if status == "open":
        return FollowUp.objects.filter(customer_id=OuterRef("customer_id"), status__in=churn_policy.ACTIVE_STATUSES)
    if status == "no_action":
        return Lapse.objects.filter(
            customer_id=OuterRef("customer_id"), returned_at__isnull=True, follow_up__isnull=True
        )
    return FollowUp.objects.filter(customer_id=OuterRef("customer_id"), status=status)


# The ranges a hand-edited URL is held to: beyond them a value is ignored with a message, instead of
# overflowing a date or a numeric column into an error page.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
DATE_RANGE = [
    MinValueValidator(FIRST_DAY, "Enter a date from %(limit_value)s on."),
    MaxValueValidator(LAST_DAY, "Enter a date up to %(limit_value)s."),
]
MONEY = {"max_digits": 14, "decimal_places": 2}  # CustomerMetrics' money columns
LEVEL_RANGE = {"min_value": 0, "max_value": 32767}  # a tier level column (PositiveSmallIntegerField)
SEARCH_IDS = 5_000  # a search matching at most this many customers is narrowed to their ids


class AnyOf(Lookup):
    """`column = ANY(%s)` with the Python list as ONE array parameter (`__in` writes one
    placeholder per value)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def _date_filter(method: str, label: str) -> django_filters.DateFilter:
    return django_filters.DateFilter(
        method=method, label=label, validators=DATE_RANGE, widget=forms.DateInput(attrs={"type": "date"})
    )


def _money_filter(field: str, lookup: str, label: str, placeholder: str) -> django_filters.NumberFilter:
    return django_filters.NumberFilter(
        field_name=field,
        lookup_expr=lookup,
        label=label,
        widget=forms.NumberInput(attrs={"placeholder": placeholder, "step": "any"}),
        **MONEY,
    )


def account_managers(request=None):
    return get_user_model().objects.filter(groups__name=ACCOUNT_MANAGER).order_by("first_name", "last_name", "username")


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, email, company or id"}),
    )
    manager = django_filters.ModelChoiceFilter(
        queryset=account_managers, field_name="customer__account_manager", label="Account manager", empty_label="Anyone"
    )
    mine = django_filters.BooleanFilter(method="only_mine", label="Only my customers", widget=forms.CheckboxInput)
    min_margin = _money_filter("net_margin", "gte", "Net margin from", "min")
    max_margin = _money_filter("net_margin", "lte", "Net margin to", "max")
    min_revenue = _money_filter("revenue", "gte", "Revenue from", "min")
    max_revenue = _money_filter("revenue", "lte", "Revenue to", "max")
    last_order_from = _date_filter("last_order_on_or_after", "Last order from")
    last_order_to = _date_filter("last_order_on_or_before", "Last order to")
    churn = django_filters.ChoiceFilter(
        choices=CHURN_STATUSES, method="churn_status", label="Churn status", empty_label="Any"
    )
    stage = django_filters.ChoiceFilter(
        choices=STAGES, field_name="customer__churn_risk__stage", label="Lifecycle stage", empty_label="Any"
    )
    run = IntegerFilter(method="moved_in_run", label="Moved in run", **ID_RANGE)
    moved_from = django_filters.CharFilter(
        method="noop",
        label="Moved from tier",
        validators=[RegexValidator(r"^(new|[0-9]{1,5})$", "Enter a tier level or “new”.")],
    )
    moved_to = IntegerFilter(method="noop", label="Moved to tier", **LEVEL_RANGE)

    class Meta:
        model = CustomerMetrics
        fields: list[str] = []

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.form.fields["manager"].label_from_instance = lambda u: u.get_full_name() or u.username

    def search(self, queryset, name, value):
        """Name, email, company or id through the trigram index (customers.search). The matching
        ids are read once, up to SEARCH_IDS: the page, its total and its estimate then look up
        those rows by key, and the index (whose cost grows with the term's common trigrams) is
        read once per page, not three times. A broader term stays a semi-join on the index, so the
        planner may walk the sorted list instead and stop after a page."""
        value = value.strip()
        if not value:
            return queryset
        matches = customer_search.search(value).order_by().values("id")
        ids = list(matches.values_list("id", flat=True)[: SEARCH_IDS + 1])
        if len(ids) > SEARCH_IDS:
            return queryset.filter(customer_id__in=matches)
        # One array parameter, not one placeholder per id: planning 1,400 literals cost more than
        # reading their rows (the page, its total and its estimate each plan it).
        return queryset.filter(AnyOf(F("customer_id"), ids))

    def only_mine(self, queryset, name, value):
        return queryset.filter(customer__account_manager=self.user) if value and self.user else queryset

    # Compare the timestamp against day bounds (not `__date`) so the last_order_at index serves it.
    def last_order_on_or_after(self, queryset, name, value):
        return queryset.filter(last_order_at__gte=_start_of(value))

    def last_order_on_or_before(self, queryset, name, value):
        return queryset.filter(last_order_at__lt=_start_of(value + dt.timedelta(days=1)))

    def churn_status(self, queryset, name, value):
        return queryset.filter(Exists(_churn_subquery(value))) if value else queryset

    def moved_in_run(self, queryset, name, value):
        """Customers with a tier change in that run, optionally from and to given tiers (the matrix links)."""
        changes = TierChange.objects.filter(run_id=value)
        data = self.form.cleaned_data
        if data.get("moved_from") == "new":  # a first placement: the run's "new->N" cell
            changes = changes.filter(from_tier__isnull=True)
        elif data.get("moved_from"):
            changes = changes.filter(from_tier=int(data["moved_from"]))
        if data.get("moved_to") is not None:
            changes = changes.filter(to_tier=data["moved_to"])
        return queryset.filter(customer_id__in=changes.values("customer_id"))

    def noop(self, queryset, name, value):
        return queryset  # read by moved_in_run

    def used(self) -> set[str]:
        """The filters given a value (a 0 is a value: "net margin from 0" filters)."""
        return {k for k, v in self.form.cleaned_data.items() if v is not None and v != "" and v is not False}

    def is_filtered(self) -> bool:
        return bool(self.used())

    # The filters a customer with no metrics yet can satisfy: the "not placed yet" rows follow them.
    CUSTOMER_FIELDS = frozenset({"q", "manager", "mine"})

    def customer_filters_only(self) -> bool:
        return self.used() <= self.CUSTOMER_FIELDS

    def customers(self):
        """Customers (with or without metrics) narrowed by this filter's customer-level filters."""
        customers = Customer.objects.all()
        data = self.form.cleaned_data
        if (term := (data.get("q") or "").strip()) != "":
            customers = customers.filter(customer_search.matches(term))
        if data.get("manager"):
            customers = customers.filter(account_manager=data["manager"])
        if data.get("mine") and self.user:
            customers = customers.filter(account_manager=self.user)
        return customers


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
