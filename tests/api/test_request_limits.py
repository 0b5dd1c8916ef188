"""Customer lookup and registration are rate-limited per API key; device order answers mask the name."""

from __future__ import annotations

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
