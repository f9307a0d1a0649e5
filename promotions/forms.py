"""The promotion form: the filters a marketer sets, checked so a bad value gets a clear error."""

from django import forms
from django.contrib.auth import get_user_model

from core.roles import ACCOUNT_MANAGER
from customers.models import Product
from tiering.tiers import LEVEL_CHOICES

from .filters import DEFAULT_TIERS, TIER_LEVELS
from .followups import follow_up_filter_available
from .models import Promotion

TIER_CHOICES = LEVEL_CHOICES


class PromotionForm(forms.ModelForm):
    tiers = forms.TypedMultipleChoiceField(
        choices=TIER_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        initial=list(DEFAULT_TIERS),
        help_text="Tier 1 gets no special offers unless you tick it.",
        error_messages={"required": "Pick at least one tier."},
    )
    bought_category = forms.ChoiceField(required=False, label="Bought in category")
    not_bought_category = forms.ChoiceField(required=False, label="Never bought in category")

    class Meta:
        model = Promotion
        fields = [
            "name", "starts_on", "ends_on", "tiers", "active_within_days", "lapsed_over_days",
            "bought_category", "not_bought_category", "bought_product", "not_bought_product",
            "account_manager", "exclude_open_complaint", "exclude_open_follow_up", "lifecycle_stage", "include_lost",
        ]  # fmt: skip
        labels = {
            "starts_on": "Period starts", "ends_on": "Period ends",
            "active_within_days": "Ordered within (days)", "lapsed_over_days": "No order for more than (days)",
            "bought_product": "Bought product", "not_bought_product": "Never bought product",
            "exclude_open_complaint": "Leave out customers with a pending complaint",
            "exclude_open_follow_up": "Leave out customers with an open churn follow-up",
            "include_lost": "Include lost customers",
        }  # fmt: skip
        help_texts = {"active_within_days": "", "lapsed_over_days": ""}  # the labels say it
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        categories = [("", "— any —")] + [(c, c) for c in _categories()]
        self.fields["bought_category"].choices = categories
        self.fields["not_bought_category"].choices = categories
        for name in ("bought_product", "not_bought_product", "account_manager"):
            self.fields[name].empty_label = "— any —"
        self.fields["bought_product"].queryset = Product.objects.order_by("name")
        self.fields["not_bought_product"].queryset = Product.objects.order_by("name")
        self.fields["account_manager"].queryset = (
            get_user_model().objects.filter(groups__name=ACCOUNT_MANAGER).order_by("username")
        )
        if not follow_up_filter_available():
            del self.fields["exclude_open_follow_up"]  # the churn app is not installed here
            del self.fields["lifecycle_stage"]
            del self.fields["include_lost"]  # nobody is lost without the churn app

    def clean_tiers(self):
        tiers = sorted(set(self.cleaned_data["tiers"]))
        if any(level not in TIER_LEVELS for level in tiers):
            raise forms.ValidationError("Tiers are 1, 2 or 3.")
        return tiers

    def clean(self):
        data = super().clean()
        _check_not_both(self, data, "bought_category", "not_bought_category", "category")
        _check_not_both(self, data, "bought_product", "not_bought_product", "product")
        active, lapsed = data.get("active_within_days"), data.get("lapsed_over_days")
        if active is not None and lapsed is not None and active <= lapsed:
            self.add_error(
                "lapsed_over_days",
                f"No customer can have ordered within {active} days and not for more than {lapsed} days.",
            )
        return data


def _check_not_both(form, data, bought, not_bought, what):
    if data.get(bought) and data.get(bought) == data.get(not_bought):
        form.add_error(not_bought, f"Cannot both have bought and never bought the same {what}.")


def _categories() -> list[str]:
    return list(Product.objects.order_by("category").values_list("category", flat=True).distinct())
