"""Navigation that shows each role only what it may use."""

from django.urls import NoReverseMatch, reverse

# (label, url name, permission needed); later apps append their entries here.
NAVIGATION = [
    ("Import data", "customers:import", "customers.import_data"),
    ("Runs", "tiering:runs", "tiering.view_retierrun"),
    ("Tier rules", "admin:tiering_ruleset_changelist", "tiering.change_ruleset"),
    ("My queue", "churn:my_queue", "churn.work_followup"),
    ("Team queue", "churn:team_queue", "churn.work_followup"),
    ("Churn insights", "churn:insights", "churn.view_insights"),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for label, url_name, perm in NAVIGATION:
        if not user.has_perm(perm):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:  # a page not built yet stays out of the menu
            continue
        items.append({"label": label, "url": url, "active": request.path.startswith(url)})
    return {"nav_items": items, "show_admin_link": user.is_staff}
