"""Forms of the console. They parse input only; the views hand the cleaned data to the services."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.utils.translation import gettext_lazy as _

from catalog.models import Plant, Product
from customers.models import Customer
from fleet.models import Driver, Truck
from oms.lib.signin import LockoutAwareLoginMixin
from orders.models import Channel, ErpSyncState, Fulfilment, OrderStatus

REASON = forms.CharField(label=_("Reason"), max_length=200, widget=forms.TextInput(attrs={"size": 40}))
QTY = {"max_digits": 14, "decimal_places": 3, "min_value": Decimal("0")}


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class ConfirmForm(forms.Form):
    erp_order_number = forms.CharField(label=_("ERP order number"), max_length=100, required=False)


class ReturnedQuantitiesForm(forms.Form):
    """A reason plus one optional quantity per order line (`returned_<position>`)."""

    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args, lines=(), quantity_label=None, **kwargs):
        super().__init__(*args, **kwargs)
        quantity_label = quantity_label or _("Returned")
        self.positions = []
        for line in lines:
            name = f"qty_{line.position}"
            self.fields[name] = forms.DecimalField(
                label=f"{quantity_label} #{line.position} {line.sku}", required=False, **QTY
            )
            self.positions.append(line.position)

    def quantities(self) -> dict[int, Decimal]:
        return {
            p: self.cleaned_data[f"qty_{p}"]
            for p in self.positions
            if self.cleaned_data.get(f"qty_{p}") not in (None, Decimal("0"))
        }


class CorrectLineForm(forms.Form):
    position = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    field = forms.ChoiceField(
        label=_("Field"), choices=[("quantity", _("Quantity")), ("unit_price", _("Unit price"))]
    )
    new = forms.DecimalField(label=_("New value"), max_digits=14, decimal_places=3, min_value=Decimal("0"))
    reason = forms.CharField(label=_("Reason"), max_length=200)


class ReturnDecisionForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class MessageForm(forms.Form):
    TO_CUSTOMER, TO_DRIVER = "customer", "driver"
    to = forms.ChoiceField(label=_("To"), choices=[(TO_CUSTOMER, _("Customer")), (TO_DRIVER, _("Driver"))])
    job = forms.IntegerField(required=False, widget=forms.HiddenInput)
    body = forms.CharField(label=_("Message"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class PortalInviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"))


class OutcomeForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), max_length=200)


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Reply"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class MergeForm(forms.Form):
    survivor = forms.ModelChoiceField(
        queryset=Customer.objects.none(), widget=forms.RadioSelect, label=_("Keep")
    )

    def __init__(self, *args, customers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["survivor"].queryset = customers if customers is not None else Customer.objects.none()


# ---------------------------------------------------------------------------------------------
# Phone orders
# ---------------------------------------------------------------------------------------------


class PhoneOrderForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(merged_into__isnull=True), widget=forms.HiddenInput
    )
    fulfilment = forms.ChoiceField(
        label=_("Fulfilment"), choices=Fulfilment.choices, initial=Fulfilment.DELIVERY
    )
    site = forms.ChoiceField(label=_("Delivery site"), required=False)
    requested_date = forms.DateField(
        label=_("Requested date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    window_from = forms.TimeField(
        label=_("From"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    window_to = forms.TimeField(label=_("To"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    on_call = forms.BooleanField(label=_("On call (released by call-off)"), required=False)
    notes = forms.CharField(
        label=_("Notes"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, customer: Customer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("token", uuid.uuid4().hex)
        sites = customer.sites.filter(active=True).order_by("name") if customer else []
        self.fields["site"].choices = [("", "—")] + [
            (str(s.public_id), f"{s.name}, {s.address}") for s in sites
        ]

    def clean(self):
        data = super().clean()
        if data.get("fulfilment") == Fulfilment.DELIVERY and not data.get("site"):
            self.add_error("site", _("A delivery needs a site."))
        return data


class PhoneOrderLineForm(forms.Form):
    sku = forms.ChoiceField(label=_("Product"), required=False)
    quantity = forms.DecimalField(
        label=_("Quantity"), required=False, max_digits=14, decimal_places=3, min_value=Decimal("0.001")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sku"].choices = [("", "—")] + [
            (p.sku, f"{p.sku} {p.name} ({p.unit}, {p.unit_price})")
            for p in Product.objects.filter(active=True).order_by("sku")
        ]
        self.fields["sku"].widget.attrs.update({"class": "console-sku"})

    def clean(self):
        data = super().clean()
        if data.get("sku") and not data.get("quantity"):
            self.add_error("quantity", _("Enter a quantity."))
        if data.get("quantity") and not data.get("sku"):
            self.add_error("sku", _("Choose a product."))
        return data


PhoneOrderLineFormSet = forms.formset_factory(PhoneOrderLineForm, extra=4, max_num=100, validate_max=True)


# ---------------------------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------------------------


class BoardFilterForm(forms.Form):
    date = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    plant = forms.ModelChoiceField(
        label=_("Plant"), queryset=Plant.objects.filter(active=True), required=False
    )


class AssignJobForm(forms.Form):
    tour = forms.IntegerField(min_value=1)


class PlanTourForm(forms.Form):
    truck = forms.ModelChoiceField(
        label=_("Truck"), queryset=Truck.objects.filter(active=True).select_related("plant")
    )
    driver = forms.ModelChoiceField(label=_("Driver"), queryset=Driver.objects.filter(active=True))
    date = forms.DateField(widget=forms.HiddenInput)


# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------


class ExportForm(forms.Form):
    """The order changelist's filters as the export understands them."""

    status = forms.ChoiceField(choices=[("", "—"), *OrderStatus.choices], required=False)
    channel = forms.ChoiceField(choices=[("", "—"), *Channel.choices], required=False)
    plant = forms.IntegerField(required=False, min_value=1)
    erp_sync_state = forms.ChoiceField(choices=[("", "—"), *ErpSyncState.choices], required=False)
    fulfilment = forms.ChoiceField(choices=[("", "—"), *Fulfilment.choices], required=False)
    q = forms.CharField(max_length=100, required=False)
    created_from = forms.DateField(required=False)
    created_to = forms.DateField(required=False)

    # Admin changelist parameter → export filter.
    ADMIN_PARAMS = {
        "status__exact": "status",
        "channel__exact": "channel",
        "plant__id__exact": "plant",
        "erp_sync_state__exact": "erp_sync_state",
        "fulfilment__exact": "fulfilment",
        "q": "q",
    }

    @classmethod
    def from_query(cls, params) -> ExportForm:
        data = {}
        for key, value in params.items():
            name = cls.ADMIN_PARAMS.get(key, key)
            if name in cls.base_fields:
                data[name] = value
        return cls(data)

    def filters(self) -> dict:
        return {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in self.cleaned_data.items()
            if v not in (None, "")
        }


