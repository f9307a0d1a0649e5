"""The read API (django-ninja): /api/v1/…, bearer tokens with scopes, keyset cursors, and the
OpenAPI schema at /api/v1/openapi.json (docs/api.md)."""

import datetime as dt
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import NinjaAPI, Query
from ninja.errors import HttpError, Throttled

from churn.models import FollowUp as FollowUpModel
from promotions.models import ExportLog
from promotions.models import Promotion as PromotionModel
from promotions.selectors import FollowUpFilterUnavailable

from . import cursors, schemas, selectors
from .auth import TokenAuth
from .scopes import READ_CHANGES, READ_CUSTOMERS, READ_FOLLOWUPS, READ_TARGETS

MAX_PAGE = 1000
REFUSALS = {code: schemas.Error for code in (400, 401, 403, 404, 422, 429)}  # 422: a parameter of the wrong type

api = NinjaAPI(
    title="Tierboard API",
    version="1",
    description="Read access for machine clients: customers with tier, stage and churn risk; the tier-change "
    "feed; follow-ups; promotion targets. Bearer tokens with scopes; see docs/api.md.",
    urls_namespace="api",
)


@api.exception_handler(cursors.BadCursor)
def bad_cursor(request, error):
    return api.create_response(request, {"detail": str(error)}, status=400)


@api.exception_handler(Throttled)
def throttled(request, error):
    response = api.create_response(request, {"detail": "Too many calls: see Retry-After."}, status=429)
    response["Retry-After"] = str(error.wait or 60)
    return response


def _only_known(request, *names: str) -> None:
    """A misspelt filter must not quietly return everyone: unknown parameters are refused (422)."""
    unknown = sorted(set(request.GET) - set(names))
    if unknown:
        known = ", ".join(names) or "none"
        raise HttpError(422, f"Unknown query parameter(s): {', '.join(unknown)}. This endpoint takes: {known}.")


def _next(rows: list[dict], limit: int, key: str = "id", **extra: int) -> str | None:
    return cursors.encode(rows[-1][key], **extra) if len(rows) == limit else None


@api.get(
    "/customers",
    response={200: schemas.CustomerPage, **REFUSALS},
    auth=TokenAuth(READ_CUSTOMERS),
    url_name="customers",
    summary="Customers with tier, lifecycle stage, churn risk and 12-month metrics",
)
def customers(
    request,
    tier: int | None = Query(None, ge=1, le=3, description="Tier level: 1, 2 or 3."),
    stage: schemas.Stage | None = None,
    changed_since: schemas.IsoDate | None = None,
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
):
    _only_known(request, "tier", "stage", "changed_since", "cursor", "limit")
    position = cursors.decode(cursor)
    as_of = selectors.metrics_as_of()
    rows = selectors.customers_page(
        after=position.get("after", 0),
        limit=limit,
        as_of=as_of,
        tier=tier,
        stage=stage,
        changed_since=changed_since,
        after_changed=_date_of(position["changed"]) if "changed" in position else None,
    )
    request.api_rows = len(rows)
    next_cursor = None
    if len(rows) == limit:
        last_id, last_changed, _ = rows[-1]
        next_cursor = cursors.encode(last_id, **({"changed": last_changed.toordinal()} if changed_since else {}))
    items = ",".join(item for _, _, item in rows)
    tail = json.dumps({"next_cursor": next_cursor, "metrics_as_of": as_of}, cls=DjangoJSONEncoder)
    return HttpResponse(f'{{"items":[{items}],{tail[1:]}', content_type="application/json")


