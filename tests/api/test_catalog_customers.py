"""Products, availability, customer lookup/registration and public tracking."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from fleet.models import JobStatus
from orders.api.serializers import mask_name
from tests.api.conftest import counts
from tests.factories import PlantFactory, ProductFactory, StockLevelFactory

pytestmark = pytest.mark.django_db


def test_products_list_search_filter_and_paginate(api_a, cement, gravel, pump):
    ProductFactory(sku="OLD-1", name="Retired concrete", active=False)

    everything = api_a.get("/api/v1/products/").json()
    searched = api_a.get("/api/v1/products/", {"search": "concrete"}).json()
    by_sku = api_a.get("/api/v1/products/", {"search": "agg-0"}).json()
    tonnes = api_a.get("/api/v1/products/", {"unit": "t"}).json()
    page2 = api_a.get("/api/v1/products/", {"page_size": 2, "page": 2}).json()

    assert everything["count"] == 3
    assert everything["results"][0] == {
        "sku": "AGG-0-4",
        "name": "Aggregate 0-4",
        "unit": "t",
        "unit_price": "12.35",
        "vat_rate": "20.00",
        "stocked": True,
        "active": True,
    }
    assert [p["sku"] for p in searched["results"]] == ["C25-30", "SRV-PUMP"]
    assert [p["sku"] for p in by_sku["results"]] == ["AGG-0-4"]
    assert [p["sku"] for p in tonnes["results"]] == ["AGG-0-4"]
    assert [p["sku"] for p in page2["results"]] == ["SRV-PUMP"]
    assert page2["next"] is None and page2["previous"] is not None


def test_product_detail_and_unknown_or_inactive_sku(api_a, cement):
    ProductFactory(sku="OLD-1", active=False)

    assert api_a.get("/api/v1/products/C25-30/").json()["unit_price"] == "95.00"
    for sku in ("NOPE", "OLD-1"):
        response = api_a.get(f"/api/v1/products/{sku}/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"


def test_availability_of_a_stocked_product(api_a, cement, plant):
    other = PlantFactory(code="PLV1")
    StockLevelFactory(plant=other, product=cement, on_hand=Decimal("10.000"), allocated=Decimal("10.000"))
    closed = PlantFactory(code="ZZZ1", active=False)
    StockLevelFactory(plant=closed, product=cement, on_hand=Decimal("50.000"))
    PlantFactory(code="NOST")  # active, but no stock record for the product

    response = api_a.get("/api/v1/products/C25-30/availability/")

    assert response.json() == {
        "sku": "C25-30",
        "plants": [{"plant": "PLV1", "available": "0.000"}, {"plant": "SOF1", "available": "120.000"}],
    }


def test_availability_of_a_made_to_order_product_lists_every_active_plant(api_a, pump, plant):
    PlantFactory(code="PLV1")
    PlantFactory(code="ZZZ1", active=False)

    response = api_a.get("/api/v1/products/SRV-PUMP/availability/")

    assert response.json() == {
        "sku": "SRV-PUMP",
        "plants": [{"plant": "PLV1", "available": None}, {"plant": "SOF1", "available": None}],
    }
    assert api_a.get("/api/v1/products/NOPE/availability/").status_code == 404


def test_mask_name_keeps_first_letters():
    assert mask_name("Ivan Petrov") == "I*** P***"
    assert mask_name("  Beton   OOD ") == "B*** O***"


@pytest.mark.parametrize(
    "query",
    [
        {"phone": "+359888123456"},
        {"phone": "0888 123 456"},
        {"email": "IVAN@example.com"},
        {"number": "c-000042"},
    ],
)
def test_lookup_answers_id_number_and_masked_name_only(api_a, customer, query):
    response = api_a.post("/api/v1/customers/lookup/", query, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(customer.public_id),
        "number": "C-000042",
        "display_name": "I*** P***",
    }


def test_lookup_of_nobody_is_404_and_of_two_identifiers_is_400(api_a, customer):
    missing = api_a.post("/api/v1/customers/lookup/", {"email": "nobody@example.com"}, format="json")
    two = api_a.post(
        "/api/v1/customers/lookup/", {"email": "ivan@example.com", "number": "C-000042"}, format="json"
    )
    none = api_a.post("/api/v1/customers/lookup/", {}, format="json")

    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert two.status_code == none.status_code == 400
    assert two.json()["errors"] == {"non_field_errors": ["Give exactly one of phone, email or number."]}


def test_register_customer(api_a):
    response = api_a.post(
        "/api/v1/customers/",
        {"name": "Maria Ivanova", "email": "Maria@Example.com", "phone": "0888 000 111", "kind": "person"},
        format="json",
    )

    assert response.status_code == 201
    customer = Customer.objects.get(public_id=response.json()["id"])
    assert response.json() == {
        "id": str(customer.public_id),
        "number": customer.number,
        "name": "Maria Ivanova",
        "kind": "person",
    }
    assert (customer.email, str(customer.phone)) == ("maria@example.com", "+359888000111")


@pytest.mark.parametrize("match", [{"email": "IVAN@EXAMPLE.COM"}, {"phone": "+359 888 123 456"}])
def test_register_an_existing_customer_is_409_with_its_id(api_a, customer, match):
    before = counts()

    response = api_a.post("/api/v1/customers/", {"name": "Ivan P.", "kind": "person", **match}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "customer_exists"
    assert response.json()["id"] == str(customer.public_id)
    assert counts() == before


def test_register_with_a_key_replays(api_a):
    body = {"name": "Firm Ltd", "kind": "company", "email": "firm@example.com"}
    first = api_a.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="reg-1")
    second = api_a.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="reg-1")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Customer.objects.filter(email="firm@example.com").count() == 1


def test_tracking_shows_status_and_truck_only_while_on_the_way(anonymous, placed_order, plant):
    from fleet.models import Job, Tour, Truck

    truck = Truck.objects.create(
        code="TRK-07", plant=plant, last_lat=42.7, last_lon=23.3, last_position_at=timezone.now()
    )
    tour = Tour.objects.create(number="T-1", date=placed_order.requested_date, plant=plant, truck=truck)
    eta = timezone.now() + timedelta(minutes=20)
    job = Job.objects.create(
        tour=tour, order=placed_order, plant=plant, ticket="TCK-1", status=JobStatus.ASSIGNED, eta=eta
    )
    url = f"/api/v1/track/{placed_order.tracking_token}/"

    waiting = anonymous.get(url).json()
    job.status = JobStatus.EN_ROUTE
    job.save()
    on_the_way = anonymous.get(url).json()

    assert waiting["jobs"][0]["truck_position"] is None
    assert set(on_the_way) == {"number", "status", "requested_date", "window", "jobs"}
    assert on_the_way["number"] == placed_order.number
    assert on_the_way["status"] == "placed"
    assert on_the_way["window"] == {"from": "08:00", "to": "10:00"}
    position = on_the_way["jobs"][0]["truck_position"]
    assert (position["lat"], position["lon"]) == (42.7, 23.3)
    assert on_the_way["jobs"][0]["ticket"] == "TCK-1"
    assert "Ivan" not in str(on_the_way) and "95.00" not in str(on_the_way)


def test_tracking_with_an_unknown_token_is_404(anonymous):
    response = anonymous.get("/api/v1/track/not-a-token/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
