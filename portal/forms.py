"""Portal forms: they parse input; services decide (docs/architecture.md)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from oms.lib.signin import LockoutAwareLoginMixin
from orders.models import OrderLine

QTY_FIELD = {"max_digits": 14, "decimal_places": 3, "min_value": Decimal("0")}
TOO_MANY_REQUESTS = _("Too many requests from your address. Try again in an hour.")


class PortalLoginForm(LockoutAwareLoginMixin, AuthenticationForm):
    """Django's sign-in by email; wrong passwords are counted per account and per IP (oms.lib.signin)."""

    username = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {**AuthenticationForm.error_messages, "invalid_login": _("Wrong email or password.")}

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()


class PortalPasswordResetForm(PasswordResetForm):
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class SignupRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Colleague's email"), max_length=254)


class SignupCompleteForm(forms.Form):
    first_name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1:
            from django.contrib.auth.models import User

            try:
                password_validation.validate_password(p1, User(username=self.email, email=self.email))
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class SiteForm(forms.Form):
    name = forms.CharField(label=_("Site name"), max_length=200)
    address = forms.CharField(label=_("Address"), max_length=200)
    address2 = forms.CharField(label=_("Address line 2"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=20, required=False)
    country = forms.CharField(label=_("Country code"), max_length=2, min_length=2, initial="BG")
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)
    contact_name = forms.CharField(label=_("Contact name"), max_length=200, required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=30, required=False)
    access_notes = forms.CharField(
        label=_("Access notes"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self):
        cleaned = super().clean()
        if (cleaned.get("lat") is None) != (cleaned.get("lon") is None):
            raise ValidationError(_("Give both latitude and longitude, or neither."))
        return cleaned


class LineForm(forms.Form):
    product = forms.ModelChoiceField(
        label=_("Product"),
        queryset=Product.objects.none(),
        to_field_name="sku",
        required=False,
        empty_label="—",
    )
    quantity = forms.DecimalField(label=_("Quantity"), required=False, **QTY_FIELD)

    def __init__(self, *args, products=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products if products is not None else Product.objects.none()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("product") and not cleaned.get("quantity"):
            self.add_error("quantity", _("Enter a quantity above 0."))
        if cleaned.get("quantity") and not cleaned.get("product"):
            self.add_error("product", _("Choose a product."))
        return cleaned


class BaseLineFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        if not any(form.cleaned_data.get("product") for form in self.forms):
            raise ValidationError(_("Order at least one product."))


LineFormSet = forms.formset_factory(LineForm, formset=BaseLineFormSet, extra=3, max_num=20, validate_max=True)


class PlaceOrderForm(forms.Form):
    NEW_SITE = "new"

    form_token = forms.CharField(widget=forms.HiddenInput, max_length=255)
    site = forms.ChoiceField(label=_("Delivery site"))
    new_site_name = forms.CharField(label=_("New site name"), max_length=200, required=False)
    new_site_address = forms.CharField(label=_("New site address"), max_length=200, required=False)
    new_site_city = forms.CharField(label=_("New site city"), max_length=100, required=False)
    new_site_postcode = forms.CharField(label=_("New site postcode"), max_length=20, required=False)
    requested_date = forms.DateField(
        label=_("Requested date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    window_from = forms.TimeField(
        label=_("Window from"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    window_to = forms.TimeField(
        label=_("Window to"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    on_call = forms.BooleanField(
        label=_("On call: I release the loads myself when the site is ready"), required=False
    )
    notes = forms.CharField(
        label=_("Notes"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [(str(s.public_id), str(s)) for s in sites] + [
            (self.NEW_SITE, _("A new site…"))
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("site") == self.NEW_SITE:
            for field in ("new_site_name", "new_site_address"):
                if not cleaned.get(field):
                    self.add_error(field, _("Required for a new site."))
        start, end = cleaned.get("window_from"), cleaned.get("window_to")
        if start and end and end <= start:
            self.add_error("window_to", _("The window must end after it starts."))
        when = cleaned.get("requested_date")
        if when and when < timezone.localdate():
            self.add_error("requested_date", _("The requested date cannot be in the past."))
        return cleaned


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


def _line_label(line: OrderLine) -> str:
    return f"{line.position}. {line.description} ({line.unit})"


class QuantitiesForm(forms.Form):
    """One quantity field per order line, limited to `maximum(line)`; a blank or 0 skips the line."""

    def __init__(self, *args, lines: list[OrderLine], maximum, initial_max: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = []
        for line in lines:
            top = maximum(line)
            if top <= 0:
                continue
            name = f"line_{line.position}"
            self.fields[name] = forms.DecimalField(
                label=_line_label(line),
                required=False,
                max_value=top,
                initial=top if initial_max else None,
                help_text=_("at most %(max)s") % {"max": f"{top:.3f}"},
                **QTY_FIELD,
            )
            self.lines.append((line, name))
        self.order_fields([name for _line, name in self.lines])

    def quantities(self) -> dict[int, Decimal]:
        return {
            line.position: self.cleaned_data[name] for line, name in self.lines if self.cleaned_data.get(name)
        }

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.quantities():
            raise ValidationError(_("Enter a quantity for at least one line."))
        return cleaned


class CallOffForm(QuantitiesForm):
    wanted_at = forms.DateTimeField(
        label=_("Wanted at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    note = forms.CharField(label=_("Note for dispatch"), max_length=200, required=False)


class ReturnForm(QuantitiesForm):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class MessageForm(forms.Form):
    body = forms.CharField(label=_("Message"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class CallbackForm(forms.Form):
    phone = forms.CharField(label=_("Phone number"), max_length=30)
    reason = forms.CharField(label=_("What is it about?"), max_length=200)


class PacingForm(forms.Form):
    """Pause, resume or space out the remaining loads of a delivery order (pour pacing)."""

    action = forms.ChoiceField(
        choices=[("pause", _("Pause the remaining loads")), ("resume", _("Resume")), ("spacing", _("Space"))],
        widget=forms.HiddenInput,
    )
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)
    spacing_minutes = forms.IntegerField(
        label=_("Minutes between loads"), min_value=0, max_value=600, required=False
    )
