"""Schemathesis against the live schema on loopback: every operation, authenticated.

`make test` runs a reduced number of examples per operation; `make test-fuzz` (marked slow) runs
at least 100 per operation plus the stateful run over the schema's links.
"""

from __future__ import annotations

import json
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from oms.lib.idempotency import KEY_PATTERN
from orders.models import Order
from tests.api.conftest import order_body
from tests.factories import ProductFactory

FAST_EXAMPLES = 15
FULL_EXAMPLES = 100
FUZZ_RATE_PER_MINUTE = 100_000


@pytest.fixture
def fuzz_world(transactional_db, live_server, settings, key_a, key_driver, customer, site, cement, pump):
    """Data the generated requests can hit, and the keys to call with."""
    settings.OMS_ORDER_RATE_PER_MINUTE = FUZZ_RATE_PER_MINUTE
    ProductFactory(sku="OLD-1", active=False)
    return {"device": key_a, "driver": key_driver, "base_url": live_server.url}


def generated_schema() -> dict:
    """The schema /api/v1/schema/ serves, generated in-process so pytest can parametrize by operation.

    (schemathesis' lazy `from_fixture` loader does not work with pytest 9; the live endpoint is
    checked to serve this very schema in `test_live_schema_is_the_tested_schema`.)
    """
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


SCHEMA = generated_schema()
schema = schemathesis.openapi.from_dict(SCHEMA)


@pytest.fixture
def live_schema(fuzz_world):
    return schema


def headers_for(case, world) -> dict[str, str]:
    path = case.path
    if path.startswith("/api/v1/erp/"):
        return {}  # signed webhook: no token auth
    key = world["driver"] if path.startswith("/api/v1/driver/") else world["device"]
    return {"Authorization": f"Token {key}"}


def sendable(value):
    """A generated query value as the HTTP client can send it.

    The client leaves out a parameter whose value is an empty list (or a list of only lists and
    objects), which can turn a schema-violating query (an unknown parameter) into a valid one.
    """
    if not isinstance(value, list):
        return value
    return [item for item in value if isinstance(item, str | int | float)] or [""]


def run_case(case, world) -> None:
    if case.query:
        case.query = {name: sendable(value) for name, value in case.query.items()}
    if case.headers and KEY_PATTERN.match(str(case.headers.get("Idempotency-Key", ""))):
        # A fresh valid key per example: the generators repeat keys with other bodies (→ 422 by design).
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    case.call_and_validate(
        base_url=world["base_url"],
        headers=headers_for(case, world),
        # Schema-valid is not business-valid (unknown SKUs, past dates, "exactly one of" rules, taken
        # emails): those are documented 4xx answers, so positive data may be refused. Every other
        # check runs, including the rejection of schema-violating requests.
        excluded_checks=[positive_data_acceptance],
    )


def test_live_schema_is_the_tested_schema(fuzz_world):
    import requests

    served = requests.get(f"{fuzz_world['base_url']}/api/v1/schema/?format=json", timeout=30)

    assert served.status_code == 200
    assert served.json() == SCHEMA


@schema.parametrize()
@hypothesis_settings(
    max_examples=FAST_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_api_conforms_to_its_schema(case, fuzz_world):
    run_case(case, fuzz_world)


@pytest.mark.slow
@schema.parametrize()
@hypothesis_settings(
    max_examples=FULL_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_api_conforms_to_its_schema_full(case, fuzz_world):
    run_case(case, fuzz_world)


def test_a_real_order_round_trip_conforms(live_schema, fuzz_world):
    """A positive example the generators rarely find: place, read back and cancel a valid order."""
    headers = {"Authorization": f"Token {fuzz_world['device']}", "Idempotency-Key": "fuzz-round-trip"}
    base_url = fuzz_world["base_url"]
    create = live_schema["/api/v1/orders/"]["POST"].Case(body=order_body(), headers=headers)
    created = create.call_and_validate(base_url=base_url)
    number = created.json()["number"]
    read = live_schema["/api/v1/orders/{number}/"]["GET"].Case(
        path_parameters={"number": number}, headers=headers
    )
    read.call_and_validate(base_url=base_url)
    cancel = live_schema["/api/v1/orders/{number}/cancel/"]["POST"].Case(
        path_parameters={"number": number},
        body={"reason": "fuzz"},
        headers={"Authorization": headers["Authorization"]},
    )
    cancelled = cancel.call_and_validate(base_url=base_url)

    assert created.status_code == 201
    assert cancelled.json()["status"] == "cancelled"
    assert Order.objects.get(number=number).status == "cancelled"
