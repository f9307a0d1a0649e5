"""Who may open which page: one table, every role.

Add a row for each new page: (url name or path, expected status per role). 302 means "sent to
sign in" and is checked to land on the right login page with ?next= pointing back. Pages that take
a sample object name it (see `sample_objects`); POST-only endpoints go in ACTIONS. Every URL the
resolver knows outside the Django admin must have a row: a new URL fails
`test_every_url_has_a_row_in_the_role_table` until someone decides who may use it.
"""

import datetime as dt
from urllib.parse import quote

import pytest
from django.urls import reverse

from tests.core.every_url import every_url

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, "Admin", "Account manager", "Marketing")

EVERYONE = {ANONYMOUS: 302, "Admin": 200, "Account manager": 200, "Marketing": 200}
ADMIN_ONLY = {ANONYMOUS: 302, "Admin": 200, "Account manager": 403, "Marketing": 403}
PUBLIC = {ANONYMOUS: 200, "Admin": 200, "Account manager": 200, "Marketing": 200}
NOT_MARKETING = {ANONYMOUS: 302, "Admin": 200, "Account manager": 200, "Marketing": 403}
NOT_MANAGERS = {ANONYMOUS: 302, "Admin": 200, "Account manager": 403, "Marketing": 200}
# The API's operations take a bearer token and nothing else: a session, any role's, gets 401 like
# no one at all (tests/api/test_tokens.py checks tokens, scopes and revocation on each).
TOKEN_ONLY = {ANONYMOUS: 401, "Admin": 401, "Account manager": 401, "Marketing": 401}

PAGES = [
    ("home", EVERYONE),
    ("customers:import", ADMIN_ONLY),
    ("customers:import_job import_job", ADMIN_ONLY),
    ("customers:import_job_progress import_job", ADMIN_ONLY),
    ("customers:import_job_errors import_job", ADMIN_ONLY),
    ("tiering:runs", ADMIN_ONLY),
    ("tiering:run_detail run", ADMIN_ONLY),
    ("tiering:run_progress run", ADMIN_ONLY),
    # The rules editor: Admins only (account managers may read rule sets in the admin, not edit them).
    ("tiering:rules", ADMIN_ONLY),
    ("tiering:rules_edit ruleset", ADMIN_ONLY),
    ("tiering:rules_edit draft", ADMIN_ONLY),
    ("tiering:rules_preview draft", ADMIN_ONLY),
    # The Django admin sends anyone who is not staff to its own login page.
    ("admin:index", {ANONYMOUS: 302, "Admin": 200, "Account manager": 302, "Marketing": 302}),
    ("dashboard:tier_list", NOT_MARKETING),
    ("/tiers/3/", NOT_MARKETING),
    ("dashboard:tier_list_level level", NOT_MARKETING),
    ("dashboard:customer customer", NOT_MARKETING),
    ("dashboard:change_why customer change", NOT_MARKETING),
    ("churn:my_queue", NOT_MARKETING),
    ("churn:team_queue", NOT_MARKETING),
    ("churn:item item", NOT_MARKETING),
    ("churn:insights", EVERYONE),
    ("churn:backtest", ADMIN_ONLY),
    ("promotions:list", NOT_MANAGERS),
    ("promotions:create", NOT_MANAGERS),
    ("promotions:edit promotion", NOT_MANAGERS),
    ("promotions:export promotion", NOT_MANAGERS),
    # Admins read every export, marketing only its own (tests/promotions/test_export_log_view.py).
    ("promotions:export_log", NOT_MANAGERS),
    ("dashboard:marketing", NOT_MANAGERS),
    ("api:customers", TOKEN_ONLY),
    ("api:tier_changes", TOKEN_ONLY),
    ("api:follow_ups", TOKEN_ONLY),
    ("api:promotions", TOKEN_ONLY),
    ("api:promotion_targets promotion", TOKEN_ONLY),
    # The schema and its browsable page hold no customer data; still, only signed-in people read them.
    ("api:openapi-json", EVERYONE),
    ("api:openapi-view", EVERYONE),
    ("api:api-root", {ANONYMOUS: 302, "Admin": 404, "Account manager": 404, "Marketing": 404}),
    ("healthz", PUBLIC),
    ("login", PUBLIC),
]

