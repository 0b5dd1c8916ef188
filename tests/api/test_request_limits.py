"""API request limits: customer lookup and registration per key, JSON body size; device answers mask the name."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from customers.models import Customer
from tests.api.conftest import counts, order_body, place

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/customers/lookup/"


@override_settings(OMS_CUSTOMER_API_RATE_PER_MINUTE=3)
def test_lookups_and_registrations_share_one_limit_per_key(api_a, api_b, customer):
    statuses = [api_a.post(LOOKUP, {"number": customer.number}, format="json").status_code for _ in range(2)]
    statuses.append(
        api_a.post("/api/v1/customers/", {"name": "New One", "kind": "person"}, format="json").status_code
    )
    before = counts()

    refused = api_a.post("/api/v1/customers/", {"name": "Scanner", "kind": "person"}, format="json")

    assert statuses == [200, 200, 201]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert counts() == before
    assert not Customer.objects.filter(name="Scanner").exists()
    assert api_a.post(LOOKUP, {"number": customer.number}, format="json").status_code == 429
    assert api_b.post(LOOKUP, {"number": customer.number}, format="json").status_code == 200


def test_order_list_and_detail_mask_the_customer_name(api_a, customer, cement):
    placed = place(api_a, order_body(external_ref="MASK-1"), key="mask-1")
    number = placed.json()["number"]

    listed = api_a.get("/api/v1/orders/").json()["results"]
    detail = api_a.get(f"/api/v1/orders/{number}/").json()

    assert placed.json()["customer"]["name"] == "I*** P***"
    assert [o["customer"] for o in listed] == [
        {"id": str(customer.public_id), "number": customer.number, "name": "I*** P***"}
    ]
    assert detail["customer"] == {
        "id": str(customer.public_id),
        "number": customer.number,
        "name": "I*** P***",
    }


def test_a_json_body_over_the_upload_limit_is_a_413_problem(api_a, customer, cement, settings):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 problem+json (Django alone answers an HTML 400)."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4_000
    before = counts()
    body = order_body(notes="n" * 500, lines=[{"sku": "C25-30", "quantity": "1.000"}] * 100)
    oversize = json.dumps(body)
    assert len(oversize) > 4_000
    response = api_a.post(
        "/api/v1/orders/", oversize, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big-1"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "too_large"
    assert response.json()["detail"] == "The request body is over 4000 bytes."
    assert counts() == before
    # Within the limit the same request goes through.
    response = place(api_a, order_body(), key="big-2")
    assert response.status_code == 201, response.content
