"""Order messages from the ERP: upserts of ERP-keyed orders, acknowledgements and rejections.

`order.upsert` of an unknown ERP order places it (channel `erp`, `external_ref` = the ERP order
number) and, unless the ERP says `placed`/`on_hold`, confirms it at once — the ERP already holds it,
so no acknowledgement will follow. For a known order the update path is deliberately narrow:
- `status`: confirmed (from placed/on_hold), on_hold, placed (release a hold), cancelled;
- line quantities and unit prices of existing positions, through `order_correct` (reason
  "ERP update"); adding or removing lines, or changing customer, site, plant or date, is refused
  (failed message) — the ERP has to cancel and re-send such an order.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField, Q
from django.db.models.functions import Cast

from catalog.models import Plant
from customers.models import Customer
from customers.services import CustomerData, SiteData, normalize_email
from erp_sync.handlers.base import Context, HandlerError, decimal, ref_link, ref_target
from erp_sync.handlers.master import plant_by_code
from oms.lib.bulk import insert_rows
from oms.models import ExternalRef
from orders.models import Channel, Order, OrderStatus
from orders.services.lifecycle import (
    Correction,
    order_cancel,
    order_cancel_decide,
    order_confirm,
    order_correct,
    order_hold,
    order_release,
)
from orders.services.lifecycle import order_reject as lifecycle_reject
from orders.services.placement import (
    CustomerRef,
    ErpOrderInput,
    LineInput,
    SiteRef,
    erp_orders_import,
    order_place,
)

UNKNOWN_ORDER = "Unknown order {key!r}."
UNKNOWN_CUSTOMER = "Unknown ERP customer {number!r}: send master.customer first or give name and contact."
LINES_CHANGED = "order.upsert cannot add or remove lines of an existing order (positions {positions})."
UPDATE_REASON = "ERP update"


def find_order(system, key: str) -> Order | None:
    """An OMS number `ORD-…`, or the ERP order number of an order of this ERP (one query)."""
    refs = (
        ExternalRef.objects.filter(system=system, entity_type="order", external_id=key)
        .annotate(local_id=Cast("object_id", BigIntegerField()))
        .values("local_id")
    )
    matches = list(
        Order.objects.filter(
            Q(number=key)
            | Q(channel=Channel.ERP, external_ref=key)
            | Q(erp_system=system, erp_order_number=key)
            | Q(pk__in=refs)
        ).order_by("pk")[:5]
    )
    # Precedence: the OMS number, then the ERP's own order of that number, then the others.
    for test in (
        lambda o: o.number == key,
        lambda o: o.channel == Channel.ERP and o.external_ref == key,
        lambda o: True,
    ):
        for order in matches:
            if test(order):
                return order
    return None


def order_by_key(ctx: Context, key: str) -> Order:
    order = find_order(ctx.system, key)
    if order is None:
        raise HandlerError(UNKNOWN_ORDER.format(key=key))
    return order


def _customer_ref(ctx: Context, value) -> CustomerRef:
    number = value if isinstance(value, str) else value["number"]
    customer = ref_target(ctx.system, "customer", number, Customer)
    if customer is not None:
        return CustomerRef(customer=customer)
    if isinstance(value, dict) and value.get("name"):
        return CustomerRef(
            data=CustomerData(
                name=value["name"], email=normalize_email(value.get("email")), phone=value.get("phone") or ""
            )
        )
    raise HandlerError(UNKNOWN_CUSTOMER.format(number=number))


def _site_ref(value: dict) -> SiteRef:
    return SiteRef(
        data=SiteData(
            name=value["name"],
            address=value["address"],
            address2=value.get("address2") or "",
            city=value.get("city") or "",
            postcode=value.get("postcode") or "",
            country=(value.get("country") or "BG").upper(),
            lat=value.get("lat"),
            lon=value.get("lon"),
            contact_name=value.get("contact_name") or "",
            contact_phone=value.get("contact_phone") or "",
        )
    )


def _window(value) -> tuple[time | None, time | None]:
    if not value:
        return None, None
    parse = lambda t: time.fromisoformat(t) if t else None  # noqa: E731
    return parse(value.get("from")), parse(value.get("to"))


def _lines(lines: list[dict]) -> list[LineInput]:
    return [
        LineInput(
            sku=line["sku"],
            quantity=decimal(line["quantity"], "quantity"),
            unit_price=decimal(line["unit_price"], "unit_price") if line.get("unit_price") else None,
        )
        for line in sorted(lines, key=lambda line: line["position"])
    ]


def order_upsert(ctx: Context) -> Order:
    data = ctx.data
    erp_order = data["erp_order"]
    order = find_order(ctx.system, erp_order)
    order = _place(ctx) if order is None else _update(ctx, order)
    ref_link(ctx, "order", erp_order, order)
    return order


def _place(ctx: Context) -> Order:
    data = ctx.data
    window_from, window_to = _window(data.get("window"))
    customer = _customer_ref(ctx, data["customer"])
    order = order_place(
        channel=Channel.ERP,
        customer=customer,
        lines=_lines(data["lines"]),
        actor=ctx.actor,
        site=_site_ref(data["site"]),
        requested_date=date.fromisoformat(data["requested_date"]),
        window_from=window_from,
        window_to=window_to,
        on_call=bool(data.get("on_call")),
        external_ref=data["erp_order"],
        notes=data.get("notes") or "",
        plant=plant_by_code(data["plant"]) if data.get("plant") else None,
        erp_system=ctx.system,
        erp_order_number=data["erp_order"],
    )
    if isinstance(data["customer"], dict) and not customer.customer:
        ref_link(ctx, "customer", data["customer"]["number"], order.customer)
    status = data.get("status")
    if status in (None, OrderStatus.CONFIRMED):
        order = order_confirm(order=order, erp_order_number=data["erp_order"], actor=ctx.actor)
    elif status == OrderStatus.ON_HOLD:
        order = order_hold(order=order, reason=UPDATE_REASON, actor=ctx.actor)
    elif status == OrderStatus.CANCELLED:
        order = order_cancel(order=order, reason=UPDATE_REASON, actor=ctx.actor)
    return order


def _update(ctx: Context, order: Order) -> Order:
    data = ctx.data
    lines = {line.position: line for line in order.lines.all()}
    wanted = {line["position"]: line for line in data["lines"]}
    if set(wanted) != set(lines):
        diff = sorted(set(wanted) ^ set(lines))
        raise HandlerError(LINES_CHANGED.format(positions=", ".join(map(str, diff))))
    corrections = []
    for position, line in sorted(wanted.items()):
        quantity = decimal(line["quantity"], "quantity")
        if quantity != lines[position].quantity:
            corrections.append(
                Correction(position=position, field="quantity", new=quantity, reason=UPDATE_REASON)
            )
        if line.get("unit_price"):
            price = decimal(line["unit_price"], "unit_price")
            if price != lines[position].unit_price:
                corrections.append(
                    Correction(position=position, field="unit_price", new=price, reason=UPDATE_REASON)
                )
    if corrections:
        order = order_correct(order=order, corrections=corrections, actor=ctx.actor)
    status = data.get("status")
    if status == OrderStatus.CONFIRMED and order.status in (OrderStatus.PLACED, OrderStatus.ON_HOLD):
        if order.status == OrderStatus.ON_HOLD:
            order = order_release(order=order, actor=ctx.actor)
        order = order_confirm(order=order, erp_order_number=data["erp_order"], actor=ctx.actor)
    elif status == OrderStatus.ON_HOLD and order.status != OrderStatus.ON_HOLD:
        order = order_hold(order=order, reason=UPDATE_REASON, actor=ctx.actor)
    elif status == OrderStatus.PLACED and order.status == OrderStatus.ON_HOLD:
        order = order_release(order=order, actor=ctx.actor)
    elif status == OrderStatus.CANCELLED and order.status != OrderStatus.CANCELLED:
        order = order_cancel(order=order, reason=UPDATE_REASON, actor=ctx.actor)
    return order


def order_ack(ctx: Context) -> Order:
    order = order_by_key(ctx, ctx.data["order"])
    order = order_confirm(order=order, erp_order_number=ctx.data["erp_order"], actor=ctx.actor)
    ref_link(ctx, "order", ctx.data["erp_order"], order)
    return order


def order_reject(ctx: Context) -> Order:
    order = order_by_key(ctx, ctx.data["order"])
    return lifecycle_reject(order=order, reason=ctx.data["reason"], actor=ctx.actor)


def order_cancel_decision(ctx: Context) -> Order:
    data = ctx.data
    order = order_by_key(ctx, data["order"])
    accepted = data["decision"] == "accepted"
    returned = {item["position"]: Decimal(item["quantity"]) for item in data.get("returned") or []}
    return order_cancel_decide(
        order=order,
        accepted=accepted,
        reason=data.get("reason") or f"ERP {data['decision']} the cancellation",
        actor=ctx.actor,
        returned=returned,
    )


def order_upsert_bulk(ctxs: list[Context]) -> list[Context]:
    """Place the new orders among a run of `order.upsert` messages of one ERP at once.

    Returns the messages left for `order_upsert` one by one: known orders (updates), customers not yet
    linked, statuses other than confirmed, unknown plants, malformed data, and an ERP order number
    seen twice in the run. Raises (and the inbox applies the whole run one by one) if the import fails.
    """
    system = ctxs[0].system
    keys = {ctx.data["erp_order"] for ctx in ctxs}
    known = set(
        ExternalRef.objects.filter(system=system, entity_type="order", external_id__in=keys).values_list(
            "external_id", flat=True
        )
    )
    for number, external_ref, erp_number in Order.objects.filter(
        Q(number__in=keys)
        | Q(channel=Channel.ERP, external_ref__in=keys)
        | Q(erp_system=system, erp_order_number__in=keys)
    ).values_list("number", "external_ref", "erp_order_number"):
        known.update({number, external_ref, erp_number} & keys)
    numbers = {_customer_number(ctx.data["customer"]) for ctx in ctxs}
    customer_ids = dict(
        ExternalRef.objects.filter(
            system=system, entity_type="customer", external_id__in=numbers
        ).values_list("external_id", "object_id")
    )
    customers = Customer.objects.in_bulk([int(pk) for pk in customer_ids.values() if pk.isdigit()])
    plants = {
        plant.code: plant
        for plant in Plant.objects.filter(code__in={ctx.data.get("plant") for ctx in ctxs} - {None})
    }

    chosen: list[Context] = []
    inputs: list[ErpOrderInput] = []
    left: list[Context] = []
    seen: set[str] = set()
    for ctx in ctxs:
        data = ctx.data
        object_id = customer_ids.get(_customer_number(data["customer"]))
        customer = customers.get(int(object_id)) if object_id and object_id.isdigit() else None
        if (
            data["erp_order"] in known
            or data["erp_order"] in seen
            or customer is None
            or customer.credit_hold
            or data.get("status") not in (None, OrderStatus.CONFIRMED)
            or (data.get("plant") and data["plant"] not in plants)
        ):
            left.append(ctx)
            continue
        try:
            item = _erp_order_input(data, customer, plants.get(data.get("plant")))
        except (HandlerError, ValueError):
            left.append(ctx)
            continue
        seen.add(data["erp_order"])
        chosen.append(ctx)
        inputs.append(item)
    if not chosen:
        return left
    orders = erp_orders_import(orders=inputs, erp_system=system, actor=chosen[0].actor)
    order_type = ContentType.objects.get_for_model(Order)
    insert_rows(
        ExternalRef,
        [
            {
                "system_id": system.pk,
                "entity_type": "order",
                "external_id": ctx.data["erp_order"],
                "content_type_id": order_type.pk,
                "object_id": str(order.pk),
                "last_version": ctx.version,
            }
            for ctx, order in zip(chosen, orders, strict=True)
        ],
    )
    return left


def _customer_number(value) -> str:
    return value if isinstance(value, str) else value["number"]


def _erp_order_input(data: dict, customer: Customer, plant) -> ErpOrderInput:
    window_from, window_to = _window(data.get("window"))
    return ErpOrderInput(
        customer=customer,
        site=_site_ref(data["site"]).data,
        lines=_lines(data["lines"]),
        requested_date=date.fromisoformat(data["requested_date"]),
        erp_order_number=data["erp_order"],
        plant=plant,
        window_from=window_from,
        window_to=window_to,
        on_call=bool(data.get("on_call")),
        notes=data.get("notes") or "",
    )
