"""A user's saved views of the customer lists: a name and the list's query string."""

from django.conf import settings
from django.db import models
from django.urls import reverse

NAME_MAX = 80
QUERY_MAX = 2000


class SavedView(models.Model):
    """One list (all customers, or one tier) with its filters and sort, under a name the user chose.
    Private: each user sees, renames and deletes only their own."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=NAME_MAX)
    level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The tier's list; empty: all customers.")
    query = models.CharField(max_length=QUERY_MAX, blank=True, help_text="The list's query string, without the page.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="savedview_user_name_uniq")]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        path = (
            reverse("dashboard:tier_list")
            if self.level is None
            else reverse("dashboard:tier_list_level", args=[self.level])
        )
        return f"{path}?{self.query}" if self.query else path