# POST-only endpoints. ALLOWED: the role is let through (whatever the empty form then answers),
# as opposed to 403 or being sent to sign in.
ALLOWED = "allowed"
ACTIONS = [
    ("tiering:run_now", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": 403, "Marketing": 403}),
    ("tiering:rules_edit draft", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": 403, "Marketing": 403}),
    ("tiering:rules_start_draft ruleset", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": 403, "Marketing": 403}),
    ("tiering:rules_publish draft", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": 403, "Marketing": 403}),
    # Saved views: whoever may open the lists; a view belongs to one user (another's answers 404).
    ("dashboard:saved_view_create", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": ALLOWED, "Marketing": 403}),
    (
        "dashboard:saved_view_rename saved_view",
        {ANONYMOUS: 302, "Admin": 404, "Account manager": 404, "Marketing": 403},
    ),
    (
        "dashboard:saved_view_delete saved_view",
        {ANONYMOUS: 302, "Admin": 404, "Account manager": 404, "Marketing": 403},
    ),
    ("promotions:preview", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": 403, "Marketing": ALLOWED}),
    ("churn:claim item", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": ALLOWED, "Marketing": 403}),
    ("churn:change_status item", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": ALLOWED, "Marketing": 403}),
    ("churn:reassign item", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": ALLOWED, "Marketing": 403}),
    ("churn:bulk", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": ALLOWED, "Marketing": 403}),
    ("churn:backtest", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": 403, "Marketing": 403}),
    ("churn:follow_up_trigger", {ANONYMOUS: 302, "Admin": ALLOWED, "Account manager": 403, "Marketing": 403}),
    # Signing out lands on the sign-in page, for everyone.
    ("logout", {ANONYMOUS: 302, "Admin": 302, "Account manager": 302, "Marketing": 302}),
]

CASES = [pytest.param(page, role, expected[role], id=f"{page} as {role}") for page, expected in PAGES for role in ROLES]
ACTION_CASES = [
    pytest.param(action, role, expected[role], id=f"POST {action} as {role}")
    for action, expected in ACTIONS
    for role in ROLES
]


@pytest.fixture
def sample_objects(db):
    """One of each object a page is about, so that a page with an id answers as it would in use."""
    from churn.models import FollowUp
    from customers.import_jobs import errors_path
    from customers.models import ImportJob
    from dashboard.models import SavedView
    from promotions.models import Promotion
    from tests.churn.factories import FollowUpFactory, TierChangeFactory
    from tests.factories import UserFactory
    from tests.tiering.rulesets import make_ruleset
    from tiering.models import RuleSet

    change = TierChangeFactory()
    # Somebody else's view: nobody signed in by the table owns it.
    saved_view = SavedView.objects.create(user=UserFactory(role="Account manager"), name="Theirs", query="q=acme")
    item: FollowUp = FollowUpFactory(assignee=None)
    promotion = Promotion.objects.create(name="Spring", starts_on=dt.date(2026, 3, 1), ends_on=dt.date(2026, 3, 31))
    # A rejected import by somebody else, with its list of errors still on disk.
    job = ImportJob.objects.create(kind="orders", file_name="orders.csv", size=10, status=ImportJob.Status.REJECTED)
    errors = errors_path(job)
    errors.parent.mkdir(parents=True, exist_ok=True)
    errors.write_text("line 2: amount: not a number\n", encoding="utf-8")
    yield {
        "run": change.run_id,
        "customer": change.customer_id,
        "change": change.pk,
        "level": 3,
        "item": item.pk,
        "promotion": promotion.pk,
        "import_job": job.pk,
        "ruleset": RuleSet.objects.get(status=RuleSet.Status.PUBLISHED).pk,
        "draft": make_ruleset({3: ("all", [("orders", "gte", "2")])}).pk,
        "saved_view": saved_view.pk,
    }
    errors.unlink(missing_ok=True)


def url_of(page: str, objects: dict | None = None) -> str:
    name, *arguments = page.split()
    if name.startswith("/"):
        return name
    return reverse(name, args=[objects[argument] for argument in arguments])


def login_url_for(path: str) -> str:
    login = reverse("admin:login") if path.startswith(reverse("admin:index")) else reverse("login")
    return f"{login}?next={quote(path)}"


@pytest.fixture
def client_as(client, make_user):
    def sign_in(role: str):
        if role != ANONYMOUS:
            # Admins edit rules in the Django admin, so their accounts are staff accounts.
            client.force_login(make_user(role=role, is_staff=(role == "Admin")))
        return client

    return sign_in


@pytest.mark.django_db
@pytest.mark.parametrize(("page", "role", "expected"), CASES)
def test_each_role_gets_the_intended_answer_on_each_page(client_as, sample_objects, page, role, expected):
    path = url_of(page, sample_objects)
    response = client_as(role).get(path)
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"] == login_url_for(path)


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "role", "expected"), ACTION_CASES)
def test_each_role_gets_the_intended_answer_on_each_action(client_as, sample_objects, action, role, expected):
    path = url_of(action, sample_objects)
    response = client_as(role).post(path, {})
    if expected == ALLOWED:
        refused = response.status_code in (401, 403) or response.get("Location", "").startswith(reverse("login"))
        assert not refused and response.status_code < 500, response.status_code
    else:
        assert response.status_code == expected
        if expected == 302:
            assert response["Location"] == (login_url_for(path) if role == ANONYMOUS else reverse("login"))


def test_every_url_has_a_row_in_the_role_table():
    """The Django admin checks staff and model permissions itself; everything else is ours to declare."""
    declared = {row.split()[0] for row, _ in PAGES + ACTIONS}
    missing = sorted(url.name for url in every_url() if not url.in_admin and url.name not in declared)
    assert missing == [], f"add a row for each of these to PAGES or ACTIONS in {__file__}"


def test_every_role_in_the_table_exists_as_a_group(db):
    from django.contrib.auth.models import Group

    assert set(ROLES) - {ANONYMOUS} <= set(Group.objects.values_list("name", flat=True))
