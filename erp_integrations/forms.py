"""Forms of the project's Commitments tool and of the sandbox ERP console.

The forms parse and type what the user typed; the rules (unique numbers, amounts,
billing periods, locks) belong to ``erp_integrations.services.records``, whose
``ValidationError`` the views put back on these forms with ``apply_errors``. So the
model-level uniqueness and constraint checks a ModelForm would run are switched
off here: they would say the same things in the database's words, not ours.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from erp_integrations.models import Commitment, CommitmentLineItem, SubcontractorInvoice, Vendor
from erp_integrations.sandbox.models import SandboxSwitch
from erp_integrations.services.records import LineItemData


class _ServiceValidatedModelForm(forms.ModelForm):
    def validate_unique(self) -> None:
        """The service checks uniqueness and says which number is taken."""

    def validate_constraints(self) -> None:
        """The service checks the model's constraints with the product's messages."""

    def disable_all(self) -> None:
        """Show the values read-only (a locked record); submitted values are ignored."""
        for field in self.fields.values():
            field.disabled = True


def apply_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError on the form, field by field where it can."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)


class CommitmentForm(_ServiceValidatedModelForm):
    class Meta:
        model = Commitment
        fields = ["kind", "number", "title", "vendor", "status"]

    def __init__(self, *args, company_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vendor"].queryset = Vendor.objects.filter(company_id=company_id).order_by("name")
        self.fields["vendor"].empty_label = "Choose a vendor"


class LineItemForm(_ServiceValidatedModelForm):
    class Meta:
        model = CommitmentLineItem
        fields = ["cost_code", "description", "amount"]
        widgets = {"amount": forms.NumberInput(attrs={"step": "0.01", "min": "0"})}


class _BaseLineItemFormSet(forms.BaseFormSet):
    def line_items(self) -> list[LineItemData]:
        """The lines the user kept (filled in and not marked for deletion)."""
        items = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            items.append(
                LineItemData(
                    cost_code=data.get("cost_code", ""),
                    description=data.get("description", ""),
                    amount=data.get("amount"),
                )
            )
        return items

    def disable_all(self) -> None:
        for form in self.forms:
            form.disable_all()


# A plain formset of model forms: the service replaces the whole set of line items,
# so there are no row ids to round-trip. Three blank lines are enough without script.
LineItemFormSet = forms.formset_factory(
    LineItemForm, formset=_BaseLineItemFormSet, extra=3, can_delete=True, max_num=200, validate_max=True
)


def line_item_initial(commitment: Commitment) -> list[dict]:
    return [
        {"cost_code": item.cost_code, "description": item.description, "amount": item.amount}
        for item in commitment.line_items.all()
    ]


class SubcontractorInvoiceForm(_ServiceValidatedModelForm):
    class Meta:
        model = SubcontractorInvoice
        fields = ["number", "billing_period_start", "billing_period_end", "amount", "retainage", "status"]
        widgets = {
            "billing_period_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "billing_period_end": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "amount": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
            "retainage": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
        }


class SandboxModeForm(forms.Form):
    mode = forms.ChoiceField(choices=SandboxSwitch.Mode.choices)
    latency_ms = forms.IntegerField(
        label="Latency (ms)", min_value=0, max_value=600_000, required=False, initial=0
    )

    def clean_latency_ms(self) -> int:
        return self.cleaned_data.get("latency_ms") or 0
