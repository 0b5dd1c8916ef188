"""order_place: one service for every channel; exact rows on success, nothing at all on failure."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, CustomerEvent, Site
from customers.services import CustomerData, SiteData
from oms import outbox as outbox_module
from oms.exceptions import DuplicateExternalRef, InsufficientStock, NotFound, ValidationError
from oms.lib.actors import Actor
from oms.models import OutboxMessage
from orders.models import Channel, ErpSyncState, Fulfilment, Order, OrderEvent, OrderLine, OrderStatus
from orders.services.order_input import (
    LINES_REQUIRED,
    PRICE_INVALID,
    QUANTITY_INVALID,
    TOTAL_TOO_LARGE,
    UNKNOWN_SKU,
)
from orders.services.placement import (
    DATE_IN_PAST,
    SALES_POINT_INACTIVE,
    CustomerRef,
    LineInput,
    SiteRef,
    order_place,
    plant_today,
)
from tests.orders.helpers import events, outbox, stock

pytestmark = pytest.mark.django_db
KIOSK = Actor(kind="device", name="kiosk-1", channel=Channel.KIOSK)


def assert_nothing_written():
    assert Order.objects.count() == 0
    assert OrderLine.objects.count() == 0
    assert OrderEvent.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def line(product, quantity, unit_price=None):
    return LineInput(
        sku=product.sku,
        quantity=Decimal(quantity),
        unit_price=None if unit_price is None else Decimal(unit_price),
    )


# --- success paths ----------------------------------------------------------------------------


def test_the_placed_order_answers_its_lines_from_memory(place, stocked, django_assert_num_queries):
    """The API response and the ERP payload read `order.lines.all()`: the lines just written are
    already there, not read back."""
    sand, gravel = stocked("10", sku="SAND"), stocked("10", sku="GRAVEL")

    order = place({sand: "1", gravel: "2"})

    with django_assert_num_queries(0):
        lines = [(line.product_id, line.quantity) for line in order.lines.all()]
    assert lines == [(sand.pk, Decimal("1.000")), (gravel.pk, Decimal("2.000"))]


def test_kiosk_order_goes_to_the_sales_point_plant_with_exact_rows(
    plant_factory, sales_point_factory, stocked, customer_factory
):
    customer = customer_factory(number="C-100001", name="Ivan Petrov", email="ivan@example.com")
    kiosk_plant = plant_factory(code="KIO", name="Kiosk plant", lat=43.2, lon=27.9)
    sales_point = sales_point_factory(code="K-01", plant=kiosk_plant)
    sand = stocked("50", at=kiosk_plant, sku="SAND-0-4", name="Sand 0-4", unit_price=Decimal("3.00"))
    requested = plant_today(kiosk_plant) + timedelta(days=2)

    order = order_place(
        channel=Channel.KIOSK,
        customer=CustomerRef(id=str(customer.public_id)),
        lines=[line(sand, "0.335")],
        actor=KIOSK,
        fulfilment=Fulfilment.PICKUP,
        sales_point=sales_point,
        requested_date=requested,
        window_from=time(8, 0),
        window_to=time(10, 30),
        external_ref="K-01-0001",
    )

    order.refresh_from_db()
    assert (order.channel, order.plant_id, order.sales_point_id, order.status, order.version) == (
        "kiosk",
        kiosk_plant.pk,
        sales_point.pk,
        "placed",
        1,
    )
    assert (order.net_total, order.tax_total, order.gross_total) == (
        Decimal("1.01"),
        Decimal("0.20"),
        Decimal("1.21"),
    )
    assert order.number.startswith(f"ORD-{timezone.now().year}-")
    assert order.erp_sync_state == ErpSyncState.PENDING
    assert stock(kiosk_plant, sand) == (Decimal("50.000"), Decimal("0.335"))
    assert events(order) == [("order.placed", {"channel": "kiosk", "lines": 1, "gross": "1.21"})]
    event = OrderEvent.objects.get(order=order)
    assert (event.actor_kind, event.actor, event.channel) == ("device", "kiosk-1", "kiosk")
    message = OutboxMessage.objects.get()
    assert event.outbox_message_id == message.pk
    assert (
        message.type,
        message.aggregate_type,
        message.aggregate_id,
        message.sequence,
        message.version,
    ) == (
        "order.created",
        "order",
        order.number,
        1,
        1,
    )
    assert message.payload == {
        "number": order.number,
        "status": "placed",
        "channel": "kiosk",
        "sales_point": "K-01",
        "customer": {
            "id": str(customer.public_id),
            "number": "C-100001",
            "name": "Ivan Petrov",
            "erp_refs": {},
        },
        "fulfilment": "pickup",
        "plant": "KIO",
        "requested_date": requested.isoformat(),
        "window": {"from": "08:00", "to": "10:30"},
        "on_call": False,
        "lines": [
            {
                "position": 1,
                "sku": "SAND-0-4",
                "name": "Sand 0-4",
                "quantity": "0.335",
                "unit": "t",
                "unit_price": "3.00",
                "vat_rate": "20.00",
                "net": "1.01",
                "delivered": "0.000",
                "returned": "0.000",
            }
        ],
        "totals": {"net": "1.01", "tax": "0.20", "gross": "1.21", "currency": "EUR"},
        "external_ref": "K-01-0001",
        "erp_order": None,
        "tracking_url": f"{settings.SITE_URL}/track/{order.tracking_token}/",
        "created_at": order.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": order.updated_at.isoformat().replace("+00:00", "Z"),
        "site": None,
        "notes": "",
    }


def test_line_money_is_rounded_half_up_per_line_then_summed(place, stocked):
    a = stocked(unit_price=Decimal("3.00"), vat_rate=Decimal("20.00"))
    b = stocked(unit_price=Decimal("0.25"), vat_rate=Decimal("10.00"))
    c = stocked(unit_price=Decimal("0.35"), vat_rate=Decimal("20.00"))

    order = place({a: "0.335", b: "1", c: "1.5"})

    rows = list(order.lines.order_by("position").values_list("position", "quantity", "net", "tax"))
    # Each of these is an exact half cent, where half-even would round down instead:
    # 0.335 × 3.00 = 1.005 → 1.01; 0.25 × 10 % = 0.025 → 0.03; 1.5 × 0.35 = 0.525 → 0.53.
    assert rows == [
        (1, Decimal("0.335"), Decimal("1.01"), Decimal("0.20")),
        (2, Decimal("1.000"), Decimal("0.25"), Decimal("0.03")),
        (3, Decimal("1.500"), Decimal("0.53"), Decimal("0.11")),
    ]
    order.refresh_from_db()
    assert (order.net_total, order.tax_total, order.gross_total) == (
        Decimal("1.79"),
        Decimal("0.34"),
        Decimal("2.13"),
    )
    assert events(order) == [("order.placed", {"channel": "web", "lines": 3, "gross": "2.13"})]
    totals = outbox(order)[0][2]["totals"]
    assert totals == {"net": "1.79", "tax": "0.34", "gross": "2.13", "currency": "EUR"}


def test_unit_price_snapshot_keeps_the_catalog_price_with_its_cents(place, stocked):
    # The catalog price has 2 decimals in the database; the line stores what was charged.
    product = stocked(unit_price=Decimal("12.50"), vat_rate=Decimal("9.00"))

    order = place({product: "2.125"})

    stored = order.lines.get()
    assert (stored.unit_price, stored.net, stored.tax) == (
        Decimal("12.50"),
        Decimal("26.56"),  # 26.5625 → 26.56
        Decimal("2.39"),  # 2.3904 → 2.39
    )


def test_web_order_chooses_the_nearest_plant_with_stock(
    place, plant_factory, product_factory, stock_level_factory, site
):
    plant = plant_factory(code="SOF", name="Sofia plant", lat=42.70, lon=23.32)
    far = plant_factory(code="VAR", lat=43.21, lon=27.91)
    product = product_factory(sku="GRAVEL")
    stock_level_factory(plant=plant, product=product, on_hand=Decimal("5"), allocated=Decimal("0"))
    from catalog.models import StockLevel

    StockLevel.objects.create(plant=far, product=product, on_hand=Decimal("50"))

    near_order = place({product: "5"})
    # The near plant is now empty: the next order goes to the far plant that still has stock.
    far_order = place({product: "5"})

    assert (near_order.plant.code, far_order.plant.code) == ("SOF", "VAR")
    assert stock(plant, product) == (Decimal("5.000"), Decimal("5.000"))
    assert stock(far, product) == (Decimal("50.000"), Decimal("5.000"))
    assert outbox(far_order)[0][2]["plant"] == "VAR"
    assert outbox(far_order)[0][2]["site"] == site.snapshot()


def test_web_order_prefers_the_nearest_of_several_plants_that_have_stock(
    place, plant, plant_factory, stocked, customer, site_factory
):
    varna = plant_factory(code="VAR", lat=43.21, lon=27.91)
    product = stocked("10", sku="GRAVEL")
    from catalog.models import StockLevel

    StockLevel.objects.create(plant=varna, product=product, on_hand=Decimal("10"))
    seaside = site_factory(customer=customer, lat=43.20, lon=27.90)

    order = place({product: "1"}, site=SiteRef(id=str(seaside.public_id)))

    assert order.plant_id == varna.pk
    assert stock(varna, product) == (Decimal("10.000"), Decimal("1.000"))
    assert stock(plant, product) == (Decimal("10.000"), Decimal("0.000"))


@pytest.mark.parametrize(
    ("north_lat", "nearest"),
    [
        (43.00, "EAST"),  # north 111.2 km; east 107.4 km
        (42.95, "NORTH"),  # north 105.6 km; east 107.4 km
    ],
)
def test_the_nearest_plant_is_measured_on_the_sphere(
    place, plant_factory, stocked, customer, site_factory, north_lat, nearest
):
    """A degree of longitude is shorter than a degree of latitude away from the equator: from a site
    at 42° N, 23° E a plant 1.3° east (107.4 km) is nearer than one 1° north (111.2 km), but not
    than one 0.95° north (105.6 km). A distance that weighs the two differently picks the wrong one."""
    north = plant_factory(code="NORTH", lat=north_lat, lon=23.0)
    east = plant_factory(code="EAST", lat=42.0, lon=24.3)
    product = stocked("10", at=north, sku="GRAVEL")
    from catalog.models import StockLevel

    StockLevel.objects.create(plant=east, product=product, on_hand=Decimal("10"))
    site = site_factory(customer=customer, lat=42.0, lon=23.0)

    order = place({product: "1"}, site=SiteRef(id=str(site.public_id)))

    assert order.plant.code == nearest


def test_a_site_with_coordinates_goes_to_the_nearest_plant_not_the_customer_default(
    place, plant, plant_factory, stocked, customer, site_factory
):
    """The customer's default plant decides only when the site cannot be located."""
    varna = plant_factory(code="VAR", lat=43.21, lon=27.91)
    product = stocked("10", at=varna, sku="GRAVEL")
    from catalog.models import StockLevel

    StockLevel.objects.create(plant=plant, product=product, on_hand=Decimal("10"))
    customer.default_plant = plant
    customer.save()
    seaside = site_factory(customer=customer, lat=43.20, lon=27.90)

    order = place({product: "1"}, site=SiteRef(id=str(seaside.public_id)))

    assert order.plant_id == varna.pk


