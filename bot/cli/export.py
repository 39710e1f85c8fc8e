"""`opsbot export`: the date range asked for, and the workbook of everything recorded in it."""

from datetime import date
from io import BytesIO

from openpyxl import load_workbook

from bot import clock
from bot.calendar import Period, WorkCalendar
from bot.config import Settings
from bot.db import make_sessionmaker
from bot.migrate import upgrade
from bot.services import export, kpi_export


def date_range(period: str | None, start: str | None, end: str | None) -> tuple[date, date]:
    """The first and last day, from --period or --from/--to; ValueError says why not."""
    if period:
        if start or end:
            raise ValueError("give either --period or --from/--to, not both")
        found = Period.parse(period)
        return found.start, found.end
    if not (start and end):
        raise ValueError("give --from and --to (YYYY-MM-DD), or --period (e.g. 2026-11)")
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise ValueError(f"dates look like 2026-11-01; got --from {start} --to {end}") from None
    if first > last:
        raise ValueError(f"--from {first} is after --to {last}")
    return first, last


async def workbook(engine, settings: Settings, start: date, end: date, locale: str) -> bytes:
    """The export's sheets: everything recorded in the range, then the KPI results."""
    await upgrade(engine)
    cal = WorkCalendar(settings.calendar.extra_holidays, settings.calendar.extra_workdays)
    async with make_sessionmaker(engine)() as session:
        sheet = await kpi_export.kpi_sheet(session, settings, cal, start, end, locale, clock.now())
        return await export.build(session, settings, start, end, locale, extra_sheets=[sheet])


def size(data: bytes) -> tuple[int, int]:
    """How many sheets and data rows (headers not counted) a workbook has."""
    book = load_workbook(BytesIO(data), read_only=True)
    return len(book.sheetnames), sum(max(sheet.max_row - 1, 0) for sheet in book.worksheets)
