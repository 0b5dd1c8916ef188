"""The sync's scrape-time gauge for `/metrics` (registered in `ErpSyncConfig.ready`)."""

from __future__ import annotations

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from erp_sync.models import InboxMessage


def inbox_failed_gauge() -> GaugeMetricFamily:
    """Inbound messages that failed to apply and wait for a replay, by ERP system (one indexed query)."""
    gauge = GaugeMetricFamily(
        "oms_inbox_failed", "Inbound ERP messages that failed to apply, by ERP system.", labels=["system"]
    )
    rows = (
        InboxMessage.objects.filter(status=InboxMessage.Status.FAILED)
        .values("system__code")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for row in rows:
        gauge.add_metric([row["system__code"]], row["count"])
    return gauge
