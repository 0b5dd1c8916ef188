"""Server errors the dynamic scan provoked, each answered as a client error now.

- A NUL character in a query parameter reached PostgreSQL through the admin's changelist filters
  (`/admin/oms/outboxmessage/?aggregate_type=%00`) and failed there: 500.
- `OPTIONS /api/v1/docs/` rendered DRF's metadata through the Swagger page's template: 500.
"""

import pytest
from django.test import Client

from oms.models import OutboxMessage
from tests import factories


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(factories.UserFactory(username="root-user", is_staff=True, is_superuser=True))
    return client


def test_a_nul_in_an_admin_filter_is_a_bad_request(superuser_client):
    outbox_before = OutboxMessage.objects.count()

    refused = superuser_client.get("/admin/oms/outboxmessage/?aggregate_type=%2Fe%00&aggregate_id=ORD-1")
    listed = superuser_client.get("/admin/oms/outboxmessage/?aggregate_type=order&aggregate_id=ORD-1")

    assert refused.status_code == 400
    assert listed.status_code == 200
    assert OutboxMessage.objects.count() == outbox_before


@pytest.mark.parametrize(
    "query",
    ["q=%00", "next=%2F%00", "%00=1", "a=1&a=%00"],
    ids=["value", "encoded-value", "name", "second-value"],
)
def test_a_nul_anywhere_in_the_query_string_is_a_bad_request(client, db, query):
    assert client.get(f"/portal/login/?{query}").status_code == 400


def test_the_query_string_without_nul_passes(client, db):
    assert client.get("/portal/login/?next=%2Fportal%2F").status_code == 200


def test_options_on_the_api_docs_page_is_not_allowed_rather_than_a_server_error(client, db):
    assert client.options("/api/v1/docs/").status_code == 405
    assert client.get("/api/v1/docs/").status_code == 200
