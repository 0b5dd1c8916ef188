"""One transition map per status field, and the checks every writer of that field goes through.

A `Transitions` is the map itself (`{state: frozenset(next states)}`, so it reads like a table) plus:
`check` raises `InvalidTransition` for a move the map does not allow; `sources(to)` lists the states
a move to `to` may start from; `update(queryset, to)` moves every row of a queryset that may move, in
one conditional UPDATE (no check-then-act), and returns how many did.

The single-row helpers that also write timeline events live with their models (`orders.state`,
`fleet.state`); they call `check`. docs/lifecycle.md draws the maps; a test compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db.models import QuerySet

from oms.exceptions import InvalidTransition


class Transitions(dict[str, frozenset[str]]):
    def __init__(self, name: str, moves: Mapping[str, Iterable[str]], *, field: str = "status"):
        super().__init__({str(state): frozenset(str(t) for t in targets) for state, targets in moves.items()})
        self.name = name
        self.field = field
        unknown = {t for targets in self.values() for t in targets} - set(self)
        if unknown:
            raise ValueError(f"{name}: targets without a row of their own: {sorted(unknown)}")

    @property
    def terminal(self) -> frozenset[str]:
        return frozenset(state for state, targets in self.items() if not targets)

    def allows(self, from_state: str, to_state: str) -> bool:
        return to_state in self.get(from_state, frozenset())

    def check(self, from_state: str, to_state: str) -> None:
        if not self.allows(from_state, to_state):
            raise InvalidTransition(
                f"{'An' if self.name[0].lower() in 'aeiou' else 'A'} {self.name} cannot go from {from_state} "
                f"to {to_state}.",
                extra={"from": from_state, "to": to_state},
            )

    def sources(self, to_state: str) -> frozenset[str]:
        return frozenset(state for state, targets in self.items() if to_state in targets)

    def update(self, queryset: QuerySet, to_state: str, **also) -> int:
        """Move the rows of `queryset` whose state allows it to `to_state` (plus `also` fields)."""
        return queryset.filter(**{f"{self.field}__in": self.sources(to_state)}).update(
            **{self.field: to_state}, **also
        )
