"""The daily follow-up digest (churn.digest) and the open-item count in the menu."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse

from churn.digest import send_digests
from churn.models import DigestSent
from churn.tasks import send_follow_up_digests_task
from tests.churn.factories import FollowUpFactory
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC
NOW = dt.datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
TODAY = NOW.date()


def item(*, assignee=None, customer=None, created=NOW - dt.timedelta(hours=3), due=TODAY + dt.timedelta(days=5), **kw):
    if customer is not None:
        kw["lapse__customer"] = customer
    follow_up = FollowUpFactory(assignee=assignee, due_on=due, **kw)
    type(follow_up).objects.filter(pk=follow_up.pk).update(created_at=created)  # auto_now_add: set it after
    return follow_up


@pytest.fixture
def amira():
    return UserFactory(username="amira", email="amira@example.com", first_name="Amira", role="Account manager")


@pytest.fixture
def ben():
    return UserFactory(username="ben", email="ben@example.com", role="Account manager")


def sent_to(address: str):
    return [m for m in mail.outbox if m.to == [address]]


def test_each_manager_gets_their_new_and_overdue_items_in_text_and_html(amira, ben):
    item(assignee=amira, lapse__customer__name="Acme new")
    item(
        assignee=amira,
        lapse__customer__name="Bolt overdue",
        created=NOW - dt.timedelta(days=9),
        due=TODAY - dt.timedelta(days=3),
    )
    item(customer=CustomerFactory(name="Crane unclaimed", account_manager=amira))  # team queue, Amira's customer
    item(assignee=ben, lapse__customer__name="Ben's only")
    item(assignee=amira, lapse__customer__name="Old and not due", created=NOW - dt.timedelta(days=9))
    item(assignee=amira, lapse__customer__name="Closed", status="dismissed")

    assert send_digests(now=NOW) == 2

    (to_amira,) = sent_to("amira@example.com")
    assert to_amira.subject == "Tierboard: 2 new, 1 overdue follow-up"
    new, overdue = to_amira.body.split("NEW (2)")[1].split("OVERDUE (1)")
    assert "Acme new" in new and "Crane unclaimed" in new and "unclaimed (team queue)" in new
    assert "Bolt overdue" in overdue and "3 days overdue" in overdue
    assert "Ben's only" not in to_amira.body and "Old and not due" not in to_amira.body
    assert "Closed" not in to_amira.body
    html, mimetype = to_amira.alternatives[0]
    assert mimetype == "text/html" and "Acme new" in html and "http://127.0.0.1:8000/churn/items/" in html
    (to_ben,) = sent_to("ben@example.com")
    assert "Ben's only" in to_ben.body and "Acme new" not in to_ben.body


def test_nothing_is_sent_when_nothing_is_new(amira):
    item(assignee=amira, created=NOW - dt.timedelta(days=9))  # old, not due
    assert send_digests(now=NOW) == 0
    assert mail.outbox == [] and not DigestSent.objects.exists()


def test_an_overdue_item_already_reported_sends_nothing_again_but_a_new_one_does(amira):
    item(assignee=amira, created=NOW - dt.timedelta(days=9), due=TODAY - dt.timedelta(days=1))
    assert send_digests(now=NOW) == 1  # it fell overdue since yesterday: new to Amira

    tomorrow = NOW + dt.timedelta(days=1)
    assert send_digests(now=tomorrow) == 0  # the same overdue item, reported yesterday

    item(assignee=amira, created=tomorrow + dt.timedelta(hours=1))
    assert send_digests(now=tomorrow + dt.timedelta(days=1)) == 1
    assert len(mail.outbox) == 2
    assert "1 new, 1 overdue" in mail.outbox[-1].subject


def test_the_job_run_twice_on_one_day_sends_one_email(amira):
    item(assignee=amira)
    assert send_digests(now=NOW) == 1
    item(assignee=amira, created=NOW + dt.timedelta(minutes=30))  # new, but today's digest is sent
    assert send_digests(now=NOW + dt.timedelta(hours=1)) == 0
    assert len(mail.outbox) == 1


def test_the_beat_task_sends_the_digests(amira):
    item(assignee=amira)
    assert send_follow_up_digests_task.delay().get() == 1
    from django_celery_beat.models import PeriodicTask

    scheduled = PeriodicTask.objects.get(name="Daily follow-up digest")
    assert scheduled.task == "churn.tasks.send_follow_up_digests_task" and scheduled.crontab.hour == "7"


def test_the_menu_shows_my_open_item_count_with_one_query(client, amira, django_assert_num_queries):
    for _ in range(3):
        item(assignee=amira)
    item(assignee=amira, status="won_back")  # closed: not counted
    client.force_login(amira)
    html = client.get(reverse("churn:insights")).content.decode()
    assert '<span class="nav-count" id="nav-open-items" title="open items assigned to you">3<' in html


def test_the_count_is_one_query_however_often_the_page_names_it(rf, amira):
    from django.template import Context, Template

    from churn.context_processors import open_items

    request = rf.get("/")
    request.user = amira
    item(assignee=amira)
    template = Template("{{ nav_open_items }} {{ nav_open_items }} {% if nav_open_items %}yes{% endif %}")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    context = open_items(request)  # the permission check reads permissions that every page reads anyway
    with CaptureQueriesContext(connection) as queries:
        assert template.render(Context(context)) == "1 1 yes"
    assert len(queries) == 1


def test_people_who_do_not_work_the_queue_get_no_count_and_no_query(rf):
    from churn.context_processors import open_items

    request = rf.get("/")
    request.user = UserFactory(role="Marketing")
    assert open_items(request) == {}
