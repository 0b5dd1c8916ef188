"""The harness of the delivery-day scenarios: every step goes through a public surface — the
operations CLI, the signed ERP webhook, the kiosk and driver REST API, the portal and console pages —
and the relay delivers to a fake ERP on loopback."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import Plant
from erp_sync.inbound import inbox_apply_pending
from erp_sync.relay import relay_drain
from fleet.models import Job
from orders.services.placement import plant_today
from tests.erp_sync.conftest import body_of, envelope, signed_post
from tests.erp_sync.fake_erp import SECRET, TOKEN, FakeErp
from tests.helpers import run_command, token_client

D = Decimal


def run(*args) -> str:
    return run_command(*args).strip()


class Day:
    """The actors of the day and the steps they take, each through a public surface."""

    def __init__(self, erp: FakeErp):
        self.erp = erp
        self.webhook = Client()
        self.sent = 0
        run(
            "oms_erp_system",
            "ERP1",
            "--adapter",
            "http_json",
            "--base-url",
            erp.url,
            "--token",
            TOKEN,
            "--secret",
            SECRET,
        )
        self.push(
            (
                "master.plant",
                ("plant", "SOF1"),
                {
                    "code": "SOF1",
                    "name": "Sofia",
                    "address": "Iskar 1",
                    "lat": 42.65,
                    "lon": 23.38,
                    "timezone": "Europe/Sofia",
                    "active": True,
                },
            ),
            (
                "master.product",
                ("product", "C25-30"),
                {
                    "sku": "C25-30",
                    "name": "Concrete C25/30",
                    "unit": "m3",
                    "unit_price": "95.00",
                    "vat_rate": "20.00",
                    "stocked": False,
                    "active": True,
                },
            ),
            (
                "master.truck",
                ("truck", "TRK-1"),
                {
                    "code": "TRK-1",
                    "plate": "CA1111AA",
                    "plant": "SOF1",
                    "capacity": "8.000",
                    "unit": "m3",
                    "active": True,
                },
            ),
            (
                "master.driver",
                ("driver", "DRV-1"),
                {
                    "code": "DRV-1",
                    "name": "Georgi",
                    "phone": "+359888100100",
                    "plant": "SOF1",
                    "active": True,
                },
            ),
        )
        run("oms_sales_point", "KIOSK-1", "--channel", "kiosk", "--plant", "SOF1")
        self.kiosk = token_client(run("oms_token", "--sales-point", "KIOSK-1"))
        self.driver = token_client(run("oms_token", "--driver", "DRV-1"))
        self.keys = 0
        self.t0 = timezone.now()

    # --- the ERP --------------------------------------------------------------------------------
    def push(self, *messages) -> None:
        batch = []
        for type_, entity, data in messages:
            self.sent += 1
            batch.append(envelope(f"ERP1-{self.sent:05d}", type_, entity, self.sent, data))
        response = signed_post(self.webhook, "ERP1", body_of(batch))
        assert response.status_code == 202, response.content
        assert [r["status"] for r in response.json()["results"]] == ["accepted"] * len(batch)
        outcomes, _ = inbox_apply_pending(max_seconds=30)
        assert outcomes.get("failed", 0) == 0, outcomes

    def relay(self) -> None:
        for _ in range(20):
            counts, more = relay_drain(max_seconds=30)
            if not more and not counts.get("sent"):
                return

    # --- staff and customer pages --------------------------------------------------------------
    def login(self, email: str, role: str, *extra: str) -> Client:
        run("oms_user", email, "--role", role, "--password", "a-long-demo-password", *extra)
        client = Client()
        # Through the sign-in page of the role's surface, as a person would (and past its lockouts).
        page = "/portal/login/" if role == "customer" else "/admin/login/"
        response = client.post(page, {"username": email, "password": "a-long-demo-password"})
        assert response.status_code == 302, response.content.decode()[:500]
        return client

    # --- the kiosk and the driver -------------------------------------------------------------
    def post(self, client: APIClient, path: str, body: dict, *, multipart: bool = False):
        self.keys += 1
        if multipart:
            return client.post(path, body, format="multipart", HTTP_IDEMPOTENCY_KEY=f"k-{self.keys}")
        return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{self.keys}")

    def event(self, job: Job, status: str, minute: int, **extra):
        at = (self.t0 + timedelta(minutes=minute)).isoformat()
        return self.post(
            self.driver, f"/api/v1/driver/jobs/{job.public_id}/events/", {"status": status, "at": at, **extra}
        )

    def drive(self, job: Job, first_minute: int, *statuses: str) -> None:
        for offset, status in enumerate(statuses):
            response = self.event(job, status, first_minute + offset)
            assert response.status_code == 200, (job.ticket, status, response.content)

    def today(self):
        """Today at the plant (Sofia): a tour planned for the UTC date is yesterday's after 22:00 UTC."""
        return plant_today(Plant.objects.get(code="SOF1"))

    def tour_jobs(self) -> list[tuple[str, str]]:
        response = self.driver.get("/api/v1/driver/tours/")
        assert response.status_code == 200
        return [(job["ticket"], job["status"]) for tour in response.json() for job in tour["jobs"]]


def console_post(client: Client, name: str, pk: int, data: dict | None = None) -> list[str]:
    """POST a console action; returns the page messages it left (errors and successes)."""
    response = client.post(reverse(f"admin:{name}", args=[pk]), data or {}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


@pytest.fixture(name="day")
def day_fixture(fake_erp):
    return Day(fake_erp)
