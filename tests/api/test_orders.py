"""POST/GET /api/v1/orders/…: placement, idempotency, scoping, cancellation, rate limit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from catalog.models import StockLevel
from oms.models import IdempotencyRecord
from orders.models import Order, OrderStatus
from tests.api.conftest import counts, order_body, place

pytestmark = pytest.mark.django_db


def test_place_order_answers_the_contract_shape(api_a, customer, cement, plant):
    response = place(api_a)

    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert "Idempotent-Replayed" not in response
    body = response.json()
    order = Order.objects.get(number=body["number"])
    assert body == {
        "number": order.number,
        "status": "placed",
        "channel": "kiosk",
        "sales_point": "KIOSK-SOF1-01",
        "customer": {"id": str(customer.public_id), "number": "C-000042", "name": "I*** P***"},
        "fulfilment": "delivery",
        "plant": "SOF1",
        "requested_date": order.requested_date.isoformat(),
        "window": {"from": "08:00", "to": "10:00"},
        "on_call": False,
        "lines": [
            {
                "position": 1,
                "sku": "C25-30",
                "name": "Concrete C25/30",
                "quantity": "8.000",
                "unit": "m3",
                "unit_price": "95.00",
                "vat_rate": "20.00",
                "net": "760.00",
                "delivered": "0.000",
                "returned": "0.000",
            }
        ],
        "totals": {"net": "760.00", "tax": "152.00", "gross": "912.00", "currency": "EUR"},
        "external_ref": "POS-17-000482",
        "erp_order": None,
        "tracking_url": f"http://127.0.0.1:8000/track/{order.tracking_token}/",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert order.sales_point.code == "KIOSK-SOF1-01"
    assert StockLevel.objects.get(product=cement).allocated == Decimal("8.000")


def test_missing_idempotency_key_is_refused_and_writes_nothing(api_a, customer, cement):
    before = counts()

    response = place(api_a, key=None)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_missing"
    assert counts() == before


def test_same_key_same_body_replays_the_first_response(api_a, customer, cement):
    first = place(api_a, key="replay-1")
    # Key order and spacing do not matter: the body is compared after parsing.
    reordered = dict(reversed(list(order_body().items())))
    second = place(api_a, reordered, key="replay-1")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Order.objects.count() == 1
    assert StockLevel.objects.get(product=cement).allocated == Decimal("8.000")


def test_same_key_other_body_is_422_and_writes_nothing(api_a, customer, cement):
    place(api_a, key="reuse-1")
    before = counts()

    response = place(api_a, order_body(notes="different"), key="reuse-1")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert counts() == before


def test_keys_are_scoped_per_api_client(api_a, api_b, customer, cement):
    first = place(api_a, key="shared-key")
    second = place(api_b, order_body(external_ref="POS-B-1"), key="shared-key")

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert first.json()["number"] != second.json()["number"]


def test_insufficient_stock_is_409_stored_and_replayed(api_a, customer, gravel):
    body = order_body(lines=[{"sku": "AGG-0-4", "quantity": "30.000"}])
    before = counts()

    first = place(api_a, body, key="short-1")
    replay = place(api_a, body, key="short-1")

    assert first.status_code == 409
    assert first["Content-Type"] == "application/problem+json"
    assert first.json() == {
        "type": "https://oms.example/problems/insufficient-stock",
        "title": "Insufficient stock",
        "status": 409,
        "code": "insufficient_stock",
        "detail": first.json()["detail"],
        "errors": {"lines": [{"sku": "AGG-0-4", "requested": "30.000", "available": "12.500"}]},
    }
    assert replay.status_code == 409
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["Content-Type"] == "application/problem+json"
    assert replay.json() == first.json()
    after = counts()
    assert after["orders"] == before["orders"]
    assert after["idempotency"] == before["idempotency"] + 1
    assert StockLevel.objects.get(product=gravel).allocated == Decimal("0.000")


def test_validation_failure_stores_no_key_so_the_client_may_retry(api_a, customer, cement):
    bad = place(api_a, order_body(lines=[{"sku": "NOPE", "quantity": "1"}]), key="fix-me")
    fixed = place(api_a, key="fix-me")

    assert bad.status_code == 400
    assert bad.json()["errors"] == {"lines": [{"sku": ["Unknown or inactive product."]}]}
    assert fixed.status_code == 201


def test_duplicate_external_ref_is_409_with_the_existing_number(api_a, customer, cement):
    first = place(api_a, key="ext-1")

    second = place(api_a, key="ext-2")

    assert second.status_code == 409
    assert second.json()["code"] == "duplicate_external_ref"
    assert second.json()["number"] == first.json()["number"]
    assert Order.objects.count() == 1


def test_inline_customer_is_created_then_matched(api_a, cement):
    inline = {"name": "Maria Ivanova", "email": "Maria@Example.com", "phone": "+359888000111"}

    first = place(api_a, order_body(customer=inline, external_ref="a"), key="inline-1")
    second = place(api_a, order_body(customer=inline, external_ref="b"), key="inline-2")

    assert first.status_code == second.status_code == 201
    assert first.json()["customer"] == second.json()["customer"]
    assert first.json()["customer"]["name"] == "M*** I***"


def test_pickup_needs_no_site(api_a, customer, cement):
    response = place(api_a, order_body(fulfilment="pickup", site=None, window=None), key="pickup")

    assert response.status_code == 201
    assert response.json()["fulfilment"] == "pickup"
    assert response.json()["window"] is None


def test_client_cannot_write_prices_totals_or_status(api_a, customer, cement):
    body = order_body(status="completed", totals={"gross": "0.01"})
    body["lines"] = [{"sku": "C25-30", "quantity": "1.000", "unit_price": "0.01", "net": "0.01"}]

    response = place(api_a, body, key="prices")

    assert response.status_code == 201
    assert response.json()["status"] == "placed"
    assert response.json()["lines"][0]["unit_price"] == "95.00"
    assert response.json()["totals"] == {"net": "95.00", "tax": "19.00", "gross": "114.00", "currency": "EUR"}


def test_list_shows_only_the_callers_orders_with_filters(api_a, api_b, customer, cement):
    mine = place(api_a, key="l1").json()["number"]
    other = place(api_b, order_body(external_ref="OTHER"), key="l2").json()["number"]

    listed = api_a.get("/api/v1/orders/").json()
    by_ref = api_a.get("/api/v1/orders/", {"external_ref": "POS-17-000482"}).json()
    foreign_ref = api_a.get("/api/v1/orders/", {"external_ref": "OTHER"}).json()
    cancelled = api_a.get("/api/v1/orders/", {"status": "cancelled"}).json()
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    created_after = api_a.get("/api/v1/orders/", {"created_after": future}).json()
    created_before = api_a.get("/api/v1/orders/", {"created_before": future}).json()

    assert [o["number"] for o in listed["results"]] == [mine]
    assert listed["next"] is None and listed["previous"] is None
    assert [o["number"] for o in by_ref["results"]] == [mine]
    assert foreign_ref["results"] == []
    assert cancelled["results"] == []
    assert created_after["results"] == []
    assert [o["number"] for o in created_before["results"]] == [mine]
    assert other != mine


def test_detail_adds_events_and_jobs(api_a, placed_order):
    response = api_a.get(f"/api/v1/orders/{placed_order.number}/")

    assert response.status_code == 200
    body = response.json()
    assert body["number"] == placed_order.number
    assert [(e["type"], e["summary"]) for e in body["events"]] == [("order.placed", "Order placed")]
    assert body["jobs"] == []


def test_other_sales_points_orders_are_404(api_b, placed_order):
    detail = api_b.get(f"/api/v1/orders/{placed_order.number}/")
    cancel = api_b.post(f"/api/v1/orders/{placed_order.number}/cancel/", {"reason": "x"}, format="json")

    assert detail.status_code == cancel.status_code == 404
    assert detail.json()["code"] == cancel.json()["code"] == "not_found"
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.PLACED


def test_cancel_before_loading_cancels_and_releases_stock(api_a, placed_order, cement):
    response = api_a.post(
        f"/api/v1/orders/{placed_order.number}/cancel/", {"reason": "Customer changed plans"}, format="json"
    )
    again = api_a.post(f"/api/v1/orders/{placed_order.number}/cancel/", {"reason": "again"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    assert StockLevel.objects.get(product=cement).allocated == Decimal("0.000")


def test_cancel_after_loading_started_requests_cancellation(api_a, placed_order, cement):
    Order.objects.filter(pk=placed_order.pk).update(loading_started_at=timezone.now())

    response = api_a.post(
        f"/api/v1/orders/{placed_order.number}/cancel/", {"reason": "Too late"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "cancellation_requested"
    assert StockLevel.objects.get(product=cement).allocated == Decimal("8.000")


def test_cancel_a_delivered_order_is_409(api_a, placed_order):
    Order.objects.filter(pk=placed_order.pk).update(status=OrderStatus.DELIVERED)

    response = api_a.post(f"/api/v1/orders/{placed_order.number}/cancel/", {"reason": "No"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_cancel_with_a_key_replays(api_a, placed_order):
    url = f"/api/v1/orders/{placed_order.number}/cancel/"
    first = api_a.post(url, {"reason": "r"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    second = api_a.post(url, {"reason": "r"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")

    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()


def test_order_creation_goes_on_when_the_rate_counter_is_unavailable(api_a, customer, cement, monkeypatch):
    import redis

    from oms.lib import throttle

    def down(key, ttl):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(throttle, "count_in_redis", down)
    response = place(api_a, order_body(external_ref="NO-REDIS"), key="no-redis")

    assert response.status_code == 201
    assert Order.objects.filter(external_ref="NO-REDIS").count() == 1


@override_settings(OMS_ORDER_RATE_PER_MINUTE=2)
def test_order_creation_is_rate_limited_per_client(api_a, api_b, customer, cement):
    statuses = [place(api_a, order_body(external_ref=f"R{i}"), key=f"rate-{i}").status_code for i in range(3)]
    other_client = place(api_b, order_body(external_ref="RB"), key="rate-b")

    assert statuses == [201, 201, 429]
    assert other_client.status_code == 201
    throttled = place(api_a, order_body(external_ref="R9"), key="rate-9")
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert IdempotencyRecord.objects.filter(key="rate-9").count() == 0
