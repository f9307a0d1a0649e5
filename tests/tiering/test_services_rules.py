"""Drafts copied from a version, publishing that retires the previous one, and who did it."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from tiering.models import Condition, RuleSet
from tiering.rules import rules_from_ruleset
from tiering.services_rules import create_draft_from_ruleset, publish_ruleset

from .rulesets import make_ruleset

pytestmark = pytest.mark.django_db
GOOD = {3: ("all", [("net_margin", "gte", "9000")]), 2: ("any", [("orders", "gte", "3")])}


@pytest.fixture
def admin(make_user):
    return make_user(role="Admin", is_staff=True)


def published():
    return RuleSet.objects.get(status=RuleSet.Status.PUBLISHED)


def test_a_draft_from_a_version_copies_its_groups_and_conditions_under_the_next_version(admin):
    v1 = published()
    draft = create_draft_from_ruleset(ruleset=v1, user=admin)
    assert (draft.version, draft.status, draft.created_by) == (v1.version + 1, RuleSet.Status.DRAFT, admin)
    assert rules_from_ruleset(draft).groups == rules_from_ruleset(v1).groups  # nested and relative ones too
    assert any(g.groups for g in rules_from_ruleset(draft).groups)
    assert draft.grace_runs == v1.grace_runs
    assert published() == v1  # copying publishes nothing


def test_publishing_a_draft_retires_the_previous_and_keeps_it_readable(admin):
    v1 = published()
    old_rules = rules_from_ruleset(v1)
    draft = make_ruleset(GOOD)
    publish_ruleset(ruleset=draft, user=admin)
    draft.refresh_from_db()
    v1.refresh_from_db()
    assert (draft.status, draft.published_by) == (RuleSet.Status.PUBLISHED, admin)
    assert draft.published_at is not None
    assert v1.status == RuleSet.Status.RETIRED
    assert rules_from_ruleset(v1).groups == old_rules.groups
    assert v1.history.first().history_user == admin  # the retirement is attributed


def test_a_draft_with_an_empty_group_is_refused_and_nothing_changes(admin):
    draft = make_ruleset({3: ("all", []), 2: ("all", [("orders", "gte", "2")])})
    with pytest.raises(ValidationError) as excinfo:
        publish_ruleset(ruleset=draft, user=admin)
    assert excinfo.value.messages == [
        "The tier 3 group has no condition, so it would place nobody. Add a condition or delete the group."
    ]
    assert published().version == 2  # the default rules v2 stay in force
    draft.refresh_from_db()
    assert draft.status == RuleSet.Status.DRAFT


def test_a_draft_without_any_group_is_refused(admin):
    with pytest.raises(ValidationError, match="no group for a tier above 1"):
        publish_ruleset(ruleset=make_ruleset({}), user=admin)


def test_a_draft_with_a_condition_that_cannot_hold_is_refused(admin):
    draft = make_ruleset({2: ("all", [("orders", "lt", "0")])})
    with pytest.raises(ValidationError, match="Orders is never negative"):
        publish_ruleset(ruleset=draft, user=admin)


def test_only_a_draft_can_be_published(admin):
    with pytest.raises(ValidationError, match="v2 is in force, not a draft"):
        publish_ruleset(ruleset=published(), user=admin)


def test_a_condition_saved_with_a_bad_value_fails_model_validation():
    condition = Condition(group=published().groups.first(), metric="orders", op="gte", value=D("2.5"))
    with pytest.raises(ValidationError) as excinfo:
        condition.full_clean()
    assert excinfo.value.message_dict == {"value": ["Orders is counted in a whole number: use e.g. 2, not 2.5."]}


def test_a_group_for_tier_1_fails_model_validation():
    from tiering.models import RuleGroup, Tier

    group = RuleGroup(ruleset=make_ruleset({}), tier=Tier.objects.get(level=1), match="all")
    with pytest.raises(ValidationError) as excinfo:
        group.full_clean()
    assert excinfo.value.message_dict == {
        "tier": ["Tier 1 is the fallback for anyone no group places higher; it takes no group."]
    }


def test_the_change_history_names_a_none_group_as_none_of():
    from tiering.selectors_rules import ruleset_changes

    draft = make_ruleset({3: ("none", [("complaints", "gte", "3")]), 2: ("any", [("orders", "gte", "3")])})
    said = [c.what for c in ruleset_changes(ruleset=draft)]
    assert "Added the tier 3 group (NONE of)" in said
    assert "Added the tier 2 group (ANY of)" in said