def _rendered(data) -> HttpResponse:
    """The page as JSON, straight from the selectors' plain values: ninja's response validation
    costs about a millisecond a row, 1 s for a 1,000-row page. The schema still documents the shape,
    and tests/api/test_schema.py holds these answers to it."""
    return HttpResponse(json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")), content_type="application/json")


def _json(row: dict, *, raw: dict[str, str]) -> str:
    """One object: `row` encoded, then each of `raw`'s values (already JSON text) added as it is."""
    encoded = json.dumps(row, cls=DjangoJSONEncoder, separators=(",", ":"))
    return encoded[:-1] + "".join(f",{json.dumps(key)}:{text}" for key, text in raw.items()) + "}"


def _date_of(ordinal: int) -> dt.date:
    try:
        return dt.date.fromordinal(ordinal)
    except (ValueError, OverflowError):
        raise cursors.BadCursor("cursor: not a cursor this API gave; start without one") from None


@api.get(
    "/tier-changes",
    response={200: schemas.TierChangePage, **REFUSALS},
    auth=TokenAuth(READ_CHANGES),
    url_name="tier_changes",
    summary="The tier-change feed, oldest first, after a cursor",
)
def tier_changes(
    request, run: int | None = None, cursor: str | None = None, limit: int = Query(100, ge=1, le=MAX_PAGE)
):
    _only_known(request, "run", "cursor", "limit")
    rows = selectors.changes_page(after=cursors.decode(cursor).get("after", 0), limit=limit, run=run)
    request.api_rows = len(rows)
    # `why` comes as the database's JSON text and is placed into the page as it is: parsing and
    # re-encoding 1,000 of them (about 3 KB each) took most of the call's time.
    items = ",".join(_json(row, raw={"why": row.pop("why_json")}) for row in rows)
    next_cursor = json.dumps(_next(rows, limit))
    return HttpResponse(f'{{"items":[{items}],"next_cursor":{next_cursor}}}', content_type="application/json")


@api.get(
    "/follow-ups",
    response={200: schemas.FollowUpPage, **REFUSALS},
    auth=TokenAuth(READ_FOLLOWUPS),
    url_name="follow_ups",
    summary="Churn follow-ups, oldest first",
)
def follow_ups(
    request,
    status: FollowUpModel.Status | None = None,
    updated_since: schemas.IsoDateTime | None = None,
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
):
    _only_known(request, "status", "updated_since", "cursor", "limit")
    rows = selectors.follow_ups_page(
        after=cursors.decode(cursor).get("after", 0), limit=limit, status=status, updated_since=updated_since
    )
    request.api_rows = len(rows)
    return _rendered({"items": rows, "next_cursor": _next(rows, limit)})


@api.get(
    "/promotions",
    response={200: list[schemas.Promotion], **REFUSALS},
    auth=TokenAuth(READ_TARGETS),
    url_name="promotions",
    summary="Saved promotions, newest first",
)
def promotions(request):
    _only_known(request)
    rows = list(PromotionModel.objects.values("id", "name", "starts_on", "ends_on", "tiers", "lifecycle_stage"))
    request.api_rows = len(rows)
    return rows


@api.get(
    "/promotions/{promotion_id}/targets",
    response={200: schemas.TargetPage, **REFUSALS},
    auth=TokenAuth(READ_TARGETS),
    url_name="promotion_targets",
    summary="A saved promotion's targets: the CSV export's audience, logged as an export",
)
def promotion_targets(
    request, promotion_id: int, cursor: str | None = None, limit: int = Query(100, ge=1, le=MAX_PAGE)
):
    _only_known(request, "cursor", "limit")
    promotion = get_object_or_404(PromotionModel, pk=promotion_id)
    position = cursors.decode(cursor)
    try:
        rows = selectors.targets_page(promotion=promotion, after=position.get("after", 0), limit=limit)
    except FollowUpFilterUnavailable as error:
        return 400, {"detail": str(error)}
    for row in rows:
        row["lifecycle_stage"] = row["lifecycle_stage"] or None
    log_id = _log_export(request.auth, promotion, position.get("log"), rows=len(rows), done=len(rows) < limit)
    request.api_rows = len(rows)
    return _rendered({"items": rows, "next_cursor": _next(rows, limit, log=log_id), "export_log_id": log_id})


def _log_export(token, promotion, log_id: int | None, *, rows: int, done: bool) -> int:
    """One export-log entry per pull: created by its first page, counted up by each next one, and
    finished by the last (an abandoned pull stays unfinished, as an interrupted download does)."""
    finished = {"finished_at": timezone.now()} if done else {}
    if log_id is not None:
        entry = ExportLog.objects.filter(pk=log_id, promotion=promotion, actor=token.actor, finished_at__isnull=True)
        if entry.update(row_count=Coalesce(F("row_count"), 0) + rows, **finished):
            return log_id
    entry = ExportLog.objects.create(
        actor=token.actor,
        source=ExportLog.Source.API,
        promotion=promotion,
        filters=promotion.target_filters().as_json(),
        row_count=rows,
        **finished,
    )
    return entry.pk
