"""deploy/nginx/oms.conf in front of a real gunicorn serving the app with the production settings.

nginx runs the committed site file; only its listening ports, certificate paths and upstream
addresses are changed for this machine. Requests come from different loopback addresses (127.0.0.2,
127.0.0.3) so that the client address the app derives from `X-Forwarded-For` can be told apart.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from axes.models import AccessAttempt

from orders.models import Channel, Order
from tests.api.conftest import order_body
from tests.erp_sync import conftest as erp_sync_conftest
from tests.erp_sync.conftest import wait_until
from tests.factories import ProductFactory, SalesPointFactory, StockLevelFactory
from tests.helpers import device_key, documented_production_env

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "oms.conf"
HOST = "oms.example.com"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# The app's caps (fleet MAX_EPOD_BODY_BYTES, OMS_ERP_WEBHOOK_MAX_BYTES) and nginx's default cap.
MIB = 1024 * 1024
DEFAULT_CAP = 3 * MIB
EPOD_CAP = 31 * MIB

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def render_site(site: str, *, https: int, http: int, upstream: tuple[str, str], cert: Path, key: Path) -> str:
    """The committed site with this machine's ports, certificate and upstream; every replaced text
    must occur as often as expected, so a reshaped file fails here instead of being tested half."""
    replacements = [
        ("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;", 1),
        ("listen [::]:443 ssl;", "", 1),
        ("listen 80;", f"listen 127.0.0.1:{http};", 1),
        ("listen [::]:80;", "", 1),
        ("/etc/ssl/oms/fullchain.pem", str(cert), 1),
        ("/etc/ssl/oms/privkey.pem", str(key), 1),
        ("server 10.0.1.11:8000", f"server {upstream[0]}", 1),
        ("server 10.0.1.12:8000", f"server {upstream[1]}", 1),
    ]
    for old, new, count in replacements:
        assert site.count(old) == count, old
        site = site.replace(old, new)
    return site


MAIN_CONF = """
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/oms.conf;
}}
"""


def answers(port: int, path: str, headers: dict[str, str]) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path, headers=headers)
        return conn.getresponse().status
    except OSError:
        return None


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def production_env(tmp_path_factory, django_db_setup, django_db_blocker) -> dict[str, str]:
    """The documented production environment on the test database, with static files collected."""
    home = tmp_path_factory.mktemp("production")
    with django_db_blocker.unblock():
        database_url = erp_sync_conftest.test_database_url()
    env = {
        "PATH": os.environ["PATH"],
        **documented_production_env(home),
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": os.environ["REDIS_URL"],
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "LOG_LEVEL": "WARNING",
    }
    # The manifest storage of production renders no page without the collected files (the API
    # browser's and docs' files are left out: no page here uses them, and they are most of the time).
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"]
        + ["--ignore=drf_spectacular_sidecar", "--ignore=rest_framework"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    return env


@pytest.fixture(scope="module")
def gunicorn(production_env, tmp_path_factory):
    """gunicorn as deploy/systemd/oms-web.service starts it (fewer workers, a loopback port)."""
    logs = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    access = logs / "access.log"
    server = subprocess.Popen(
        [GUNICORN, "oms.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
        + ["--timeout", "60", "--graceful-timeout", "30", "--access-logfile", str(access)],
        cwd=ROOT,
        env=production_env,
        stderr=open(logs / "error.log", "w"),  # noqa: SIM115 - closed with the process
    )
    # A monitor asking a web host directly names the public host and says the request is HTTPS.
    direct = {"Host": HOST, "X-Forwarded-Proto": "https"}
    try:
        wait_until(lambda: answers(port, "/readyz", direct) == 200, timeout=90, message="gunicorn ready")
        yield {"port": port, "access_log": access}
    finally:
        stop(server)


@pytest.fixture(scope="module")
def nginx(gunicorn, tmp_path_factory):
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure-nginx.sh")], check=True)
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    assert binary, "scripts/ensure-nginx.sh succeeded without an nginx on the PATH"
    conf = tmp_path_factory.mktemp("nginx")
    cert, key = conf / "cert.pem", conf / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}"]
        + ["-addext", f"subjectAltName=DNS:{HOST}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    https, plain, down = free_port(), free_port(), free_port()
    # Web host A is gunicorn; web host B is down (nothing listens on its port).
    upstream = (f"127.0.0.1:{gunicorn['port']}", f"127.0.0.1:{down}")
    site = render_site(SITE.read_text(), https=https, http=plain, upstream=upstream, cert=cert, key=key)
    (conf / "oms.conf").write_text(site)
    # As root nginx would hand its workers to `nobody`, who cannot enter this test's directories.
    user = "user root;" if os.geteuid() == 0 else ""
    (conf / "nginx.conf").write_text(MAIN_CONF.format(dir=conf, user=user))
    checked = subprocess.run(
        [binary, "-t", "-e", str(conf / "error.log"), "-p", str(conf), "-c", str(conf / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    assert "[warn]" not in checked.stderr, checked.stderr
    server = subprocess.Popen(
        [binary, "-e", str(conf / "error.log"), "-p", str(conf), "-c", str(conf / "nginx.conf")]
        + ["-g", "daemon off;"],
    )
    try:
        wait_until(lambda: answers(plain, "/", {"Host": HOST}) == 301, timeout=30, message="nginx up")
        yield {"https": https, "http": plain, "down": down, "error_log": conf / "error.log", **gunicorn}
    finally:
        stop(server)


class Client:
    """HTTPS through the proxy from one loopback address, keeping the cookies it is given."""

    def __init__(self, port: int, source: str = "127.0.0.2"):
        self.port = port
        self.source = source
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=context, timeout=60, source_address=(self.source, 0)
        )
        sent = {"Host": HOST, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body or None, headers=sent)
        response = conn.getresponse()
        response.body = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            self.set_cookies.append(header)
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        conn.close()
        return response

    def sign_in(self, username: str, password: str = "wrong-password", **headers):
        """GET the portal sign-in page for its CSRF token, then POST the form."""
        page = self.request("GET", "/portal/login/")
        assert page.status == 200, page.body[:300]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)[1].decode()
        form = f"csrfmiddlewaretoken={token}&username={username}&password={password}".encode()
        return self.request(
            "POST",
            "/portal/login/",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"https://{HOST}",
                "Referer": f"https://{HOST}/portal/login/",
                **headers,
            },
        )


def send_headers_only(port: int, path: str, length: int, source: str = "127.0.0.2"):
    """Declare a body of `length` bytes and wait for the answer before sending any of it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(
        "127.0.0.1", port, context=context, timeout=30, source_address=(source, 0)
    )
    conn.putrequest("POST", path, skip_host=True)
    conn.putheader("Host", HOST)
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


