"""Liveness and readiness probes as JSON.

Anyone may ask whether the site is ready; only a monitor with `OMS_HEALTH_TOKEN` or signed-in staff
see why not (the checks carry ERP codes, pause reasons and exception text).

Ready means the process can serve requests: the database answers and its schema is current. The
broker is only checked, never required: its messages are nudges for work kept in the database, so an
outage costs latency, and a Redis blip must not take every web host out of the load balancer. It is
reported as *degraded* instead.
"""

from __future__ import annotations

import hmac
import time

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

BROKER_TIMEOUT_SECONDS = 0.5


@require_GET
@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> dict:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_migrations() -> dict:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return {"ok": not pending, "pending": len(pending)}


def _check_broker() -> dict:
    from oms.celery import app

    started = time.monotonic()
    # One attempt with bounded socket timeouts: a probe must answer within its own timeout (~1 s),
    # and kombu would otherwise sleep 2 s before a retry and wait forever on an unanswered SYN.
    options = {"socket_connect_timeout": BROKER_TIMEOUT_SECONDS, "socket_timeout": BROKER_TIMEOUT_SECONDS}
    with app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=options) as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1), "transport": conn.transport_cls}


def _check_erp() -> dict:
    from oms.selectors import erp_breaker_states

    states = erp_breaker_states()
    # A paused ERP connection degrades the sync, not the web process: report it, stay ready.
    return {"ok": True, "systems": states}


CHECKS = {
    "database": _check_database,
    "migrations": _check_migrations,
    "broker": _check_broker,
    "erp": _check_erp,
}
# Checks whose failure degrades the service without making it unready.
DEGRADING = frozenset({"broker"})


def _may_see_details(request) -> bool:
    """A valid `Authorization: Bearer <OMS_HEALTH_TOKEN>`, or a signed-in staff user."""
    token = settings.OMS_HEALTH_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    return request.user.is_authenticated and (request.user.is_staff or request.user.is_superuser)


@require_GET
@never_cache
def readyz(request):
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure as data
            failure = {"ok": False, "degraded": True} if name in DEGRADING else {"ok": False}
            results[name] = {**failure, "error": f"{type(exc).__name__}: {exc}"[:300]}
    degraded = [name for name, result in results.items() if name in DEGRADING and not result["ok"]]
    ready = all(result["ok"] for name, result in results.items() if name not in DEGRADING)
    body: dict = {"status": "ready" if ready else "not_ready"}
    if _may_see_details(request):
        if degraded:
            body["degraded"] = degraded
        body["checks"] = results
    return JsonResponse(body, status=200 if ready else 503)
