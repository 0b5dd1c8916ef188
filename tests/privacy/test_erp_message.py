"""`customer.erased` reaches every ERP through the outbox and the relay, each in its own sequence:
an ERP that is switched off holds back no other ERP's message."""

from __future__ import annotations

import pytest

from customers.models import Customer
from erp_sync.privacy import customer_erase
from erp_sync.relay import relay_drain
from oms.lib.actors import Actor
from oms.models import ExternalRef, OutboxMessage, OutboxStatus
from tests.factories import ErpSystemFactory


@pytest.mark.django_db(transaction=True)
def test_each_erp_gets_the_erasure_in_its_own_sequence(fake_erp):
    erp1 = fake_erp.connect(code="ERP1", name="ERP one", is_default=True, poll_seconds=1)
    erp2 = ErpSystemFactory(code="ERP2", enabled=False)
    customer = Customer.objects.create(number="C-300001", name="Elena Marinova", email="elena@example.com")
    ExternalRef.objects.create(system=erp1, entity_type="customer", external_id="K-77", target=customer)

    customer_erase(customer=customer, actor=Actor.system("privacy desk"))
    counts, more = relay_drain(max_seconds=10)

    assert (dict(counts), more) == ({"accepted": 1}, False)
    (delivered,) = fake_erp.delivered("customer.erased")
    assert delivered["entity"] == {"type": "customer", "key": "C-300001@ERP1"}
    assert delivered["sequence"] == 1
    assert delivered["data"]["customer"] == {
        "id": str(customer.public_id),
        "number": "C-300001",
        "erp_refs": {"ERP1": "K-77"},
    }
    assert (delivered["data"]["orders"], delivered["data"]["forced"]) == ([], False)
    assert "Elena" not in str(delivered) and "elena@" not in str(delivered)
    waiting = OutboxMessage.objects.get(system=erp2)
    assert (waiting.status, waiting.aggregate_id, waiting.sequence) == (
        OutboxStatus.PENDING,
        "C-300001@ERP2",
        1,
    )
