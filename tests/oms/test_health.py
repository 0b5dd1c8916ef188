"""Liveness and readiness probes."""

import socket
import subprocess
import threading
import time

import pytest
import redis

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
def test_readyz_stays_ready_and_reports_the_broker_degraded_when_it_is_unreachable(monitor):
    started = time.monotonic()
    response = monitor.get("/readyz")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["degraded"] == ["broker"]
    assert body["checks"]["broker"] == {
        "ok": False,
        "degraded": True,
        "error": "OperationalError: Error 111 connecting to 127.0.0.1:1. Connection refused.",
    }
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"] == {"ok": True, "pending": 0}
    assert body["checks"]["erp"] == {"ok": True, "systems": {}}
    assert list(body) == ["status", "degraded", "checks"]
    assert elapsed < 2.0


@pytest.mark.django_db
def test_readyz_has_no_degraded_list_while_everything_answers(monitor):
    body = monitor.get("/readyz").json()

    assert "degraded" not in body
    assert body["checks"]["broker"]["ok"] is True
    assert "degraded" not in body["checks"]["broker"]


@pytest.mark.django_db
def test_readyz_tells_anyone_only_whether_the_site_is_ready(client, erp_system_factory):
    erp_system_factory(code="SAP-EAST", enabled=True, connection_state="paused", paused_reason="HTTP 401")

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.django_db
@pytest.mark.usefixtures("broker_down")
def test_readyz_tells_anyone_only_ready_when_the_broker_is_down(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.content == b'{"status": "ready"}'


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

    assert response.status_code == 200
    assert time.monotonic() - started < 1.0


@pytest.mark.django_db
def test_readyz_gives_up_on_a_broker_that_never_answers(monitor, broker_silent):
    started = time.monotonic()

    response = monitor.get("/readyz")

    elapsed = time.monotonic() - started
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["degraded"]) == ("ready", ["broker"])
    assert body["checks"]["broker"] == {
        "ok": False,
        "degraded": True,
        "error": "OperationalError: Timeout reading from socket",
    }
    assert elapsed < 2.0
    assert len(broker_silent) >= 1  # the probe did reach the hung server


@pytest.fixture
def private_redis(tmp_path, monkeypatch):
    """A redis-server of this test's own on a free port (the shared one is never stopped), with the
    Celery app pointed at it. Yields the process; the test may stop it."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.05)
    previous = point_broker_at(f"redis://127.0.0.1:{port}/0", monkeypatch)
    server.port = port
    yield server
    celery_app.conf.broker_url = previous
    if server.poll() is None:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.django_db
def test_readyz_reports_a_stopped_redis_broker_as_degraded_and_stays_ready(monitor, client, private_redis):
    up = monitor.get("/readyz")
    assert up.status_code == 200
    assert "degraded" not in up.json()
    assert up.json()["checks"]["broker"]["ok"] is True

    private_redis.terminate()
    assert private_redis.wait(timeout=10) == 0
    started = time.monotonic()
    down = monitor.get("/readyz")
    elapsed = time.monotonic() - started

    assert down.status_code == 200
    body = down.json()
    assert (body["status"], body["degraded"]) == ("ready", ["broker"])
    assert body["checks"]["broker"] == {
        "ok": False,
        "degraded": True,
        "error": f"OperationalError: Error 111 connecting to 127.0.0.1:{private_redis.port}. Connection refused.",
    }
    assert elapsed < 2.0
    del monitor.defaults["HTTP_AUTHORIZATION"]
    public = client.get("/readyz")
    assert (public.status_code, public.content) == (200, b'{"status": "ready"}')


def test_readyz_is_503_when_the_database_does_not_answer(monitor, django_db_blocker):
    # A database that does not answer (nothing listens on the port) makes the process unready.
    from django.db import connection

    with django_db_blocker.unblock():
        saved = connection.settings_dict["PORT"]
        connection.close()
        connection.settings_dict["PORT"] = "1"
        try:
            response = monitor.get("/readyz")
        finally:
            connection.close()
            connection.settings_dict["PORT"] = saved

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["error"].startswith("OperationalError: ")
    assert body["checks"]["migrations"]["ok"] is False
    assert body["checks"]["broker"]["ok"] is True
    assert "degraded" not in body


@pytest.mark.django_db
def test_readyz_is_503_while_a_migration_is_pending(monitor, client):
    from django.db.migrations.recorder import MigrationRecorder

    # The newest applied migration forgotten: the schema is one step behind the code (rolled back).
    MigrationRecorder.Migration.objects.filter(app="orders").order_by("-id").first().delete()

    response = monitor.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["migrations"] == {"ok": False, "pending": 1}
    assert body["checks"]["database"]["ok"] is True
    del monitor.defaults["HTTP_AUTHORIZATION"]
    assert client.get("/readyz").content == b'{"status": "not_ready"}'


@pytest.mark.django_db
def test_readyz_stays_ready_on_a_schema_migrated_ahead_of_this_code(monitor):
    # A rolling upgrade migrates first: the hosts still on the previous release see a migration they
    # do not know as applied, and keep serving (the new release's hosts see nothing pending either).
    from django.db.migrations.recorder import MigrationRecorder

    MigrationRecorder.Migration.objects.create(app="orders", name="9999_from_the_next_release")

    response = monitor.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["migrations"] == {"ok": True, "pending": 0}


@pytest.mark.django_db
def test_readyz_reports_an_unreachable_rabbitmq_broker_as_degraded(monitor, monkeypatch):
    previous = point_broker_at("amqp://guest:guest@127.0.0.1:1//", monkeypatch)
    try:
        started = time.monotonic()
        response = monitor.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        celery_app.conf.broker_url = previous

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["degraded"]) == ("ready", ["broker"])
    assert body["checks"]["broker"] == {
        "ok": False,
        "degraded": True,
        "error": "OperationalError: [Errno 111] Connection refused",
    }
    assert elapsed < 2.0
