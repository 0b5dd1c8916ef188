"""Electronic proof of delivery and its PDF e-ticket.

Signatures:

- `epod_submit(*, job, actor, received_by, signature, photos, signed_at, lines, lat=None, lon=None,
  water_added_l=None, remarks="") -> ProofOfDelivery`
  `signature` and `photos` are validated `Evidence` (bytes + content type + SHA-256, see
  `fleet.evidence`); `lines` are `{"position", "delivered", "returned", "reason"}` with Decimals.
  One EPOD per job (a second → `InvalidTransition`), only once the truck is at the site. Stores the
  files and the SHA-256 over all evidence, fills the job and order lines, consumes stock, moves the
  job to `delivered` and the order to `partially_delivered`/`delivered`, and writes
  `delivery.confirmation`, `epod` and `item.positions` to the outbox. The PDF is rendered by a
  Celery task after commit.
- `epod_pdf_render(*, epod_id) -> bool` — render and attach the PDF once (idempotent; True if it
  rendered now).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from fleet.evidence import Evidence
from fleet.models import EpodPhoto, Job, JobStatus, JobType, ProofOfDelivery
from fleet.services.common import epod_pdf_url, iso, job_outbox, lock_job, lock_order
from fleet.services.delivery import delivery_confirm_locked
from fleet.services.driving import _apply_locked
from oms.exceptions import InvalidTransition, ValidationError
from oms.lib.actors import Actor
from oms.lib.files import atomic_with_files, safe_name, saved_in_transaction
from orders.models import Order
from orders.services.fulfilment import order_job_timeline

EPOD_EXISTS = "This job already has a proof of delivery."
EPOD_TOO_EARLY = "A proof of delivery needs the truck at the site."
EPOD_NOT_DELIVERY = "Only deliveries take a proof of delivery."
EPOD_STATUSES = frozenset({JobStatus.ARRIVED, JobStatus.UNLOADING, JobStatus.DELIVERED})


def evidence_sha256(
    *,
    job: Job,
    received_by: str,
    signed_at: datetime,
    lat: float | None,
    lon: float | None,
    lines: list[dict[str, Any]],
    water_added_l: Decimal | None,
    remarks: str,
    signature: Evidence,
    photos: list[Evidence],
) -> str:
    """SHA-256 over a canonical JSON of everything the customer signed for, files by their hash."""
    document = {
        "ticket": job.ticket,
        "received_by": received_by,
        "signed_at": signed_at.isoformat(),
        "lat": lat,
        "lon": lon,
        "lines": lines,
        "water_added_l": str(water_added_l) if water_added_l is not None else None,
        "remarks": remarks,
        "signature": signature.sha256,
        "photos": [photo.sha256 for photo in photos],
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _resolve_lines(job: Job, lines: list[dict[str, Any]]) -> list[tuple[Any, Decimal, Decimal]]:
    by_position = {line.order_line.position: line for line in job.lines.select_related("order_line")}
    errors: dict[str, list[str]] = {}
    resolved = []
    seen: set[int] = set()
    for index, item in enumerate(lines):
        line = by_position.get(item["position"])
        if line is None or item["position"] in seen:
            errors[str(index)] = ["Unknown or repeated position for this job."]
            continue
        seen.add(item["position"])
        basis = line.loaded if line.loaded > 0 else line.planned
        if item["delivered"] + item["returned"] > basis:
            errors[str(index)] = [f"Delivered plus returned exceeds the load ({basis:.3f})."]
            continue
        resolved.append((line, item["delivered"], item["returned"]))
    if errors:
        raise ValidationError("Some lines are not valid.", errors={"lines": errors})
    return resolved


def _lock_for_epod(job: Job) -> tuple[Order, Job]:
    """The order and the job, locked; InvalidTransition unless the job is a delivery at the site
    without an EPOD yet."""
    order = lock_order(job.order_id)
    job = lock_job(job.pk)
    if job.type != JobType.DELIVERY or order is None:
        raise InvalidTransition(EPOD_NOT_DELIVERY)
    if ProofOfDelivery.objects.filter(job=job).exists():
        raise InvalidTransition(EPOD_EXISTS)
    if job.status not in EPOD_STATUSES:
        raise InvalidTransition(EPOD_TOO_EARLY, extra={"from": job.status, "to": JobStatus.DELIVERED})
    return order, job


def _canonical_lines(resolved: list[tuple[Any, Decimal, Decimal]], lines: list[dict[str, Any]]) -> list[dict]:
    """The lines as signed for, by position: quantities as text, with the reason given."""
    return [
        {
            "position": line.order_line.position,
            "delivered": f"{delivered:.3f}",
            "returned": f"{returned:.3f}",
            "reason": next(
                (i.get("reason") or "" for i in lines if i["position"] == line.order_line.position), ""
            ),
        }
        for line, delivered, returned in sorted(resolved, key=lambda r: r[0].order_line.position)
    ]


def epod_file_stem(job: Job) -> str:
    """The stored files' name stem: the ticket (an ERP's text) as a safe slug, and the job's own id."""
    return f"{safe_name(job.ticket, fallback='job')}-{job.pk}"


