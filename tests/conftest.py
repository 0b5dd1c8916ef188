"""Shared fixtures. Factories live in tests/factories.py and are exposed as fixtures here, together with
the objects most packages use (`plant`, `customer`, `site`, `driver`, `world`) and the `fake_erp`.
Each is defined once; a package's own fixtures build on them and a test that depends on another
value passes it."""

import os

import pytest

from tests import factories
from tests.erp_sync.fake_erp import HOST, FakeErp
from tests.helpers import World


def pytest_configure(config):
    from django.conf import settings

    # Under CI nothing that needs PostgreSQL may quietly run elsewhere.
    if os.environ.get("CI") == "true" and not settings.USING_POSTGRES:
        raise pytest.UsageError("CI=true requires the suite to run on PostgreSQL (set DATABASE_URL).")
    # Metric files of earlier runs (one per process and metric) would only pile up; the metric tests
    # compare values before and after, so starting empty changes no result.
    for stale in settings.PROMETHEUS_MULTIPROC_DIR.glob("*.db"):
        stale.unlink()


@pytest.fixture(autouse=True)
def _no_rate_limit_counts():
    """Rate-limit counters (oms.lib.throttle) outlive a test in Redis, and ids repeat across runs:
    every test starts with none."""
    from django.core.cache import cache

    from oms.lib.redis import redis_client

    client = redis_client()
    if client is not None:
        keys = list(client.scan_iter("oms:throttle:write:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


# --- factories ------------------------------------------------------------------------------------


@pytest.fixture
def user_factory():
    return factories.UserFactory


@pytest.fixture
def erp_system_factory():
    return factories.ErpSystemFactory


@pytest.fixture
def plant_factory():
    return factories.PlantFactory


@pytest.fixture
def product_factory():
    return factories.ProductFactory


@pytest.fixture
def stock_level_factory():
    return factories.StockLevelFactory


@pytest.fixture
def customer_factory():
    return factories.CustomerFactory


@pytest.fixture
def site_factory():
    return factories.SiteFactory


@pytest.fixture
def sales_point_factory():
    return factories.SalesPointFactory


@pytest.fixture
def order_factory():
    return factories.OrderFactory


@pytest.fixture
def order_line_factory():
    return factories.OrderLineFactory


@pytest.fixture
def truck_factory():
    return factories.TruckFactory


@pytest.fixture
def driver_factory():
    return factories.DriverFactory


@pytest.fixture
def tour_factory():
    return factories.TourFactory


@pytest.fixture
def job_factory():
    return factories.JobFactory


@pytest.fixture
def job_line_factory():
    return factories.JobLineFactory


# --- shared objects -------------------------------------------------------------------------------


@pytest.fixture
def plant(db):
    """SOF1 "Sofia plant" (42.70, 23.32), Europe/Sofia."""
    return factories.PlantFactory(code="SOF1", name="Sofia plant", lat=42.70, lon=23.32)


@pytest.fixture
def customer(db):
    """C-000042 Ivan Petrov, ivan@example.com, +359888123456."""
    return factories.CustomerFactory(
        number="C-000042", name="Ivan Petrov", email="ivan@example.com", phone="+359888123456"
    )


@pytest.fixture
def site(customer):
    """The customer's site "Block 7", ul. Vitosha 1, 1000 Sofia, BG (42.6977, 23.3219)."""
    return factories.SiteFactory(
        customer=customer, name="Block 7", address="ul. Vitosha 1", lat=42.6977, lon=23.3219
    )


@pytest.fixture
def driver(plant):
    """DRV-01 Georgi Ivanov, +359888000111, of the plant."""
    return factories.DriverFactory(code="DRV-01", name="Georgi Ivanov", phone="+359888000111", plant=plant)


@pytest.fixture
def world(db) -> World:
    """A plant with stock, a customer with a site, a truck with a driver: see `tests.helpers.World`."""
    return World()


@pytest.fixture
def fake_erp(settings):
    """The fake ERP on loopback (tests/erp_sync/fake_erp.py), with its default token and secret;
    `OMS_ERP_ALLOWED_PRIVATE_HOSTS` lets the transport reach it."""
    settings.OMS_ERP_ALLOWED_PRIVATE_HOSTS = [HOST]
    erp = FakeErp().start()
    yield erp
    erp.stop()


# --- object store ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def object_store(tmp_path_factory):
    """The S3-compatible test server (tests/objectstore.py), one process for the whole run."""
    from tests.objectstore import ObjectStore

    store = ObjectStore(tmp_path_factory.mktemp("objectstore") / "server.log").start()
    yield store
    store.stop()


@pytest.fixture
def s3_storage(object_store, settings, monkeypatch, tmp_path):
    """Stored files of this test go to a fresh private bucket, as with `OMS_STORAGE=s3`.

    `MEDIA_ROOT` moves to an empty folder, so a test can assert that nothing reached the local disk.
    """
    from oms.settings import s3_storage_options
    from tests.objectstore import Bucket

    bucket = Bucket(store=object_store, name=object_store.new_bucket(), media_root=tmp_path / "media")
    env = bucket.env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, env[name])
    settings.MEDIA_ROOT = bucket.media_root
    settings.OMS_STORAGE = "s3"
    settings.OMS_S3_BUCKET = bucket.name
    settings.OMS_S3_ENDPOINT_URL = object_store.endpoint_url
    settings.OMS_S3_SIGNED_URL_SECONDS = 60
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": s3_storage_options(
                bucket=bucket.name, endpoint_url=object_store.endpoint_url, signed_url_seconds=60
            ),
        },
    }
    return bucket