def app_saw(proxy: dict, marker: str) -> bool:
    return marker in proxy["access_log"].read_text()


def test_plain_http_is_redirected_to_https_by_the_proxy(nginx):
    conn = http.client.HTTPConnection("127.0.0.1", nginx["http"], timeout=10)
    conn.request("GET", "/portal/login/?next=/portal/", headers={"Host": HOST})
    response = conn.getresponse()

    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}/portal/login/?next=/portal/"
    assert response.headers["Server"].startswith("nginx")


def test_https_is_detected_behind_the_proxy_no_redirect_loop_and_secure_cookies(nginx):
    client = Client(nginx["https"])

    page = client.request("GET", "/portal/login/")

    # Without X-Forwarded-Proto the app would redirect to https:// forever (DJANGO_SECURE_SSL_REDIRECT).
    assert page.status == 200
    assert b"<form" in page.body
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    csrf = [c for c in client.set_cookies if c.startswith("csrftoken=")]
    assert len(csrf) == 1
    assert "; Secure" in csrf[0]
    assert "; HttpOnly" in csrf[0]
    # The proxy's request id reaches the app, which echoes it: 32 hex digits made by nginx.
    assert re.fullmatch(r"[0-9a-f]{32}", page.headers["X-Request-ID"])


def test_a_web_host_that_is_down_costs_no_requests(nginx):
    client = Client(nginx["https"])

    statuses = [client.request("GET", "/healthz").status for _ in range(6)]
    placed = client.request("POST", "/api/v1/orders/", b"{}", {"Content-Type": "application/json"})

    assert statuses == [200] * 6
    # Refused before anything was sent, so even a POST moves to the live host (which refuses it: no key).
    assert placed.status == 401
    log = nginx["error_log"].read_text()
    assert "connect() failed (111: Connection refused) while connecting to upstream" in log
    assert f'upstream: "http://127.0.0.1:{nginx["down"]}/' in log


