"""Master data from the ERP goes through the domain services: their rules and the customer timeline."""

import pytest

from customers.models import Customer, CustomerEvent
from erp_sync.inbound import inbox_apply_pending, inbox_store_batch
from erp_sync.models import InboxMessage
from tests.erp_sync.conftest import envelope

pytestmark = pytest.mark.django_db


def apply(system, *messages):
    inbox_store_batch(system=system, messages=list(messages), source="pull")
    outcomes, more = inbox_apply_pending(max_seconds=60)
    assert more is False
    return dict(outcomes)


def customer(mid, version, **data):
    return envelope(mid, "master.customer", ("customer", "K-77"), version, {"number": "K-77", **data})


def events():
    return list(CustomerEvent.objects.order_by("pk").values_list("type", "actor", "data"))


def test_customer_creation_and_changes_are_on_its_timeline(erp_system):
    code = erp_system.code

    assert apply(erp_system, customer("C-1", 1, name="Stroy", email="office@stroy.bg")) == {"processed": 1}
    assert apply(erp_system, customer("C-2", 2, name="Stroy", email="office@stroy.bg")) == {"processed": 1}
    assert apply(erp_system, customer("C-3", 3, name="Stroy Ltd", active=False)) == {"processed": 1}

    assert (Customer.objects.get().name, Customer.objects.get().active) == ("Stroy Ltd", False)
    assert events() == [
        ("customer.erp_created", code, {"erp_number": "K-77", "fields": ["name", "email"]}),
        ("customer.erp_updated", code, {"erp_number": "K-77", "fields": ["name", "active"]}),
    ]


def test_customer_matched_by_email_is_linked_on_its_timeline(erp_system):
    existing = Customer.objects.create(number="C-000900", name="Stroy", email="office@stroy.bg")

    assert apply(erp_system, customer("C-1", 1, name="Stroy", email="Office@Stroy.bg")) == {"processed": 1}

    assert events() == [("customer.erp_updated", erp_system.code, {"erp_number": "K-77", "fields": []})]
    assert CustomerEvent.objects.get().customer_id == existing.pk


def test_email_of_another_customer_fails_the_message(erp_system):
    Customer.objects.create(number="C-000900", name="Other", email="taken@stroy.bg")
    apply(erp_system, customer("C-1", 1, name="Stroy"))

    assert apply(erp_system, customer("C-2", 2, name="Stroy", email="taken@stroy.bg")) == {"failed": 1}

    failed = InboxMessage.objects.get(message_id="C-2")
    assert failed.error == "Email 'taken@stroy.bg' belongs to another customer (C-000900)."


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            envelope(
                "P-1",
                "master.plant",
                ("plant", "SOF"),
                1,
                {"code": "SOF", "name": "S", "timezone": "Mars/Base"},
            ),
            "Unknown time zone 'Mars/Base'.",
        ),
        (
            envelope(
                "PR-1",
                "master.product",
                ("product", "A"),
                1,
                {"sku": "A", "name": "A", "unit": "t", "unit_price": "1.00", "vat_rate": "120"},
            ),
            "vat_rate must be between 0 and 100.",
        ),
    ],
)
def test_master_data_rules_fail_the_message_readably(erp_system, message, error):
    assert apply(erp_system, message) == {"failed": 1}

    assert InboxMessage.objects.get().error == error
