"""The three roles are Django groups; what each may do is a set of permissions. Team lead is a
fourth group, given to an account manager on top of their role (it holds only the lead's rights).

Each app that adds models grants its permissions to the roles in a data migration through
`grant_in_migration`, so the groups stay the single source of who-may-do-what.
"""

from django.contrib.auth.management import create_permissions

ADMIN = "Admin"
ACCOUNT_MANAGER = "Account manager"
MARKETING = "Marketing"
ROLES = (ADMIN, ACCOUNT_MANAGER, MARKETING)
TEAM_LEAD = "Team lead"  # reassigns, takes over and closes colleagues' follow-ups (churn.lead_followup)


def grant_in_migration(apps, grants: dict[str, list[str]]) -> None:
    """Give each named group the listed "app_label.codename" permissions.

    Permissions are normally created after all migrations ran (post_migrate); create them now so
    a fresh database gets its groups in one `migrate`.
    """
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, perms in grants.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def roles_of(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(user.groups.values_list("name", flat=True))
