"""Finding and removing a person's data inside stored text and JSON (docs/privacy.md).

An erasure knows the exact values to remove — the contact's name, email, phone numbers, the names
signed on their deliveries — but not every place a service or an ERP copied them into: timeline
data, outbox payloads, stored idempotent responses, inbound messages. `scrub` walks any JSON value
and replaces each occurrence of those values (case-insensitive, as whole words) with `ERASED`;
`scrub_rows` does it for the rows of one column whose text contains one of them, found by the
database (`ILIKE` over the column cast to text) so that only the few matching rows are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import phonenumbers
from django.db import models
from django.db.models import Q, TextField
from django.db.models.functions import Cast

ERASED = "[erased]"
# Shorter values (initials, a first name alone) would match unrelated text; they are cleared where
# they are stored as fields of the person's own rows, never searched for elsewhere.
MIN_TERM_LENGTH = 4


def phone_variants(phone: Any) -> list[str]:
    """The ways a stored E.164 number appears in text: +359888123456, 359888123456, 0888123456."""
    text = str(phone or "").strip()
    if not text:
        return []
    digits = re.sub(r"\D", "", text)
    variants = {text, digits}
    try:
        parsed = phonenumbers.parse(text if text.startswith("+") else f"+{digits}")
    except phonenumbers.NumberParseException:
        parsed = None  # a number the library cannot parse is searched for as stored
    if parsed is not None:
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        variants |= {national, re.sub(r"\D", "", national), str(parsed.national_number)}
    return sorted(v for v in variants if len(v) >= 6)


def clean_terms(values: Iterable[Any]) -> list[str]:
    """Distinct, stripped values long enough to search for; the longest first (so that a name is
    replaced before a part of it)."""
    terms = {str(v).strip() for v in values if v}
    terms = {t for t in terms if len(t) >= MIN_TERM_LENGTH}
    return sorted(terms, key=lambda t: (-len(t), t.lower()))


def _pattern(terms: list[str]) -> re.Pattern | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in terms)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def scrub(value: Any, terms: list[str]) -> Any:
    """`value` (a JSON value: dicts, lists, strings, numbers) with every term replaced by ERASED."""
    pattern = _pattern(terms)
    if pattern is None:
        return value
    return _scrub(value, pattern)


def _scrub(value: Any, pattern: re.Pattern) -> Any:
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, dict):
        return {_scrub(k, pattern): _scrub(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    return value


def contains_any(queryset: models.QuerySet, field: str, terms: list[str]) -> models.QuerySet:
    """The rows of `queryset` whose `field` (text or JSON), read as text, contains one of `terms`."""
    if not terms:
        return queryset.none()
    as_text = f"_{field}_text"
    condition = Q()
    for term in terms:
        condition |= Q(**{f"{as_text}__icontains": term})
    return queryset.annotate(**{as_text: Cast(field, TextField())}).filter(condition)


def scrub_rows(queryset: models.QuerySet, fields: Iterable[str], terms: list[str]) -> int:
    """Replace the terms in `fields` of every row of `queryset` that holds one; the rows changed.

    Writes with `update()` (no `save()` hooks: a stored record is corrected, not re-created)."""
    fields = list(fields)
    if not terms or not fields:
        return 0
    condition = Q(pk__in=[])
    candidates = queryset
    for field in fields:
        condition |= Q(pk__in=contains_any(queryset, field, terms).values("pk"))
    changed = 0
    for row in candidates.filter(condition).order_by("pk").values("pk", *fields):
        updates = {f: scrub(row[f], terms) for f in fields if row[f] is not None}
        updates = {f: v for f, v in updates.items() if v != row[f]}
        if updates:
            changed += queryset.model._default_manager.filter(pk=row["pk"]).update(**updates)
    return changed
