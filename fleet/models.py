"""Trucks, drivers, tours, jobs, positions, EPOD, batch data, messages, call requests."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

QTY = {"max_digits": 14, "decimal_places": 3}
ZERO_QTY = Decimal("0.000")


class Truck(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    plate = models.CharField(_("plate"), max_length=20, blank=True, default="")
    plant = models.ForeignKey("catalog.Plant", on_delete=models.PROTECT, related_name="trucks")
    capacity = models.DecimalField(_("capacity"), **QTY, default=Decimal("8.000"))
    unit = models.CharField(_("unit"), max_length=10, default="m3")
    telematics_id = models.CharField(max_length=64, blank=True, default="")
    active = models.BooleanField(default=True)
    last_lat = models.FloatField(null=True, blank=True)
    last_lon = models.FloatField(null=True, blank=True)
    last_speed = models.FloatField(null=True, blank=True)
    last_heading = models.FloatField(null=True, blank=True)
    last_position_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("truck")
        verbose_name_plural = _("trucks")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Driver(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    phone = models.CharField(_("phone"), max_length=30, blank=True, default="")
    plant = models.ForeignKey(
        "catalog.Plant", null=True, blank=True, on_delete=models.SET_NULL, related_name="drivers"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="driver"
    )
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("driver")
        verbose_name_plural = _("drivers")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class DriverKey(models.Model):
    """The driver an API key of kind `driver` belongs to."""

    client = models.OneToOneField("orders.ApiClient", on_delete=models.CASCADE, related_name="driver_key")
    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="keys")

    class Meta:
        verbose_name = _("driver key")
        verbose_name_plural = _("driver keys")

    def __str__(self) -> str:
        return f"{self.driver_id}: {self.client_id}"


class TourStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    RELEASED = "released", _("Released")
    STARTED = "started", _("Started")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class Tour(models.Model):
    number = models.CharField(max_length=30, unique=True)
    date = models.DateField(_("date"))
    plant = models.ForeignKey("catalog.Plant", on_delete=models.PROTECT, related_name="tours")
    truck = models.ForeignKey(Truck, on_delete=models.PROTECT, related_name="tours")
    driver = models.ForeignKey(Driver, null=True, blank=True, on_delete=models.PROTECT, related_name="tours")
    status = models.CharField(max_length=12, choices=TourStatus.choices, default=TourStatus.PLANNED)
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("tour")
        verbose_name_plural = _("tours")
        permissions = [("dispatch", "Can plan tours and assign jobs")]
        indexes = [
            models.Index(fields=["date", "plant"], name="tour_date_plant_idx"),
            models.Index(fields=["driver", "date"], name="tour_driver_date_idx"),
            models.Index(fields=["truck", "date"], name="tour_truck_date_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class JobType(models.TextChoices):
    DELIVERY = "delivery", _("Delivery")
    HOMERUN = "homerun", _("Homerun")
    RETURN_PICKUP = "return_pickup", _("Return pickup")


class LoadingStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    BATCHING = "batching", _("Batching")
    LOADING = "loading", _("Loading")
    LOADED = "loaded", _("Loaded")


class JobStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ASSIGNED = "assigned", _("Assigned")
    LOADING = "loading", _("Loading")
    LOADED = "loaded", _("Loaded")
    EN_ROUTE = "en_route", _("En route")
    ARRIVED = "arrived", _("Arrived")
    UNLOADING = "unloading", _("Unloading")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class FailureReason(models.TextChoices):
    """Why a load did not reach the customer (reported to the ERP with `delivery.failed`)."""

    SITE_CLOSED = "site_closed", _("Site closed")
    NO_ACCESS = "no_access", _("No access to the site")
    REJECTED_BY_SITE = "rejected_by_site", _("Rejected by the site")
    PUMP_FAILURE = "pump_failure", _("Pump failure")
    CUSTOMER_ABSENT = "customer_absent", _("Customer absent")
    ORDER_CANCELLED = "order_cancelled", _("Order cancelled")
    OTHER = "other", _("Other")


class Job(models.Model):
    """One truck trip: a load for an order, a homerun back to the plant, or a return pickup."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tour = models.ForeignKey(Tour, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    sequence = models.PositiveIntegerField(default=0)
    type = models.CharField(max_length=15, choices=JobType.choices, default=JobType.DELIVERY)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    plant = models.ForeignKey("catalog.Plant", on_delete=models.PROTECT, related_name="jobs")
    ticket = models.CharField(_("ticket"), max_length=40, unique=True)
    loading_status = models.CharField(
        max_length=12, choices=LoadingStatus.choices, default=LoadingStatus.NOT_STARTED
    )
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.PLANNED)
    planned_at = models.DateTimeField(null=True, blank=True)
    eta = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    loaded_at = models.DateTimeField(null=True, blank=True)
    departed_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # When the load's quantities were confirmed to the order and the ERP (the `delivered` event or its
    # EPOD, whichever came first); an EPOD arriving later attaches to the confirmed delivery.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The delivered quantity of the load's lines sold in m³, kept by the services that write
    # `JobLine.delivered` (`fleet.services.common.job_delivered_m3_refresh`): the console dashboard
    # sums it per plant and day without reading the lines.
    delivered_m3 = models.DecimalField(**QTY, default=ZERO_QTY)
    failure_reason = models.CharField(max_length=20, choices=FailureReason.choices, blank=True, default="")
    failure_note = models.CharField(max_length=200, blank=True, default="")
    # The return request a return pickup serves.
    return_request = models.ForeignKey(
        "orders.ReturnRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="pickups"
    )
    # The failed load this one delivers again (the dispatcher's redelivery).
    redelivery_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="redelivery"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["tour_id", "sequence", "pk"]
        indexes = [
            models.Index(fields=["status", "planned_at"], name="job_status_planned_idx"),
            # The console dashboard's deliveries per day and their m³, read from the index alone.
            models.Index(
                fields=["delivered_at", "plant", "type", "delivered_m3"],
                name="job_delivered_at_idx",
                condition=models.Q(delivered_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.ticket


class JobLine(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="job_lines")
    planned = models.DecimalField(**QTY)
    loaded = models.DecimalField(**QTY, default=ZERO_QTY)
    delivered = models.DecimalField(**QTY, default=ZERO_QTY)
    returned = models.DecimalField(**QTY, default=ZERO_QTY)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "order_line"], name="jobline_unique")]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.order_line_id} × {self.planned}"