def test_a_plant_without_coordinates_is_the_farthest(place, plant_factory, stocked, customer, site_factory):
    """A plant whose position is unknown can still serve, after every plant with a position."""
    unknown = plant_factory(code="AAA", lat=None, lon=None)
    varna = plant_factory(code="VAR", lat=43.21, lon=27.91)
    product = stocked("10", at=unknown, sku="GRAVEL")
    from catalog.models import StockLevel

    StockLevel.objects.create(plant=varna, product=product, on_hand=Decimal("10"))
    site = site_factory(customer=customer, lat=42.0, lon=23.0)

    order = place({product: "1"}, site=SiteRef(id=str(site.public_id)))

    assert order.plant_id == varna.pk


def test_when_no_plant_has_the_stock_the_shortage_is_reported_at_the_customer_default_plant(
    place, plant, plant_factory, stocked, customer
):
    near = plant_factory(code="AAA", lat=42.70, lon=23.33)
    product = stocked("3", sku="GRAVEL")  # at `plant`, the customer's default
    from catalog.models import StockLevel

    StockLevel.objects.create(plant=near, product=product, on_hand=Decimal("1"))
    customer.default_plant = plant
    customer.save()

    with pytest.raises(InsufficientStock) as raised:
        place({product: "5"})

    assert raised.value.errors == {"lines": [{"sku": "GRAVEL", "requested": "5.000", "available": "3.000"}]}
    assert not Order.objects.exists()


