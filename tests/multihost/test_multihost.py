"""The system on several hosts: two web, two worker and two beat hosts around one data host.

One cluster serves the module (building it is the expensive part); the tests run in file order and
each leaves the cluster whole for the next: killed processes are restarted, links brought back up.
Every figure a test measures is printed (run with `-s` to see them).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from catalog.models import StockLevel
from erp_sync.tasks import JOB_APPLY_SWEEP, JOB_PULL_ALL, JOB_RELAY_SWEEP
from fleet.models import ProofOfDelivery
from oms import roles
from oms.models import JobSlot, Lease
from orders.models import Channel, Order
from tests.console.conftest import PASSWORD, make_user
from tests.console.test_second_factor import VERIFY, code_for
from tests.erp_sync.conftest import wait_until
from tests.erp_sync.test_beat import JOBS
from tests.erp_sync.test_worker_faults import assert_exactly_once_in_order, enqueue_bulk, unsent
from tests.factories import SalesPointFactory
from tests.fleet.helpers import image_bytes, job_unloading
from tests.helpers import World, device_key, driver_key
from tests.multihost.conftest import HEALTH_TOKEN, LEASE_SECONDS, PUBLIC_HOST, S3_BUCKET, start_redis

SIGNATURE = image_bytes(color=(10, 20, 30))
PHOTO = image_bytes("JPEG", color=(200, 100, 0))

pytestmark = pytest.mark.multihost


class Seeded:
    def __init__(self, cluster):
        self.world = World()
        StockLevel.objects.filter(plant=self.world.plant, product=self.world.gravel).update(
            on_hand=Decimal("1000000")
        )
        self.sales_point = SalesPointFactory(
            code="KIOSK-SOF1-01", name="Kiosk Sofia 1", channel=Channel.KIOSK, plant=self.world.plant
        )
        self.kiosk_key = device_key(self.sales_point)
        self.erp_system = cluster.erp.connect(code="ERP1", name="ERP one", is_default=True, poll_seconds=1)


@pytest.fixture(scope="module")
def seeded(cluster, db_access):
    return Seeded(cluster)


@pytest.fixture
def fresh_erp(erp, seeded):
    """The fake ERP with empty books once earlier tests' messages are all delivered."""
    wait_until(lambda: unsent() == 0, timeout=60, interval=0.2, message="earlier messages delivered")
    with erp.lock:
        erp.accepted.clear()
        erp.attempts.clear()
        erp.arrivals.clear()
        erp.books.clear()
        erp.applied_from.clear()
    return erp


def order_body(n: int) -> dict:
    return {
        "customer": {"number": "C-100001"},
        "fulfilment": "delivery",
        "site": {"name": f"Block {n}", "address": "ul. Vitosha 1", "city": "Sofia", "country": "BG"},
        "lines": [{"sku": "GRAVEL", "quantity": "5.000"}],
        "window": {"from": "08:00", "to": "10:00"},
        "on_call": False,
        "external_ref": f"MH-{n}-{uuid.uuid4().hex[:8]}",
        "notes": "",
    }


def kiosk_post(web, key: str, body: dict, idempotency_key: str):
    return web.post(
        "/api/v1/orders/",
        json=body,
        headers={"Authorization": f"Token {key}", "Idempotency-Key": idempotency_key},
    )


# --- 1. one system across the web hosts -------------------------------------------------------


def test_order_placed_on_web_a_is_read_and_replayed_on_web_b(cluster, seeded, fresh_erp):
    web_a, web_b = cluster.web("web-a"), cluster.web("web-b")
    body = order_body(1)
    orders_before = Order.objects.count()

    started = time.perf_counter()
    placed = kiosk_post(web_a, seeded.kiosk_key, body, "mh-order-1")
    place_ms = (time.perf_counter() - started) * 1000
    assert placed.status_code == 201, placed.text
    number = placed.json()["number"]

    read = web_b.get(f"/api/v1/orders/{number}/", headers={"Authorization": f"Token {seeded.kiosk_key}"})
    assert read.status_code == 200, read.text
    detail = read.json()
    # The detail is the placement's answer plus the order's history.
    assert {name: detail[name] for name in placed.json()} == placed.json()
    assert [event["type"] for event in detail["events"]] == ["order.placed"]
    assert detail["lines"][0]["quantity"] == "5.000"
    assert detail["totals"] == {"net": "50.00", "tax": "10.00", "gross": "60.00", "currency": "EUR"}

    # The idempotency record is in the shared database: web B replays web A's answer, writes nothing.
    replay = kiosk_post(web_b, seeded.kiosk_key, body, "mh-order-1")
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == placed.json()
    assert Order.objects.count() == orders_before + 1

    # A worker host relays it to the ERP, once.
    wait_until(lambda: fresh_erp.delivered("order.created"), timeout=30, message="order.created at the ERP")
    wait_until(lambda: unsent() == 0, timeout=30, message="outbox empty")
    created = fresh_erp.delivered("order.created")
    assert [m["entity"]["key"] for m in created] == [number]
    assert list(fresh_erp.attempts.values()) == [1]
    print(f"\nweb A placed {number} in {place_ms:.0f} ms; web B read and replayed it")