class JobEvent(models.Model):
    """The fleet twin of OrderEvent: every job or tour status event, applied or late.

    A job event names its job (and the job's tour, when it has one); a tour event names only the tour.
    """

    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    tour = models.ForeignKey(Tour, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    received_at = models.DateTimeField()
    type = models.CharField(max_length=60)
    status = models.CharField(max_length=12, blank=True, default="")
    applied = models.BooleanField(default=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    note = models.CharField(max_length=2000, blank=True, default="")
    actor = models.CharField(max_length=200, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(job__isnull=False) | models.Q(tour__isnull=False),
                name="jobevent_has_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.at:%H:%M}"


class PositionReport(models.Model):
    """Append-only GPS stream. High volume: written in bulk; the truck caches the latest point."""

    truck = models.ForeignKey(Truck, on_delete=models.CASCADE, related_name="positions", db_index=False)
    at = models.DateTimeField()
    lat = models.FloatField()
    lon = models.FloatField()
    speed = models.FloatField(null=True, blank=True)
    heading = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["truck", "-at"], name="position_truck_at_idx")]

    def __str__(self) -> str:
        return f"{self.truck_id} {self.lat},{self.lon} @ {self.at:%H:%M:%S}"


class ProofOfDelivery(models.Model):
    """EPOD, one per job, immutable once submitted (later changes are corrections with events)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="epod")
    received_by = models.CharField(max_length=200)
    signature = models.FileField(upload_to="epod/signatures/%Y/%m/")
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    signed_at = models.DateTimeField()
    lines = models.JSONField(default=list)
    water_added_l = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    remarks = models.TextField(max_length=2000, blank=True, default="")
    sha256 = models.CharField(max_length=64)
    pdf = models.FileField(upload_to="epod/pdf/%Y/%m/", blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("proof of delivery")
        verbose_name_plural = _("proofs of delivery")

    def __str__(self) -> str:
        return f"EPOD {self.job_id}"

    def save(self, *args, **kwargs):
        # The evidence is immutable; only the derived PDF may be attached later.
        update_fields = kwargs.get("update_fields")
        if self.pk is not None and not kwargs.get("force_insert") and set(update_fields or ()) - {"pdf"}:
            raise ValueError("A proof of delivery is immutable; record a correction instead.")
        if self.pk is not None and update_fields is None and not self._state.adding:
            raise ValueError("A proof of delivery is immutable; record a correction instead.")
        super().save(*args, **kwargs)


class EpodPhoto(models.Model):
    epod = models.ForeignKey(ProofOfDelivery, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to="epod/photos/%Y/%m/")
    sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.sha256[:12]


class BatchRecord(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="batches")
    batch_number = models.CharField(max_length=60)
    recipe = models.CharField(max_length=200)
    batched_at = models.DateTimeField()
    constituents = models.JSONField(default=list)
    water_cement_ratio = models.DecimalField(max_digits=5, decimal_places=3, null=True, blank=True)
    slump_mm = models.PositiveIntegerField(null=True, blank=True)
    temperature_c = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "batch_number"], name="batch_job_number_unique")
        ]

    def __str__(self) -> str:
        return self.batch_number


class SenderRole(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    DRIVER = "driver", _("Driver")
    DISPATCHER = "dispatcher", _("Dispatcher")
    REP = "rep", _("Service rep")
    ERP = "erp", _("ERP")
    SYSTEM = "system", _("System")


class Message(models.Model):
    """One message of a thread about an order, a tour or a job (or of no thread at all).

    `driver` puts the message in a driver's inbox (docs/rest-api.md, message inbox): for a message
    written by a driver it is the author; for any other sender it is the driver the message is
    addressed to. Messages between customers and staff have none. `read_at` is the staff's mark
    ("handled" in the console queue); `read_by_driver_at` is the driver's own read mark.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    tour = models.ForeignKey(Tour, null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    sender_role = models.CharField(max_length=12, choices=SenderRole.choices)
    sender = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField(max_length=2000)
    at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    # The composite index below serves the inbox (driver, at > since); no separate FK index.
    driver = models.ForeignKey(
        Driver, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages", db_index=False
    )
    read_by_driver_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["driver", "at"], name="message_driver_at_idx")]

    def __str__(self) -> str:
        return f"{self.sender_role}: {self.body[:30]}"

    @property
    def to_driver(self) -> bool:
        """Addressed to a driver (rather than written by one, or not a driver's at all)."""
        return self.driver_id is not None and self.sender_role != SenderRole.DRIVER


