"""Writes of saved views (dashboard.models.SavedView): keyword-only, each refusing with a message
the page shows, and leaving nothing half-written."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import QueryDict

from .models import NAME_MAX, QUERY_MAX, SavedView

DROPPED = ("page", "csrfmiddlewaretoken")  # a view opens on its first page


def clean_query(raw: str) -> str:
    """The list's query string as a view keeps it: without the page, re-encoded."""
    query = QueryDict(raw, mutable=True)
    for key in DROPPED:
        query.pop(key, None)
    text = query.urlencode()
    if len(text) > QUERY_MAX:
        raise ValidationError(f"These filters are too long to save ({len(text):,} characters; at most {QUERY_MAX:,}).")
    return text


def clean_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise ValidationError("Give the view a name.")
    if len(name) > NAME_MAX:
        raise ValidationError(f"A view's name has at most {NAME_MAX} characters.")
    return name


def save_view(*, user, name: str, level: int | None, query: str) -> SavedView:
    name, query = clean_name(name), clean_query(query)
    try:
        with transaction.atomic():
            return SavedView.objects.create(user=user, name=name, level=level, query=query)
    except IntegrityError:
        raise ValidationError(f"You already have a view named “{name}”: rename or delete it first.") from None


def rename_view(*, view: SavedView, name: str) -> SavedView:
    name = clean_name(name)
    try:
        with transaction.atomic():
            SavedView.objects.filter(pk=view.pk).update(name=name)
    except IntegrityError:
        raise ValidationError(f"You already have a view named “{name}”.") from None
    view.name = name
    return view


def delete_view(*, view: SavedView) -> None:
    view.delete()
