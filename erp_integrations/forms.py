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

from erp_integrations.kinds import ERP_DESCRIPTION_LIMIT
from erp_integrations.models import (
    Commitment,
    CommitmentChangeOrder,
    CommitmentLineItem,
    SubcontractorInvoice,
    Vendor,
    company_erp_name,
)
from erp_integrations.sandbox.models import SandboxSwitch
from erp_integrations.services.records import ChangeLineData, LineItemData


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


class RecordForm(_ServiceValidatedModelForm):
    """A record's form in the project's Commitments tool, with its lines if it has any.

    Every kind's form is made the same way, ``Form(data, project=, parent=, record=)``
    (``record`` when editing), so the record views are written once; ``service_fields()``
    is what the kind's create or edit service takes.
    """

    #: The formset of the record's lines, or None.
    lines_class: type[forms.BaseFormSet] | None = None

    def __init__(self, data=None, *, project, parent=None, record=None):
        fields = self._meta.fields
        super().__init__(data, initial=forms.model_to_dict(record, fields=fields) if record else None)
        self.setup(project=project, parent=parent)
        self.lines = None
        if self.lines_class is not None:
            self.lines = self.lines_class(
                data,
                prefix="lines",
                initial=self.lines_initial(record) if record else None,
                form_kwargs=self.line_form_kwargs(parent=parent),
            )

    def setup(self, *, project, parent) -> None:
        """Choices that depend on where the record is (the company's vendors)."""

    def lines_initial(self, record) -> list[dict]:
        return []

    def line_form_kwargs(self, *, parent) -> dict:
        return {}

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return (self.lines is None or self.lines.is_valid()) and valid

    def service_fields(self) -> dict:
        """The cleaned fields as the service takes them: a related record by its id."""
        values = {}
        for name in self._meta.fields:
            value = self.cleaned_data.get(name)
            if self._meta.model._meta.get_field(name).is_relation:
                values[f"{name}_id"] = value.pk if value is not None else None
            else:
                values[name] = value
        if self.lines is not None:
            values["line_items"] = self.lines.line_items()
        return values

    def disable_all(self) -> None:
        super().disable_all()
        if self.lines is not None:
            for line in self.lines.forms:
                line.disable_all()


class _BaseLineFormSet(forms.BaseFormSet):
    #: What one line is for the service (``LineItemData``, ``ChangeLineData``).
    line_class: type
    line_fields: tuple[str, ...]

    def line_items(self) -> list:
        """The lines in the order the form shows them. A line the form showed (an
        initial form) keeps its position, as ``removed`` when the user removed it; a
        blank extra line is skipped."""
        items = []
        for index, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            shown = index < self.initial_form_count()
            removed = bool(data.get("DELETE")) or not data
            if removed and not shown:
                continue
            values = {name: data.get(name) for name in self.line_fields}
            items.append(self.line_class(**values, removed=removed))
        return items


class LineItemForm(_ServiceValidatedModelForm):
    class Meta:
        model = CommitmentLineItem
        fields = ["cost_code", "description", "amount"]
        widgets = {"amount": forms.NumberInput(attrs={"step": "0.01", "min": "0"})}


def line_formset(form: type[forms.BaseForm], line_class: type, line_fields: tuple[str, ...]):
    """The formset of a record's lines, each line read as ``line_class(**line_fields)``.
    Three blank lines are enough without script; "Save" gives three more."""
    formset = type(
        f"{form.__name__}Set", (_BaseLineFormSet,), {"line_class": line_class, "line_fields": line_fields}
    )
    return forms.formset_factory(
        form, formset=formset, extra=3, can_delete=True, max_num=200, validate_max=True
    )


LineItemFormSet = line_formset(LineItemForm, LineItemData, ("cost_code", "description", "amount"))


class CommitmentForm(RecordForm):
    lines_class = LineItemFormSet

    class Meta:
        model = Commitment
        fields = ["kind", "number", "title", "vendor", "status"]

    def setup(self, *, project, parent) -> None:
        # Only the company's directory; those not in the ERP yet say so, since a
        # commitment is not exported before its vendor is linked.
        erp_name = company_erp_name(project.company)
        field = self.fields["vendor"]
        field.queryset = Vendor.objects.filter(company_id=project.company_id).order_by("name")
        field.empty_label = "Choose a vendor"
        field.label_from_instance = lambda vendor: (
            vendor.name if vendor.erp_vendor_id else f"{vendor.name} (not in {erp_name} yet)"
        )
        field.help_text = (
            f"Companies of the directory. One not in {erp_name} yet can be chosen, but the commitment "
            "is exported only once it is linked on the ERP Integrations tool's Companies tab."
        )

    def lines_initial(self, commitment) -> list[dict]:
        return [
            {"cost_code": item.cost_code, "description": item.description, "amount": item.amount}
            for item in commitment.line_items.all()
        ]


class SubcontractorInvoiceForm(RecordForm):
    class Meta:
        model = SubcontractorInvoice
        fields = ["number", "billing_period_start", "billing_period_end", "amount", "retainage", "status"]
        widgets = {
            "billing_period_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "billing_period_end": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "amount": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
            "retainage": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
        }


class ChangeOrderLineForm(forms.Form):
    """How much one line of the commitment changes; negative for a deductive change."""

    commitment_line_id = forms.TypedChoiceField(label="Commitment line", coerce=int, empty_value=None)
    description = forms.CharField(max_length=255, required=False)
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, widget=forms.NumberInput(attrs={"step": "0.01"})
    )

    def __init__(self, *args, commitment_lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        # The commitment's lines, loaded once for the whole formset.
        self.fields["commitment_line_id"].choices = [("", "Choose a line")] + [
            (line.pk, f"{line.cost_code} {line.description}".strip()) for line in commitment_lines
        ]

    def disable_all(self) -> None:
        for field in self.fields.values():
            field.disabled = True


ChangeOrderLineFormSet = line_formset(
    ChangeOrderLineForm, ChangeLineData, ("commitment_line_id", "description", "amount")
)


class ChangeOrderForm(RecordForm):
    lines_class = ChangeOrderLineFormSet

    class Meta:
        model = CommitmentChangeOrder
        fields = ["number", "title", "description", "status"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "description": f"The ERP keeps the first {ERP_DESCRIPTION_LIMIT:,} characters; "
            "the platform keeps it whole.",
        }

    def lines_initial(self, change_order) -> list[dict]:
        return [
            {
                "commitment_line_id": item.commitment_line_id,
                "description": item.description,
                "amount": item.amount,
            }
            for item in change_order.line_items.all()
        ]

    def line_form_kwargs(self, *, parent) -> dict:
        return {"commitment_lines": list(parent.line_items.all()) if parent is not None else []}


class SandboxModeForm(forms.Form):
    mode = forms.ChoiceField(choices=SandboxSwitch.Mode.choices)
    latency_ms = forms.IntegerField(
        label="Latency (ms)", min_value=0, max_value=600_000, required=False, initial=0
    )

    def clean_latency_ms(self) -> int:
        return self.cleaned_data.get("latency_ms") or 0
