"""The export log page: admins read who took which list; marketing reads its own exports only."""

import pytest
from django.urls import reverse

from promotions.models import ExportLog

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role, status", [("Admin", 200), ("Marketing", 200), ("Account manager", 403)])
def test_admins_and_marketing_open_the_export_log_and_account_managers_do_not(client, make_user, role, status):
    client.force_login(make_user(role=role))
    assert client.get(reverse("promotions:export_log")).status_code == status


def test_marketing_sees_its_own_exports_and_not_a_colleagues_or_the_command_lines(client, make_user):
    mia, noor = make_user(role="Marketing"), make_user(role="Marketing")
    ExportLog.objects.create(user=mia, actor=mia.username, source="web", filters={"tiers": [2]}, row_count=111)
    ExportLog.objects.create(user=noor, actor=noor.username, source="web", filters={"tiers": [3]}, row_count=222)
    ExportLog.objects.create(actor="command line (ops)", source="command", filters={"tiers": [3]}, row_count=333)
    client.force_login(mia)
    html = client.get(reverse("promotions:export_log")).content.decode()
    assert "My exports" in html and "111" in html
    assert "222" not in html and "333" not in html and noor.username not in html


def test_admins_see_every_export(client, make_user):
    mia = make_user(role="Marketing")
    ExportLog.objects.create(user=mia, actor=mia.username, source="web", filters={"tiers": [2]}, row_count=111)
    ExportLog.objects.create(actor="command line (ops)", source="command", filters={"tiers": [3]}, row_count=333)
    client.force_login(make_user(role="Admin"))
    html = client.get(reverse("promotions:export_log")).content.decode()
    assert "111" in html and "333" in html


def test_it_lists_each_export_with_who_and_how_many_rows(client, make_user, django_assert_num_queries):
    ExportLog.objects.create(actor="command line (ops)", source="command", filters={"tiers": [3]}, row_count=1234)
    ExportLog.objects.create(actor="mia", source="web", filters={"tiers": [2, 3]})
    client.force_login(make_user(role="Admin"))
    # session, user, the user's own permissions, their groups' permissions,
    # the entries with their promotion (the menu reuses the cached permissions), the menu's
    # open-item count beside My queue (admins work the queue too)
    with django_assert_num_queries(6):
        html = client.get(reverse("promotions:export_log")).content.decode()
    assert "command line (ops)" in html and "1234" in html
    assert "mia" in html and "not finished" in html


def test_admins_read_it_in_the_django_admin_but_cannot_change_it(client, db, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    entry = ExportLog.objects.create(actor="mia", source="web", filters={}, row_count=3)
    client.force_login(admin)
    assert client.get(reverse("admin:promotions_exportlog_changelist")).status_code == 200
    page = client.get(reverse("admin:promotions_exportlog_change", args=[entry.pk])).content.decode()
    assert 'name="_save"' not in page  # read-only: no save button
    assert client.get(reverse("admin:promotions_exportlog_add")).status_code == 403


def test_the_filters_read_as_words():
    entry = ExportLog(filters={"tiers": [3], "not_bought_category": "analytics", "exclude_open_complaint": True})
    assert entry.filters_text() == "tiers 3 · never bought in analytics · no pending complaint"
