"""The page's export: who may take it, that it is the command's file, and that it is logged."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from promotions.models import ExportLog, Promotion
from tests.factories import OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def promotion():
    return Promotion.objects.create(name="Autumn launch", starts_on=dt.date(2026, 10, 1), ends_on=dt.date(2026, 10, 31))


def download(client, promotion, **params):
    response = client.get(reverse("promotions:export", args=[promotion.pk]), params)
    return response, b"".join(response.streaming_content) if response.status_code == 200 else b""


@pytest.mark.parametrize("role, status", [("Marketing", 200), ("Admin", 200), ("Account manager", 403)])
def test_only_marketing_and_admin_may_export(client, make_user, promotion, role, status):
    client.force_login(make_user(role=role))
    response, _ = download(client, promotion)
    assert response.status_code == status


def test_an_account_manager_who_tries_is_refused_and_nothing_is_logged(client, make_user, promotion):
    client.force_login(make_user(role="Account manager"))
    assert download(client, promotion)[0].status_code == 403
    assert not ExportLog.objects.exists()


def test_an_anonymous_visitor_is_sent_to_sign_in(client, promotion):
    response = client.get(reverse("promotions:export", args=[promotion.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_is_a_csv_attachment_named_after_the_promotion(client, make_user, promotion):
    client.force_login(make_user(role="Marketing"))
    response, body = download(client, promotion)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="autumn-launch-targets.csv"'
    assert body == (
        b"external_id,name,email,company,tier,lifecycle_stage,churn_risk,"
        b"tier_name,account_manager,last_order,revenue_12m\n"
    )


@pytest.mark.parametrize("excel", [False, True])
def test_the_page_and_the_command_give_byte_identical_files(client, make_user, target, promotion, tmp_path, excel):
    add_on = ProductFactory(category="analytics")
    for i, name in enumerate(['=HYPERLINK("http://x","y")', 'Zoë, "Z"', "@SUM(A1)", "plain", "-1+2"]):
        customer = target(tier=2 + i % 2, name=name, company="\tTab Ltd", email=f"c{i}@example.com")
        if i % 2:
            OrderLineFactory(order__customer=customer, product=add_on)
    promotion.not_bought_category = "analytics"
    promotion.save()
    client.force_login(make_user(role="Marketing"))
    _, web = download(client, promotion, **({"excel": "1"} if excel else {}))
    args = ["--promotion", str(promotion.pk), "--output", str(tmp_path / "cmd.csv")] + (["--excel"] if excel else [])
    call_command("export_targets", *args, stderr=io.StringIO())
    assert web == (tmp_path / "cmd.csv").read_bytes()
    assert web.count(b"\n") == 1 + 3  # header + the three who never bought analytics
    assert web.startswith(b"\xef\xbb\xbf") is excel


def test_a_web_export_is_logged_with_the_user_promotion_filters_and_row_count(client, make_user, target, promotion):
    target(tier=2), target(tier=3), target(tier=1)
    user = make_user(role="Marketing")
    client.force_login(user)
    download(client, promotion, excel="1")
    log = ExportLog.objects.get()
    assert (log.user, log.actor, log.source, log.promotion) == (user, user.username, "web", promotion)
    assert (log.row_count, log.format, log.filters) == (2, "csv-excel", {"tiers": [2, 3]})


def test_an_export_is_on_record_before_its_first_byte_so_an_abandoned_one_is_too(client, make_user, promotion):
    client.force_login(make_user(role="Admin"))
    response = client.get(reverse("promotions:export", args=[promotion.pk]))  # body never read
    assert response.status_code == 200
    log = ExportLog.objects.get()
    assert log.row_count is None and log.finished_at is None
