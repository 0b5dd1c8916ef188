"""Driver API: input serializers (what a driver app may send) and the output documents."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fleet.models import FailureReason, Job, Tour
from fleet.services.common import job_site

MAX_POSITIONS = 1000
# Clocks of phones drift; a point further ahead than this is a bad clock, not the future.
MAX_CLOCK_SKEW = timedelta(minutes=10)
DRIVER_EVENT_STATUSES = ["loading", "loaded", "en_route", "arrived", "unloading", "delivered", "failed"]
TOO_MANY_POSITIONS = "At most 1000 positions per call."


def _qty(value) -> str:
    return f"{value:.3f}"


def job_document(job: Job) -> dict[str, Any]:
    """`job` with `order`, `plant` and `lines__order_line` loaded."""
    return {
        "id": str(job.public_id),
        "sequence": job.sequence,
        "type": job.type,
        "ticket": job.ticket,
        "status": job.status,
        "loading_status": job.loading_status,
        "order": {"number": job.order.number} if job.order_id else None,
        "site": job_site(job),
        "lines": [
            {"position": line.order_line.position, "sku": line.order_line.sku, "quantity": _qty(line.planned)}
            for line in sorted(job.lines.all(), key=lambda line: line.order_line.position)
        ],
        "eta": job.eta.isoformat() if job.eta else None,
    }


def tour_document(tour: Tour) -> dict[str, Any]:
    return {
        "number": tour.number,
        "status": tour.status,
        "date": tour.date.isoformat(),
        "truck": tour.truck.code,
        "plant": tour.plant.code,
        "jobs": [job_document(job) for job in tour.jobs.all()],
    }


class ToursQuery(serializers.Serializer):
    date = serializers.DateField(required=False)

    def validate(self, attrs):
        if "date" in self.initial_data and attrs.get("date") is None:
            raise serializers.ValidationError({"date": ["Expected a date (YYYY-MM-DD)."]})
        return attrs


class ReturnedLineIn(serializers.Serializer):
    position = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=Decimal("0"))


class JobEventIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=DRIVER_EVENT_STATUSES)
    at = serializers.DateTimeField()
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    lon = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    reason = serializers.ChoiceField(
        choices=FailureReason.choices,
        required=False,
        help_text="With `failed`: why the load did not reach the customer (default `other`).",
    )
    returned = ReturnedLineIn(
        many=True,
        required=False,
        help_text="With `failed`: per order line position, the quantity that came back (default: all "
        "that was loaded).",
    )

    def validate(self, attrs):
        if attrs.get("status") != "failed" and ("reason" in attrs or "returned" in attrs):
            raise serializers.ValidationError({"reason": ["Only a failed event has a reason."]})
        return attrs


class PositionsIn(serializers.Serializer):
    """Only the envelope; the points are checked one by one by `validate_point` (fast path)."""

    truck = serializers.CharField(max_length=20)
    positions = serializers.ListField(child=serializers.JSONField(), allow_empty=False)

    def validate_positions(self, value):
        if len(value) > MAX_POSITIONS:
            raise serializers.ValidationError(TOO_MANY_POSITIONS)
        return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def validate_point(raw: Any, *, now: datetime) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """One GPS point → (clean point, {}) or (None, field errors). Plain Python: 500 points in ~1 ms."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": ["Expected an object."]}
    errors: dict[str, list[str]] = {}
    at = None
    at_raw = raw.get("at")
    if not isinstance(at_raw, str):
        errors["at"] = ["This field is required."]
    else:
        try:
            at = parse_datetime(at_raw)
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            errors["at"] = ["Expected an ISO 8601 time with offset."]
        elif at > now + MAX_CLOCK_SKEW:
            errors["at"] = ["The time is in the future."]
    lat, lon = _number(raw.get("lat")), _number(raw.get("lon"))
    if lat is None or not -90 <= lat <= 90:
        errors["lat"] = ["Expected a number between -90 and 90."]
    if lon is None or not -180 <= lon <= 180:
        errors["lon"] = ["Expected a number between -180 and 180."]
    point: dict[str, Any] = {"at": at, "lat": lat, "lon": lon, "speed": None, "heading": None}
    for field, high in (("speed", 400.0), ("heading", 360.0)):
        value = raw.get(field)
        if value is None:
            continue
        number = _number(value)
        if number is None or not 0 <= number <= high:
            errors[field] = [f"Expected a number between 0 and {high:g}."]
        else:
            point[field] = number
    if errors:
        return None, errors
    return point, {}


