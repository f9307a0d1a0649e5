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


def in_force() -> RuleSet:
    """The published set (the default rules' latest version: older versions are retired)."""
    return RuleSet.objects.get(status="published")


def a_condition_of(ruleset: RuleSet) -> Condition:
    return Condition.objects.filter(group__ruleset=ruleset).first()


def refused_by_the_database(statement, params=()):
    """Run raw SQL (no model in the way) and return the database's refusal."""
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
    return str(excinfo.value)


def test_changing_a_condition_of_the_published_set_is_refused_with_the_way_to_do_it():
    ruleset = in_force()
    condition = a_condition_of(ruleset)
    condition.value += 1

    with pytest.raises(
        FrozenRulesError, match=rf"v{ruleset.version} is in force and cannot be changed.*Create a draft"
    ):
        condition.save()

    assert a_condition_of(ruleset).value == condition.value - 1


def test_the_published_sets_grace_and_its_deletion_are_refused():
    ruleset = in_force()
    grace = ruleset.grace_runs
    ruleset.grace_runs = grace + 5

    with pytest.raises(FrozenRulesError):
        ruleset.save()
    with pytest.raises(FrozenRulesError):
        in_force().delete()
    with pytest.raises(FrozenRulesError):
        in_force().groups.first().delete()

    assert in_force().grace_runs == grace and in_force().groups.exists()


def test_the_database_refuses_an_update_that_skips_the_model():
    condition = a_condition_of(in_force())

    message = refused_by_the_database("UPDATE tiering_condition SET value = value + 1 WHERE id = %s", [condition.pk])

    assert f"Rule set v{in_force().version} is published and its rules cannot be changed" in message
    assert a_condition_of(in_force()).value == condition.value


def test_the_database_refuses_to_delete_or_edit_the_published_set_or_its_groups():
    ruleset = in_force()
    said = f"Rule set v{ruleset.version} is published"
    groups = "SELECT id FROM tiering_rulegroup WHERE ruleset_id = %s"
    assert said in refused_by_the_database(f"DELETE FROM tiering_condition WHERE group_id IN ({groups})", [ruleset.pk])
    assert said in refused_by_the_database("DELETE FROM tiering_rulegroup WHERE ruleset_id = %s", [ruleset.pk])
    assert said in refused_by_the_database("UPDATE tiering_ruleset SET grace_runs = 3 WHERE id = %s", [ruleset.pk])
    assert said in refused_by_the_database("UPDATE tiering_ruleset SET status = 'draft' WHERE id = %s", [ruleset.pk])
    assert said in refused_by_the_database("DELETE FROM tiering_ruleset WHERE id = %s", [ruleset.pk])
    assert Condition.objects.filter(group__ruleset=ruleset).count() > 0


def test_a_retired_set_is_frozen_too():
    old = in_force()
    publish_ruleset(ruleset=make_ruleset({3: ("all", [("revenue", "gte", "1")])}), user=None)

    said = f"Rule set v{old.version} is retired"
    assert said in refused_by_the_database(
        "UPDATE tiering_condition SET value = 0 WHERE id = %s", [a_condition_of(old).pk]
    )
    assert said in refused_by_the_database("UPDATE tiering_ruleset SET status = 'published' WHERE id = %s", [old.pk])


def test_publishing_a_draft_still_retires_the_set_in_force():
    old = in_force()
    draft = create_draft_from_ruleset(ruleset=old, user=None)
    condition = a_condition_of(draft)
    condition.value = Decimal("123")
    condition.save()  # a draft is free

    publish_ruleset(ruleset=draft, user=None)

    old.refresh_from_db()
    assert (old.status, RuleSet.objects.get(pk=draft.pk).status) == ("retired", "published")


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
        [RuleGroup.objects.filter(ruleset=in_force(), tier=tier, parent=None).get().pk],
    )
    with pytest.raises(FrozenRulesError):
        Condition.objects.create(group=in_force().groups.first(), metric="orders", op="gte", value=1)

    assert f"Rule set v{in_force().version} is published" in message


def test_an_edit_of_the_rules_in_force_between_two_runs_cannot_change_what_v1_gives():
    """The reported case: an ORM edit of v1 while a run said "v1" changed customers' outcome."""
    loyal = CustomerFactory()
    for day in ("2026-09-01", "2026-10-01", "2026-11-01"):
        buy(loyal, at(day), amount="40.00", cost="10.00")
    first = retier_all(as_of=dt.date(2026, 11, 22))
    before = tiers()

    with pytest.raises(IntegrityError):
        with transaction.atomic():
            Condition.objects.filter(group__ruleset=in_force()).update(value=Decimal("999999"))
    second = retier_all(as_of=dt.date(2026, 11, 22))

    assert (first.ruleset, second.ruleset) == (in_force(), in_force())
    assert tiers() == before


def test_the_admin_page_of_the_set_in_force_points_to_a_draft(client, make_user):
    from django.urls import reverse

    client.force_login(make_user(role="Admin", is_staff=True))
    page = client.get(reverse("admin:tiering_ruleset_change", args=[in_force().pk])).content.decode()

    assert "to change the rules, create a draft from this version" in page
    assert "Create draft from this" in page


def test_the_admin_page_of_a_group_in_force_says_how_to_change_it(client, make_user):
    from django.urls import reverse

    client.force_login(make_user(role="Admin", is_staff=True))
    group = in_force().groups.first()
    page = client.get(reverse("admin:tiering_rulegroup_change", args=[group.pk])).content.decode()

    assert (
        f"Read-only: rule set v{group.ruleset.version} has been in force" in page
        and 'use "Create draft from this"' in page
    )
