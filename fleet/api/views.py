"""Driver endpoints (docs/rest-api.md, driver endpoints). Views parse input, pick the driver's own
objects through the selectors (another driver's job is a 404) and call one service."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from fleet import selectors
from fleet.api import serializers as s
from fleet.api.permissions import IsDriver
from fleet.evidence import (
    MAX_IMAGE_BYTES,
    MAX_PHOTOS,
    TOO_LARGE,
    TOO_MANY_PHOTOS,
    EvidenceError,
    read_image,
)
from fleet.models import SenderRole
from fleet.services import (
    batch_record_create,
    call_request_create,
    epod_pdf_render,
    epod_submit,
    job_status_apply,
    message_driver_read,
    message_post,
    positions_ingest,
)
from fleet.services.common import driver_actor, epod_pdf_url
from oms.exceptions import NotFound, ValidationError
from oms.lib.files import stored_file_response
from oms.lib.idempotency import IdempotentViewMixin
from oms.lib.uploads import cap_uploads, check_uploads
from orders.api.auth import TokenAuthentication

UNKNOWN_PARAMETER = "Unknown query parameter."
# The signature and MAX_PHOTOS photos of at most MAX_IMAGE_BYTES each, and 1 MB for the form fields.
MAX_EPOD_BODY_BYTES = (1 + MAX_PHOTOS) * MAX_IMAGE_BYTES + 1024 * 1024
REPEATED_PARAMETER = "Give this parameter once."


class DriverView(IdempotentViewMixin, APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsDriver]
    # Query strings are validated like bodies: a typo must not look like "no filter".
    query_parameters: frozenset[str] = frozenset()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        errors = {}
        for name in request.query_params:
            if name not in self.query_parameters:
                errors[name] = [UNKNOWN_PARAMETER]
            elif len(request.query_params.getlist(name)) > 1:
                errors[name] = [REPEATED_PARAMETER]
        if errors:
            raise ValidationError("The query string is not valid.", errors=errors)

    @property
    def driver(self):
        return self.request.driver

    @property
    def actor(self):
        return driver_actor(self.driver)


def _valid(serializer_class, data, **kwargs) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ToursView(DriverView):
    query_parameters = frozenset({"date"})

    @extend_schema(
        parameters=[
            OpenApiParameter("date", OpenApiTypes.DATE, description="Plant-local date; default today.")
        ],
        responses={200: s.TourOut(many=True)},
        summary="The driver's tours of a date, with their jobs (plain list).",
    )
    def get(self, request):
        query = _valid(s.ToursQuery, request.query_params)
        day = query.get("date") or selectors.driver_today(self.driver)
        tours = selectors.driver_tours(driver=self.driver, date=day)
        return Response([s.tour_document(tour) for tour in tours])


class JobView(DriverView):
    @extend_schema(responses={200: s.JobOut}, summary="One of the driver's jobs.")
    def get(self, request, job_id):
        return Response(s.job_document(selectors.driver_job(driver=self.driver, job_id=job_id)))


class JobEventsView(DriverView):
    @extend_schema(request=s.JobEventIn, responses={200: s.JobOut}, summary="Report a job status.")
    def post(self, request, job_id):
        job = selectors.driver_job(driver=self.driver, job_id=job_id)
        data = _valid(s.JobEventIn, request.data)

        def operation():
            job_status_apply(
                job=job,
                status=data["status"],
                at=data["at"],
                actor=self.actor,
                lat=data.get("lat"),
                lon=data.get("lon"),
                note=data.get("note", ""),
                reason=data.get("reason", ""),
                returned={item["position"]: item["quantity"] for item in data.get("returned", [])},
            )
            fresh = selectors.driver_job(driver=self.driver, job_id=job_id)
            return 200, s.job_document(fresh), fresh.ticket

        return self.respond_idempotent(request, operation)


class PositionsView(DriverView):
    @extend_schema(
        request=s.PositionsIn, responses={202: s.PositionsOut}, summary="A batch of 1-1000 GPS points."
    )
    def post(self, request):
        envelope = _valid(s.PositionsIn, request.data)
        truck = selectors.driver_truck(driver=self.driver, code=envelope["truck"])
        now = s.now()
        points, rejected = [], []
        for index, raw in enumerate(envelope["positions"]):
            point, errors = s.validate_point(raw, now=now)
            if point is None:
                rejected.append({"index": index, "errors": errors})
            else:
                points.append(point)

        def operation():
            accepted = positions_ingest(truck=truck, points=points)
            return 202, {"accepted": accepted, "rejected": rejected}, ""

        return self.respond_idempotent(request, operation)


class EpodView(DriverView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": s.EpodIn},
        responses={
            201: s.EpodOut,
            413: OpenApiResponse(
                description="A file over 5 MB, or a body over 31 MB (`too_large`); nothing is stored."
            ),
        },
        summary="Electronic proof of delivery (Idempotency-Key required).",
    )
    def post(self, request, job_id):
        uploads = cap_uploads(
            request, max_body_bytes=MAX_EPOD_BODY_BYTES, max_file_bytes=MAX_IMAGE_BYTES, detail=TOO_LARGE
        )
        self.idempotency_key(request, required=True)
        job = selectors.driver_job(driver=self.driver, job_id=job_id)
        photos = request.FILES.getlist("photos")
        check_uploads(uploads, detail=TOO_LARGE)
        if len(photos) > MAX_PHOTOS:
            raise ValidationError(TOO_MANY_PHOTOS, errors={"photos": [TOO_MANY_PHOTOS]})
        form = {key: request.data.get(key) for key in request.data if key not in ("signature", "photos")}
        data = _valid(s.EpodIn, {**form, "signature": request.FILES.get("signature"), "photos": photos})
        errors: dict[str, list[str]] = {}
        signature = None
        try:
            signature = read_image(data["signature"], formats=frozenset({"PNG"}))
        except EvidenceError as exc:
            errors["signature"] = [str(exc)]
        evidence = []
        for index, upload in enumerate(data["photos"]):
            try:
                evidence.append(read_image(upload, formats=frozenset({"PNG", "JPEG"})))
            except EvidenceError as exc:
                errors[f"photos.{index}"] = [str(exc)]
        if errors:
            raise ValidationError("The evidence is not valid.", errors=errors)
        payload = {
            "fields": form,
            "signature": signature.sha256,
            "photos": [item.sha256 for item in evidence],
        }

        def operation():
            epod = epod_submit(
                job=job,
                actor=self.actor,
                received_by=data["received_by"],
                signature=signature,
                photos=evidence,
                signed_at=data["signed_at"],
                lines=data["lines"],
                lat=data["lat"],
                lon=data["lon"],
                water_added_l=data.get("water_added_l"),
                remarks=data.get("remarks", ""),
            )
            body = {
                "id": str(epod.public_id),
                "job": str(job.public_id),
                "sha256": epod.sha256,
                "pdf_url": epod_pdf_url(epod),
            }
            return 201, body, str(epod.public_id)

        return self.respond_idempotent(request, operation, payload=payload, required=True)


class EpodPdfView(DriverView):
    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            302: OpenApiResponse(
                description="With files in an object store: `Location` is a signed link to the PDF, valid "
                "`OMS_S3_SIGNED_URL_SECONDS` (60 s by default); follow it without the `Authorization` header."
            ),
        },
        summary="The EPOD e-ticket PDF.",
    )
    def get(self, request, epod_id):
        epod = selectors.driver_epod(driver=self.driver, epod_id=epod_id)
        if not epod.pdf:
            epod_pdf_render(epod_id=epod.pk)
            epod.refresh_from_db(fields=["pdf"])
        found = selectors.epod_file(epod, "pdf")
        if found is None:
            raise NotFound()
        return stored_file_response(found.name, filename=found.filename, content_type=found.content_type)


class BatchDataView(DriverView):
    @extend_schema(request=s.BatchDataIn, responses={201: s.BatchDataOut}, summary="Batch data of a load.")
    def post(self, request, job_id):
        job = selectors.driver_job(driver=self.driver, job_id=job_id)
        data = _valid(s.BatchDataIn, request.data)

        def operation():
            record = batch_record_create(job=job, actor=self.actor, **data)
            return 201, {"job": str(job.public_id), "batch_number": record.batch_number}, str(record.pk)

        return self.respond_idempotent(request, operation)


class MessagesView(DriverView):
    @property
    def query_parameters(self) -> frozenset[str]:
        # `since` filters the list; posting a message takes none (other methods get their 405).
        return frozenset() if self.request.method == "POST" else frozenset({"since"})

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since",
                OpenApiTypes.DATETIME,
                description="Only messages after this time (ISO 8601 with offset); default: the last "
                f"{selectors.INBOX_DEFAULT_DAYS} days.",
            )
        ],
        responses={200: s.InboxMessageOut(many=True)},
        summary="The driver's inbox: messages to and from the driver, oldest first (plain list).",
    )
    def get(self, request):
        query = _valid(s.MessagesQuery, request.query_params)
        messages = selectors.driver_messages(driver=self.driver, since=query.get("since"))
        return Response([s.message_document(message) for message in messages])

    @extend_schema(request=s.MessageIn, responses={201: s.MessageOut}, summary="A message to dispatch.")
    def post(self, request):
        data = _valid(s.MessageIn, request.data)
        job = selectors.driver_job(driver=self.driver, job_id=data["job"]) if "job" in data else None
        order = selectors.driver_order(driver=self.driver, number=data["order"]) if "order" in data else None
        tour = selectors.driver_tour(driver=self.driver, number=data["tour"]) if "tour" in data else None

        def operation():
            message = message_post(
                sender_role=SenderRole.DRIVER,
                sender=self.driver.code,
                body=data["body"],
                actor=self.actor,
                order=order,
                tour=tour,
                job=job,
                driver=self.driver,
            )
            return 201, {"id": str(message.public_id), "at": message.at.isoformat()}, str(message.public_id)

        return self.respond_idempotent(request, operation)


class MessageReadView(DriverView):
    @extend_schema(
        request=None,
        responses={200: s.InboxMessageOut},
        operation_id="driver_messages_read",
        summary="Mark one of the driver's messages read (the first time stays).",
    )
    def post(self, request, message_id):
        message = selectors.driver_message(driver=self.driver, message_id=message_id)

        def operation():
            read = message_driver_read(message=message)
            return 200, s.message_document(read), str(read.public_id)

        return self.respond_idempotent(request, operation, payload={})  # the request has no body


class CallRequestsView(DriverView):
    @extend_schema(request=s.CallRequestIn, responses={201: s.CallRequestOut}, summary="Ask for a call-back.")
    def post(self, request):
        data = _valid(s.CallRequestIn, request.data)
        job = selectors.driver_job(driver=self.driver, job_id=data["job"]) if "job" in data else None

        def operation():
            call = call_request_create(
                reason=data["reason"],
                actor=self.actor,
                requested_by_role=SenderRole.DRIVER,
                requested_by=self.driver.code,
                phone=data.get("phone") or self.driver.phone,
                job=job,
            )
            body = {"id": str(call.public_id), "status": call.status, "due_at": call.due_at.isoformat()}
            return 201, body, str(call.public_id)

        return self.respond_idempotent(request, operation)
