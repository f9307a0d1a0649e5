"""Writes of the promotions app: saving a promotion and starting a recorded export."""

from collections.abc import Iterator

from .exports import logged_export
from .filters import TargetFilters
from .models import ExportLog, Promotion
from .selectors import targets_queryset


def export_start(
    *,
    actor: str,
    source: str,
    user=None,
    promotion: Promotion | None = None,
    filters: TargetFilters | None = None,
    excel: bool = False,
) -> tuple[ExportLog, Iterator[bytes]]:
    """Record who exports what, then return the entry and the CSV stream (its end fills in the count).

    The QuerySet is built first so a filter that cannot apply fails before anything is logged.
    """
    if filters is None:
        filters = promotion.target_filters() if promotion is not None else TargetFilters()
    targets = targets_queryset(filters=filters)
    log = ExportLog.objects.create(
        user=user,
        actor=actor,
        source=source,
        promotion=promotion,
        filters=filters.as_json(),
        format=ExportLog.Format.EXCEL if excel else ExportLog.Format.CSV,
    )
    return log, logged_export(targets=targets, log=log, excel=excel)


def promotion_save(*, promotion: Promotion, user) -> Promotion:
    if promotion.pk is None:
        promotion.created_by = user
    promotion.full_clean()
    promotion.save()
    return promotion
