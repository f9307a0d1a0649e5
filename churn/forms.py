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
    dismiss_reason = forms.ChoiceField(
        choices=[("", "— reason —"), *FollowUp.DismissReason.choices], required=False, label="Reason"
    )
    dismiss_text = forms.CharField(required=False, max_length=2000, label="Details")

    def clean(self):
        data = super().clean()
        if data.get("to") == policy.DISMISSED:
            clean_dismiss_reason(self, data)
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
        if data["to"] == policy.DISMISSED:
            kwargs |= {"dismiss_reason": data["dismiss_reason"], "dismiss_text": data["dismiss_text"]}
        return kwargs


def clean_dismiss_reason(form, data: dict) -> None:
    """Dismissing needs a reason; "other" needs a few words."""
    reason = data.get("dismiss_reason")
    if not reason:
        form.add_error("dismiss_reason", "Choose why this item is dismissed.")
    elif reason == FollowUp.DismissReason.OTHER and not data.get("dismiss_text", "").strip():
        form.add_error("dismiss_text", "Say in a few words why, when the reason is “other”.")


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


BULK_MAX = 100  # the largest page of a queue


class BulkForm(forms.Form):
    """One action on the items ticked on a queue page: claim, assign to an account manager, or close
    (dismiss with a reason, or won back). Each item comes with the version it was shown at."""

    CLAIM, ASSIGN, CLOSE = "claim", "assign", "close"
    action = forms.ChoiceField(choices=[(CLAIM, "Claim"), (ASSIGN, "Assign"), (CLOSE, "Close")])
    to_user = forms.ModelChoiceField(
        queryset=account_managers(),
        required=False,
        label="Assign to",
        error_messages={"invalid_choice": "Choose an account manager from the list."},
    )
    close_to = forms.ChoiceField(
        choices=[("", "— close as —"), (policy.DISMISSED, "dismissed"), (policy.WON_BACK, "won back")],
        required=False,
        label="Close as",
    )
    dismiss_reason = forms.ChoiceField(
        choices=[("", "— reason —"), *FollowUp.DismissReason.choices], required=False, label="Reason"
    )
    dismiss_text = forms.CharField(required=False, max_length=2000, label="Details")

    def __init__(self, data, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.raw_items = data.getlist("item") if data is not None else []

    def clean(self):
        data = super().clean()
        data["items"] = self._items()
        action = data.get("action")
        if action == self.ASSIGN and not data.get("to_user") and "to_user" not in self.errors:
            self.add_error("to_user", "Choose whom to assign the items to.")
        if action == self.CLOSE:
            if not data.get("close_to"):
                self.add_error("close_to", "Choose how to close them: dismissed or won back.")
            elif data["close_to"] == policy.DISMISSED:
                clean_dismiss_reason(self, data)
        return data

    def _items(self) -> dict[int, int]:
        """{item id: version shown}; an error when none is ticked, too many are, or one is malformed."""
        items = {}
        for raw in self.raw_items:
            version = self.data.get(f"version_{raw}", "")
            if not (raw.isdigit() and version.isdigit()) or len(raw) > 12 or len(version) > 9:
                raise forms.ValidationError("The list of items was malformed: reload the page and try again.")
            items[int(raw)] = int(version)
        if not items:
            raise forms.ValidationError("Tick at least one item first.")
        if len(items) > BULK_MAX:
            raise forms.ValidationError(f"At most {BULK_MAX} items at once.")
        return items
