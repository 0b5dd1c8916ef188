"""A fake ERP inside the OMS, for demos: accepts everything, acknowledges orders a few seconds later,
and on every pull moves some stock levels and plans the deliveries of the orders it acknowledged.

Its inbound messages go through the inbox like any ERP's: scheduled ones (the delayed
acknowledgements) are inbox rows whose `received_at` lies in the future; the apply sweep picks them
up when it has passed. Pulled messages are stored by the puller and applied at once.

Order state (the reconciliation's question, docs/erp-integration.md): the simulator keeps no books of
its own, so it answers from the OMS's view: it knows every order whose `order.created` it accepted
(that outbox row to it is `sent`) and believes what the OMS says about it now; any other number is
unknown. Compared with the OMS it therefore never drifts.

Delivery planning (on pull): every confirmed, not on-call delivery order that this ERP acknowledged
and that has no job yet gets one `task.delivery` per truck load (ticket `SIM-<order>-<n>`), up to
`ORDERS_PLANNED_PER_PULL` orders per pull. Loads hold at most the capacity of the chosen truck (else
of the plant's first active truck, else 8 units). The truck and driver are a pair of the order's
plant that is free on the day of `planned_at`: a pair already on a not yet started tour together
(and on no other open tour), else a truck and a driver on no open tour; with neither the jobs wait,
planned, for a dispatcher. `planned_at` is the start of the requested window (08:00 without one,
plant-local), but no sooner than `PLAN_LEAD` from now (in whole minutes). Planning on pull rather than with the
acknowledgement plans from the state of the moment, so an order someone else planned in between
(the fleet simulator's dispatcher) is left alone. Message ids are fixed per ticket: a second pull
before the first plan is applied stores duplicates, which change nothing.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from datetime import time as Time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from erp_sync.adapters.base import MAX_STATE_ORDERS, Adapter, ErpLine, ErpOrderState, PullPage, SendResult
from oms.lib.env import env_int

if TYPE_CHECKING:
    from catalog.models import Plant
    from fleet.models import Driver, Truck
    from oms.models import ErpSystem
    from orders.models import Order

ACK_SECONDS = env_int("OMS_SIMULATOR_ACK_SECONDS", 3)
STOCK_CHANGES_PER_PULL = 3
ORDERS_PLANNED_PER_PULL = 5
PLAN_LEAD = timedelta(minutes=15)
DAY_START = Time(8)


def _version() -> int:
    """Versions increase per entity: a millisecond clock is enough for one simulator."""
    return time.time_ns() // 1_000_000


def _envelope(type_: str, entity: tuple[str, str], data: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": type_,
        "occurred_at": timezone.now().isoformat().replace("+00:00", "Z"),
        "entity": {"type": entity[0], "key": entity[1]},
        "version": _version(),
        "data": data,
    }


def _planned_at(order: Order) -> datetime:
    local = datetime.combine(
        order.requested_date, order.window_from or DAY_START, tzinfo=ZoneInfo(order.plant.timezone)
    )
    earliest = (timezone.now() + PLAN_LEAD).replace(second=0, microsecond=0)
    return max(local, earliest).astimezone(UTC)


def _crew(plant: Plant, day: date) -> tuple[Truck, Driver] | tuple[None, None]:
    """A (truck, driver) pair of the plant that is free on `day`, or (None, None).

    Free: on a planned or released tour together and on no other open tour of the day (the job
    joins that tour), else each on no open tour of the day (a tour is created and released).
    """
    from django.db.models import Q

    from fleet.models import Driver, Tour, TourStatus, Truck

    trucks = {
        t.pk: t for t in Truck.objects.filter(plant=plant, active=True, capacity__gt=0).order_by("code")
    }
    drivers = {d.pk: d for d in Driver.objects.filter(plant=plant, active=True).order_by("code")}
    tours = list(
        Tour.objects.filter(
            Q(truck_id__in=list(trucks)) | Q(driver_id__in=list(drivers)),
            date=day,
            status__in=[TourStatus.PLANNED, TourStatus.RELEASED, TourStatus.STARTED],
        )
        .order_by("pk")
        .values_list("truck_id", "driver_id", "status")
    )
    truck_tours = Counter(truck_id for truck_id, _, _ in tours)
    driver_tours = Counter(driver_id for _, driver_id, _ in tours if driver_id is not None)
    for truck_id, driver_id, status in tours:
        if (
            status != TourStatus.STARTED
            and truck_id in trucks
            and driver_id in drivers
            and truck_tours[truck_id] == 1
            and driver_tours[driver_id] == 1
        ):
            return trucks[truck_id], drivers[driver_id]
    truck = next((t for pk, t in trucks.items() if pk not in truck_tours), None)
    driver = next((d for pk, d in drivers.items() if pk not in driver_tours), None)
    if truck is None or driver is None:
        return None, None
    return truck, driver


def _delivery_tasks(system: ErpSystem, limit: int) -> list[dict[str, Any]]:
    """`task.delivery` messages for the orders this ERP acknowledged that wait for a plan."""
    from django.db.models import BigIntegerField, Exists, OuterRef
    from django.db.models.functions import Cast

    from fleet.models import Job, Truck
    from fleet.services.common import plant_local_date
    from fleet.services.dispatch import DEFAULT_CAPACITY, split_into_loads
    from oms.models import ExternalRef
    from orders.models import Fulfilment, Order, OrderStatus

    acknowledged = (
        ExternalRef.objects.filter(system=system, entity_type="order")
        .annotate(local_id=Cast("object_id", BigIntegerField()))
        .values("local_id")
    )
    orders = (
        Order.objects.filter(
            pk__in=acknowledged, status=OrderStatus.CONFIRMED, fulfilment=Fulfilment.DELIVERY, on_call=False
        )
        .exclude(Exists(Job.objects.filter(order=OuterRef("pk"))))
        .select_related("plant")
        .prefetch_related("lines")
        .order_by("pk")[:ORDERS_PLANNED_PER_PULL]
    )
    messages: list[dict[str, Any]] = []
    for order in orders:
        plant = order.plant
        planned_at = _planned_at(order)
        truck, driver = _crew(plant, plant_local_date(plant, planned_at))
        capacity = truck.capacity if truck is not None else None
        if capacity is None:
            first = Truck.objects.filter(plant=plant, active=True, capacity__gt=0).order_by("code").first()
            capacity = first.capacity if first is not None else DEFAULT_CAPACITY
        loads = split_into_loads(
            sorted((line.position, line.quantity - line.cancelled) for line in order.lines.all()), capacity
        )
        if len(messages) + len(loads) > limit:
            break
        for n, load in enumerate(loads, start=1):
            ticket = f"SIM-{order.number.removeprefix('ORD-')}-{n}"
            data: dict[str, Any] = {
                "order": order.number,
                "ticket": ticket,
                "lines": [
                    {"position": position, "quantity": f"{quantity:.3f}"} for position, quantity in load
                ],
                "plant": plant.code,
                "planned_at": planned_at.isoformat().replace("+00:00", "Z"),
            }
            if truck is not None:
                data["truck"] = truck.code
                data["driver"] = driver.code
            messages.append(_envelope("task.delivery", ("job", ticket), data, f"SIM-task-{ticket}"))
    return messages


class SimulatorAdapter(Adapter):
    answers_order_states = True

    def send(self, envelopes: list[dict[str, Any]]) -> SendResult:
        from erp_sync.envelope import parse_message
        from erp_sync.inbound import _store

        acks = []
        for env in envelopes:
            if env["type"] == "order.created":
                number = env["entity"]["key"]
                acks.append(
                    _envelope(
                        "order.ack",
                        ("order", number),
                        {"order": number, "erp_order": f"SIM-{number.removeprefix('ORD-')}"},
                        f"SIM-ack-{env['id']}",
                    )
                )
        if acks:
            _store(
                system=self.system,
                parsed=[parse_message(a) for a in acks],
                source="simulator",
                received_at=timezone.now() + timedelta(seconds=ACK_SECONDS),
            )
        return SendResult(
            kind="results", results={e["id"]: {"status": "accepted", "error": ""} for e in envelopes}
        )

    def pull(self, cursor: str, limit: int) -> PullPage:
        from catalog.models import StockLevel

        if cursor == "done":
            # One burst per pull run: the next page is empty so the puller stops.
            return PullPage(messages=[], next_cursor="")
        messages = []
        levels = list(
            StockLevel.objects.select_related("plant", "product").filter(plant__erp_system=self.system)[:200]
        )
        for level in random.sample(levels, min(STOCK_CHANGES_PER_PULL, len(levels))):
            delta = Decimal(random.randint(-5, 20))
            on_hand = max(level.on_hand + delta, level.allocated, Decimal(0))
            key = f"{level.plant.code}:{level.product.sku}"
            messages.append(
                _envelope(
                    "stock.level",
                    ("stock", key),
                    {"plant": level.plant.code, "sku": level.product.sku, "on_hand": f"{on_hand:.3f}"},
                    f"SIM-stock-{key}-{_version()}",
                )
            )
        messages += _delivery_tasks(self.system, max(limit - len(messages), 0))
        return PullPage(messages=messages, next_cursor="done")

    def order_states(self, numbers: list[str]) -> dict[str, ErpOrderState | None]:
        from oms.models import OutboxMessage, OutboxStatus
        from orders.models import Order, OrderLine

        if not 1 <= len(numbers) <= MAX_STATE_ORDERS:
            raise ValueError(f"ask for 1 to {MAX_STATE_ORDERS} orders at a time")
        accepted = OutboxMessage.objects.filter(
            system=self.system,
            type="order.created",
            aggregate_type="order",
            aggregate_id__in=numbers,
            status=OutboxStatus.SENT,
        ).values_list("aggregate_id", flat=True)
        orders = {
            pk: (number, status, erp_order)
            for pk, number, status, erp_order in Order.objects.filter(number__in=list(accepted)).values_list(
                "pk", "number", "status", "erp_order_number"
            )
        }
        lines: dict[int, dict[int, ErpLine]] = {pk: {} for pk in orders}
        for order_id, position, quantity, delivered, returned, cancelled in OrderLine.objects.filter(
            order_id__in=list(orders)
        ).values_list("order_id", "position", "quantity", "delivered", "returned", "cancelled"):
            lines[order_id][position] = ErpLine(position, quantity, delivered, returned, cancelled)
        known: dict[str, ErpOrderState | None] = {
            number: ErpOrderState(order=number, erp_order=erp_order or None, status=status, lines=lines[pk])
            for pk, (number, status, erp_order) in orders.items()
        }
        return {number: known.get(number) for number in numbers}
