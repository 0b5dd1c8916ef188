"""Stock levels edited in the admin go through `stock_set_level`: the allocation is never overwritten."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.models import StockLevel

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123456")
    client.force_login(user)
    return client


def test_changing_on_hand_keeps_an_allocation_made_meanwhile(admin_client, plant, stocked):
    product = stocked("100", allocated="10")
    level = StockLevel.objects.get(product=product)
    url = f"/admin/catalog/stocklevel/{level.pk}/change/"
    assert admin_client.get(url).status_code == 200
    StockLevel.objects.filter(pk=level.pk).update(allocated=Decimal("30"))  # an order placed meanwhile

    response = admin_client.post(url, {"on_hand": "80"})

    assert response.status_code == 302
    level.refresh_from_db()
    assert (level.on_hand, level.allocated, level.plant_id, level.product_id) == (
        Decimal("80.000"),
        Decimal("30.000"),
        plant.pk,
        product.pk,
    )


def test_adding_a_stock_level(admin_client, plant, product_factory):
    product = product_factory()

    response = admin_client.post(
        "/admin/catalog/stocklevel/add/", {"plant": plant.pk, "product": product.pk, "on_hand": "12.5"}
    )

    assert response.status_code == 302
    level = StockLevel.objects.get(product=product)
    assert (level.plant_id, level.on_hand, level.allocated) == (plant.pk, Decimal("12.500"), Decimal("0.000"))