def test_site_without_coordinates_uses_the_customer_default_plant(
    place, plant, plant_factory, stocked, customer, site_factory
):
    other = plant_factory(code="AAA", lat=43.21, lon=27.91)
    product = stocked("10")
    from catalog.models import StockLevel

    StockLevel.objects.create(plant=other, product=product, on_hand=Decimal("10"))
    customer.default_plant = plant
    customer.save()
    blind = site_factory(customer=customer, lat=None, lon=None)

    order = place({product: "2"}, site=SiteRef(id=str(blind.public_id)))

    assert order.plant_id == plant.pk


def test_phone_order_by_a_rep_records_the_rep_and_the_phone_channel(
    customer_factory, site_factory, stocked, user_factory, plant
):
    customer = customer_factory(number="C-100001", name="Ivan Petrov", email="ivan@example.com")
    site = site_factory(customer=customer, name="Home", address="1 Vitosha Blvd", lat=42.70, lon=23.32)
    rep = user_factory(username="maria")
    product = stocked("10", unit_price=Decimal("100.00"))

    order = order_place(
        channel=Channel.PHONE,
        customer=CustomerRef(number=" c-100001 "),
        site=SiteRef(id=str(site.public_id)),
        lines=[line(product, "2")],
        actor=Actor.for_user(rep),
        notes="Call before arrival",
    )

    order.refresh_from_db()
    assert (order.channel, order.created_by_id, order.customer_id, order.notes) == (
        "phone",
        rep.pk,
        customer.pk,
        "Call before arrival",
    )
    event = OrderEvent.objects.get(order=order)
    assert (event.type, event.actor_kind, event.actor, event.channel, event.data) == (
        "order.placed",
        "user",
        "maria",
        "phone",
        {"channel": "phone", "lines": 1, "gross": "240.00"},
    )
    assert [(t, s, p["notes"], p["site"]) for t, s, p in outbox(order)] == [
        ("order.created", 1, "Call before arrival", site.snapshot())
    ]


