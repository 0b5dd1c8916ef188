"""The order document: the API response shape, reused as the `order.created` ERP payload, and the
other order payloads that more than one service sends."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from oms.outbox import external_refs_for
from orders.models import Order


def money(value) -> str:
    return f"{value:.2f}"


def qty(value) -> str:
    return f"{value:.3f}"


def iso(value) -> str:
    """ISO 8601 as the REST API writes it (UTC as `Z`), so API bodies and ERP payloads agree."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def tracking_url(order: Order) -> str:
    """The public tracking page (served at /track/<token>/ by the portal)."""
    return f"{settings.SITE_URL}/track/{order.tracking_token}/"


def order_document(order: Order, lines=None) -> dict[str, Any]:
    """`order` with `customer`, `plant`, `sales_point` loaded and `lines` prefetched (or given)."""
    lines = list(lines if lines is not None else order.lines.all())
    window = None
    if order.window_from or order.window_to:
        window = {
            "from": order.window_from.strftime("%H:%M") if order.window_from else None,
            "to": order.window_to.strftime("%H:%M") if order.window_to else None,
        }
    return {
        "number": order.number,
        "status": order.status,
        "channel": order.channel,
        "sales_point": order.sales_point.code if order.sales_point_id else None,
        "customer": {
            "id": str(order.customer.public_id),
            "number": order.customer.number,
            "name": order.customer.name,
        },
        "fulfilment": order.fulfilment,
        "plant": order.plant.code,
        "requested_date": order.requested_date.isoformat(),
        "window": window,
        "on_call": order.on_call,
        "lines": [
            {
                "position": line.position,
                "sku": line.sku,
                "name": line.description,
                "quantity": qty(line.quantity),
                "unit": line.unit,
                "unit_price": money(line.unit_price),
                "vat_rate": money(line.vat_rate),
                "net": money(line.net),
                "delivered": qty(line.delivered),
                "returned": qty(line.returned),
            }
            for line in sorted(lines, key=lambda line: line.position)
        ],
        "totals": {
            "net": money(order.net_total),
            "tax": money(order.tax_total),
            "gross": money(order.gross_total),
            "currency": order.currency,
        },
        "external_ref": order.external_ref or None,
        "erp_order": order.erp_order_number or None,
        "tracking_url": tracking_url(order),
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
    }


def order_created(order: Order, lines=None) -> dict[str, Any]:
    """`order.created`: the order document plus the customer's ERP references, the delivery address
    and the notes (`order` with `customer` loaded)."""
    payload = order_document(order, lines)
    payload["customer"]["erp_refs"] = external_refs_for(order.customer)
    payload["site"] = order.address or None
    payload["notes"] = order.notes
    return payload


def order_cancelled(order: Order, reason: str | None, returned: list[dict] | None = None) -> dict[str, Any]:
    """`order.cancelled` and `order.cancel_requested`."""
    return {
        "order": order.number,
        "erp_order": order.erp_order_number or None,
        "reason": reason,
        "returned": returned or [],
    }


def item_positions(order: Order, lines=None) -> dict[str, Any]:
    lines = list(lines if lines is not None else order.lines.all())
    return {
        "order": order.number,
        "lines": [
            {
                "position": line.position,
                "ordered": qty(line.quantity),
                "allocated": qty(line.allocated),
                "loaded": qty(line.loaded),
                "delivered": qty(line.delivered),
                "returned": qty(line.returned),
                "cancelled": qty(line.cancelled),
            }
            for line in sorted(lines, key=lambda line: line.position)
        ],
    }
