"""Retention of the sync's history: processed inbox messages, sent outbox messages and sync runs.

Only finished rows go: an inbound message still `received` or `failed`, and an outbound message
`pending`, `failed` or `dead`, stays whatever its age (they are work or evidence). Periods are
`OMS_RETENTION_INBOX_DAYS`, `OMS_RETENTION_OUTBOX_DAYS` and `OMS_RETENTION_SYNC_RUNS_DAYS`; deletion
and the optional archive are `oms.lib.retention.rows_purge`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from erp_sync.models import InboxMessage, SyncRun
from oms.lib.retention import rows_purge
from oms.models import OutboxMessage, OutboxStatus

INBOX_FINISHED = [InboxMessage.Status.PROCESSED, InboxMessage.Status.STALE]


def erp_history_purge() -> dict[str, int]:
    """Delete the finished sync history past its retention; returns the rows deleted per table."""
    now = timezone.now()
    archive_dir = settings.OMS_RETENTION_ARCHIVE_DIR

    def cutoff(days: int):
        return now - timedelta(days=days)

    return {
        "inbox": rows_purge(
            InboxMessage.objects.filter(
                status__in=INBOX_FINISHED, received_at__lt=cutoff(settings.OMS_RETENTION_INBOX_DAYS)
            ),
            archive_dir=archive_dir,
        ),
        "outbox": rows_purge(
            OutboxMessage.objects.filter(
                status=OutboxStatus.SENT, sent_at__lt=cutoff(settings.OMS_RETENTION_OUTBOX_DAYS)
            ),
            archive_dir=archive_dir,
        ),
        "sync_runs": rows_purge(
            SyncRun.objects.filter(started_at__lt=cutoff(settings.OMS_RETENTION_SYNC_RUNS_DAYS)),
            archive_dir=archive_dir,
        ),
    }
