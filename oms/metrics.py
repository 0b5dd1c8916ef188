"""Prometheus metrics: what the processes count, and what `/metrics` computes at scrape time.

Web (gunicorn) and the Celery workers run several processes each, so the counters and histograms use
prometheus-client's multiprocess mode: every process writes its samples to files in
`PROMETHEUS_MULTIPROC_DIR` (set by the settings, `$OMS_VAR_DIR/prometheus` by default) and a scrape
adds them up. The directory must be emptied before the processes start (scripts/run.sh does).

The gauges are not counted anywhere: they are read from the database and the broker on every scrape
(`ScrapeCollector`), so every web process reports the same values and nothing goes stale.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)
BROKER_TIMEOUT_SECONDS = 1.0
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

REQUEST_SECONDS = Histogram(
    "oms_http_request_duration_seconds",
    "Time to answer an HTTP request, by route (the URL pattern's name), method and status.",
    ["route", "method", "status"],
)
ORDERS_PLACED = Counter("oms_orders_placed_total", "Orders placed (committed), by channel.", ["channel"])
TASK_SECONDS = Histogram(
    "oms_task_duration_seconds",
    "Run time of Celery tasks, by task name and final state.",
    ["task", "state"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800),
)


def orders_placed(channel: str, count: int = 1) -> None:
    """Count `count` orders of `channel` once the current transaction commits (never a rolled back one)."""
    transaction.on_commit(lambda: ORDERS_PLACED.labels(channel=channel).inc(count))


# Scrape-time gauges of the apps above the platform (e.g. the ERP inbox), added in their `ready()`.
_scrape_gauges: list[Callable[[], GaugeMetricFamily]] = []


def register_scrape_gauge(gauge: Callable[[], GaugeMetricFamily]) -> None:
    if gauge not in _scrape_gauges:
        _scrape_gauges.append(gauge)


class ScrapeCollector(Collector):
    """Gauges read at scrape time: the ERP outbox backlog, the apps' gauges, the broker's queues."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from _outbox_gauges()
        for gauge in _scrape_gauges:
            yield gauge()
        yield from _broker_gauges()


def _outbox_gauges() -> Iterator[GaugeMetricFamily]:
    from oms.models import OutboxMessage, OutboxStatus

    backlog = GaugeMetricFamily(
        "oms_outbox_backlog",
        "Outbound ERP messages not yet delivered (pending or failed and retrying), by ERP system.",
        labels=["system"],
    )
    oldest = GaugeMetricFamily(
        "oms_outbox_oldest_pending_age_seconds",
        "Age of the oldest undelivered outbound message, by ERP system.",
        labels=["system"],
    )
    now = timezone.now()
    rows = (
        OutboxMessage.objects.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.FAILED])
        .values("system__code")
        .annotate(count=Count("pk"), oldest=Min("created_at"))
        .order_by()
    )
    for row in rows:
        system = row["system__code"] or "-"  # "-": not routed yet (no ERP owns it)
        backlog.add_metric([system], row["count"])
        oldest.add_metric([system], (now - row["oldest"]).total_seconds())
    yield backlog
    yield oldest


def _broker_gauges() -> Iterator[GaugeMetricFamily]:
    up = GaugeMetricFamily("oms_broker_up", "1 when the Celery broker answered this scrape, else 0.")
    depth = GaugeMetricFamily(
        "oms_queue_depth",
        "Messages waiting in a Celery queue (absent while the broker is down).",
        labels=["queue"],
    )
    depths = queue_depths()
    up.add_metric([], 0 if depths is None else 1)
    for queue, count in (depths or {}).items():
        depth.add_metric([queue], count)
    yield up
    yield depth


def queue_depths() -> dict[str, int] | None:
    """Messages per queue (a passive declare on Redis and RabbitMQ alike); None when unreachable."""
    from oms.celery import QUEUES, app

    # One attempt with bounded socket timeouts: a scrape must not hang on a broker that is down.
    options = {"socket_connect_timeout": BROKER_TIMEOUT_SECONDS, "socket_timeout": BROKER_TIMEOUT_SECONDS}
    try:
        with app.connection_for_read(
            connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=options
        ) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            return {queue: _queue_size(conn, queue) for queue in QUEUES}
    except Exception as exc:  # noqa: BLE001 - any broker failure is reported as oms_broker_up 0
        logger.warning("metrics: broker unreachable", extra={"error": f"{type(exc).__name__}: {exc}"[:200]})
        return None


def _queue_size(connection, queue: str) -> int:
    channel = connection.channel()
    try:
        return channel.queue_declare(queue=queue, passive=True).message_count
    except connection.channel_errors:
        return 0  # never declared (no worker consumed it yet): nothing waits in it
    finally:
        try:
            channel.close()
        except connection.channel_errors + connection.connection_errors:
            pass  # RabbitMQ closes a channel itself after a failed passive declare


def metrics_allowed(request) -> bool:
    """The bearer token `OMS_METRICS_TOKEN`, or a direct request from `OMS_METRICS_ALLOWED_NETWORKS`.

    A request that came through a reverse proxy (it carries `X-Forwarded-For`) is never let in by its
    address: behind a proxy on the same machine every client would look like loopback.
    """
    token = settings.OMS_METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    if "X-Forwarded-For" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False) for net in settings.OMS_METRICS_ALLOWED_NETWORKS
    )


class RequestMetricsMiddleware:
    """Times every request into `oms_http_request_duration_seconds`, labelled by the matched URL
    pattern's name (never the raw path, which would make a label per order number)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or match.route) if match else "unmatched"
        method = request.method if request.method in HTTP_METHODS else "other"  # labels stay bounded
        REQUEST_SECONDS.labels(route=route, method=method, status=response.status_code).observe(
            time.perf_counter() - started
        )
        return response


# Start times of the tasks running in this process (Celery's task_prerun → task_postrun signals).
_task_started: dict[str, float] = {}


def task_started(task_id: str) -> None:
    _task_started[task_id] = time.perf_counter()


def task_finished(task_id: str, name: str, state: str | None) -> None:
    started = _task_started.pop(task_id, None)
    if started is not None:
        TASK_SECONDS.labels(task=name, state=state or "UNKNOWN").observe(time.perf_counter() - started)


def metrics_text() -> tuple[bytes, str]:
    """The exposition of every process's samples plus the scrape-time gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(ScrapeCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