@extend_schema_field(
    {"type": "string", "description": 'JSON list: [{"position","delivered","returned"?,"reason"?}]'}
)
class LinesField(serializers.Field):
    """EPOD `lines`: a JSON string in multipart (or a list in JSON)."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise serializers.ValidationError("Expected a JSON list.") from exc
        if not isinstance(data, list) or not data:
            raise serializers.ValidationError("Expected a non-empty JSON list.")
        serializer = EpodLineIn(data=data, many=True)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def to_representation(self, value):
        return value


class EpodLineIn(serializers.Serializer):
    position = serializers.IntegerField(min_value=1)
    delivered = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=Decimal("0"))
    returned = serializers.DecimalField(
        max_digits=14, decimal_places=3, min_value=Decimal("0"), required=False, default=Decimal("0.000")
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EpodIn(serializers.Serializer):
    received_by = serializers.CharField(max_length=200)
    signature = serializers.FileField()
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list, max_length=5)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    signed_at = serializers.DateTimeField()
    lines = LinesField()
    water_added_l = serializers.DecimalField(
        max_digits=8, decimal_places=1, min_value=Decimal("0"), required=False, allow_null=True
    )
    remarks = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ConstituentIn(serializers.Serializer):
    material = serializers.CharField(max_length=200)
    target = serializers.DecimalField(max_digits=14, decimal_places=3)
    actual = serializers.DecimalField(max_digits=14, decimal_places=3)
    unit = serializers.CharField(max_length=10)


class BatchDataIn(serializers.Serializer):
    batch_number = serializers.CharField(max_length=60)
    recipe = serializers.CharField(max_length=200)
    batched_at = serializers.DateTimeField()
    constituents = ConstituentIn(many=True, max_length=50)
    water_cement_ratio = serializers.DecimalField(
        max_digits=5, decimal_places=3, required=False, allow_null=True, min_value=Decimal("0")
    )
    slump_mm = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=1000)
    temperature_c = serializers.DecimalField(max_digits=5, decimal_places=1, required=False, allow_null=True)

    def validate_constituents(self, value):
        return [
            {
                "material": item["material"],
                "target": f"{item['target']:.3f}",
                "actual": f"{item['actual']:.3f}",
                "unit": item["unit"],
            }
            for item in value
        ]


class MessageIn(serializers.Serializer):
    order = serializers.CharField(max_length=30, required=False)
    job = serializers.UUIDField(required=False)
    tour = serializers.CharField(max_length=30, required=False)
    body = serializers.CharField(max_length=2000)


class CallRequestIn(serializers.Serializer):
    job = serializers.UUIDField(required=False)
    reason = serializers.CharField(max_length=200)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")


def now() -> datetime:
    return timezone.now()


# --- output documents (for the schema; the views build the same shapes with `job_document` etc.) ---


class SiteOut(serializers.Serializer):
    name = serializers.CharField()
    address = serializers.CharField()
    lat = serializers.FloatField(allow_null=True)
    lon = serializers.FloatField(allow_null=True)


class JobLineOut(serializers.Serializer):
    position = serializers.IntegerField()
    sku = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)


class OrderRefOut(serializers.Serializer):
    number = serializers.CharField()


class JobOut(serializers.Serializer):
    id = serializers.UUIDField()
    sequence = serializers.IntegerField()
    type = serializers.ChoiceField(choices=["delivery", "homerun", "return_pickup"])
    ticket = serializers.CharField()
    status = serializers.CharField()
    loading_status = serializers.CharField()
    order = OrderRefOut(allow_null=True)
    site = SiteOut()
    lines = JobLineOut(many=True)
    eta = serializers.DateTimeField(allow_null=True)


class TourOut(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    date = serializers.DateField()
    truck = serializers.CharField()
    plant = serializers.CharField()
    jobs = JobOut(many=True)


class RejectedPointOut(serializers.Serializer):
    index = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class PositionsOut(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = RejectedPointOut(many=True)


class EpodOut(serializers.Serializer):
    id = serializers.UUIDField()
    job = serializers.UUIDField()
    sha256 = serializers.CharField()
    pdf_url = serializers.URLField()


class BatchDataOut(serializers.Serializer):
    job = serializers.UUIDField()
    batch_number = serializers.CharField()


class MessageOut(serializers.Serializer):
    id = serializers.UUIDField()
    at = serializers.DateTimeField()


class CallRequestOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    due_at = serializers.DateTimeField()