def _store_epod(*, job: Job, signature: Evidence, photos: list[Evidence], **fields) -> ProofOfDelivery:
    """The EPOD row (`fields` as the model's) with its signature and photo files."""
    epod = ProofOfDelivery(job=job, **fields)
    stem = epod_file_stem(job)
    epod.signature.save(f"{stem}-signature.png", ContentFile(signature.content), save=False)
    saved_in_transaction(epod.signature.storage, epod.signature.name)
    epod.save(force_insert=True)
    for index, photo in enumerate(photos, start=1):
        item = EpodPhoto(epod=epod, sha256=photo.sha256)
        item.image.save(f"{stem}-photo-{index}.{photo.extension}", ContentFile(photo.content), save=False)
        saved_in_transaction(item.image.storage, item.image.name)
        item.save()
    return epod


def _attach_epod(*, order: Order, job: Job, epod: ProofOfDelivery, actor: Actor) -> None:
    """`epod` to the ERP, with its event on the order timeline."""
    epod_message = job_outbox(
        job,
        "epod",
        {
            "ticket": job.ticket,
            "received_by": epod.received_by,
            "signed_at": epod.signed_at.isoformat(),
            "lat": epod.lat,
            "lon": epod.lon,
            "sha256": epod.sha256,
            "pdf_url": epod_pdf_url(epod),
            "water_added_l": str(epod.water_added_l) if epod.water_added_l is not None else None,
            "remarks": epod.remarks,
        },
    )
    order_job_timeline(
        order=order,
        type="epod.received",
        actor=actor,
        data={
            "ticket": job.ticket,
            "received_by": epod.received_by,
            "signed_at": iso(epod.signed_at),
            "sha256": epod.sha256,
        },
        message=epod_message,
    )


@atomic_with_files()  # the evidence files go when the transaction does
def epod_submit(
    *,
    job: Job,
    actor: Actor,
    received_by: str,
    signature: Evidence,
    photos: list[Evidence],
    signed_at: datetime,
    lines: list[dict[str, Any]],
    lat: float | None = None,
    lon: float | None = None,
    water_added_l: Decimal | None = None,
    remarks: str = "",
) -> ProofOfDelivery:
    order, job = _lock_for_epod(job)
    resolved = _resolve_lines(job, lines)
    canonical_lines = _canonical_lines(resolved, lines)
    signed = {
        "received_by": received_by,
        "signed_at": signed_at,
        "lat": lat,
        "lon": lon,
        "lines": canonical_lines,
        "water_added_l": water_added_l,
        "remarks": remarks,
    }
    sha = evidence_sha256(job=job, signature=signature, photos=photos, **signed)
    epod = _store_epod(job=job, signature=signature, photos=photos, sha256=sha, **signed)
    at = max(signed_at, job.last_event_at) if job.last_event_at else signed_at

    def attach_epod() -> None:
        _attach_epod(order=order, job=job, epod=epod, actor=actor)

    # The first confirmation wins: after a `delivered` event without EPOD the EPOD only attaches.
    confirmed = delivery_confirm_locked(
        order=order,
        job=job,
        quantities=resolved,
        actor=actor,
        at=at,
        reasons={line["position"]: line["reason"] for line in canonical_lines},
        after_message=attach_epod,
    )
    if not confirmed:
        attach_epod()  # a `delivered` event confirmed the load already: the EPOD attaches to it
    if job.status != JobStatus.DELIVERED:
        _apply_locked(
            order=order, job=job, status=JobStatus.DELIVERED, at=at, actor=actor, lat=lat, lon=lon, note=""
        )
    epod_id = epod.pk
    transaction.on_commit(lambda: _schedule_pdf(epod_id))
    return epod


def _schedule_pdf(epod_id: int) -> None:
    from fleet.tasks import epod_render_pdf

    try:
        epod_render_pdf.apply_async(args=[epod_id], retry=False, ignore_result=True)
    except Exception:  # noqa: BLE001 - the broker being down must not fail the request; the view renders on demand
        import logging

        logging.getLogger(__name__).warning("could not queue the EPOD PDF", exc_info=True)


def epod_pdf_render(*, epod_id: int) -> bool:
    from fleet.pdf import render_epod_pdf

    epod = (
        ProofOfDelivery.objects.select_related("job__order__customer", "job__plant", "job__tour__truck")
        .prefetch_related("job__batches", "job__lines__order_line")
        .get(pk=epod_id)
    )
    if epod.pdf or not epod.signature:
        return False  # rendered already, or the signer's data was erased (docs/privacy.md)
    content = render_epod_pdf(epod)
    storage = epod.pdf.storage
    name = storage.save(f"epod/pdf/{epod_file_stem(epod.job)}.pdf", ContentFile(content))
    try:
        updated = ProofOfDelivery.objects.filter(pk=epod.pk, pdf="").update(pdf=name)
    except BaseException:
        storage.delete(name)  # no row names it: it would be an orphan
        raise
    if not updated:  # a parallel render attached its PDF first
        storage.delete(name)
    return bool(updated)
