"""Plants, products and stock per plant: the master data every other domain app points at."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 14, "decimal_places": 2}
QTY = {"max_digits": 14, "decimal_places": 3}
ZERO_QTY = Decimal("0.000")


class Plant(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=200, blank=True, default="")
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    timezone = models.CharField(_("time zone"), max_length=50, default="Europe/Sofia")
    active = models.BooleanField(_("active"), default=True)
    # Average road speed learned from delivered jobs, used by the ETA model (km/h).
    avg_speed_kmh = models.DecimalField(max_digits=5, decimal_places=1, default=Decimal("40.0"))
    erp_system = models.ForeignKey(
        "oms.ErpSystem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="plants",
        help_text="The ERP that last sent this plant as master data; it receives the plant's orders.",
    )

    class Meta:
        verbose_name = _("plant")
        verbose_name_plural = _("plants")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Unit(models.TextChoices):
    M3 = "m3", "m³"
    T = "t", "t"
    PCS = "pcs", _("pcs")
    BAG = "bag", _("bag")
    PALLET = "pallet", _("pallet")
    KG = "kg", "kg"
    L = "l", "l"


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices)
    unit_price = models.DecimalField(_("unit price"), **MONEY, validators=[MinValueValidator(Decimal("0"))])
    vat_rate = models.DecimalField(_("VAT rate %"), max_digits=5, decimal_places=2, default=Decimal("20.00"))
    stocked = models.BooleanField(
        _("stocked"), default=True, help_text=_("Stock is checked; else made to order.")
    )
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="product_price_non_negative"),
            models.CheckConstraint(
                condition=models.Q(vat_rate__gte=0) & models.Q(vat_rate__lte=100), name="product_vat_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class StockLevel(models.Model):
    """Stock of one product at one plant. Available = on_hand − allocated; never negative."""

    plant = models.ForeignKey("catalog.Plant", on_delete=models.CASCADE, related_name="stock_levels")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="stock_levels")
    on_hand = models.DecimalField(_("on hand"), **QTY, default=ZERO_QTY)
    allocated = models.DecimalField(_("allocated"), **QTY, default=ZERO_QTY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["plant", "product"], name="stock_plant_product_unique"),
            models.CheckConstraint(
                condition=models.Q(allocated__gte=0) & models.Q(allocated__lte=models.F("on_hand")),
                name="stock_allocated_within_on_hand",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.plant_id}: {self.on_hand - self.allocated}"

    @property
    def available(self) -> Decimal:
        return max(self.on_hand - self.allocated, ZERO_QTY)