def test_the_app_sees_the_client_address_from_x_forwarded_for(nginx):
    attacker, neighbour = Client(nginx["https"], "127.0.0.2"), Client(nginx["https"], "127.0.0.3")

    # Wrong passwords from one address, each for another account: the fifth locks the address.
    for n in range(4):
        assert b"Wrong email or password." in attacker.sign_in(f"sprayed{n}@example.com").body
    locked = attacker.sign_in("sprayed4@example.com")
    # A forged X-Forwarded-For is replaced by the proxy: the client cannot pick another address.
    forged = attacker.sign_in("sprayed5@example.com", **{"X-Forwarded-For": "198.51.100.7"})
    other = neighbour.sign_in("someone@example.com")

    assert locked.status == 429
    assert b"Too many failed sign-in attempts." in locked.body
    assert forged.status == 429
    assert other.status == 200
    assert b"Wrong email or password." in other.body
    addresses = sorted(set(AccessAttempt.objects.values_list("ip_address", flat=True)))
    assert addresses == ["127.0.0.2", "127.0.0.3"]


def test_static_files_come_through_the_proxy_with_the_apps_caching(nginx):
    client = Client(nginx["https"])
    page = client.request("GET", "/portal/login/")
    hashed = re.search(rb'href="(/static/css/portal\.[0-9a-f]{12}\.css)"', page.body)[1].decode()

    response = client.request("GET", hashed, headers={"Accept-Encoding": "gzip"})

    assert response.status == 200
    assert response.headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert response.headers["Content-Encoding"] == "gzip"


def test_an_oversize_body_gets_413_from_nginx_and_never_reaches_the_app(nginx):
    orders = f"/api/v1/orders/?probe={uuid.uuid4().hex}"
    epod = f"/api/v1/driver/jobs/{uuid.uuid4()}/epod/?probe={uuid.uuid4().hex}"

    too_big_order = send_headers_only(nginx["https"], orders, DEFAULT_CAP + 1)
    too_big_epod = send_headers_only(nginx["https"], epod, EPOD_CAP + 1)

    for response in (too_big_order, too_big_epod):
        assert response.status == 413
        assert response.headers["Server"].startswith("nginx")
        assert b"<title>413 Request Entity Too Large</title>" in response.body
    time.sleep(0.5)  # gunicorn writes its access line when it answers; give a stray request time
    assert not app_saw(nginx, orders.split("?")[1])
    assert not app_saw(nginx, epod.split("?")[1])
    assert nginx["error_log"].read_text().count("client intended to send too large body") == 2


def test_an_epod_upload_above_the_default_cap_still_reaches_the_app(nginx):
    # 5 MB: over the 3 MB of ordinary routes, within the EPOD route's 31 MB; the app itself answers
    # (no driver key: 401), so the body went through the proxy.
    marker = uuid.uuid4().hex
    response = Client(nginx["https"]).request(
        "POST",
        f"/api/v1/driver/jobs/{uuid.uuid4()}/epod/?probe={marker}",
        b"x" * (5 * MIB),
        {"Content-Type": "application/octet-stream"},
    )

    assert response.status == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert app_saw(nginx, marker)


def test_an_api_order_is_placed_through_the_proxy(nginx, plant, customer):
    sales_point = SalesPointFactory(
        code="KIOSK-SOF1-01", name="Kiosk Sofia 1", channel=Channel.KIOSK, plant=plant
    )
    cement = ProductFactory(sku="C25-30", name="Concrete C25/30", unit="m3", unit_price=Decimal("95.00"))
    StockLevelFactory(plant=plant, product=cement, on_hand=Decimal("120.000"), allocated=Decimal("0.000"))
    key = device_key(sales_point)

    response = Client(nginx["https"]).request(
        "POST",
        "/api/v1/orders/",
        json.dumps(order_body()).encode(),
        {
            "Authorization": f"Token {key}",
            "Idempotency-Key": "via-proxy-1",
            "Content-Type": "application/json",
        },
    )

    assert response.status == 201, response.body[:500]
    body = json.loads(response.body)
    order = Order.objects.get()
    assert (body["number"], body["channel"], body["totals"]["gross"]) == (order.number, "kiosk", "912.00")
    assert body["tracking_url"] == f"https://{HOST}/track/{order.tracking_token}/"
    assert order.lines.get().quantity == Decimal("8.000")
