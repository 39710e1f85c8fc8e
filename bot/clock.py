"""The one process clock: every "now" in opsbot comes from here."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_offset = timedelta(0)


def now() -> datetime:
    """Return the current moment as an aware UTC datetime (shifted when the clock was started)."""
    return datetime.now(UTC) + _offset


def start_at(moment: datetime) -> None:
    """Make the clock read `moment` now and run forward in real time from there."""
    global _offset
    if moment.tzinfo is None:
        raise ValueError("clock start must be timezone-aware")
    _offset = moment - datetime.now(UTC)


def reset() -> None:
    """Return to real time."""
    global _offset
    _offset = timedelta(0)


def parse_local(text: str, tz: ZoneInfo) -> datetime:
    """Parse "YYYY-MM-DD HH:MM" as wall time in the team zone; return aware UTC."""
    try:
        naive = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(f"expected a time like 2026-12-01 18:30, got {text!r}") from None
    return naive.replace(tzinfo=tz).astimezone(UTC)
