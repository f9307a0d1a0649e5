"""Every list page answers any query string: a bad value falls back to its default with a message
naming it, never an error page (docs/dashboard.md). Hypothesis writes the query strings; the real
views and database answer them.

Each page declares its parameters, each with values it must take silently (good) and values it
must refuse with a message (bad). Besides those, any parameter (known or not) may get any text:
NUL bytes, very long values, repeats; for those only "no error page" is asserted.
"""

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.churn.factories import FollowUpFactory
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

NUL, LONG = "a\x00b", "9" * 5000
EVERYWHERE_BAD = [NUL, "\x00", LONG, LONG + "x"]
_date = st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)).map(dt.date.isoformat)
_money = st.one_of(st.integers(-(10**9), 10**9).map(str), st.just("12.50"), st.just("-0.01"))
_id = st.integers(1, 10**6).map(str)
_level = st.sampled_from(["1", "2", "3"])


def kind(good, bad):
    return {"good": good, "bad": st.sampled_from([*bad, *EVERYWHERE_BAD])}


PAGE = kind(st.sampled_from(["", "1"]), ["0", "-1", "abc", "1.5", "99999999999999999999", "1e3", "２"])
PER_PAGE = kind(st.sampled_from(["25", "50", "100"]), ["0", "-25", "10000", "abc", "1e2"])
DATE = kind(_date, ["9999-12-31", "0001-01-01", "2026-02-30", "2026-13-01", "yesterday", "99999-01-01"])
MONEY = kind(_money, ["1e400", "NaN", "inf", "-Infinity", "1" + "0" * 30, "abc", "1,5", "1e-100000"])
ID = kind(_id, ["-1", "1.5", "abc", "9" * 30, "1e5"])


def choice(values, bad=("bogus", "x" * 300)):
    return kind(st.sampled_from(values), bad)


def sort(names):
    return kind(st.sampled_from(names).flatmap(lambda n: st.sampled_from([n, "-" + n])), ["nope", "--tier", "x;y"])


TIER_LIST = {
    "page": PAGE,
    "per_page": PER_PAGE,
    "sort": sort(["tier", "revenue", "net_margin", "orders", "last_order_at", "complaints", "compensation_share"]),
    "q": {"good": st.text(st.characters(blacklist_characters="\x00"), max_size=300), "bad": st.just(NUL)},
    "manager": kind(st.just("{manager}"), ["abc", "999999999", "9" * 30, "-1"]),
    "mine": {"good": st.sampled_from(["on", "", "true", "false"])},  # a checkbox: any value is a yes or a no
    "min_margin": MONEY,
    "max_margin": MONEY,
    "min_revenue": MONEY,
    "max_revenue": MONEY,
    "last_order_from": DATE,
    "last_order_to": DATE,
    "churn": choice(["open", "no_action", "won_back", "lost"]),
    "run": ID,
    "moved_from": kind(st.sampled_from(["new", "1", "2", "3"]), ["-1", "abc", "9" * 30, "1.5"]),
    "moved_to": kind(_level, ["-1", "abc", "9" * 30, "1.5"]),
}
MY_QUEUE = {
    "page": PAGE,
    "per_page": PER_PAGE,
    "sort": sort(["customer", "tier", "kind", "status", "assignee", "due_on", "value_at_risk", "risk", "last_order"]),
    "tier": choice(["1", "2", "3"], ["0", "7", "abc"]),
    "status": choice(["active", "open", "contacted", "won_back", "lost", "dismissed", "returned", "all"]),
    "due": choice(["overdue", "week"]),
    "customer": ID,
}
TEAM_QUEUE = {**MY_QUEUE, "assignee": kind(st.sampled_from(["none", "{manager}"]), ["abc", "999999", "-1"])}
PAGES = {
    "/tiers/": TIER_LIST,
    "/tiers/3/": TIER_LIST,
    "/churn/": MY_QUEUE,
    "/churn/team/": TEAM_QUEUE,
    "/churn/insights/": {"months": kind(st.integers(1, 24).map(str), ["0", "25", "-3", "abc", "9" * 30])},
    "/promotions/": {},
    "/promotions/exports/": {},
    "/tiering/runs/": {},
}
ANY_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\x00", LONG, "-0", "1e999", "9999-12-31", "%00", "ｘ", "0x10", " 1 "]),
    st.integers(-(10**40), 10**40).map(str),
)


@st.composite
def query(draw, params: dict):
    """[(key, value, expectation)], expectation "good", "bad" or None (anything: no 500 only).
    A key may repeat: the last one counts, as QueryDict.get reads it."""
    pairs = []
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from([*params, "junk", "page"]) if params else st.sampled_from(["junk", "page", "q"]))
        kinds = [k for k in ("good", "bad") if k in params.get(key, {})]
        expectation = draw(st.sampled_from([*kinds, None]))
        value = draw(params[key][expectation]) if expectation else draw(ANY_TEXT)
        pairs.append((key, value, expectation))
    return pairs


@pytest.fixture
def signed_in(client):
    admin = UserFactory(role="Admin", username="ada")
    manager = UserFactory(role="Account manager", username="mo")
    for assignee in (admin, manager, None):
        FollowUpFactory(assignee=assignee)
    CustomerFactory(account_manager=manager)
    client.force_login(admin)
    return manager


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.mark.parametrize("path", list(PAGES))
def test_any_query_string_gets_the_page_and_every_ignored_value_a_message(client, signed_in, path):
    manager_pk = str(signed_in.pk)

    @FUZZ
    @given(query(PAGES[path]))
    def check(pairs):
        pairs = [(k, v.replace("{manager}", manager_pk), e) for k, v, e in pairs]
        last = {k: e for k, _, e in pairs}
        with transaction.atomic():  # a failed example's SQL error must not abort the next ones
            response = client.get(path + "?" + urlencode([(k, v) for k, v, _ in pairs]))
        assert response.status_code == 200
        shown = messages_of(response)
        if "bad" in last.values():
            assert shown, f"no message for {pairs!r}"
        elif all(e == "good" for e in last.values()):
            assert not shown, f"unexpected {shown!r} for {pairs!r}"

    check()


def test_last_order_to_the_last_day_of_the_calendar_is_ignored_with_a_message(client, signed_in):
    response = client.get("/tiers/?last_order_to=9999-12-31")
    assert response.status_code == 200
    assert any("Last order to" in m for m in messages_of(response))


@pytest.mark.parametrize("text", ["abc", "9999-12-31", "\x00", "1e999"])
def test_the_query_string_of_every_list_page_may_hold_nonsense(client, signed_in, text):
    for path in PAGES:
        assert client.get(path, {"page": text, "sort": text, "junk": text}).status_code == 200
