"""A rule set that has been in force cannot change: a run's "v1" means the rules it ran with.

Refused by the model (a clear error) and by the database (triggers, migration
0013_published_rules_frozen) for writes that skip the model; changes go through a draft.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import CustomerFactory, UserFactory
from tests.tiering.retier_helpers import at, buy, tiers
from tiering.models import Condition, FrozenRulesError, RuleGroup, RuleSet, Tier
from tiering.services import retier_all
from tiering.services_rules import create_draft_from_ruleset, publish_ruleset

from .rulesets import make_ruleset

pytestmark = pytest.mark.django_db


def v1() -> RuleSet:
    return RuleSet.objects.get(version=1)


def a_condition_of(ruleset: RuleSet) -> Condition:
    return Condition.objects.filter(group__ruleset=ruleset).first()


def refused_by_the_database(statement, params=()):
    """Run raw SQL (no model in the way) and return the database's refusal."""
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
    return str(excinfo.value)


def test_changing_a_condition_of_the_published_set_is_refused_with_the_way_to_do_it():
    condition = a_condition_of(v1())
    condition.value += 1

    with pytest.raises(FrozenRulesError, match=r"v1 is in force and cannot be changed.*Create a draft from it"):
        condition.save()

    assert a_condition_of(v1()).value == condition.value - 1


def test_the_published_sets_grace_and_its_deletion_are_refused():
    ruleset = v1()
    grace = ruleset.grace_runs
    ruleset.grace_runs = grace + 5

    with pytest.raises(FrozenRulesError):
        ruleset.save()
    with pytest.raises(FrozenRulesError):
        v1().delete()
    with pytest.raises(FrozenRulesError):
        v1().groups.first().delete()

    assert v1().grace_runs == grace and v1().groups.exists()


def test_the_database_refuses_an_update_that_skips_the_model():
    condition = a_condition_of(v1())

    message = refused_by_the_database("UPDATE tiering_condition SET value = value + 1 WHERE id = %s", [condition.pk])

    assert "Rule set v1 is published and its rules cannot be changed" in message
    assert a_condition_of(v1()).value == condition.value


def test_the_database_refuses_to_delete_or_edit_the_published_set_or_its_groups():
    assert "Rule set v1 is published" in refused_by_the_database("DELETE FROM tiering_condition")
    assert "Rule set v1 is published" in refused_by_the_database("DELETE FROM tiering_rulegroup")
    assert "Rule set v1 is published" in refused_by_the_database("UPDATE tiering_ruleset SET grace_runs = 3")
    assert "Rule set v1 is published" in refused_by_the_database("UPDATE tiering_ruleset SET status = 'draft'")
    assert "Rule set v1 is published" in refused_by_the_database("DELETE FROM tiering_ruleset")
    assert Condition.objects.filter(group__ruleset=v1()).count() > 0


def test_a_retired_set_is_frozen_too():
    publish_ruleset(ruleset=make_ruleset({3: ("all", [("revenue", "gte", "1")])}), user=None)

    assert "Rule set v1 is retired" in refused_by_the_database(
        "UPDATE tiering_condition SET value = 0 WHERE id = %s", [a_condition_of(v1()).pk]
    )
    assert "Rule set v1 is retired" in refused_by_the_database("UPDATE tiering_ruleset SET status = 'published'")


def test_publishing_a_draft_still_retires_the_set_in_force():
    draft = create_draft_from_ruleset(ruleset=v1(), user=None)
    condition = a_condition_of(draft)
    condition.value = Decimal("123")
    condition.save()  # a draft is free

    publish_ruleset(ruleset=draft, user=None)

    assert (v1().status, RuleSet.objects.get(pk=draft.pk).status) == ("retired", "published")


def test_deleting_the_user_who_published_a_set_still_works():
    admin = UserFactory()
    draft = make_ruleset({3: ("all", [("revenue", "gte", "1")])})
    publish_ruleset(ruleset=draft, user=admin)

    admin.delete()

    assert RuleSet.objects.get(pk=draft.pk).published_by is None


def test_a_group_cannot_be_added_to_a_set_a_run_has_used():
    retier_all(as_of=dt.date(2026, 11, 22))
    tier = Tier.objects.get(level=2)

    message = refused_by_the_database(
        "INSERT INTO tiering_condition (group_id, metric, op, value) VALUES (%s, 'orders', 'gte', 1)",
        [RuleGroup.objects.filter(ruleset=v1(), tier=tier).get().pk],
    )
    with pytest.raises(FrozenRulesError):
        Condition.objects.create(group=v1().groups.first(), metric="orders", op="gte", value=1)

    assert "Rule set v1 is published" in message


def test_an_edit_of_the_rules_in_force_between_two_runs_cannot_change_what_v1_gives():
    """The reported case: an ORM edit of v1 while a run said "v1" changed customers' outcome."""
    loyal = CustomerFactory()
    for day in ("2026-09-01", "2026-10-01", "2026-11-01"):
        buy(loyal, at(day), amount="40.00", cost="10.00")
    first = retier_all(as_of=dt.date(2026, 11, 22))
    before = tiers()

    with pytest.raises(IntegrityError):
        with transaction.atomic():
            Condition.objects.filter(group__ruleset=v1()).update(value=Decimal("999999"))
    second = retier_all(as_of=dt.date(2026, 11, 22))

    assert (first.ruleset, second.ruleset) == (v1(), v1())
    assert tiers() == before


def test_the_admin_page_of_the_set_in_force_points_to_a_draft(client, make_user):
    from django.urls import reverse

    client.force_login(make_user(role="Admin", is_staff=True))
    page = client.get(reverse("admin:tiering_ruleset_change", args=[v1().pk])).content.decode()

    assert "to change the rules, create a draft from this version" in page
    assert "Create draft from this" in page


def test_the_admin_page_of_a_group_in_force_says_how_to_change_it(client, make_user):
    from django.urls import reverse

    client.force_login(make_user(role="Admin", is_staff=True))
    group = v1().groups.first()
    page = client.get(reverse("admin:tiering_rulegroup_change", args=[group.pk])).content.decode()

    assert "Read-only: rule set v1 has been in force" in page and 'use "Create draft from this"' in page
