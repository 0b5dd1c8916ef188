"""RabbitMQ as the broker: a real worker and beat on RabbitMQ drain the outbox through the loopback fake
ERP, and a worker killed mid-drain loses nothing (RabbitMQ redelivers the unacknowledged task).

The Redis variants are in test_worker_faults.py; here nothing but the broker differs."""

import os
import subprocess
import sys

import pytest
from kombu import Connection

from tests.erp_sync.conftest import BASE_DIR, wait_until
from tests.erp_sync.test_worker_faults import assert_exactly_once_in_order, enqueue_bulk, unsent

pytestmark = pytest.mark.django_db(transaction=True)

AMQP_URL = os.environ.get("OMS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
QUEUES = ("erp", "files", "default")


@pytest.fixture
def rabbitmq():
    """The test RabbitMQ with our three queues empty (stale messages of earlier runs would add noise)."""
    with Connection(AMQP_URL, connect_timeout=5) as connection:
        channel = connection.channel()
        for queue in QUEUES:
            channel.queue_declare(queue=queue, durable=True, auto_delete=False)
            channel.queue_purge(queue)
        channel.close()
    return AMQP_URL


def queue_depths(url: str) -> dict[str, int]:
    with Connection(url, connect_timeout=5) as connection:
        channel = connection.channel()
        depths = {queue: channel.queue_declare(queue=queue, passive=True).message_count for queue in QUEUES}
        channel.close()
        return depths


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
        "app.connection_for_write().transport_cls)"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["amqp", "{}", "60", "amqp"]


def test_rabbitmq_worker_killed_mid_drain_loses_nothing(fake_erp, erp_system, celery_procs, rabbitmq):
    ids = enqueue_bulk(150, per_aggregate=3)  # their nudges went to the suite's Redis: nobody reads it
    fake_erp.delay = 0.2
    celery_procs("beat", CELERY_BROKER_URL=rabbitmq)
    worker = celery_procs("worker", CELERY_BROKER_URL=rabbitmq, OMS_ERP_BATCH_SIZE="20")

    wait_until(lambda: len(fake_erp.accepted) >= 40, timeout=60, interval=0.01, message="drain started")
    worker.kill9()
    worker.start()
    wait_until(lambda: unsent() == 0, timeout=120, interval=0.2, message="drain finished")

    assert_exactly_once_in_order(fake_erp, ids)
    assert "Connected to amqp://guest:**@127.0.0.1:5672//" in worker.log_path.read_text()
    # Only the queues of the sweep's route were used, and nothing is left in them.
    wait_until(lambda: queue_depths(rabbitmq) == {"erp": 0, "files": 0, "default": 0}, timeout=15)


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
