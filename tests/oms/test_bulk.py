"""The hot-path write and read helpers of `oms.lib.bulk` against the ORM they stand in for.

Each helper must leave exactly the rows `save()`/`bulk_create()` would leave, and `fetch_where` must
return instances equal field by field to a queryset's. They run on the suite's database: PostgreSQL in
CI (the written-out SQL), SQLite elsewhere (the ORM fallbacks).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict

from catalog.models import Product
from oms.lib.bulk import bulk_insert, fetch_where, insert_rows
from oms.models import IdempotencyRecord
from orders.models import Channel, Order, OrderLine
from tests import factories

pytestmark = pytest.mark.django_db

CREATED = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def columns(obj) -> dict:
    """Every concrete column of the stored row (primary key included) as the ORM reads it back."""
    return type(obj).objects.filter(pk=obj.pk).values(*[f.attname for f in obj._meta.concrete_fields]).get()


def attributes(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def new_order(**overrides) -> Order:
    plant = factories.PlantFactory()
    fields = {
        "number": "ORD-BULK-1",
        "customer": factories.CustomerFactory(),
        "address": {"street": "1 Vitosha Blvd", "lat": 42.7, "tags": ["gate", "crane"]},
        "channel": Channel.KIOSK,
        "requested_date": date(2026, 3, 5),
        "window_from": time(8, 30),
        "window_to": time(12, 0),
        "plant": plant,
        "net_total": Decimal("123.45"),
        "tax_total": Decimal("24.69"),
        "gross_total": Decimal("148.14"),
        "notes": "Ring twice — звънец",
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    return Order(**(fields | overrides))


def new_line(order: Order, product: Product, position: int, quantity: str) -> OrderLine:
    """An unsaved line (the factory's `build`), its net rounded as placement rounds it."""
    qty = Decimal(quantity)
    return factories.OrderLineFactory.build(
        order=order,
        product=product,
        position=position,
        quantity=qty,
        net=(qty * product.unit_price).quantize(Decimal("0.01")),
        tax=Decimal("2.00"),
    )


def test_bulk_insert_and_insert_rows_store_what_bulk_create_stores():
    product = factories.ProductFactory()
    order = new_order()
    order.save(force_insert=True)
    ours = [new_line(order, product, 1, "3.333"), new_line(order, product, 2, "4")]
    bulk_insert(ours)
    assert all(line.pk is not None and not line._state.adding for line in ours)
    for line in ours:
        assert columns(line) == attributes(line)

    insert_rows(
        IdempotencyRecord,
        [
            {
                "scope": "client:1",
                "method": "POST",
                "path": "/api/v1/orders/",
                "key": "k-1",
                "fingerprint": "f" * 64,
                "response_body": {"number": "ORD-1", "lines": [1, 2]},
                "created_at": CREATED,
                "locked_until": CREATED,
            }
        ],
    )
    record = IdempotencyRecord.objects.get(key="k-1")
    assert (record.state, record.response_status, record.response_body, record.result_ref) == (
        IdempotencyRecord.State.IN_FLIGHT,
        None,
        {"number": "ORD-1", "lines": [1, 2]},
        "",
    )


def test_fetch_where_returns_what_the_queryset_returns():
    order = new_order()
    order.save(force_insert=True)
    factories.OrderFactory(channel=Channel.WEB)

    found = fetch_where(Order, channel=Channel.KIOSK, site__isnull=True)

    assert [o.pk for o in found] == [order.pk]
    expected = Order.objects.get(pk=order.pk)
    assert model_to_dict(found[0]) == model_to_dict(expected)
    assert attributes(found[0]) == attributes(expected)
    # Converted like a queryset's values: JSON decoded, a real UUID, an aware datetime, Decimals.
    assert found[0].address == {"street": "1 Vitosha Blvd", "lat": 42.7, "tags": ["gate", "crane"]}
    assert isinstance(found[0].public_id, uuid.UUID)
    assert found[0].created_at == CREATED
    assert found[0].gross_total == Decimal("148.14")
    assert found[0]._state.adding is False and found[0]._state.db == "default"


def test_fetch_where_filters_by_lists_booleans_foreign_keys_and_limit():
    a, b, c = (factories.ProductFactory(sku=f"FW-{n}") for n in "ABC")
    factories.ProductFactory(sku="FW-D", active=False)

    assert sorted(p.sku for p in fetch_where(Product, sku={"FW-A", "FW-C", "FW-D"}, active=True)) == [
        "FW-A",
        "FW-C",
    ]
    assert [p.sku for p in fetch_where(Product, sku=["FW-D"], active=False)] == ["FW-D"]
    assert fetch_where(Product, sku=[]) == []
    assert len(fetch_where(Product, active=True, limit=2)) == 2
    found = fetch_where(Product, pk=b.pk)
    assert [(p.pk, p.stocked, p.active, p.unit_price) for p in found] == [
        (b.pk, True, True, Decimal("10.00"))
    ]

    order = factories.OrderFactory(plant=factories.PlantFactory())
    assert [o.pk for o in fetch_where(Order, plant=order.plant)] == [order.pk]
    assert [o.pk for o in fetch_where(Order, plant_id=order.plant_id)] == [order.pk]
    assert a.pk != c.pk


def test_fetch_where_rejects_a_malformed_value_before_querying(django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(ValidationError):
        fetch_where(Order, public_id="not-a-uuid")


def test_fetch_where_reads_related_rows_as_select_related_does(django_assert_num_queries):
    order = new_order()
    order.save(force_insert=True)
    product = factories.ProductFactory()
    OrderLine.objects.bulk_create([new_line(order, product, 1, "2"), new_line(order, product, 2, "3")])

    with django_assert_num_queries(1):
        found = fetch_where(OrderLine, related=("order__customer", "order__site", "product"), order=order)
    expected = {
        line.pk: line
        for line in OrderLine.objects.select_related("order__customer", "order__site", "product")
    }
    assert sorted(line.pk for line in found) == sorted(expected)
    with django_assert_num_queries(0):
        for line in found:
            theirs = expected[line.pk]
            assert attributes(line) == attributes(theirs)
            assert attributes(line.order) == attributes(theirs.order)
            assert attributes(line.order.customer) == attributes(theirs.order.customer)
            assert attributes(line.product) == attributes(theirs.product)
            assert line.order.site is None  # a null foreign key: no row, no query
            assert line.order.address == {"street": "1 Vitosha Blvd", "lat": 42.7, "tags": ["gate", "crane"]}


def test_fetch_where_joins_only_forward_foreign_keys():
    with pytest.raises(ValueError, match="lines: only forward foreign keys"):
        fetch_where(Order, related=("lines",), number="ORD-1")