def test_erp_order_keeps_erp_prices_and_past_dates_and_sends_nothing_back(
    stocked, customer, site, erp_system_factory, plant
):
    erp = erp_system_factory(code="SAP1")
    product = stocked("10", unit_price=Decimal("10.00"), vat_rate=Decimal("20.00"))
    yesterday = plant_today(plant) - timedelta(days=1)

    order = order_place(
        channel=Channel.ERP,
        customer=CustomerRef(customer=customer),
        site=SiteRef(id=str(site.public_id)),
        lines=[line(product, "1.5", unit_price="0.35")],
        actor=Actor(kind="erp", name="SAP1"),
        requested_date=yesterday,
        external_ref="4500001234",
        erp_system=erp,
        erp_order_number="4500001234",
    )

    order.refresh_from_db()
    assert (order.requested_date, order.erp_system_id, order.erp_order_number) == (
        yesterday,
        erp.pk,
        "4500001234",
    )
    stored = order.lines.get()
    # The ERP's price, not the catalog's 10.00: 1.5 × 0.35 = 0.525 → 0.53; tax 0.106 → 0.11.
    assert (stored.unit_price, stored.net, stored.tax) == (Decimal("0.35"), Decimal("0.53"), Decimal("0.11"))
    assert events(order) == [("order.placed", {"channel": "erp", "lines": 1, "gross": "0.64"})]
    assert OrderEvent.objects.get(order=order).channel == "erp"
    assert outbox(order) == []
    assert order.erp_sync_state == ErpSyncState.NONE
    assert stock(plant, product) == (Decimal("10.000"), Decimal("1.500"))


@pytest.mark.parametrize("price", ["0.335", "-0.01", "Infinity", "NaN", "1000000.00"])
def test_erp_prices_are_non_negative_whole_cents(stocked, customer, plant, price):
    # A price of 0.335 would be stored as 0.34 while the line was charged 3 × 0.335 = 1.01, not 1.02.
    product = stocked("10")

    with pytest.raises(ValidationError) as raised:
        order_place(
            channel=Channel.ERP,
            customer=CustomerRef(customer=customer),
            fulfilment=Fulfilment.PICKUP,
            lines=[line(product, "3", unit_price=price)],
            actor=Actor(kind="erp", name="SAP1"),
        )

    assert raised.value.errors == {"lines": [{"unit_price": [PRICE_INVALID]}]}
    assert_nothing_written()
    assert stock(plant, product) == (Decimal("10.000"), Decimal("0.000"))


def test_order_total_that_would_not_fit_is_refused(product_factory, customer, plant):
    # 100 lines of 999,999.999 × 999,999.99 each fit a line but not the 14-digit order total.
    product = product_factory(stocked=False)
    lines = [line(product, "999999.999", unit_price="999999.99") for _ in range(100)]

    with pytest.raises(ValidationError) as raised:
        order_place(
            channel=Channel.ERP,
            customer=CustomerRef(customer=customer),
            fulfilment=Fulfilment.PICKUP,
            lines=lines,
            actor=Actor(kind="erp", name="SAP1"),
            plant=plant,
        )

    assert raised.value.errors == {"lines": [TOTAL_TOO_LARGE]}
    assert_nothing_written()


