"""The promotion page: build one, see the live count and first rows, clear errors for bad filters."""

import datetime as dt

import pytest
from django.apps import apps
from django.urls import reverse

from promotions.models import Promotion
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

VALID = {"name": "Spring offer", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "tiers": ["2", "3"]}


@pytest.fixture
def marketer(client, make_user):
    user = make_user(role="Marketing")
    client.force_login(user)
    return user


def preview(client, **data):
    return client.post(reverse("promotions:preview"), data).content.decode()


@pytest.mark.parametrize("role, status", [("Marketing", 200), ("Admin", 200), ("Account manager", 403)])
def test_marketing_and_admin_build_promotions_and_account_managers_do_not(client, make_user, role, status):
    client.force_login(make_user(role=role))
    assert client.get(reverse("promotions:create")).status_code == status
    assert client.get(reverse("promotions:list")).status_code == status


def test_a_new_promotion_targets_tiers_2_and_3_until_tier_1_is_ticked(client, marketer):
    html = client.get(reverse("promotions:create")).content.decode()
    assert 'name="tiers" value="2" id="id_tiers_1" checked' in html
    assert 'name="tiers" value="3" id="id_tiers_2" checked' in html
    assert 'name="tiers" value="1" id="id_tiers_0">' in html


def test_saving_keeps_the_filters_and_who_built_it(client, marketer):
    product = ProductFactory()
    response = client.post(
        reverse("promotions:create"), VALID | {"not_bought_product": product.pk, "active_within_days": "90"}
    )
    promotion = Promotion.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("promotions:edit", args=[promotion.pk])
    assert (promotion.tiers, promotion.not_bought_product, promotion.active_within_days) == ([2, 3], product, 90)
    assert promotion.created_by == marketer


def test_the_preview_counts_and_shows_the_first_20_rows(client, marketer, target):
    for i in range(23):
        target(tier=3, name=f"Lifetime {i:02d}")
    target(tier=1, name="Lowest")
    html = preview(client, **VALID)
    assert 'id="target-count">23<' in html
    assert html.count("<tr>") == 1 + 20  # header row + the first 20
    assert "Lowest" not in html
    assert "The first 20 of 23" in html


def test_the_preview_follows_the_filters_as_they_change(client, marketer, target):
    target(tier=1, name="Lowest")
    target(tier=2, name="Loyal")
    html = preview(client, **(VALID | {"tiers": ["1"]}))
    assert 'id="target-count">1<' in html and "Lowest" in html and "Loyal" not in html


def test_the_preview_ignores_a_missing_name_or_period(client, marketer, target):
    target(tier=2)
    assert 'id="target-count">1<' in preview(client, tiers=["2"])


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"tiers": []}, "Pick at least one tier."),
        ({"tiers": ["4"]}, "Select a valid choice. 4 is not one of the available choices."),
        ({"active_within_days": "-3"}, "greater than or equal to 0"),
        ({"active_within_days": "soon"}, "Enter a whole number."),
        (
            {"active_within_days": "30", "lapsed_over_days": "60"},
            "No customer can have ordered within 30 days and not for more than 60 days.",
        ),
        ({"bought_product": "999999"}, "Select a valid choice."),
    ],
)
def test_bad_filters_get_a_clear_error_instead_of_a_count(client, marketer, bad, message):
    html = preview(client, **(VALID | bad))
    assert message in html
    assert "target-count" not in html


def test_bought_and_never_bought_the_same_category_is_refused(client, marketer):
    ProductFactory(category="analytics")
    html = preview(client, **(VALID | {"bought_category": "analytics", "not_bought_category": "analytics"}))
    assert "Cannot both have bought and never bought the same category." in html


def test_a_period_that_ends_before_it_starts_is_not_saved(client, marketer):
    response = client.post(reverse("promotions:create"), VALID | {"ends_on": "2026-02-01"})
    assert "The period ends before it starts." in response.content.decode()
    assert not Promotion.objects.exists()


def test_the_preview_uses_a_bounded_number_of_queries(client, marketer, target, django_assert_num_queries):
    for i in range(30):
        target(tier=2 + i % 2)
    product = ProductFactory()
    # session, user, user permissions, group permissions, the category choices, the chosen
    # product (form field), its existence check (model validation), the count, the 20 rows
    with django_assert_num_queries(9):
        preview(client, **(VALID | {"not_bought_product": product.pk}))


@pytest.mark.skipif(apps.is_installed("churn"), reason="the churn app is installed here")
def test_the_follow_up_exclusion_is_not_offered_without_the_churn_app(client, marketer):
    assert "exclude_open_follow_up" not in client.get(reverse("promotions:create")).content.decode()


def test_editing_shows_the_export_button_to_marketing(client, marketer):
    promotion = Promotion.objects.create(name="P", starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 1, 2))
    html = client.get(reverse("promotions:edit", args=[promotion.pk])).content.decode()
    assert reverse("promotions:export", args=[promotion.pk]) in html
    assert "Excel-friendly" in html


@pytest.mark.parametrize("tiers", [[], [4], "2,3", [True]])
def test_the_model_refuses_tiers_that_are_not_levels_even_from_the_admin(tiers):
    from django.core.exceptions import ValidationError

    promotion = Promotion(name="P", starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 1, 2), tiers=tiers)
    with pytest.raises(ValidationError, match="Tiers are a list of levels 1, 2 or 3"):
        promotion.full_clean()
