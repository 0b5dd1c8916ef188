"""Where an ERP connection may point (erp_sync.addresses): checked when the admin saves it and again
before every request, and no answer's body is ever stored."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client

from erp_sync import secrets
from erp_sync.adapters import adapter_for
from erp_sync.addresses import _is_public
from erp_sync.models import SyncRun
from erp_sync.pull import pull_system
from oms import roles
from oms.models import ErpSystem

pytestmark = pytest.mark.django_db
BODY = b'{"secret": "what the internal service said"}'


class Listener:
    """A loopback HTTP server we control: records every request and answers 500 with `BODY`."""

    def __init__(self):
        self.requests: list[dict] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                listener.requests.append(
                    {"path": self.path, "authorization": self.headers.get("Authorization"), "body": length}
                )
                self.rfile.read(length)
                self.send_response(500)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop()


def system_at(base_url: str, *, code: str = "ERP1", token: str = "the-token") -> ErpSystem:
    """A connection stored directly, as if saved before its host's address changed."""
    return ErpSystem.objects.create(
        code=code,
        adapter=ErpSystem.Adapter.HTTP_JSON,
        base_url=base_url,
        token_encrypted=secrets.encrypt(token),
        secret_encrypted=secrets.encrypt("the-secret"),
    )


ENVELOPE = {
    "id": "0d9c1a4e-0000-4000-8000-000000000001",
    "type": "order.created",
    "occurred_at": "2026-12-07T08:00:00Z",
    "entity": {"type": "order", "key": "ORD-1"},
    "version": 1,
    "data": {},
}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_token_is_never_sent_to_a_refused_host(listener, host):
    system = system_at(f"http://{host}:{listener.port}")
    adapter = adapter_for(system)

    sent = adapter.send([ENVELOPE])
    counts = pull_system(system)
    adapter.close()

    assert listener.requests == []
    assert (sent.kind, sent.http_status) == ("transient", None)
    assert sent.error.startswith("connection: AddressRefused: The ERP host ")
    assert "resolves to a private, loopback, link-local, multicast or reserved address" in sent.error
    run = SyncRun.objects.get(system=system)
    assert (run.outcome, run.error, dict(counts)) == ("error", sent.error.removeprefix("connection: "), {})


def test_a_listed_host_is_reached_but_the_answers_body_is_never_stored(listener, settings):
    settings.OMS_ERP_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    system = system_at(f"http://127.0.0.1:{listener.port}")
    adapter = adapter_for(system)

    sent = adapter.send([ENVELOPE])
    pull_system(system)
    adapter.close()

    assert [(r["path"].split("?")[0], r["authorization"]) for r in listener.requests] == [
        ("/messages", "Bearer the-token"),
        ("/messages", "Bearer the-token"),
    ]
    assert (sent.kind, sent.error, sent.http_status) == ("transient", "HTTP 500", 500)
    run = SyncRun.objects.get(system=system)
    assert (run.outcome, run.error) == ("error", "HTTP 500")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2a00:1450:4001:80b::200e", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("ff02::1", False),
    ],
)
def test_which_addresses_count_as_public(address, public):
    assert _is_public(address) is public


# --- the admin form ---------------------------------------------------------------------------


@pytest.fixture
def admin_client():
    user = get_user_model().objects.create_user("ada", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.ADMIN))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def erp_host(settings):
    """erp.example.net is an ERP on the internal network, listed (so nothing is resolved)."""
    settings.OMS_ERP_ALLOWED_PRIVATE_HOSTS = ["erp.example.net"]
    return "https://erp.example.net/oms"


def form(**changes) -> dict:
    return {
        "code": "ERP1",
        "name": "ERP one",
        "adapter": "http_json",
        "enabled": "on",
        "poll_seconds": "15",
        "new_token": "",
        "new_secret": "",
        **changes,
    }


def stored(system: ErpSystem) -> tuple:
    system.refresh_from_db()
    return (
        system.code,
        system.adapter,
        system.base_url,
        secrets.decrypt(system.token_encrypted),
        secrets.decrypt(system.secret_encrypted),
    )


def errors(response) -> dict:
    return {k: [str(e) for e in v] for k, v in response.context["adminform"].form.errors.items()}


