"""Navigation that shows each role only what it may use."""

from django.urls import NoReverseMatch, reverse

# (label, url name, permission needed); later apps append their entries here.
NAVIGATION = [
    # Daily work first, then marketing, then the admins' tools.
    ("Tier lists", "dashboard:tier_list", "tiering.view_customermetrics"),
    ("My queue", "churn:my_queue", "churn.work_followup"),
    ("Team queue", "churn:team_queue", "churn.work_followup"),
    ("Churn insights", "churn:insights", "churn.view_insights"),
    ("Marketing", "dashboard:marketing", "promotions.view_promotion"),
    ("Promotions", "promotions:list", "promotions.view_promotion"),
    # Admins read every export, marketing its own (promotions.selectors.export_log_for).
    ("Export log", "promotions:export_log", "promotions.export_targets"),
    ("Tier rules", "tiering:rules", "tiering.change_ruleset"),
    ("Runs", "tiering:runs", "tiering.view_retierrun"),
    ("Import data", "customers:import", "customers.import_data"),
]


# Admins' setup tools: grouped under one "Admin tools" menu so an admin's bar fits a laptop.
ADMIN_TOOLS = {"tiering:rules", "tiering:runs", "customers:import"}


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
        items.append({"label": label, "url": url, "active": False, "tool": url_name in ADMIN_TOOLS, "name": url_name})
    # The current page is the LONGEST matching url: "/churn/team/" is not also "My queue" ("/churn/").
    current = max((i for i in items if request.path.startswith(i["url"])), key=lambda i: len(i["url"]), default=None)
    if current:
        current["active"] = True
    return {
        "nav_items": items,
        "nav_main": [i for i in items if not i["tool"]],
        "nav_tools": [i for i in items if i["tool"]],
        "show_admin_link": user.is_staff,
    }
