from django import forms
from django.contrib.auth.models import User

from core.roles import ACCOUNT_MANAGER
from customers.models import Product

from . import policy
from .models import FollowUp

PRODUCT_CAUSES = (FollowUp.Cause.NEW_PRODUCT, FollowUp.Cause.PRODUCT_CHANGE)


class StatusForm(forms.Form):
    """A move of a follow-up to another status, with a note, and the cause when it is lost."""

    to = forms.ChoiceField(choices=FollowUp.Status.choices, label="New status")
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    note = forms.CharField(required=False, max_length=2000, label="Note")
    cause_category = forms.ChoiceField(
        choices=[("", "— cause —"), *FollowUp.Cause.choices], required=False, label="Cause"
    )
    cause_product = forms.ModelChoiceField(
        queryset=Product.objects.all(),
        to_field_name="sku",
        required=False,
        label="Product",
        widget=forms.TextInput(attrs={"list": "product-skus", "placeholder": "Product SKU"}),
        error_messages={"invalid_choice": "No product has the SKU %(value)s."},
    )
    cause_text = forms.CharField(
        required=False, max_length=2000, label="What happened", widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        if data.get("to") != policy.LOST:
            return data
        category = data.get("cause_category")
        if not category:
            self.add_error("cause_category", "Choose the cause: what made them leave?")
        elif category in PRODUCT_CAUSES and not data.get("cause_product") and "cause_product" not in self.errors:
            self.add_error("cause_product", "Name the product (its SKU) behind a new-product or product-change loss.")
        if category == FollowUp.Cause.OTHER and not data.get("cause_text", "").strip():
            self.add_error("cause_text", "Describe the cause in a few words when it is “other”.")
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        kwargs = {"to_status": data["to"], "version": data["version"], "note": data["note"]}
        if data["to"] == policy.LOST:
            kwargs |= {
                "cause_category": data["cause_category"],
                "cause_product": data["cause_product"],
                "cause_text": data["cause_text"],
            }
        return kwargs


class ClaimForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


def account_managers():
    return User.objects.filter(groups__name=ACCOUNT_MANAGER, is_active=True).order_by("username")


class ReassignForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    to_user = forms.ModelChoiceField(
        queryset=account_managers(), error_messages={"invalid_choice": "Choose an account manager from the list."}
    )


class FollowUpTriggerForm(forms.Form):
    """What opens a follow-up: the lapse rule, or the churn risk reaching each acting tier's threshold."""

    trigger = forms.ChoiceField(
        choices=[
            (policy.TRIGGER_LAPSE, "The lapse rule (a customer has lapsed)"),
            (policy.TRIGGER_RISK, "Churn risk at or above the tier's threshold"),
        ],
        widget=forms.RadioSelect,
        label="Open a follow-up on",
    )

    def __init__(self, *args, tiers: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.tiers = tiers
        for tier in tiers:
            self.fields[f"threshold_{tier}"] = forms.FloatField(
                min_value=0.01,
                max_value=0.99,
                required=False,
                label=f"Tier {tier} risk threshold",
                widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
            )

    def clean(self):
        data = super().clean()
        if data.get("trigger") == policy.TRIGGER_RISK:
            for tier in self.tiers:
                name = f"threshold_{tier}"
                if data.get(name) is None and name not in self.errors:
                    self.add_error(name, f"Follow-ups on churn risk need a threshold for tier {tier} (0.01 to 0.99).")
        return data

    def thresholds(self) -> dict[int, float | None]:
        return {tier: self.cleaned_data[f"threshold_{tier}"] for tier in self.tiers}