def test_moving_a_connection_needs_its_credentials_again_in_the_same_form(admin_client, erp_host):
    system = system_at(erp_host)
    before = stored(system)
    url = f"/admin/oms/erpsystem/{system.pk}/change/"

    refused = admin_client.post(url, form(base_url="https://erp.example.net/elsewhere"))
    token_only = admin_client.post(url, form(base_url="https://erp.example.net/v2", new_token="t-2"))

    assert (refused.status_code, token_only.status_code) == (200, 200)
    again = "Enter this credential again: the connection's address changes."
    assert errors(refused) == {"new_token": [again], "new_secret": [again]}
    assert errors(token_only) == {"new_secret": [again]}
    assert stored(system) == before

    moved = admin_client.post(
        url, form(base_url="https://erp.example.net/v2", new_token="t-2", new_secret="s-2")
    )
    renamed = admin_client.post(url, form(code="ERP-A", base_url="https://erp.example.net/v2"))

    assert (moved.status_code, renamed.status_code) == (302, 302)
    assert stored(system) == ("ERP-A", "http_json", "https://erp.example.net/v2", "t-2", "s-2")


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("http://erp.example.net/oms", "The ERP address must start with https://."),
        ("ftp://erp.example.net/oms", "The ERP address must start with https://."),
        ("https:///oms", "The ERP address needs a host name."),
        (
            "https://169.254.169.254/latest",
            "The ERP host 169.254.169.254 resolves to a private, loopback, link-local, multicast or "
            "reserved address (169.254.169.254); list it in OMS_ERP_ALLOWED_PRIVATE_HOSTS if it really "
            "is the ERP.",
        ),
        (
            "https://localhost:8443/",
            "The ERP host localhost resolves to a private, loopback, link-local, multicast or "
            "reserved address (127.0.0.1); list it in OMS_ERP_ALLOWED_PRIVATE_HOSTS if it really "
            "is the ERP.",
        ),
        ("https://[::1]/", "The ERP host ::1 resolves to a private"),
        ("https://10.0.0.7/", "The ERP host 10.0.0.7 resolves to a private"),
        ("https://no-such-host.invalid/", "The ERP host no-such-host.invalid cannot be resolved."),
    ],
)
def test_the_form_refuses_an_address_the_transport_may_not_use(
    admin_client, erp_host, settings, base_url, message
):
    settings.OMS_ERP_ALLOW_HTTP = False
    system = system_at(erp_host)
    before = stored(system)

    response = admin_client.post(
        f"/admin/oms/erpsystem/{system.pk}/change/", form(base_url=base_url, new_token="t", new_secret="s")
    )
    added = admin_client.post("/admin/oms/erpsystem/add/", form(code="ERP2", base_url=base_url))

    assert (response.status_code, added.status_code) == (200, 200)
    assert [e[: len(message)] for e in errors(response)["base_url"]] == [message]
    assert [e[: len(message)] for e in errors(added)["base_url"]] == [message]
    assert stored(system) == before
    assert ErpSystem.objects.count() == 1


def test_http_and_a_listed_private_host_are_allowed_where_configured(admin_client, settings):
    settings.OMS_ERP_ALLOW_HTTP = True
    settings.OMS_ERP_ALLOWED_PRIVATE_HOSTS = ["10.0.0.7"]

    response = admin_client.post("/admin/oms/erpsystem/add/", form(base_url="http://10.0.0.7:8080/"))

    assert response.status_code == 302
    assert ErpSystem.objects.get().base_url == "http://10.0.0.7:8080/"


def test_credentials_from_the_environment_pin_the_address(admin_client, erp_host, monkeypatch):
    system = system_at(erp_host)
    before = stored(system)
    monkeypatch.setenv("ERP_ERP1_TOKEN", "env-token")
    monkeypatch.setenv("ERP_ERP9_TOKEN", "other-env-token")

    moved = admin_client.post(
        f"/admin/oms/erpsystem/{system.pk}/change/",
        form(base_url="https://erp.example.net/v2", new_token="t-2", new_secret="s-2"),
    )
    renamed = admin_client.post(
        f"/admin/oms/erpsystem/{system.pk}/change/", form(code="ERP9", base_url=erp_host)
    )
    unmoved = admin_client.post(
        f"/admin/oms/erpsystem/{system.pk}/change/", form(base_url=erp_host, name="One")
    )

    pinned = (
        "This connection's credentials come from the environment ({}): its address can be set only "
        "where they are, with manage.py oms_erp_system."
    )
    assert (moved.status_code, renamed.status_code, unmoved.status_code) == (200, 200, 302)
    assert errors(moved) == {"base_url": [pinned.format("ERP_ERP1_TOKEN")]}
    assert errors(renamed) == {"base_url": [pinned.format("ERP_ERP9_TOKEN")]}
    assert stored(system) == before


def test_the_demo_simulator_needs_no_address(admin_client, settings):
    settings.OMS_ERP_ALLOW_HTTP = False

    response = admin_client.post("/admin/oms/erpsystem/add/", form(code="DEMO-ERP", adapter="simulator"))

    assert response.status_code == 302
    assert (ErpSystem.objects.get().adapter, ErpSystem.objects.get().base_url) == ("simulator", "")


def test_the_command_refuses_a_private_address_too():
    with pytest.raises(CommandError, match="The ERP host 127.0.0.1 resolves to a private"):
        call_command("oms_erp_system", "ERP1", "--adapter", "http_json", "--base-url", "http://127.0.0.1:9/")

    assert not ErpSystem.objects.exists()
