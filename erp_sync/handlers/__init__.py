"""Inbound message handlers: one function per message type, called inside the apply transaction.

A handler maps the ERP's data onto domain services and raises (a DomainError or HandlerError with a
readable message) when the message cannot be applied; the inbox then records it as failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from erp_sync.handlers import fleet, master, orders
from erp_sync.handlers.base import Context, HandlerError

HANDLERS: dict[str, Callable[[Context], Any]] = {
    "master.plant": master.plant_upsert,
    "master.truck": master.truck_upsert,
    "master.driver": master.driver_upsert,
    "master.product": master.product_upsert,
    "master.customer": master.customer_upsert,
    "stock.level": master.stock_level,
    "order.upsert": orders.order_upsert,
    "order.ack": orders.order_ack,
    "order.reject": orders.order_reject,
    "order.cancel_decision": orders.order_cancel_decision,
    "order.loading_status": fleet.order_loading_status,
    "task.delivery": fleet.task_delivery,
    "task.homerun": fleet.task_homerun,
    "task.return": fleet.task_return,
    "task.cancellation": fleet.task_cancellation,
}

# Message types that can also be applied many at once: the handler takes the contexts of a run of
# such messages and returns those it left for the one-by-one handler above.
BULK_HANDLERS: dict[str, Callable[[list[Context]], list[Context]]] = {
    "order.upsert": orders.order_upsert_bulk,
}

# The entity a message type is about (docs/erp-integration.md): its `entity.type` must be one of these.
ENTITY_TYPES: dict[str, frozenset[str]] = {
    "master.plant": frozenset({"plant"}),
    "master.truck": frozenset({"truck"}),
    "master.driver": frozenset({"driver"}),
    "master.product": frozenset({"product"}),
    "master.customer": frozenset({"customer"}),
    "stock.level": frozenset({"stock"}),
    "order.upsert": frozenset({"order"}),
    "order.ack": frozenset({"order"}),
    "order.reject": frozenset({"order"}),
    "order.cancel_decision": frozenset({"order"}),
    "order.loading_status": frozenset({"order", "job"}),
    "task.delivery": frozenset({"job"}),
    "task.homerun": frozenset({"truck", "job"}),
    "task.return": frozenset({"order", "job"}),
    "task.cancellation": frozenset({"order", "job"}),
}

__all__ = ["BULK_HANDLERS", "ENTITY_TYPES", "HANDLERS", "Context", "HandlerError"]