def test_inactive_sales_point_or_foreign_channel_is_refused(stocked, customer, sales_point_factory, plant):
    product = stocked("10")
    kiosk = sales_point_factory(plant=plant, channel=Channel.KIOSK)
    closed = sales_point_factory(plant=plant, channel=Channel.KIOSK, active=False)

    for channel, sales_point in ((Channel.STOREFRONT, kiosk), (Channel.KIOSK, closed)):
        with pytest.raises(ValidationError) as raised:
            order_place(
                channel=channel,
                customer=CustomerRef(customer=customer),
                fulfilment=Fulfilment.PICKUP,
                lines=[line(product, "1")],
                actor=KIOSK,
                sales_point=sales_point,
            )
        assert raised.value.errors == {"sales_point": [SALES_POINT_INACTIVE]}
    assert_nothing_written()
    assert stock(plant, product) == (Decimal("10.000"), Decimal("0.000"))


def test_only_the_erp_sets_prices(place, stocked):
    product = stocked("10")

    with pytest.raises(ValidationError) as raised:
        place([line(product, "1", unit_price="0.01")])

    assert raised.value.errors == {"lines": ["Prices are set by the catalog."]}
    assert_nothing_written()


def test_pickup_order_has_no_site_and_no_address(stocked, customer, web_actor, plant):
    product = stocked("10")

    order = order_place(
        channel=Channel.WEB,
        customer=CustomerRef(customer=customer),
        lines=[line(product, "1")],
        actor=web_actor,
        fulfilment=Fulfilment.PICKUP,
    )

    order.refresh_from_db()
    assert (order.fulfilment, order.site_id, order.address, order.plant_id) == ("pickup", None, {}, plant.pk)
    payload = outbox(order)[0][2]
    assert (payload["fulfilment"], payload["site"]) == ("pickup", None)


def test_delivery_without_site_is_refused(stocked, customer, web_actor):
    product = stocked("10")

    with pytest.raises(ValidationError) as raised:
        order_place(
            channel=Channel.WEB,
            customer=CustomerRef(customer=customer),
            lines=[line(product, "1")],
            actor=web_actor,
        )

    assert raised.value.errors == {"site": ["A delivery needs a site."]}
    assert_nothing_written()


def test_inline_customer_matches_an_existing_email_case_insensitively(stocked, customer, web_actor, plant):
    product = stocked("10")

    order = order_place(
        channel=Channel.WEB,
        customer=CustomerRef(data=CustomerData(name="I. Petrov", email="  IVAN@Example.COM ")),
        site=SiteRef(data=SiteData(name="Yard", address="5 Main St", city="Sofia", lat=42.7, lon=23.3)),
        lines=[line(product, "1")],
        actor=web_actor,
    )

    assert order.customer_id == customer.pk
    assert Customer.objects.count() == 1
    assert CustomerEvent.objects.count() == 0
    new_site = Site.objects.get(customer=customer, name="Yard")
    assert order.site_id == new_site.pk
    assert order.address == new_site.snapshot()


def test_inline_new_customer_is_created_with_a_normalised_phone(stocked, web_actor, plant):
    product = stocked("10")

    order = order_place(
        channel=Channel.WEB,
        customer=CustomerRef(
            data=CustomerData(name="Georgi", email="Georgi@Example.com", phone="0888 123 456")
        ),
        fulfilment=Fulfilment.PICKUP,
        lines=[line(product, "1")],
        actor=web_actor,
    )

    created = Customer.objects.get()
    assert order.customer_id == created.pk
    assert (created.name, created.email, str(created.phone)) == (
        "Georgi",
        "georgi@example.com",
        "+359888123456",
    )
    assert list(CustomerEvent.objects.values_list("customer_id", "type")) == [
        (created.pk, "customer.created")
    ]
    assert outbox(order)[0][2]["customer"]["number"] == created.number


def test_customer_erp_references_travel_with_the_order(place, stocked, customer, erp_system_factory):
    from django.contrib.contenttypes.models import ContentType

    from oms.models import ExternalRef

    erp = erp_system_factory(code="SAP1")
    ExternalRef.objects.create(
        system=erp,
        entity_type="customer",
        external_id="100042",
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
    )

    order = place({stocked("10"): "1"})

    assert outbox(order)[0][2]["customer"]["erp_refs"] == {"SAP1": "100042"}


def test_on_call_flag_and_window_are_stored(place, stocked):
    order = place({stocked("10"): "4"}, on_call=True, window_from=time(7, 0), window_to=time(9, 0))

    order.refresh_from_db()
    assert (order.on_call, order.window_from, order.window_to) == (True, time(7, 0), time(9, 0))
    payload = outbox(order)[0][2]
    assert (payload["on_call"], payload["window"]) == (True, {"from": "07:00", "to": "09:00"})