# --- 1b. files any host reads: the EPOD and the export --------------------------------------


class Browser:
    """A staff member's browser on one web host at a time. Cookies are kept by hand: the hosts set
    them `Secure` (production behind TLS), which an http:// client would not send back."""

    def __init__(self, web):
        self.web = web
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs):
        headers = {"Origin": f"https://{PUBLIC_HOST}", **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.web.request(method, path, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    def form_token(self, path: str) -> str:
        page = self.request("GET", path)
        assert page.status_code == 200, (path, page.status_code)
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def sign_in(self, username: str, password: str, device) -> None:
        """The admin sign-in, then the second factor that production requires of staff."""
        token = self.form_token("/admin/login/?next=/admin/")
        response = self.request(
            "POST",
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": token,
                "username": username,
                "password": password,
                "next": "/admin/",
            },
        )
        assert response.status_code == 302, response.text[-2000:]
        token = self.form_token(f"{VERIFY}?next=/admin/")
        response = self.request(
            "POST", VERIFY, data={"csrfmiddlewaretoken": token, "code": code_for(device), "next": "/admin/"}
        )
        assert response.status_code == 302 and response.headers["Location"] == "/admin/", response.text[
            -2000:
        ]


def ran_on(cluster, task: str) -> dict[str, list[str]]:
    """Worker host → return values of its successful runs of `task`, from the workers' logs."""
    found: dict[str, list[str]] = {}
    for worker in cluster.workers:
        for path in worker.logs():
            for record in _records(path):
                data = record.get("data") or {}
                if data.get("name") == task and "return_value" in data:
                    found.setdefault(worker.host.name, []).append(data["return_value"])
    return found


def fetch_signed(response, store) -> httpx.Response:
    """Follow a download's redirect as a browser would: to the presigned link, nothing of ours."""
    assert response.status_code == 302, response.text[-1000:]
    link = response.headers["Location"]
    assert link.startswith(f"{store.endpoint_url}/{S3_BUCKET}/"), link
    assert parse_qs(urlsplit(link).query)["X-Amz-Expires"] == ["60"]
    return httpx.get(link, timeout=10)


def test_files_written_on_one_host_are_read_on_another(cluster, seeded, fresh_erp):
    web_a, web_b = cluster.web("web-a"), cluster.web("web-b")
    store, world = cluster.store, seeded.world
    placed = kiosk_post(web_a, seeded.kiosk_key, order_body(2), "mh-epod-order")
    assert placed.status_code == 201, placed.text
    job = job_unloading(
        Order.objects.get(number=placed.json()["number"]),
        plant=world.plant,
        truck=world.truck,
        driver=world.driver,
    )
    driver = {"Authorization": f"Token {driver_key(world.driver)}"}

    # The driver's app sends the EPOD to web A: the evidence goes to the bucket.
    epod = web_a.post(
        f"/api/v1/driver/jobs/{job.public_id}/epod/",
        headers={**driver, "Idempotency-Key": "mh-epod-1"},
        data={
            "received_by": "Site manager",
            "lat": "42.6977",
            "lon": "23.3219",
            "signed_at": (timezone.now() - timedelta(minutes=1)).replace(microsecond=0).isoformat(),
            "lines": json.dumps([{"position": 1, "delivered": "5.000"}]),
        },
        files=[
            ("signature", ("sig.png", SIGNATURE, "image/png")),
            ("photos", ("a.jpg", PHOTO, "image/jpeg")),
        ],
    )
    assert epod.status_code == 201, epod.text
    epod_id = epod.json()["id"]

    # A worker host renders its PDF (from the signature in the bucket) into the bucket.
    record = ProofOfDelivery.objects.get(job=job)
    wait_until(lambda: ProofOfDelivery.objects.get(pk=record.pk).pdf, timeout=60, message="PDF rendered")
    renders = ran_on(cluster, "fleet.tasks.epod_render_pdf")
    rendered_by = [host for host, values in renders.items() if "True" in values]
    assert len(rendered_by) == 1 and sum(v.count("True") for v in renders.values()) == 1, renders
    pdf_key = ProofOfDelivery.objects.get(pk=record.pk).pdf.name
    pdf = store.read(S3_BUCKET, pdf_key)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 1000

    # Web B, which stored nothing of it, hands out the PDF: a redirect to a short-lived signed link.
    download = fetch_signed(web_b.get(f"/api/v1/driver/epod/{epod_id}/pdf/", headers=driver), store)
    assert (download.status_code, download.content) == (200, pdf)
    assert download.headers["content-type"] == "application/pdf"

    # A rep signs in on web A, asks for an export there, and reads the signature and the export on B.
    rep = make_user(roles.REP, "multihost-rep")
    device = TOTPDevice.objects.create(user=rep, name="authenticator", confirmed=True)
    browser = Browser(web_a)
    browser.sign_in("multihost-rep", PASSWORD, device)
    queued = browser.request("GET", "/admin/console/exports/orders/")
    assert queued.status_code == 302 and queued.headers["Location"] == "/admin/console/exports/", queued.text
    browser.web = web_b
    signature = fetch_signed(browser.request("GET", f"/admin/console/jobs/{job.pk}/epod/signature"), store)
    assert (signature.status_code, signature.content) == (200, SIGNATURE)

    prefix = f"exports/{rep.pk}/"
    wait_until(
        lambda: [k for k in store.keys(S3_BUCKET, prefix) if k.endswith(".csv")], timeout=60, message="export"
    )
    (key,) = store.keys(S3_BUCKET, prefix)
    exported_by = [host for host, values in ran_on(cluster, "console.export_orders").items() if values]
    assert len(exported_by) == 1
    name = key.rsplit("/", 1)[1]
    csv = fetch_signed(browser.request("GET", f"/admin/console/exports/{name}"), store)
    assert csv.status_code == 200
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("number,")
    assert sorted(line.split(",", 1)[0] for line in lines[1:]) == sorted(
        Order.objects.values_list("number", flat=True)
    )

    # Nothing was written to any host's own disk: every file is in the bucket.
    on_disk = [
        p
        for host in cluster.hosts.values()
        for p in (host.var_dir / "var" / "media").rglob("*")
        if p.is_file()
    ]
    assert on_disk == []
    print(
        f"\nEPOD sent to web-a, PDF ({len(pdf)} bytes) rendered on {rendered_by[0]}, downloaded from web-b; "
        f"export of {len(lines) - 1} orders requested on web-a, written on {exported_by[0]}, downloaded from web-b"
    )


# --- 2. the outbox drained by both worker hosts through kills and a dropped link --------------


def test_1000_messages_drained_through_three_kills_and_a_dropped_link(cluster, seeded, fresh_erp):
    worker_a, worker_b = cluster.workers
    host_b = cluster.hosts["worker-b"]
    fresh_erp.delay = 1.0  # answers come after the ERP applied: a kill or a cut loses some of them
    started = time.monotonic()
    ids = enqueue_bulk(1000, per_aggregate=4)
    enqueued = time.monotonic() - started

    def progress(at_least: int) -> None:
        wait_until(
            lambda: len(fresh_erp.accepted) >= at_least, timeout=120, interval=0.05, message=f"{at_least}"
        )

    def at() -> str:
        return f"{time.monotonic() - started:.1f} s, {len(fresh_erp.accepted)} applied"

    cut: dict[str, float] = {}
    progress(100)
    cut["down"] = host_b.link_down()
    print(f"\nworker-b link down at {at()}")
    relink = threading.Timer(20, lambda: cut.setdefault("up", host_b.link_up()))
    relink.start()
    try:
        for kill, threshold in enumerate((150, 400, 650), start=1):
            progress(threshold)
            worker_a.kill9()
            print(f"worker-a kill -9 #{kill} at {at()}")
            worker_a.start(ready="ready.")
    finally:
        relink.join()
    wait_until(lambda: unsent() == 0, timeout=180, interval=0.2, message="drain finished")
    seconds = time.monotonic() - started

    assert_exactly_once_in_order(fresh_erp, ids)
    assert len(fresh_erp.accepted) == 1000
    raw = sum(fresh_erp.attempts.values())
    resent = sum(1 for n in fresh_erp.attempts.values() if n > 1)
    # Every extra attempt is a resend of an applied id, answered as a duplicate and applied once.
    assert raw - 1000 == sum(n - 1 for n in fresh_erp.attempts.values())
    assert 19.9 <= cut["up"] - cut["down"] <= 25  # 20 s, plus whatever a loaded machine adds
    assert worker_a.starts == 4
    # Both worker hosts applied part of it (the ERP sees which address each batch came from).
    by_host = {w.host.name: fresh_erp.applied_from[w.host.address] for w in (worker_a, worker_b)}
    assert sum(by_host.values()) == 1000, by_host
    assert min(by_host.values()) > 0, by_host
    print(
        f"1,000 messages: enqueued in {enqueued:.1f} s, drained {seconds:.1f} s after the start; "
        f"worker-b cut off {cut['up'] - cut['down']:.1f} s; raw attempts {raw}, ids sent more than once "
        f"{resent}, applied {len(fresh_erp.accepted)} ({by_host}), 0 lost, 0 applied twice, 0 reordered"
    )


# --- 3. the active beat dies, the standby takes over -----------------------------------------


def test_standby_beat_takes_over_within_the_lease_and_no_slot_runs_twice(cluster, seeded, fresh_erp):
    beat_a, beat_b = cluster.beats
    assert Lease.objects.get(name="celery-beat").holder.startswith("beat-a:")
    window_start = time.time()
    time.sleep(6)  # a stretch of beat-a sending

    beat_a.kill9()
    killed_at = time.time()
    wait_until(
        lambda: Lease.objects.get(name="celery-beat").holder.startswith("beat-b:"),
        timeout=LEASE_SECONDS * 3,
        message="beat-b holds the lease",
    )
    time.sleep(8)  # a stretch of beat-b sending
    window_end = time.time()

    sends = {name: _beat_sends(process) for name, process in (("beat-a", beat_a), ("beat-b", beat_b))}
    first_b = min(ts for ts, _task in sends["beat-b"] if ts >= window_start)
    takeover = first_b - killed_at
    # The lease expires at most LEASE_SECONDS after beat-a's last renewal, and the standby checks
    # every third of it.
    assert 0 < takeover <= LEASE_SECONDS + LEASE_SECONDS / 3 + 1, takeover
    assert [ts for ts, _t in sends["beat-b"] if ts < killed_at] == []  # the standby sent nothing
    assert [ts for ts, _t in sends["beat-a"] if ts > killed_at] == []

    # No job is sent twice for one slot, across both beats; and each claimed slot ran once.
    per_slot: Counter = Counter()
    for name in sends:
        for ts, task in sends[name]:
            if task in JOBS and window_start <= ts <= window_end:
                per_slot[(task, int(ts // JOBS[task][1]))] += 1
    assert per_slot and max(per_slot.values()) == 1, per_slot.most_common(3)
    for task, (job, interval) in JOBS.items():
        slots = set(
            JobSlot.objects.filter(job=job, slot__gte=str(int(window_start // interval))).values_list(
                "slot", flat=True
            )
        )
        sent_slots = {slot for (t, slot), _n in per_slot.items() if t == task}
        # Every slot claimed in the window was sent by one beat; a late send may land in the next slot.
        assert len(slots) >= (window_end - window_start) / interval * 0.6, (task, len(slots))
        assert len(sent_slots) >= len(slots) - 2, (task, len(sent_slots), len(slots))
    after = JobSlot.objects.filter(job__in=[JOB_RELAY_SWEEP, JOB_APPLY_SWEEP, JOB_PULL_ALL])
    assert after.filter(claimed_at__gt=_aware(first_b)).exists()
    print(
        f"\nbeat-a killed: beat-b sent its first job {takeover:.1f} s later (lease {LEASE_SECONDS} s); "
        f"sends in the {window_end - window_start:.0f} s window: "
        + ", ".join(
            f"{name} {sum(1 for ts, _t in sends[name] if window_start <= ts <= window_end)}" for name in sends
        )
    )
    # The cluster goes on with beat-b active and beat-a back as the standby.
    beat_a.start(ready="beat: Starting")


def _beat_sends(beat) -> list[tuple[float, str]]:
    """(time, task) of every "Sending due task" line in a beat's logs."""
    sends = []
    for path in beat.logs():
        for record in _records(path):
            message = record.get("msg", "")
            if message.startswith("Scheduler: Sending due task"):
                task = message.rsplit("(", 1)[-1].rstrip(")")
                sends.append((datetime.fromisoformat(record["ts"]).timestamp(), task))
    return sends


def _aware(ts: float):
    from datetime import UTC

    return datetime.fromtimestamp(ts, tz=UTC)


def _records(path):
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


# --- 4. Redis on the data host stops for 30 s ------------------------------------------------


def test_redis_down_30s_web_hosts_take_orders_and_the_backlog_drains(cluster, seeded, fresh_erp):
    webs = [cluster.web("web-a"), cluster.web("web-b")]
    redis = cluster.data.processes["redis"]
    outage_seconds = 30
    probes: dict[str, list] = defaultdict(list)
    placed: dict[str, list] = defaultdict(list)  # host → (number, seconds, finished during the outage)

    def client(web, deadline: float) -> None:
        """Like a kiosk and a monitor on this host's load balancer: an order and a probe a second."""
        n = 0
        while time.monotonic() < deadline:
            ready = web.get("/readyz", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
            probes[web.host.name].append((ready.status_code, ready.json(), time.monotonic()))
            n += 1
            started = time.perf_counter()
            response = kiosk_post(web, seeded.kiosk_key, order_body(n), f"mh-outage-{web.host.name}-{n}")
            assert response.status_code == 201, response.text
            placed[web.host.name].append(
                (response.json()["number"], time.perf_counter() - started, time.monotonic() < deadline)
            )
            time.sleep(1)

    redis.stop()
    down_at = time.monotonic()
    threads = [threading.Thread(target=client, args=(web, down_at + outage_seconds)) for web in webs]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, down_at + outage_seconds - time.monotonic()))
    delivered_during = len(fresh_erp.delivered())
    restart_at = time.monotonic()
    start_redis(cluster.data)
    back_at = time.monotonic()
    for thread in threads:
        thread.join(timeout=60)
    wait_until(lambda: unsent() == 0, timeout=120, interval=0.2, message="backlog delivered")
    drain = time.monotonic() - back_at

    assert delivered_during == 0  # nothing reached the ERP without the broker's nudges and sweeps
    numbers = {number for host in placed.values() for number, _s, _during in host}
    for name in ("web-a", "web-b"):
        assert sum(1 for _n, _s, during in placed[name] if during) >= 2, (name, placed[name])
    assert {m["entity"]["key"] for m in fresh_erp.delivered("order.created")} == numbers
    assert Order.objects.filter(number__in=numbers).count() == len(numbers)
    for name in ("web-a", "web-b"):
        # Only the probes answered before Redis was started again (a thread may probe at the edge).
        during = [(status, body) for status, body, at in probes[name] if at < restart_at]
        assert len(during) >= 2, (name, probes[name])
        for status, body in during:
            # A broker outage degrades the web hosts, it does not take them out of the load balancer.
            assert status == 200, (name, body)
            assert body["status"] == "ready"
            assert body["degraded"] == ["broker"]
            assert body["checks"]["database"]["ok"] is True
            assert body["checks"]["broker"]["ok"] is False
    for web in webs:
        assert web.get("/readyz").status_code == 200
    seconds = sorted(s for host in placed.values() for _n, s, _d in host)
    # The nudge after each commit tries the broker once (it took ~6.6 s of reconnecting before).
    assert seconds[len(seconds) // 2] < 1.5, seconds
    print(
        f"\nRedis down {back_at - down_at:.1f} s: {len(numbers)} orders placed through both web hosts "
        f"({', '.join(f'{h} {len(v)}' for h, v in placed.items())}), placement median "
        f"{seconds[len(seconds) // 2] * 1000:.0f} ms, slowest {seconds[-1] * 1000:.0f} ms; "
        f"{sum(len(v) for v in probes.values())} readyz probes all 200 (broker degraded); backlog of {len(numbers)} "
        f"delivered {drain:.1f} s after Redis returned"
    )
