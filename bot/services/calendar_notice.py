"""Tell the directors, once per year, when the statutory calendar has no data for it."""

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar import WorkCalendar
from bot.outbox import enqueue
from bot.render import render
from bot.services import staff as staff_service

# Warn early enough that the new year's holidays can be configured before they are needed.
LOOKAHEAD = timedelta(days=45)


async def notify_if_fallback(session: AsyncSession, calendar: WorkCalendar, today: date) -> int:
    """Queue one notice per director for each year (now or soon) the calendar does not know."""
    years = sorted({today.year, (today + LOOKAHEAD).year})
    queued = 0
    for year in (y for y in years if calendar.is_fallback_year(y)):
        for director in await staff_service.directors(session):
            queued += await enqueue(
                session,
                f"calendar:fallback:{year}:{director.telegram_id}",
                director.telegram_id,
                render("calendar_fallback.html.j2", director.locale, year=year),
            )
    return queued