class QuantitiesForm(forms.Form):
    """One optional quantity per order line (`qty_<position>`), plus a free note."""

    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, positions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.positions = list(positions)
        for position in self.positions:
            self.fields[f"qty_{position}"] = forms.DecimalField(
                label=_("Quantity #%(position)s") % {"position": position}, required=False, **QTY
            )

    def quantities(self) -> dict[int, Decimal]:
        return {
            p: self.cleaned_data[f"qty_{p}"]
            for p in self.positions
            if self.cleaned_data.get(f"qty_{p}") is not None
        }


class PacingForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
    spacing_minutes = forms.IntegerField(
        label=_("Minutes between loads"), min_value=0, max_value=600, required=False
    )


class AmendForm(forms.Form):
    position = forms.IntegerField(label=_("Line"), min_value=1)
    delivered = forms.DecimalField(
        label=_("Delivered"), max_digits=14, decimal_places=3, min_value=Decimal("0")
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


class StaffLoginForm(LockoutAwareLoginMixin, AdminAuthenticationForm):
    """The admin site's sign-in; wrong passwords are counted per account and per IP (oms.lib.signin)."""


class AuthenticatorCodeForm(forms.Form):
    code = forms.RegexField(
        label=_("6-digit code from your authenticator app"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits your authenticator app shows.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9]{6}",
                "maxlength": 6,
                "autofocus": True,
            }
        ),
    )

    def clean_code(self):
        return self.cleaned_data["code"].strip()


class RecoveryCodeForm(forms.Form):
    recovery_code = forms.CharField(
        label=_("Recovery code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )
