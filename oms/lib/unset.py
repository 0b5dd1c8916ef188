"""`UNSET`: the default of an optional keyword argument the caller may leave out to mean "keep as it
is" (an upsert changes only the fields it is given; None may be a value to store)."""

from __future__ import annotations

from typing import Any, Final


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final[Any] = _Unset()


def given(**values: Any) -> dict[str, Any]:
    """The keyword arguments that were given (not `UNSET`)."""
    return {name: value for name, value in values.items() if value is not UNSET}