def test_made_to_order_products_need_no_stock(place, product_factory, plant):
    concrete = product_factory(sku="C25/30", stocked=False, unit="m3", unit_price=Decimal("95.00"))

    order = place({concrete: "8"})

    stored = order.lines.get()
    assert (stored.stocked, stored.allocated, stored.net, stored.tax) == (
        False,
        Decimal("0.000"),
        Decimal("760.00"),
        Decimal("152.00"),
    )
    assert order.plant_id == plant.pk


def test_two_lines_of_one_product_allocate_their_sum(place, stocked, plant):
    product = stocked("10")

    order = place([line(product, "4"), line(product, "6")])

    assert list(order.lines.values_list("position", "allocated")) == [
        (1, Decimal("4.000")),
        (2, Decimal("6.000")),
    ]
    assert stock(plant, product) == (Decimal("10.000"), Decimal("10.000"))


def test_credit_hold_customer_order_is_placed_then_held(place, stocked, customer, plant):
    customer.credit_hold = True
    customer.save()
    product = stocked("10", unit_price=Decimal("10.00"))

    order = place({product: "1"})

    order.refresh_from_db()
    assert (order.status, order.status_before, order.version) == ("on_hold", "placed", 2)
    assert events(order) == [
        ("order.placed", {"channel": "web", "lines": 1, "gross": "12.00"}),
        ("order.held", {"from": "placed", "to": "on_hold", "reason": "credit_hold"}),
    ]
    held = OrderEvent.objects.get(order=order, type="order.held")
    assert (held.actor_kind, held.actor) == ("system", "system")
    assert [(t, s, p["status"]) for t, s, p in outbox(order)] == [("order.created", 1, "placed")]
    # Held orders keep their stock: the hold is about money, not goods.
    assert stock(plant, product) == (Decimal("10.000"), Decimal("1.000"))


# --- failure paths: a domain error and nothing written ------------------------------------------


def test_unknown_sku_is_reported_per_line_and_nothing_is_written(place, stocked, plant):
    product = stocked("10")

    with pytest.raises(ValidationError) as raised:
        place([line(product, "1"), LineInput(sku="NOPE", quantity=Decimal("1"))])

    assert raised.value.detail == UNKNOWN_SKU
    assert raised.value.errors == {"lines": [{}, {"sku": [UNKNOWN_SKU]}]}
    assert_nothing_written()
    assert stock(plant, product) == (Decimal("10.000"), Decimal("0.000"))


def test_inactive_sku_is_unknown(place, stocked, plant):
    product = stocked("10", active=False)

    with pytest.raises(ValidationError) as raised:
        place({product: "1"})

    assert raised.value.errors == {"lines": [{"sku": [UNKNOWN_SKU]}]}
    assert_nothing_written()
    assert stock(plant, product) == (Decimal("10.000"), Decimal("0.000"))


def test_insufficient_stock_reports_availability_per_short_line(place, stocked, product_factory, plant):
    enough = stocked("10", sku="A-ENOUGH")
    short = stocked("5", allocated="3.5", sku="B-SHORT")
    missing = product_factory(sku="C-NOROW")  # stocked, but the plant has no stock row at all

    with pytest.raises(InsufficientStock) as raised:
        place({enough: "10", short: "2", missing: "1"})

    error = raised.value
    assert (error.status, error.code, error.detail) == (
        409,
        "insufficient_stock",
        "Not enough stock for 2 lines.",
    )
    assert error.errors == {
        "lines": [
            {"sku": "B-SHORT", "requested": "2.000", "available": "1.500"},
            {"sku": "C-NOROW", "requested": "1.000", "available": "0.000"},
        ]
    }
    assert_nothing_written()
    assert stock(plant, enough) == (Decimal("10.000"), Decimal("0.000"))
    assert stock(plant, short) == (Decimal("5.000"), Decimal("3.500"))


def test_inline_customer_is_not_kept_when_placement_fails(stocked, web_actor):
    product = stocked("1")

    with pytest.raises(InsufficientStock):
        order_place(
            channel=Channel.WEB,
            customer=CustomerRef(data=CustomerData(name="New", email="new@example.com")),
            fulfilment=Fulfilment.PICKUP,
            lines=[line(product, "2")],
            actor=web_actor,
        )

    assert Customer.objects.count() == 0
    assert CustomerEvent.objects.count() == 0
    assert_nothing_written()


def test_past_requested_date_is_refused(place, stocked, plant):
    product = stocked("10")

    with pytest.raises(ValidationError) as raised:
        place({product: "1"}, requested_date=plant_today(plant) - timedelta(days=1))

    assert raised.value.errors == {"requested_date": [DATE_IN_PAST]}
    assert_nothing_written()
    assert stock(plant, product) == (Decimal("10.000"), Decimal("0.000"))


