"""Master data from the ERP: plants, trucks, drivers, products, customers, stock levels.

Upserts keyed by the ERP's code; fields absent from `data` keep their value; `active=false`
deactivates (nothing is deleted). The ERP that last sent a plant owns it (`Plant.erp_system`).
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from catalog.models import Plant, Product
from customers.models import Customer
from customers.services import CustomerData, customer_create, customer_match, normalize_email, normalize_phone
from erp_sync.handlers.base import Context, HandlerError, decimal, ref_link, ref_target
from fleet.models import Driver, Truck

UNKNOWN_PLANT = "Unknown plant {code!r}."
UNKNOWN_PRODUCT = "Unknown product {sku!r}."
UNKNOWN_TIMEZONE = "Unknown time zone {tz!r}."
EMAIL_TAKEN = "Email {email!r} belongs to another customer ({number})."
PHONE_TAKEN = "Phone {phone!r} belongs to another customer ({number})."


def _present(data: dict, *fields: str) -> dict:
    """The fields the message carries (explicit nulls become empty strings for text fields)."""
    return {f: data[f] for f in fields if f in data}


def plant_by_code(code: str) -> Plant:
    plant = Plant.objects.filter(code=code).first()
    if plant is None:
        raise HandlerError(UNKNOWN_PLANT.format(code=code))
    return plant


def plant_upsert(ctx: Context) -> Plant:
    data = ctx.data
    fields = _present(data, "name", "address", "lat", "lon", "timezone", "active")
    if fields.get("address") is None and "address" in fields:
        fields["address"] = ""
    if "timezone" in fields:
        if not fields["timezone"]:
            fields.pop("timezone")
        elif fields["timezone"] not in zoneinfo.available_timezones():
            raise HandlerError(UNKNOWN_TIMEZONE.format(tz=fields["timezone"]))
    plant, _ = Plant.objects.update_or_create(
        code=data["code"], defaults={**fields, "erp_system": ctx.system}
    )
    ref_link(ctx, "plant", data["code"], plant)
    return plant


def truck_upsert(ctx: Context) -> Truck:
    data = ctx.data
    fields = _present(data, "plate", "unit", "active")
    if "plate" in fields and fields["plate"] is None:
        fields["plate"] = ""
    if "unit" in fields and not fields["unit"]:
        fields.pop("unit")
    if data.get("capacity") is not None:
        fields["capacity"] = decimal(data["capacity"], "capacity")
    fields["plant"] = plant_by_code(data["plant"])
    truck, _ = Truck.objects.update_or_create(code=data["code"], defaults=fields)
    ref_link(ctx, "truck", data["code"], truck)
    return truck


def driver_upsert(ctx: Context) -> Driver:
    data = ctx.data
    fields = _present(data, "name", "active")
    if "phone" in data:
        fields["phone"] = normalize_phone(data["phone"]) if data["phone"] else ""
    if "plant" in data:
        fields["plant"] = plant_by_code(data["plant"]) if data["plant"] else None
    driver, _ = Driver.objects.update_or_create(code=data["code"], defaults=fields)
    ref_link(ctx, "driver", data["code"], driver)
    return driver


def product_upsert(ctx: Context) -> Product:
    data = ctx.data
    fields = _present(data, "name", "unit", "stocked", "active")
    fields["unit_price"] = decimal(data["unit_price"], "unit_price")
    if "vat_rate" in data:
        fields["vat_rate"] = decimal(data["vat_rate"], "vat_rate")
        if not Decimal(0) <= fields["vat_rate"] <= Decimal(100):
            raise HandlerError("vat_rate must be between 0 and 100.")
    product, _ = Product.objects.update_or_create(sku=data["sku"], defaults=fields)
    ref_link(ctx, "product", data["sku"], product)
    return product


def customer_upsert(ctx: Context) -> Customer:
    """The ERP's customer number is an external reference; the OMS keeps its own `C-…` number.

    Linked by the reference, else matched by email/phone (one customer whatever the channel),
    else created.
    """
    data = ctx.data
    email = normalize_email(data.get("email"))
    phone = normalize_phone(data.get("phone")) if data.get("phone") else ""
    customer = ref_target(ctx.system, "customer", data["number"], Customer)
    if customer is not None and customer.merged_into_id:
        customer = Customer.objects.get(pk=customer.merged_into_id)
    if customer is None:
        customer = customer_match(email=email, phone=phone)
    if customer is None:
        customer = customer_create(
            data=CustomerData(
                name=data["name"],
                email=email,
                phone=phone,
                kind=data.get("kind") or Customer.Kind.COMPANY,
                vat_id=data.get("vat_id") or "",
            ),
            actor=ctx.actor,
        )
    else:
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        customer.name = data["name"]
        if "email" in data:
            other = (
                Customer.objects.filter(email__iexact=email).exclude(pk=customer.pk).first()
                if email
                else None
            )
            if other is not None:
                raise HandlerError(EMAIL_TAKEN.format(email=email, number=other.number))
            customer.email = email
        if "phone" in data:
            other = Customer.objects.filter(phone=phone).exclude(pk=customer.pk).first() if phone else None
            if other is not None:
                raise HandlerError(PHONE_TAKEN.format(phone=phone, number=other.number))
            customer.phone = phone
        if "vat_id" in data:
            customer.vat_id = data["vat_id"] or ""
        if data.get("kind"):
            customer.kind = data["kind"]
    if "active" in data:
        customer.active = data["active"]
    customer.save()
    ref_link(ctx, "customer", data["number"], customer)
    return customer


def stock_level(ctx: Context) -> None:
    """Absolute on-hand quantity; allocation stays the OMS's (through the orders stock service)."""
    from catalog.services import stock_set_level

    data = ctx.data
    plant = plant_by_code(data["plant"])
    product = Product.objects.filter(sku=data["sku"]).first()
    if product is None:
        raise HandlerError(UNKNOWN_PRODUCT.format(sku=data["sku"]))
    stock_set_level(
        plant=plant, product=product, on_hand=decimal(data["on_hand"], "on_hand"), actor=ctx.actor
    )
