"""When `digest run` builds the next edition: config.schedule, an RFC 5545 RRULE read in the
configured timezone (e.g. FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0 is Mondays at 08:00).

The build is due when the latest occurrence at or before now has no edition yet: none for
its period, and none built since that occurrence (so a schedule whose occurrences fall in
an earlier period than the build's own cannot make every run rebuild).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

from dateutil.rrule import rrulestr

from digest.errors import ConfigError

LOOK_BACK = timedelta(days=400)  # far enough for a yearly schedule


def latest_occurrence(schedule: str, tz: tzinfo, now: datetime) -> datetime | None:
    """The last scheduled moment at or before `now` (UTC), or None if there is none yet."""
    local_now = now.astimezone(tz)
    start = (local_now - LOOK_BACK).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    try:
        rule = rrulestr(schedule.strip(), dtstart=start)
        try:  # a rule without its own timezone runs on local wall-clock time
            found = rule.before(local_now.replace(tzinfo=None), inc=True)
            found = found.replace(tzinfo=tz) if found else None
        except TypeError:  # the rule carries a zone (DTSTART with TZID or Z)
            found = rule.before(local_now, inc=True)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"schedule {schedule!r} is not an RRULE we can read: {exc}") from None
    return found.astimezone(timezone.utc) if found else None


def due(store, config, now: datetime) -> tuple[bool, datetime | None]:
    """(whether an edition should be built now, the occurrence that makes it due)."""
    from digest.editions import period_key

    occurrence = latest_occurrence(config.schedule, config.tz, now)
    if occurrence is None:
        return False, None
    if store.editions.get(period_key(occurrence, config.tz)) is not None:
        return False, occurrence
    built_since = any(e.built_at and e.built_at >= occurrence for e in store.editions.list())
    return not built_since, occurrence