def test_today_in_the_plant_time_zone_is_accepted(place, stocked, plant):
    order = place({stocked("10"): "1"}, requested_date=plant_today(plant))

    assert order.requested_date == plant_today(plant)


@pytest.mark.parametrize("count", [0, 101])
def test_an_order_has_1_to_100_lines(place, stocked, count):
    product = stocked("1000")

    with pytest.raises(ValidationError) as raised:
        place([line(product, "1")] * count)

    assert raised.value.errors == {"lines": [LINES_REQUIRED]}
    assert_nothing_written()


@pytest.mark.parametrize("quantity", ["1.0005", "0", "-1", "1000000", "NaN"])
def test_quantity_must_be_positive_with_at_most_3_decimals(place, stocked, quantity):
    product = stocked("10")

    with pytest.raises(ValidationError) as raised:
        place([line(product, "2"), line(product, quantity)])

    assert raised.value.errors == {"lines": [{}, {"quantity": [QUANTITY_INVALID]}]}
    assert_nothing_written()


def test_window_must_end_after_it_starts(place, stocked):
    with pytest.raises(ValidationError) as raised:
        place({stocked("10"): "1"}, window_from=time(10, 0), window_to=time(9, 0))

    assert raised.value.errors == {"window": ["The window must end after it starts."]}
    assert_nothing_written()


def test_unknown_customer_number_is_not_found(place, stocked):
    with pytest.raises(NotFound) as raised:
        place({stocked("10"): "1"}, customer=CustomerRef(number="C-999999"))

    assert raised.value.errors == {"customer": ["Customer not found."]}
    assert_nothing_written()


def test_site_of_another_customer_is_refused(place, stocked, site_factory):
    foreign = site_factory()

    with pytest.raises(ValidationError) as raised:
        place({stocked("10"): "1"}, site=SiteRef(id=str(foreign.public_id)))

    assert raised.value.errors == {"site": ["Site not found."]}
    assert_nothing_written()


def test_same_channel_and_external_ref_is_a_duplicate(place, stocked, plant):
    product = stocked("10")
    first = place({product: "1"}, external_ref="WEB-1")

    with pytest.raises(DuplicateExternalRef) as raised:
        place({product: "1"}, external_ref=" WEB-1 ")

    assert raised.value.extra == {"number": first.number}
    assert raised.value.status == 409
    assert Order.objects.count() == 1
    assert OrderEvent.objects.count() == 1
    assert OutboxMessage.objects.count() == 1
    assert stock(plant, product) == (Decimal("10.000"), Decimal("1.000"))


def test_same_external_ref_on_another_channel_is_another_order(place, stocked):
    product = stocked("10")
    place({product: "1"}, external_ref="X-1")

    other = place({product: "1"}, external_ref="X-1", channel=Channel.PHONE)

    assert Order.objects.count() == 2
    assert other.channel == "phone"


# --- the commit boundary --------------------------------------------------------------------------


def test_the_outbox_nudge_runs_after_commit(place, stocked, monkeypatch, django_capture_on_commit_callbacks):
    nudges = []
    monkeypatch.setattr(outbox_module, "_nudge_relay", lambda: nudges.append("nudge"))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        place({stocked("10"): "1"})
        assert nudges == []

    assert len(callbacks) == 2  # the relay nudge and the `oms_orders_placed_total` count
    assert nudges == ["nudge"]


def test_the_outbox_nudge_is_dropped_when_the_transaction_rolls_back(
    place, stocked, monkeypatch, django_capture_on_commit_callbacks
):
    nudges = []
    monkeypatch.setattr(outbox_module, "_nudge_relay", lambda: nudges.append("nudge"))
    product = stocked("10")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        place({product: "1"})
        raise RuntimeError("the caller's transaction fails after placement")

    assert callbacks == []
    assert nudges == []
    assert_nothing_written()


