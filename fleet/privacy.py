"""A customer contact's personal data, the fleet's part and the export archive (docs/privacy.md).

- `customer_export_archive` writes everything held about a customer — from this app down through
  `orders.privacy` and `customers.privacy` — as a zip: one JSON file per kind, the proof-of-delivery
  files, and `manifest.json`, which lists every item and the count per kind.
- `fleet_erase_contact` erases the contact from messages, call requests, job events and proofs of
  delivery (signer names; signature, photo and PDF files deleted from storage after the commit), then
  calls the orders' part. `erp_sync.privacy.customer_erase` is the entry point.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import zipfile
from pathlib import PurePosixPath
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import Customer
from fleet.models import CallRequest, EpodPhoto, Job, JobEvent, Message, ProofOfDelivery, SenderRole
from oms.lib.personal import ERASED, phone_variants, scrub_rows
from orders.privacy import order_records, order_terms, orders_erase_contact

logger = logging.getLogger(__name__)

ARCHIVE_FORMAT = "oms-customer-export/1"
# The JSON files of the archive, in the manifest's order: kind → file name.
KINDS = (
    "customer",
    "sites",
    "portal_users",
    "sign_ins",
    "customer_events",
    "orders",
    "order_lines",
    "order_events",
    "returns",
    "call_offs",
    "messages",
    "call_requests",
    "job_events",
    "epods",
    "epod_photos",
)


def _messages(customer: Customer):
    return Message.objects.filter(Q(order__customer=customer) | Q(job__order__customer=customer))


def _call_requests(customer: Customer):
    return CallRequest.objects.filter(
        Q(customer=customer) | Q(order__customer=customer) | Q(job__order__customer=customer)
    )


def _epods(customer: Customer):
    return ProofOfDelivery.objects.filter(job__order__customer=customer)


# --- export -------------------------------------------------------------------------------------------


def customer_export_records(customer: Customer) -> dict[str, list[dict[str, Any]]]:
    """Every record held about the customer, by kind (the archive's JSON files)."""
    records = order_records(customer)
    records["order_lines"] = [line for order in records["orders"] for line in order["lines"]]
    records["messages"] = list(_messages(customer).order_by("at", "pk").values())
    records["call_requests"] = list(_call_requests(customer).order_by("created_at", "pk").values())
    records["job_events"] = list(
        JobEvent.objects.filter(job__order__customer=customer).order_by("at", "pk").values()
    )
    records["epods"] = list(_epods(customer).order_by("pk").values())
    records["epod_photos"] = list(
        EpodPhoto.objects.filter(epod__job__order__customer=customer).order_by("pk").values()
    )
    return records


def _archive_files(records: dict[str, list[dict]]) -> list[dict[str, Any]]:
    """The stored files the records name: (kind, record id, storage name)."""
    files = []
    for epod in records["epods"]:
        for kind, field in (("signature", "signature"), ("epod_pdf", "pdf")):
            if epod[field]:
                files.append({"kind": kind, "record": epod["id"], "name": epod[field]})
    for photo in records["epod_photos"]:
        if photo["image"]:
            files.append({"kind": "epod_photo", "record": photo["id"], "name": photo["image"]})
    return files


def customer_export_archive(*, customer: Customer, output: IO[bytes]) -> dict[str, Any]:
    """Write the customer's archive to `output` (a binary file); return its manifest.

    One read transaction (REPEATABLE READ is not needed: the records are read inside one atomic block
    and the files they name are immutable once stored)."""
    with transaction.atomic():
        records = customer_export_records(customer)
    files = _archive_files(records)
    manifest: dict[str, Any] = {
        "format": ARCHIVE_FORMAT,
        "customer": {"id": str(customer.public_id), "number": customer.number},
        "generated_at": timezone.now(),
        "counts": {kind: len(records[kind]) for kind in KINDS},
        "items": [
            {"kind": kind, "id": row.get("id"), "file": f"{kind}.json"}
            for kind in KINDS
            for row in records[kind]
        ],
        "files": [],
    }
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for kind in KINDS:
            archive.writestr(f"{kind}.json", _json(records[kind]))
        for entry in files:
            path = f"files/{entry['kind']}/{entry['record']}-{PurePosixPath(entry['name']).name}"
            try:
                with default_storage.open(entry["name"], "rb") as handle:
                    content = handle.read()
            except FileNotFoundError:
                manifest["files"].append({**entry, "path": None, "missing": True})
                continue
            archive.writestr(path, content)
            manifest["files"].append(
                {**entry, "path": path, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
            )
        manifest["counts"]["files"] = sum(1 for entry in manifest["files"] if entry["path"])
        archive.writestr("manifest.json", _json(manifest))
    return json.loads(_json(manifest))


EXPORT_FOLDER = "privacy-exports"


def export_name(customer: Customer) -> str:
    """A new archive name in the private storage: the customer number and the time, no names."""
    return f"{EXPORT_FOLDER}/{customer.number}-{timezone.now():%Y%m%dT%H%M%S%fZ}.zip"


def customer_export_store(*, customer_id: int, name: str) -> str:
    """The archive of a large customer written by a worker (`fleet.tasks.customer_export`) into the
    private storage as `name`. Idempotent: an archive already stored under `name` is kept."""
    if default_storage.exists(name):
        return name
    customer = Customer.objects.get(pk=customer_id)
    with tempfile.TemporaryFile() as buffer:
        customer_export_archive(customer=customer, output=buffer)
        buffer.seek(0)
        return default_storage.save(name, File(buffer))


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, default=str)


# --- erasure ------------------------------------------------------------------------------------------


def fleet_terms(customer: Customer) -> list[Any]:
    """Names and numbers this app stored for the contact: who signed, who asked to be called back."""
    terms: list[Any] = list(_epods(customer).values_list("received_by", flat=True))
    for name, phone in (
        _call_requests(customer)
        .filter(requested_by_role=SenderRole.CUSTOMER)
        .values_list("requested_by", "phone")
    ):
        terms += [name, *phone_variants(phone)]
    terms += _messages(customer).filter(sender_role=SenderRole.CUSTOMER).values_list("sender", flat=True)
    return terms + order_terms(customer)


def fleet_erase_contact(*, customer: Customer, terms: list[str], by: str, at) -> dict[str, int]:
    """Erase the contact from the fleet's records (in the caller's transaction), then from the
    orders' and the customers'. Stored files are deleted after the commit, so that a rollback leaves
    them in place."""
    counts: dict[str, int] = {}
    messages = _messages(customer)
    counts["messages"] = messages.filter(sender_role=SenderRole.CUSTOMER).update(sender=ERASED, body=ERASED)
    counts["messages"] += scrub_rows(
        messages.exclude(sender_role=SenderRole.CUSTOMER), ["sender", "body"], terms
    )
    calls = _call_requests(customer)
    counts["call_requests"] = calls.filter(requested_by_role=SenderRole.CUSTOMER).update(
        requested_by=ERASED, phone=""
    )
    counts["call_requests"] += scrub_rows(calls, ["requested_by", "phone", "reason", "outcome"], terms)
    counts["job_events"] = scrub_rows(
        JobEvent.objects.filter(job__order__customer=customer), ["actor", "note", "data"], terms
    )
    counts["jobs"] = scrub_rows(Job.objects.filter(order__customer=customer), ["failure_note"], terms)
    counts.update(_erase_epods(customer, terms))
    counts.update(orders_erase_contact(customer=customer, terms=terms, by=by, at=at))
    return counts


def _erase_epods(customer: Customer, terms: list[str]) -> dict[str, int]:
    """Signer names out, files out. The EPOD row stays (with its digest and the delivered quantities):
    it is the delivery's record; an `update()` because the model refuses to be saved again."""
    epods = _epods(customer)
    names = [name for row in epods.values_list("signature", "pdf") for name in row if name]
    photos = EpodPhoto.objects.filter(epod__in=epods)
    names += [name for name in photos.values_list("image", flat=True) if name]
    photo_count = photos.delete()[0]
    epod_count = epods.update(received_by=ERASED, signature="", pdf="", lat=None, lon=None)
    scrub_rows(_epods(customer), ["remarks"], terms)
    transaction.on_commit(lambda: delete_stored_files(names))
    return {"epods": epod_count, "epod_photos": photo_count, "files": len(names)}


def delete_stored_files(names: list[str]) -> int:
    """Delete stored files through the storage API; a file already gone counts as deleted. A failure
    is logged (the rows no longer name the file) and does not stop the others."""
    deleted = 0
    for name in names:
        try:
            default_storage.delete(name)
            deleted += 1
        except Exception:  # noqa: BLE001 - one stuck file must not keep the others
            logger.exception("could not delete the stored file %s of an erased customer", name)
    return deleted
