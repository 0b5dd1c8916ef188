"""Master data from the ERP: plants, trucks, drivers, products, customers, stock levels.

Upserts keyed by the ERP's code; fields absent from `data` keep their value; `active=false`
deactivates (nothing is deleted). The ERP that last sent a plant owns it (`Plant.erp_system`).
The handlers read the message and call the catalog, fleet and customers services.
"""

from __future__ import annotations

from catalog import services as catalog_services
from catalog.models import Plant, Product
from customers.models import Customer
from customers.services import customer_upsert_from_erp
from erp_sync.handlers.base import Context, HandlerError, decimal, ref_link, ref_target
from fleet import services as fleet_services
from fleet.models import Driver, Truck

UNKNOWN_PLANT = "Unknown plant {code!r}."
UNKNOWN_PRODUCT = "Unknown product {sku!r}."


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
    if "timezone" in fields and not fields["timezone"]:
        fields.pop("timezone")
    plant = catalog_services.plant_upsert(code=data["code"], erp_system=ctx.system, **fields)
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
    truck = fleet_services.truck_upsert(code=data["code"], plant=plant_by_code(data["plant"]), **fields)
    ref_link(ctx, "truck", data["code"], truck)
    return truck


def driver_upsert(ctx: Context) -> Driver:
    data = ctx.data
    fields = _present(data, "name", "phone", "active")
    if "plant" in data:
        fields["plant"] = plant_by_code(data["plant"]) if data["plant"] else None
    driver = fleet_services.driver_upsert(code=data["code"], **fields)
    ref_link(ctx, "driver", data["code"], driver)
    return driver


def product_upsert(ctx: Context) -> Product:
    data = ctx.data
    fields = _present(data, "name", "unit", "stocked", "active")
    fields["unit_price"] = decimal(data["unit_price"], "unit_price")
    if "vat_rate" in data:
        fields["vat_rate"] = decimal(data["vat_rate"], "vat_rate")
    product = catalog_services.product_upsert(sku=data["sku"], **fields)
    ref_link(ctx, "product", data["sku"], product)
    return product


def customer_upsert(ctx: Context) -> Customer:
    """The ERP's customer number is an external reference; the OMS keeps its own `C-…` number."""
    data = ctx.data
    customer = customer_upsert_from_erp(
        erp_number=data["number"],
        linked=ref_target(ctx.system, "customer", data["number"], Customer),
        name=data["name"],
        actor=ctx.actor,
        **_present(data, "email", "phone", "vat_id", "kind", "active"),
    )
    ref_link(ctx, "customer", data["number"], customer)
    return customer


def stock_level(ctx: Context) -> None:
    """Absolute on-hand quantity; allocation stays the OMS's (through the orders stock service)."""
    data = ctx.data
    plant = plant_by_code(data["plant"])
    product = Product.objects.filter(sku=data["sku"]).first()
    if product is None:
        raise HandlerError(UNKNOWN_PRODUCT.format(sku=data["sku"]))
    catalog_services.stock_set_level(
        plant=plant, product=product, on_hand=decimal(data["on_hand"], "on_hand"), actor=ctx.actor
    )