class CallRequest(models.Model):
    class Kind(models.TextChoices):
        CALLBACK = "callback", _("Call-back")
        CALL_OFF = "call_off", _("Call-off")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CALLBACK)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="call_requests"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="call_requests"
    )
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.CASCADE, related_name="call_requests"
    )
    requested_by_role = models.CharField(max_length=12, choices=SenderRole.choices)
    requested_by = models.CharField(max_length=200, blank=True, default="")
    phone = models.CharField(max_length=30, blank=True, default="")
    reason = models.CharField(max_length=200)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=200, blank=True, default="")
    due_at = models.DateTimeField()
    created_at = models.DateTimeField()
    # When a rep started the call (open → in progress): the answer time of the call-back SLA.
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="callrequest_status_due_idx"),
            # The console dashboard's call-backs of a day.
            models.Index(fields=["created_at"], name="callrequest_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reason[:30]}"


class DeliveryAmendment(models.Model):
    """A later change of a delivered quantity. The EPOD stays as signed; this row says what changed,
    why, who and when, and links the EPOD it amends (if the load had one)."""

    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="amendments")
    epod = models.ForeignKey(
        ProofOfDelivery, null=True, blank=True, on_delete=models.PROTECT, related_name="amendments"
    )
    order_line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="+")
    old = models.DecimalField(**QTY)
    new = models.DecimalField(**QTY)
    reason = models.CharField(max_length=200)
    by = models.CharField(max_length=200)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.old} → {self.new}"
