"""A real S3-compatible object store for tests: moto's server in a subprocess on a free loopback port.

`ObjectStore().start()` runs `python -m tests.objectstore --port <free port>`: moto's own S3 server
(the `moto.server` application, served by Werkzeug as `python -m moto.server` does) behind two rules
of a private bucket that moto leaves out and every real S3 applies:

- a presigned link stops working when its `X-Amz-Expires` has passed (403 `AccessDenied`, "Request
  has expired"), so tests can prove that download links are short-lived;
- a request with neither an `Authorization` header nor a query signature is refused (403), as an
  anonymous GET of an object in a private bucket is.

The application talks to it over HTTP with boto3 exactly as to AWS, MinIO or Ceph (`endpoint_url`).
Tests use it through the `object_store` and `s3_storage` fixtures of tests/conftest.py.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[1]
ACCESS_KEY = "oms-test-access-key"
SECRET_KEY = "oms-test-secret-key"  # noqa: S105 - the throwaway test server's credential
REGION = "us-east-1"


def free_port() -> int:
    """A TCP port the OS just handed out on the loopback address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ObjectStore:
    """The test object store's process, and boto3 access to it for setting up and checking buckets."""

    def __init__(self, log_path: Path, *, host: str = "127.0.0.1", port: int = 0):
        self.log_path = log_path
        self.host = host  # another address when the server runs elsewhere (the multi-host suite)
        self.port = port
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, *, timeout: float = 60.0) -> ObjectStore:
        import time

        import httpx

        self.port = free_port()
        log = open(self.log_path, "w")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "tests.objectstore", "--port", str(self.port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the object store exited: {self.log_path.read_text()[-2000:]}")
            try:
                httpx.get(self.endpoint_url, timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the object store did not answer within {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        """A fresh, empty bucket (one per test: nothing leaks between tests)."""
        name = f"oms-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key of `bucket` under `prefix`, sorted."""
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", ())
        )

    def read(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def env(self, bucket: str, *, signed_url_seconds: int = 60) -> dict[str, str]:
        """The environment that points a process (a Celery worker, a web server) at `bucket`."""
        return {
            "OMS_STORAGE": "s3",
            "OMS_S3_BUCKET": bucket,
            "OMS_S3_ENDPOINT_URL": self.endpoint_url,
            "OMS_S3_REGION": REGION,
            "OMS_S3_SIGNED_URL_SECONDS": str(signed_url_seconds),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }


@dataclass(frozen=True)
class Bucket:
    """One test's bucket: what is in it, and the local folder that must stay empty meanwhile."""

    store: ObjectStore
    name: str
    media_root: Path

    def keys(self, prefix: str = "") -> list[str]:
        return self.store.keys(self.name, prefix)

    def read(self, key: str) -> bytes:
        return self.store.read(self.name, key)

    def env(self, *, signed_url_seconds: int = 60) -> dict[str, str]:
        return self.store.env(self.name, signed_url_seconds=signed_url_seconds)

    def local_files(self) -> list[Path]:
        """Files under MEDIA_ROOT (there should be none: every file went to the bucket)."""
        root = self.media_root
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- the server process ----------------------------------------------------------------------------


def _denied(start_response, message: str) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>"
    ).encode()
    start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


class PrivateBucketRules:
    """WSGI middleware: the expiry of presigned links and the refusal of anonymous requests."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "X-Amz-Signature" in query:  # signature version 4
            issued = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            if datetime.now(UTC) > issued + timedelta(seconds=int(query["X-Amz-Expires"][0])):
                return _denied(start_response, "Request has expired")
        elif "Signature" in query:  # version 2: `Expires` is a Unix time
            if datetime.now(UTC).timestamp() > int(query["Expires"][0]):
                return _denied(start_response, "Request has expired")
        elif not environ.get("HTTP_AUTHORIZATION") and environ.get("PATH_INFO", "/") != "/":
            return _denied(start_response, "Access Denied")
        return self.app(environ, start_response)


def _exit_with_parent() -> None:
    """Stop when the test run that started us is gone (even killed), never linger on the machine."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description="moto's S3 server with the rules of a private bucket")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (loopback)")
    args = parser.parse_args()
    os.environ["MOTO_PORT"] = str(args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _exit_with_parent()
    app = PrivateBucketRules(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
