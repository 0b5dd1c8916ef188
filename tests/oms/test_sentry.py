"""Opt-in error tracking: an exception in a view reaches the configured Sentry DSN, tagged with the
request id and without personal data."""

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from django.urls import path

from oms.lib.sentry import sentry_init
from tests.erp_sync.conftest import wait_until


def boom(request):
    raise RuntimeError("boom in a view")


urlpatterns = [path("boom/", boom, name="boom")]


class Collector(BaseHTTPRequestHandler):
    envelopes: list[list[dict]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        self.envelopes.append([json.loads(line) for line in body.splitlines() if line.strip()])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    Collector.envelopes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: the integrations stay installed but send nothing
    server.shutdown()


@pytest.mark.django_db
def test_a_view_exception_reaches_sentry_with_the_request_id_and_no_pii(sentry_server, client, settings):
    settings.ROOT_URLCONF = __name__
    sentry_init(f"http://publickey@127.0.0.1:{sentry_server.server_port}/42", environment="test")
    client.raise_request_exception = False
    client.cookies["sessionid"] = "secret-session"

    response = client.get("/boom/", headers={"X-Request-ID": "req-sentry-1", "Authorization": "Bearer t0k"})
    sentry_sdk.flush(timeout=5)

    assert response.status_code == 500
    events = wait_until(
        lambda: [item for env in Collector.envelopes for item in env if item.get("exception")],
        timeout=10,
        message="the event at the listener",
    )
    assert len(events) == 1
    event = events[0]
    assert event["tags"]["request_id"] == "req-sentry-1"
    assert event["environment"] == "test"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["exception"]["values"][-1]["value"] == "boom in a view"
    assert "secret-session" not in json.dumps(event)
    assert "t0k" not in json.dumps(event)
    assert "user" not in event
    assert event["transaction"] == "/boom/"
