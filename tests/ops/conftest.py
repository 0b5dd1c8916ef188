"""Fixtures of the operations tests: private PostgreSQL clusters (tests/pgcluster.py) and the OMS
processes against them (tests/ops/stack.py)."""

from __future__ import annotations

import pytest

from tests.ops.stack import OmsStack
from tests.pgcluster import pg_cluster  # noqa: F401 - the fixture

__all__ = ["pg_cluster"]


@pytest.fixture
def oms_stack(tmp_path):
    """`oms_stack(database_url, **env)` → an `OmsStack`; every process it started is stopped afterwards."""
    stacks: list[OmsStack] = []

    def make(database_url: str, name: str = "oms", **env: str) -> OmsStack:
        stack = OmsStack(tmp_path / name, database_url, **env)
        stack.tmp.mkdir(parents=True, exist_ok=True)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
