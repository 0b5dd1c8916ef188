"""Fleet messages from the ERP: loading status and delivery, homerun, return, cancellation tasks.

The mapping resolves the ERP's codes (order number or the ERP order number, plant, truck, driver
codes) to objects and calls the fleet services (`fleet/services/erp.py`). A cancellation task
cancels the jobs and then the order itself through the orders services (an order that can no
longer be cancelled at once goes to `cancellation_requested`).
"""

from __future__ import annotations

from datetime import datetime

from erp_sync.handlers.base import Context, HandlerError, decimal
from erp_sync.handlers.master import plant_by_code
from erp_sync.handlers.orders import order_by_key
from fleet.models import Driver, Truck
from fleet.services import erp as fleet_erp
from orders.models import OrderStatus
from orders.services.lifecycle import order_cancel_by_erp

UNKNOWN_TRUCK = "Unknown truck {code!r}."
UNKNOWN_DRIVER = "Unknown driver {code!r}."
BAD_TIME = "{field}: not an ISO 8601 time with offset."


def _when(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise HandlerError(BAD_TIME.format(field=field)) from exc
    if parsed.tzinfo is None:
        raise HandlerError(BAD_TIME.format(field=field))
    return parsed


def _truck(code: str | None) -> Truck | None:
    if not code:
        return None
    truck = Truck.objects.filter(code=code).first()
    if truck is None:
        raise HandlerError(UNKNOWN_TRUCK.format(code=code))
    return truck


def _driver(code: str | None) -> Driver | None:
    if not code:
        return None
    driver = Driver.objects.filter(code=code).first()
    if driver is None:
        raise HandlerError(UNKNOWN_DRIVER.format(code=code))
    return driver


def _lines(lines: list[dict]) -> list[dict]:
    return [
        {"position": line["position"], "quantity": decimal(line["quantity"], "quantity")} for line in lines
    ]


def order_loading_status(ctx: Context):
    data = ctx.data
    return fleet_erp.order_loading_status_apply(
        order=order_by_key(ctx, data["order"]),
        ticket=data["ticket"],
        loading_status=data["loading_status"],
        at=_when(data["at"], "at"),
        system=ctx.system,
    )


def task_delivery(ctx: Context):
    data = ctx.data
    return fleet_erp.task_delivery_apply(
        system=ctx.system,
        order=order_by_key(ctx, data["order"]),
        ticket=data["ticket"],
        lines=_lines(data["lines"]),
        plant=plant_by_code(data["plant"]),
        planned_at=_when(data["planned_at"], "planned_at"),
        truck=_truck(data.get("truck")),
        driver=_driver(data.get("driver")),
    )


def task_homerun(ctx: Context):
    data = ctx.data
    truck = _truck(data["truck"])
    return fleet_erp.task_homerun_apply(
        system=ctx.system,
        truck=truck,
        plant=plant_by_code(data["plant"]),
        planned_at=_when(data["planned_at"], "planned_at"),
        driver=_driver(data.get("driver")),
    )


def task_return(ctx: Context):
    data = ctx.data
    return fleet_erp.task_return_apply(
        system=ctx.system,
        order=order_by_key(ctx, data["order"]),
        lines=_lines(data["lines"]),
        reason=data["reason"],
        return_number=data.get("return"),
    )


def task_cancellation(ctx: Context):
    data = ctx.data
    order = order_by_key(ctx, data["order"])
    if data.get("ticket"):
        return fleet_erp.task_cancellation_apply(
            system=ctx.system, order=order, reason=data["reason"], ticket=data["ticket"]
        )
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        return []
    return order_cancel_by_erp(order=order, reason=data["reason"], actor=ctx.actor)
