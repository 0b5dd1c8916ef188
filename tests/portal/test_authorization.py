"""Customer B gets a 404 for every portal URL that names one of customer A's objects.

The table below must have a rule for every URL pattern of `portal.urls`: a new view
without a rule fails `test_every_portal_url_has_a_rule`.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, reverse

from fleet.models import CallRequest, JobStatus, Message
from orders.models import CallOff, Order, ReturnRequest
from portal import urls as portal_urls
from tests.portal.conftest import add_job, place, user_of

pytestmark = pytest.mark.django_db

# URLs that name no object of a customer (lists show only the signed-in customer's own data).
NOT_OBJECT_SCOPED = {
    "orders",
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "signup",
    "signup-complete",
    "account",
    "switch-customer",
    "order-new",
    "availability",
    "sites",
    "site-new",
}
# URL name → kwargs naming customer A's objects.
OBJECT_SCOPED = {
    "order": lambda a: {"number": a["order"].number},
    "order-jobs": lambda a: {"number": a["order"].number},
    "order-epod": lambda a: {"number": a["order"].number, "ticket": a["job"].ticket},
    "order-epod-file": lambda a: {
        "number": a["order"].number,
        "ticket": a["job"].ticket,
        "kind": "signature",
    },
    "order-messages": lambda a: {"number": a["order"].number},
    "order-callback": lambda a: {"number": a["order"].number},
    "order-call-off": lambda a: {"number": a["order"].number},
    "order-pacing": lambda a: {"number": a["order"].number},
    "order-cancel": lambda a: {"number": a["order"].number},
    "order-return": lambda a: {"number": a["order"].number},
    "site-edit": lambda a: {"site_id": a["site"].public_id},
}


def _names() -> list[str]:
    return [p.name for p in portal_urls.urlpatterns if isinstance(p, URLPattern)]


def test_every_portal_url_has_a_rule():
    missing = [name for name in _names() if name not in NOT_OBJECT_SCOPED and name not in OBJECT_SCOPED]
    assert missing == []
    assert len(_names()) == len(NOT_OBJECT_SCOPED) + len(OBJECT_SCOPED)


@pytest.fixture
def a_objects(customer_a, world):
    order = place(customer_a, on_call=True)
    job = add_job(order, world, ticket="TK-A", status=JobStatus.DELIVERED, with_pdf=True)
    Message.objects.create(order=order, sender_role="rep", body="secret thread", at=order.created_at)
    return {"order": order, "job": job, "site": customer_a.sites.get()}


@pytest.mark.parametrize("name", sorted(OBJECT_SCOPED))
def test_customer_b_gets_404_for_customer_a_objects(client, name, a_objects, customer_a, customer_b):
    url = reverse(f"portal:{name}", kwargs=OBJECT_SCOPED[name](a_objects))
    # The owner reaches it (so the 404 below is about ownership, not a broken URL).
    client.force_login(user_of(customer_a))
    assert client.get(url).status_code == 200
    client.force_login(user_of(customer_b))
    assert client.get(url).status_code == 404
    before = (
        Order.objects.count(),
        Message.objects.count(),
        CallRequest.objects.count(),
        CallOff.objects.count(),
    )
    data = {
        "body": "x",
        "reason": "x",
        "phone": "+359888123456",
        "line_1": "1",
        "name": "x",
        "address": "x",
        "country": "BG",
    }
    assert client.post(url, data).status_code in (404, 405)
    assert client.post(url, data, HTTP_HX_REQUEST="true").status_code in (404, 405)
    after = (
        Order.objects.count(),
        Message.objects.count(),
        CallRequest.objects.count(),
        CallOff.objects.count(),
    )
    assert after == before
    assert ReturnRequest.objects.count() == 0
    a_objects["order"].refresh_from_db()
    assert a_objects["order"].status == "placed"


def test_lists_show_only_the_customers_own_data(client, a_objects, customer_b):
    client.force_login(user_of(customer_b))
    html = client.get(reverse("portal:orders")).content.decode()
    assert a_objects["order"].number not in html
    html = client.get(reverse("portal:sites")).content.decode()
    assert "Alpha Build site" not in html
    html = client.get(reverse("portal:orders"), {"site": str(a_objects["site"].public_id)}).content.decode()
    assert a_objects["order"].number not in html
