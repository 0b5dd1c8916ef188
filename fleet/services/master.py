"""Trucks and drivers as master data (sent by the ERP).

Signatures (keyword-only; one transaction each; a field left out keeps its value):

- `truck_upsert(*, code, plant, plate, capacity, unit, active) -> Truck` — create or change the
  truck `code`.
- `driver_upsert(*, code, name, phone, plant, active) -> Driver` — create or change the driver
  `code`; the phone is stored as E.164 ("" for none).

Nothing is deleted: `active=False` takes a truck or driver out of planning.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from catalog.models import Plant
from customers.services import normalize_phone
from fleet.models import Driver, Truck
from oms.lib.unset import UNSET, given


@transaction.atomic
def truck_upsert(
    *,
    code: str,
    plant: Plant,
    plate: str = UNSET,
    capacity: Decimal = UNSET,
    unit: str = UNSET,
    active: bool = UNSET,
) -> Truck:
    fields = given(plate=plate, capacity=capacity, unit=unit, active=active)
    truck, _ = Truck.objects.update_or_create(code=code, defaults={**fields, "plant": plant})
    return truck


@transaction.atomic
def driver_upsert(
    *,
    code: str,
    name: str = UNSET,
    phone: str = UNSET,
    plant: Plant | None = UNSET,
    active: bool = UNSET,
) -> Driver:
    fields = given(name=name, plant=plant, active=active)
    if phone is not UNSET:
        fields["phone"] = normalize_phone(phone)
    driver, _ = Driver.objects.update_or_create(code=code, defaults=fields)
    return driver
