from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from .exports import HEADERS
from .forms import PromotionForm
from .models import ExportLog, Promotion
from .selectors import EXPORT_LOG_ALL, FollowUpFilterUnavailable, count_by_tier, export_log_for, targets_queryset
from .services import export_start, promotion_save

PREVIEW_ROWS = 20
PERIOD_FIELDS = {"name", "starts_on", "ends_on"}  # not filters: the preview ignores their errors


@permission_required("promotions.view_promotion", raise_exception=True)
def promotion_list(request: HttpRequest) -> HttpResponse:
    promotions = Promotion.objects.select_related("created_by")[:200]
    return render(request, "promotions/promotion_list.html", {"promotions": promotions})


@permission_required("promotions.add_promotion", raise_exception=True)
def promotion_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, Promotion())


@permission_required("promotions.change_promotion", raise_exception=True)
def promotion_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(Promotion, pk=pk))


def _edit(request: HttpRequest, promotion: Promotion) -> HttpResponse:
    form = PromotionForm(request.POST or None, instance=promotion)
    if request.method == "POST" and form.is_valid():
        promotion = promotion_save(promotion=form.save(commit=False), user=request.user)
        messages.success(request, f"Saved “{promotion.name}”.")
        return redirect("promotions:edit", pk=promotion.pk)
    context = {"form": form, "promotion": promotion, "columns": HEADERS}
    return render(request, "promotions/promotion_form.html", context)


@permission_required("promotions.view_promotion", raise_exception=True)
@require_POST
def promotion_preview(request: HttpRequest) -> HttpResponse:
    """The live count and first rows for the filters as they stand in the form (nothing saved)."""
    form = PromotionForm(request.POST)
    form.is_valid()  # fills form.instance with every field that is valid
    errors = {name: errs for name, errs in form.errors.items() if name not in PERIOD_FIELDS}
    context = {"errors": [(form[n].label if n in form.fields else "", e) for n, errs in errors.items() for e in errs]}
    if not errors:
        filters = form.instance.target_filters()
        targets = targets_queryset(filters=filters)
        by_tier = count_by_tier(targets, tiers=filters.tiers)
        context |= {
            "count": sum(row["n"] for row in by_tier),
            "by_tier": by_tier,
            "rows": list(targets[:PREVIEW_ROWS]),
            "preview_rows": PREVIEW_ROWS,
        }
    return render(request, "promotions/_preview.html", context)


@permission_required("promotions.export_targets", raise_exception=True)
@require_GET
def promotion_export(request: HttpRequest, pk: int) -> HttpResponse:
    promotion = get_object_or_404(Promotion, pk=pk)
    try:
        _, chunks = export_start(
            actor=request.user.get_username(),
            user=request.user,
            source=ExportLog.Source.WEB,
            promotion=promotion,
            excel=request.GET.get("excel") == "1",
        )
    except FollowUpFilterUnavailable as error:
        messages.error(request, str(error))
        return redirect("promotions:edit", pk=promotion.pk)
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slugify(promotion.name) or "promotion"}-targets.csv"'
    return response


@permission_required("promotions.export_targets", raise_exception=True)
def export_log(request: HttpRequest) -> HttpResponse:
    """Admins read every export; whoever else may export (marketing) reads their own."""
    context = {"entries": export_log_for(request.user), "sees_all": request.user.has_perm(EXPORT_LOG_ALL)}
    return render(request, "promotions/export_log.html", context)
