"""Page weight: pages are gzipped, hashed static files are cached for good in production, and the
map library is loaded only by pages that show a map."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from oms import roles
from orders.models import Fulfilment, OrderStatus
from tests.console.conftest import client_for, make_user
from tests.helpers import documented_production_env
from tests.portal.conftest import make_customer, place, set_status, user_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def customer(world):
    return make_customer("Alpha Build", "alpha@example.com")


@pytest.fixture
def portal(customer) -> Client:
    client = Client()
    client.force_login(user_of(customer))
    return client


def test_pages_are_gzipped_for_browsers_that_accept_it(customer, portal, world):
    order = place(customer)
    plain = portal.get(f"/portal/orders/{order.number}/")
    zipped = portal.get(f"/portal/orders/{order.number}/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert (plain.status_code, zipped.status_code) == (200, 200)
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    page = gzip.decompress(zipped.content).decode()
    assert f"<h1>Order {order.number}</h1>" in page
    assert len(zipped.content) < len(plain.content) / 2

    board = client_for(make_user(roles.DISPATCHER, "dan")).get(
        "/admin/console/dispatch/", HTTP_ACCEPT_ENCODING="gzip"
    )
    assert board["Content-Encoding"] == "gzip"
    assert "Dispatch board" in gzip.decompress(board.content).decode()


def test_development_serves_static_files_uncached(client):
    response = client.get("/static/css/portal.css")
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=0, public"


# Collects the project's own static files with the production settings (the manifest storage) and
# asks for one under its hashed and its plain name.
PRODUCTION_STATIC = """
import django
django.setup()
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import Client

call_command("collectstatic", "--noinput", "-v0", *[
    f"--ignore={app}" for app in ("admin", "rest_framework", "drf_spectacular_sidecar", "vendor")
])
client = Client()
for url in (staticfiles_storage.url("css/portal.css"), "/static/css/portal.css"):
    response = client.get(url, secure=True, HTTP_ACCEPT_ENCODING="gzip")
    print(url, response.status_code, response["Cache-Control"], response.get("Content-Encoding"), sep="|")
"""


def test_production_caches_hashed_static_files_for_good(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        **documented_production_env(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_STATIC],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    hashed, plain = (line.split("|") for line in result.stdout.splitlines())
    assert hashed[0].startswith("/static/css/portal.") and hashed[0] != "/static/css/portal.css"
    assert hashed[1:] == ["200", "max-age=315360000, public, immutable", "gzip"]
    assert plain == ["/static/css/portal.css", "200", "max-age=3600, public", "gzip"]


def leaflet_loaded(page: str) -> bool:
    return "vendor/leaflet/leaflet.js" in page and "vendor/leaflet/leaflet.css" in page


def test_the_map_library_loads_only_with_a_map(customer, portal, world, client):
    delivery = place(customer)
    page = portal.get(f"/portal/orders/{delivery.number}/").content.decode()
    assert leaflet_loaded(page)
    assert 'role="region" aria-label="Map with the delivery site and trucks on the way"' in page
    assert "Site Alpha Build site at 42.69000, 23.30000" in page

    pickup = place(customer)
    type(pickup).objects.filter(pk=pickup.pk).update(fulfilment=Fulfilment.PICKUP, site=None)
    page = portal.get(f"/portal/orders/{pickup.number}/").content.decode()
    assert not leaflet_loaded(page)
    assert "data-map" not in page

    set_status(delivery, OrderStatus.COMPLETED)
    tracking = client.get(f"/track/{delivery.tracking_token}/").content.decode()
    assert not leaflet_loaded(tracking)
