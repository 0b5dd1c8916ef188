"""A beat scheduler that only sends tasks while it holds the database lease `celery-beat`.

Start as many beats as you like: one holds the lease and schedules; the others wait and take over
within `OMS_BEAT_LEASE_SECONDS` if it dies. Tasks are idempotent on top of that.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)
LEASE_NAME = "celery-beat"


class LeaderScheduler(PersistentScheduler):
    def __init__(self, *args, **kwargs):
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        super().__init__(*args, **kwargs)

    def _refresh_lease(self) -> bool:
        from django.db import close_old_connections

        from oms.lib.lease import lease_acquire

        close_old_connections()
        try:
            held = lease_acquire(LEASE_NAME, holder=self.holder, ttl_seconds=settings.OMS_BEAT_LEASE_SECONDS)
        except Exception:
            logger.exception("beat lease check failed")
            held = False
        if held != self.is_leader:
            logger.info("beat leadership changed", extra={"leader": held, "holder": self.holder})
        self.is_leader = held
        return held

    def tick(self, *args, **kwargs):
        if not self._refresh_lease():
            # Not the leader: check again well before the leader's lease could expire.
            return max(1.0, settings.OMS_BEAT_LEASE_SECONDS / 3)
        interval = super().tick(*args, **kwargs)
        return min(interval, settings.OMS_BEAT_LEASE_SECONDS / 3)
