import datetime as dt

import factory

from churn.models import FollowUp, Lapse
from tests.factories import CustomerFactory
from tiering.models import RetierRun, TierChange

UTC = dt.UTC


class RetierRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RetierRun

    as_of = dt.date(2026, 11, 20)
    status = RetierRun.Status.SUCCEEDED


class TierChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TierChange

    customer = factory.SubFactory(CustomerFactory)
    run = factory.SubFactory(RetierRunFactory)
    from_tier = None
    to_tier = 2
    changed_at = dt.datetime(2026, 1, 1, 2, 0, tzinfo=UTC)


class LapseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lapse

    customer = factory.SubFactory(CustomerFactory)
    detected_at = dt.datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    detected_on = dt.date(2026, 11, 2)
    last_order_at = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    tier_while_active = 3
    response = "Investigate"


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    lapse = factory.SubFactory(LapseFactory)
    customer = factory.SelfAttribute("lapse.customer")
    kind = "investigate"
    priority = "high"
    tier = factory.SelfAttribute("lapse.tier_while_active")
    due_on = dt.date(2026, 11, 24)
