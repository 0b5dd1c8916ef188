"""Fixtures of the orders core: a plant with stock, and a `place` helper (factories, `plant`,
`customer` and `site` come from tests/conftest.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.lib.actors import Actor
from orders.models import Channel
from orders.services.placement import CustomerRef, LineInput, SiteRef, order_place


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
        if isinstance(lines, dict):
            lines = [LineInput(sku=p.sku, quantity=Decimal(str(q))) for p, q in lines.items()]
        kwargs.setdefault("channel", Channel.WEB)
        kwargs.setdefault("customer", CustomerRef(customer=customer))
        kwargs.setdefault("site", SiteRef(id=str(site.public_id)))
        kwargs.setdefault("actor", web_actor)
        return order_place(lines=lines, **kwargs)

    return do
