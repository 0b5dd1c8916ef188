"""Fixtures of the orders core: a plant with stock, and a `place` helper (factories, `plant`,
`customer` and `site` come from tests/conftest.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.lib.actors import Actor
from orders.models import Channel
from tests.helpers import place_order


@pytest.fixture
def stocked(product_factory, stock_level_factory, plant):
    """`stocked(on_hand, **product_fields)` → a product with that much stock at `plant`."""

    def make(on_hand: str | Decimal = "100", *, at=None, allocated: str | Decimal = "0", **fields):
        product = product_factory(**fields)
        stock_level_factory(
            plant=at or plant, product=product, on_hand=Decimal(on_hand), allocated=Decimal(allocated)
        )
        return product

    return make


@pytest.fixture
def web_actor():
    return Actor(kind="customer", name="ivan@example.com", channel=Channel.WEB)


@pytest.fixture
def place(customer, site, web_actor):
    """`place(lines={product: qty}, **overrides)`: a web order for `customer` at `site`."""

    def do(lines, **kwargs):
        kwargs.setdefault("customer", customer)
        kwargs.setdefault("site", site)
        kwargs.setdefault("actor", web_actor)
        return place_order(lines=lines, **kwargs)

    return do
