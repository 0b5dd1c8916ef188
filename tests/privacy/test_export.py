"""The export archive of a customer contact: it opens, its manifest lists every item with exact counts
per kind, the files are the stored ones byte for byte; the command and the task write the same, and
bad input writes nothing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management.base import CommandError

from fleet.models import JobEvent
from fleet.privacy import KINDS, customer_export_archive, export_name
from fleet.tasks import customer_export
from orders.models import OrderEvent
from tests.helpers import run_command
from tests.privacy.conftest import CONTACT, EMAIL, NAME, PHONE, SIGNER


def open_archive(data: bytes) -> tuple[zipfile.ZipFile, dict]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    return archive, json.loads(archive.read("manifest.json"))


def expected_counts(rich) -> dict[str, int]:
    """What the rich customer holds (tests/privacy/conftest.py). The timelines are as long as the
    services make them: counted in the database, independently of the export."""
    return {
        "customer": 1,
        "sites": 1,
        "portal_users": 1,
        # A failed sign-in (axes' attempt counter), a good one on the page, the portal client's.
        "sign_ins": 3,
        "customer_events": 0,
        "orders": 3,
        "order_lines": 3,
        "order_events": OrderEvent.objects.filter(order__customer=rich.customer).count(),
        "returns": 0,
        "call_offs": 0,
        "messages": 2,
        "call_requests": 1,
        "job_events": JobEvent.objects.filter(job__order__customer=rich.customer).count(),
        "epods": 1,
        "epod_photos": 1,
        "files": 3,
    }


def check_archive(rich, data: bytes) -> dict:
    archive, manifest = open_archive(data)
    counts = expected_counts(rich)
    assert counts["order_events"] > 10 and counts["job_events"] > 5
    assert manifest["counts"] == counts
    assert manifest["customer"] == {"id": str(rich.customer.public_id), "number": rich.customer.number}
    names = set(archive.namelist())
    assert {f"{kind}.json" for kind in KINDS} | {"manifest.json"} <= names
    for kind in KINDS:
        rows = json.loads(archive.read(f"{kind}.json"))
        listed = [item["id"] for item in manifest["items"] if item["kind"] == kind]
        assert listed == [row["id"] for row in rows], kind
        assert len(rows) == counts[kind], kind
    (customer,) = json.loads(archive.read("customer.json"))
    assert (customer["name"], customer["email"], customer["phone"]) == (NAME, EMAIL, PHONE)
    (site,) = json.loads(archive.read("sites.json"))
    assert site["contact_name"] == CONTACT
    (epod,) = json.loads(archive.read("epods.json"))
    assert epod["received_by"] == SIGNER
    orders = json.loads(archive.read("orders.json"))
    assert sorted(o["number"] for o in orders) == sorted(o.number for o in rich.orders.values())
    assert [len(o["lines"]) for o in orders] == [1, 1, 1]
    files = {entry["kind"]: archive.read(entry["path"]) for entry in manifest["files"]}
    assert sorted(files) == ["epod_pdf", "epod_photo", "signature"]
    assert files["signature"] == rich.signature
    assert files["epod_photo"] == rich.photo
    assert files["epod_pdf"].startswith(b"%PDF")
    assert len(names) == len(KINDS) + 1 + 3
    return manifest


@pytest.mark.django_db
def test_the_archive_lists_every_item_with_exact_counts(rich):
    buffer = io.BytesIO()
    customer_export_archive(customer=rich.customer, output=buffer)

    check_archive(rich, buffer.getvalue())


@pytest.mark.django_db
def test_the_command_writes_the_archive_and_refuses_bad_input(rich, tmp_path):
    output = tmp_path / "ivan.zip"

    printed = run_command("customer_export", rich.customer.number, "--output", str(output))

    assert printed.startswith(f"exported {rich.customer.number} to {output}: ")
    check_archive(rich, output.read_bytes())
    with pytest.raises(CommandError, match="exists already"):
        run_command("customer_export", str(rich.customer.pk), "--output", str(output))
    for unknown in ("C-999999", "999999", "not-an-id"):
        missing = tmp_path / f"{unknown}.zip"
        with pytest.raises(CommandError, match="No customer with this id"):
            run_command("customer_export", unknown, "--output", str(missing))
        assert not missing.exists()
    with pytest.raises(CommandError, match="is not a directory"):
        run_command("customer_export", rich.customer.number, "--output", str(tmp_path / "no" / "x.zip"))


@pytest.mark.django_db
def test_the_task_stores_the_archive_once(rich):
    name = export_name(rich.customer)
    assert name.startswith(f"privacy-exports/{rich.customer.number}-") and name.endswith(".zip")

    stored = customer_export.apply(args=[rich.customer.pk, name]).get()

    assert stored == name
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    check_archive(rich, data)
    modified = Path(default_storage.path(name)).stat().st_mtime_ns
    assert customer_export.apply(args=[rich.customer.pk, name]).get() == name
    assert Path(default_storage.path(name)).stat().st_mtime_ns == modified
