"""Customer-facing names of timeline event types."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

EVENT_LABELS = {
    "order.placed": _("Order placed"),
    "order.confirmed": _("Order confirmed"),
    "order.status_changed": _("Status changed"),
    "order.held": _("Order on hold"),
    "order.released": _("Hold released"),
    "order.rejected": _("Order rejected"),
    "order.cancelled": _("Order cancelled"),
    "order.cancel_requested": _("Cancellation requested"),
    "order.cancel_rejected": _("Cancellation declined"),
    "order.corrected": _("Order corrected"),
    "order.call_off": _("Load called off"),
    "erp.acknowledged": _("Confirmed by our planning system"),
    "job.assigned": _("Truck assigned"),
    "job.loaded": _("Truck loaded"),
    "job.departed": _("Truck on the way"),
    "job.arrived": _("Truck arrived"),
    "job.delivered": _("Load delivered"),
    "epod.received": _("Delivery note signed"),
    "message.posted": _("Message"),
    "call.requested": _("Call-back requested"),
    "return.requested": _("Return requested"),
    "return.approved": _("Return approved"),
    "return.rejected": _("Return declined"),
    "return.pickup_scheduled": _("Return pickup scheduled"),
    "return.received": _("Return received"),
    "return.closed": _("Return closed"),
}


def event_label(event_type: str) -> str:
    return str(EVENT_LABELS.get(event_type, event_type))
