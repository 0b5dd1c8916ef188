"""RabbitMQ as the broker: the settings an amqp:// URL selects, and the queue depths read from it.

The worker faults on RabbitMQ (kill -9, lost tasks, dropped connections, ERP outages) are the
RabbitMQ variants of tests/erp_sync/test_worker_faults.py; the fixtures are in conftest.py."""

import os
import subprocess
import sys

import pytest
from kombu import Connection

from tests.erp_sync.conftest import BASE_DIR

pytestmark = pytest.mark.django_db(transaction=True)

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"  # only parsed here: nothing connects


def test_amqp_broker_url_selects_the_rabbitmq_settings():
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        "DJANGO_ENV": "test",
        "OMS_VAR_DIR": os.environ.get("OMS_VAR_DIR", str(BASE_DIR / "var" / "test")),
        "CELERY_BROKER_URL": AMQP_URL,
    }
    script = (
        "import django; django.setup(); from django.conf import settings as s; from oms.celery import app; "
        "print(s.BROKER_KIND, s.CELERY_BROKER_TRANSPORT_OPTIONS, app.conf.broker_heartbeat, "
        "app.connection_for_write().transport_cls, app.conf.worker_cancel_long_running_tasks_on_connection_loss)"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    # A task whose delivery died with its connection is stopped: RabbitMQ delivers it again anyway.
    # One connection attempt when a request publishes (tests/erp_sync/test_broker_down.py).
    assert result.stdout.split() == ["amqp", "{'max_retries':", "0}", "60", "amqp", "True"]


def test_metrics_read_the_queue_depths_from_rabbitmq(rabbitmq, monkeypatch):
    from oms.metrics import queue_depths as metrics_queue_depths

    with Connection(rabbitmq, connect_timeout=5) as connection:
        producer = connection.Producer()
        for n in range(2):
            producer.publish({"n": n}, exchange="", routing_key="files", retry=False)
    monkeypatch.setenv("CELERY_BROKER_READ_URL", rabbitmq)

    assert metrics_queue_depths() == {"erp": 0, "files": 2, "default": 0}

    monkeypatch.setenv("CELERY_BROKER_READ_URL", "amqp://guest:guest@127.0.0.1:1//")  # nothing listens
    assert metrics_queue_depths() is None
