"""A real client: generated from the committed schema with openapi-python-client, driving a full
kiosk journey against the live server (find product, check availability, look up customer, place
order, read it back, cancel it)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.models import StockLevel
from orders.models import Order

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
PACKAGE = "oms_generated_client"


@pytest.fixture
def generated_client(tmp_path):
    """Generate the client package offline (no network; the ruff post-hook comes from the venv)."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(SCHEMA)]
        + ["--output-path", str(tmp_path / PACKAGE), "--meta", "none", "--overwrite"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.mark.django_db(transaction=True)
def test_kiosk_journey_with_the_generated_client(
    generated_client, live_server, key_a, customer, site, cement
):
    models = importlib.import_module(f"{PACKAGE}.models")
    from oms_generated_client.api.customers import customers_lookup
    from oms_generated_client.api.orders import orders_cancel, orders_create, orders_retrieve
    from oms_generated_client.api.products import products_availability, products_list

    client = generated_client.AuthenticatedClient(base_url=live_server.url, token=key_a, prefix="Token")

    found = products_list.sync(client=client, search="c25")
    availability = products_availability.sync(client=client, sku=found.results[0].sku)
    who = customers_lookup.sync(client=client, body=models.CustomerLookupInputRequest(phone="+359888123456"))
    body = models.OrderCreateInputRequest.from_dict(
        {
            "customer": {"id": str(who.id)},
            "fulfilment": "delivery",
            "site": {"id": str(site.public_id)},
            "lines": [{"sku": found.results[0].sku, "quantity": "8.000"}],
            "window": {"from": "08:00", "to": "10:00"},
            "external_ref": "GEN-CLIENT-1",
        }
    )
    placed = orders_create.sync_detailed(client=client, body=body, idempotency_key="journey-1")
    replayed = orders_create.sync_detailed(client=client, body=body, idempotency_key="journey-1")
    number = placed.parsed.number
    read_back = orders_retrieve.sync(client=client, number=number)
    cancelled = orders_cancel.sync(
        client=client, number=number, body=models.CancelInputRequest(reason="Changed plans")
    )

    assert [p.sku for p in found.results] == ["C25-30"]
    assert [(p.plant, p.available) for p in availability.plants] == [("SOF1", "120.000")]
    assert (who.number, who.display_name) == ("C-000042", "I*** P***")
    assert placed.status_code == 201
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.parsed.number == number
    assert placed.parsed.totals.gross == "912.00"
    assert read_back.number == number
    assert [e.type_ for e in read_back.events] == ["order.placed"]
    assert cancelled.status.value == "cancelled"
    assert Order.objects.get(number=number).status == "cancelled"
    assert StockLevel.objects.get(product=cement).allocated == 0