def test_the_real_nudge_is_registered_on_commit(place, stocked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        place({stocked("10"): "1"})

    assert callbacks[0] == outbox_module._nudge_relay
    assert len(callbacks) == 2  # and the `oms_orders_placed_total` count


def test_nudges_are_coalesced_until_the_relay_run_starts(monkeypatch):
    """Commits while a nudge waits in the queue do not queue more; once the relay run has started
    (and cleared the flag before reading what is due) the next commit nudges again."""
    from erp_sync import tasks
    from oms.lib.redis import redis_client

    sent = []
    monkeypatch.setattr(tasks.relay_nudge, "apply_async", lambda **kwargs: sent.append(kwargs))
    redis_client().delete(outbox_module.NUDGE_FLAG)

    outbox_module._nudge_relay()
    outbox_module._nudge_relay()
    outbox_module._nudge_relay()
    assert len(sent) == 1

    outbox_module.relay_nudge_started()
    outbox_module._nudge_relay()
    outbox_module._nudge_relay()
    assert len(sent) == 2
    assert 0 < redis_client().ttl(outbox_module.NUDGE_FLAG) <= outbox_module.NUDGE_FLAG_SECONDS


def test_a_nudge_is_sent_when_the_flag_cannot_be_set(monkeypatch):
    import redis

    from erp_sync import tasks

    sent = []
    monkeypatch.setattr(tasks.relay_nudge, "apply_async", lambda **kwargs: sent.append(kwargs))

    def broken(*args, **kwargs):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(redis.Redis, "set", broken)
    outbox_module._nudge_relay()
    outbox_module._nudge_relay()

    assert len(sent) == 2


# --- a constant number of queries -------------------------------------------------------------------


def test_placement_runs_the_same_number_of_queries_for_1_10_and_100_lines(
    customer, site, plant, product_factory, stock_level_factory, web_actor
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    products = [product_factory() for _ in range(100)]
    for product in products:
        stock_level_factory(plant=plant, product=product, on_hand=Decimal("1000"))
    counts = {}
    for size in (1, 10, 100):
        with CaptureQueriesContext(connection) as ctx:
            order_place(
                channel=Channel.WEB,
                customer=CustomerRef(id=str(customer.public_id)),
                site=SiteRef(id=str(site.public_id)),
                lines=[line(p, "1") for p in products[:size]],
                actor=web_actor,
                requested_date=date.today() + timedelta(days=3),
            )
        counts[size] = len(ctx.captured_queries)

    assert counts[1] == counts[10] == counts[100]
    assert Order.objects.count() == 3
    assert OrderLine.objects.count() == 111


def test_placement_query_count_is_exactly_known(
    customer, site, plant, stocked, web_actor, django_assert_num_queries
):
    products = [stocked("100") for _ in range(10)]
    ContentType.objects.get_for_model(Customer)  # cached per process after the first order

    # savepoint, customer, products, site, plants, stock read (plant choice), order number, order
    # insert (no savepoint: no external_ref), lines, ERP refs, outbox row (ERP routing and aggregate
    # sequence in the same statement), event, stock lock + check + allocation (one statement, last:
    # the stock rows stay locked for as short a time as possible), release savepoint. The ERP sync
    # state is set on insert, not updated after.
    with django_assert_num_queries(14) as captured:
        order_place(
            channel=Channel.WEB,
            customer=CustomerRef(id=str(customer.public_id)),
            site=SiteRef(id=str(site.public_id)),
            lines=[line(p, "1") for p in products],
            actor=web_actor,
        )

    assert Order.objects.get().status == OrderStatus.PLACED
    statements = [query["sql"] for query in captured.captured_queries]
    locking = [i for i, sql in enumerate(statements) if "FOR UPDATE" in sql]
    assert locking == [12]
    assert statements[13].startswith("RELEASE SAVEPOINT")


def test_without_its_savepoint_placement_saves_two_statements_and_a_failure_spoils_the_transaction(
    customer, site, plant, stocked, web_actor, django_assert_num_queries
):
    from django.db.transaction import TransactionManagementError

    products = [stocked("100") for _ in range(10)]

    def place_at_web(quantities, savepoint):
        return order_place(
            channel=Channel.WEB,
            customer=CustomerRef(id=str(customer.public_id)),
            site=SiteRef(id=str(site.public_id)),
            lines=[line(p, q) for p, q in quantities],
            actor=web_actor,
            savepoint=savepoint,
        )

    ContentType.objects.get_for_model(Customer)  # cached per process after the first order
    with transaction.atomic(), django_assert_num_queries(12):  # 14 less SAVEPOINT and RELEASE
        place_at_web([(p, "1") for p in products], savepoint=False)
    assert Order.objects.count() == 1

    # With its savepoint (the default) a caller may catch the error and go on in its transaction…
    with transaction.atomic():
        with pytest.raises(InsufficientStock):
            place_at_web([(products[0], "1000")], savepoint=True)
        assert Order.objects.count() == 1
    # …without it the caller's transaction can only be rolled back, and nothing of it is kept.
    with pytest.raises(TransactionManagementError), transaction.atomic():
        with pytest.raises(InsufficientStock):
            place_at_web([(products[0], "1000")], savepoint=False)
        Order.objects.count()
    assert Order.objects.count() == 1
    assert stock(plant, products[0]) == (Decimal("100.000"), Decimal("1.000"))
