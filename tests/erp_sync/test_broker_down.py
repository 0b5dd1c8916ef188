"""A broker that is down costs a request one refused connection, not kombu's ~6 s of reconnecting.

Placing an order, receiving an ERP message and signing an EPOD each queue a nudge after the commit;
the periodic sweeps deliver whatever a lost nudge would have. Found by the multi-host suite: with
Redis stopped every order took 6.6 s. Measured in a subprocess configured like a web process, against
a closed port of each broker kind; the first nudge also pays the imports and is not timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.erp_sync.conftest import BASE_DIR
from tests.objectstore import free_port

SCRIPT = """
import json, time
import django
django.setup()
from oms.outbox import _nudge_relay
from erp_sync.inbound import _nudge_apply
from fleet.services.epod import _schedule_pdf
_nudge_relay()
times = []
for nudge in (_nudge_relay, _nudge_apply, lambda: _schedule_pdf(1)) * 2:
    started = time.monotonic()
    nudge()
    times.append(time.monotonic() - started)
print(json.dumps(times))
"""


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_a_nudge_to_a_broker_that_is_down_gives_up_at_once(scheme):
    url = f"{scheme}://guest:guest@127.0.0.1:{free_port()}/0"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        "CELERY_BROKER_URL": url,
        "REDIS_URL": "",  # no coalescing flag: every call really publishes
        "LOG_LEVEL": "ERROR",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    times = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(times) == 6
    # Each is one refused connection (milliseconds); before, each took about 6 s.
    assert max(times) < 1.0, times
