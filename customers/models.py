"""Customers and their delivery sites: one customer whatever the channel it orders through."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField


class Customer(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        COMPANY = "company", _("Company")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("number"), max_length=20, unique=True, help_text="OMS customer number, C-…")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), max_length=254, blank=True, default="")
    phone = PhoneNumberField(_("phone"), blank=True, default="")
    vat_id = models.CharField(_("VAT id"), max_length=30, blank=True, default="")
    language = models.CharField(_("language"), max_length=5, choices=settings.LANGUAGES, default="en")
    credit_hold = models.BooleanField(_("credit hold"), default=False)
    active = models.BooleanField(_("active"), default=True)
    # A duplicate merged into another customer points at the survivor and is inactive.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    default_plant = models.ForeignKey(
        "catalog.Plant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="PortalAccess", related_name="customers", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="customer_email_ci_unique"
            ),
            models.UniqueConstraint(
                fields=["phone"], condition=~models.Q(phone=""), name="customer_phone_unique"
            ),
        ]
        indexes = [models.Index(fields=["name"], name="customer_name_idx")]
        permissions = [
            ("export_personal_data", "Can export everything held about a customer"),
            ("erase_personal_data", "Can erase a customer's personal data"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class PortalAccess(models.Model):
    """A portal login that acts for a customer (a company may have several)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_access")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_access")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "user"], name="portal_access_unique")]

    def __str__(self) -> str:
        return f"{self.user} → {self.customer}"


class Site(models.Model):
    """A delivery address or job site of a customer."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=200)
    address2 = models.CharField(_("address line 2"), max_length=200, blank=True, default="")
    city = models.CharField(_("city"), max_length=100, blank=True, default="")
    postcode = models.CharField(_("postcode"), max_length=20, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, default="BG")
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True, default="")
    contact_phone = PhoneNumberField(_("contact phone"), blank=True, default="")
    access_notes = models.TextField(_("access notes"), max_length=2000, blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(lat__isnull=True) | (models.Q(lat__gte=-90) & models.Q(lat__lte=90)),
                name="site_lat_range",
            ),
            models.CheckConstraint(
                condition=models.Q(lon__isnull=True) | (models.Q(lon__gte=-180) & models.Q(lon__lte=180)),
                name="site_lon_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.address}"

    def snapshot(self) -> dict:
        return {
            "name": self.name,
            "address": self.address,
            "address2": self.address2,
            "city": self.city,
            "postcode": self.postcode,
            "country": self.country,
            "lat": self.lat,
            "lon": self.lon,
        }


class CustomerEvent(models.Model):
    """Audit of customer-level changes (merge, credit hold…)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    type = models.CharField(max_length=60)
    actor = models.CharField(max_length=200, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.type} @ {self.at:%Y-%m-%d %H:%M}"


class CustomerErasure(models.Model):
    """The record that a customer's personal data was erased: who, when, which customer (by number
    and id only) and how many rows and files were touched. It holds no personal data itself, so it
    stays as the proof that the request was carried out (docs/privacy.md)."""

    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="erasure")
    customer_number = models.CharField(max_length=20)
    customer_public_id = models.UUIDField()
    requested_by = models.CharField(max_length=200, help_text="The staff user who ran the erasure.")
    forced = models.BooleanField(default=False, help_text="Erased while orders were still in progress.")
    counts = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("customer erasure")
        verbose_name_plural = _("customer erasures")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.customer_number} erased {self.at:%Y-%m-%d %H:%M}"
