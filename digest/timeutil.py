"""Parsing and printing moments. `now` is always passed in, never read deep inside."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from dateutil import parser as dateparser

from digest.errors import InputError


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_when(text: str, tz: tzinfo) -> datetime:
    """A user-given moment ('2026-11-25', '2026-11-25T08:00+01:00') as aware UTC.

    A moment without an offset is read in the configured timezone.
    """
    try:
        moment = dateparser.parse(text)
    except (ValueError, OverflowError) as exc:
        raise InputError(f"cannot read {text!r} as a date/time: {exc}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(timezone.utc)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def from_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
