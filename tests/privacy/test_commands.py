"""`manage.py customer_erase`: clear errors that change nothing, the erasure, and a repeated one."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from customers.models import CustomerErasure
from tests.helpers import run_command
from tests.privacy.conftest import table_snapshot


@pytest.mark.django_db
def test_unknown_customers_and_open_orders_are_clear_errors_that_change_nothing(rich):
    snapshot = table_snapshot()

    for unknown in ("C-999999", "424242", "3f1c1b2e-0000-4000-8000-000000000000", "nonsense"):
        with pytest.raises(
            CommandError, match=f"^{unknown}: No customer with this id, number or public id.$"
        ):
            run_command("customer_erase", unknown)
    with pytest.raises(CommandError, match="has orders in progress"):
        run_command("customer_erase", rich.customer.number)

    assert table_snapshot() == snapshot


@pytest.mark.django_db
def test_forced_erasure_then_a_repeat_that_changes_nothing(rich):
    printed = run_command("customer_erase", str(rich.customer.public_id), "--force", "--by", "DPO ticket 17")

    assert printed.startswith("erased C-100001 (forced): {")
    erasure = CustomerErasure.objects.get()
    assert (erasure.requested_by, erasure.forced) == ("DPO ticket 17", True)
    snapshot = table_snapshot()

    again = run_command("customer_erase", "C-100001")

    assert again == (
        f"C-100001 was erased already on {erasure.at:%Y-%m-%d %H:%M} UTC by DPO ticket 17; nothing changed.\n"
    )
    assert table_snapshot() == snapshot
