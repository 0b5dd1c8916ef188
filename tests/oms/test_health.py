"""Liveness and readiness probes."""

import socket
import threading
import time

import pytest

from oms.celery import app as celery_app

CLOSED_BROKER = "redis://127.0.0.1:1/0"
HEALTH_TOKEN = "probe-token-7Qx2"


@pytest.fixture
def monitor(client, settings):
    """A client that sends the configured `OMS_HEALTH_TOKEN` as a bearer token."""
    settings.OMS_HEALTH_TOKEN = HEALTH_TOKEN
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {HEALTH_TOKEN}"
    return client


def point_broker_at(url, monkeypatch):
    previous = celery_app.conf.broker_url
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    celery_app.conf.broker_url = url
    return previous


@pytest.fixture
def broker_down(monkeypatch):
    """Point the Celery app at a port where nothing listens."""
    previous = point_broker_at(CLOSED_BROKER, monkeypatch)
    yield
    celery_app.conf.broker_url = previous


@pytest.fixture
def broker_silent(monkeypatch):
    """A broker that accepts connections and never answers (a hung server)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    previous = point_broker_at(f"redis://127.0.0.1:{server.getsockname()[1]}/0", monkeypatch)
    yield accepted
    celery_app.conf.broker_url = previous
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    server.close()


def test_healthz_answers_ok_without_touching_the_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_is_200_when_database_migrations_and_broker_are_ok(monitor):
    response = monitor.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    checks = body["checks"]
    assert set(checks) == {"database", "migrations", "broker", "erp"}
    assert checks["database"]["ok"] is True
    assert checks["migrations"] == {"ok": True, "pending": 0}
    assert checks["broker"]["ok"] is True
    assert checks["broker"]["transport"] == "redis"
    assert checks["erp"]["ok"] is True
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.usefixtures("broker_down")
def test_readyz_is_503_when_the_broker_is_unreachable(monitor):
    response = monitor.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"].startswith("OperationalError: ")
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"] == {"ok": True, "pending": 0}


@pytest.mark.django_db
def test_readyz_tells_anyone_only_whether_the_site_is_ready(client, erp_system_factory):
    erp_system_factory(code="SAP-EAST", enabled=True, connection_state="paused", paused_reason="HTTP 401")

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.django_db
@pytest.mark.usefixtures("broker_down")
def test_readyz_hides_the_failing_check_and_its_error_from_anyone(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "not_ready"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization", ["Bearer wrong-token", f"Basic {HEALTH_TOKEN}", f"Bearer {HEALTH_TOKEN}x", "Bearer"]
)
def test_readyz_shows_no_details_for_a_wrong_token(client, settings, authorization):
    settings.OMS_HEALTH_TOKEN = HEALTH_TOKEN

    response = client.get("/readyz", HTTP_AUTHORIZATION=authorization)

    assert response.json() == {"status": "ready"}


@pytest.mark.django_db
def test_readyz_shows_no_details_for_an_empty_token_when_none_is_configured(client, settings):
    settings.OMS_HEALTH_TOKEN = ""

    assert client.get("/readyz", HTTP_AUTHORIZATION="Bearer ").json() == {"status": "ready"}


@pytest.mark.django_db
def test_readyz_shows_the_checks_to_signed_in_staff_only(client, user_factory):
    customer_user = user_factory(username="cust")
    staff_user = user_factory(username="staff", is_staff=True)

    client.force_login(customer_user)
    assert client.get("/readyz").json() == {"status": "ready"}
    client.force_login(staff_user)
    assert set(client.get("/readyz").json()["checks"]) == {"database", "migrations", "broker", "erp"}


@pytest.mark.django_db
@pytest.mark.usefixtures("broker_down")
def test_readyz_answers_within_a_probe_timeout_when_the_broker_is_down(client):
    # Orchestrators give a readiness probe about a second; a refused connection is not retried.
    started = time.monotonic()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert time.monotonic() - started < 1.0


@pytest.mark.django_db
def test_readyz_gives_up_on_a_broker_that_never_answers(monitor, broker_silent):
    started = time.monotonic()

    response = monitor.get("/readyz")

    assert response.status_code == 503
    assert time.monotonic() - started < 2.0
    assert response.json()["checks"]["broker"]["ok"] is False
    assert len(broker_silent) >= 1  # the probe did reach the hung server
