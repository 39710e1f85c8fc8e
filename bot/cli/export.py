"""`opsbot export`: the date range asked for, the workbook of everything recorded in it, and
(--with-files) the photos and documents filed in it, downloaded through the Bot API."""

import asyncio
import re
from dataclasses import dataclass, field
from datetime import date
from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook
from telegram.error import BadRequest

from bot import clock
from bot.calendar import Period, WorkCalendar
from bot.config import Settings
from bot.connect import bot as make_bot
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


# What a name may not hold on Linux, macOS or Windows; whitespace runs become one space.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
# Characters of a saved file's name: 80 Chinese ones are 240 bytes, under the usual 255.
NAME_MAX = 80


@dataclass
class Downloads:
    """What --with-files did: files saved, already there, too big for the Bot API, gone."""

    saved: list[Path] = field(default_factory=list)
    present: list[Path] = field(default_factory=list)
    too_big: list[Path] = field(default_factory=list)
    gone: list[Path] = field(default_factory=list)


async def download_files(
    engine, settings: Settings, start: date, end: date, directory: Path
) -> Downloads:
    """Download every file filed in the range into DIRECTORY/<form>/<period>_<who>_<name>
    through the configured Bot API (getFile, then the file), skipping files already there."""
    await upgrade(engine)
    async with make_sessionmaker(engine)() as session:
        files = await export.filed_files(session, settings, start, end, settings.team.locale)
    done = Downloads()
    targets = _targets(directory, files)
    async with make_bot(settings) as bot:
        for filed, target in zip(files, targets, strict=True):
            if target.exists():
                done.present.append(target)
                continue
            try:
                data = await (await bot.get_file(filed.file_id)).download_as_bytearray()
            except BadRequest as exc:  # Telegram's words: "file is too big", "invalid file_id"
                (done.too_big if "too big" in str(exc).lower() else done.gone).append(target)
                continue
            await asyncio.to_thread(_write, target, bytes(data))
            done.saved.append(target)
    return done


def _targets(directory: Path, files: list[export.FiledFile]) -> list[Path]:
    """Where each file goes; a second file of the same name, period and person gets (2)."""
    taken: set[Path] = set()
    found = []
    for filed in files:
        base = _safe(f"{filed.period}_{filed.who}_{filed.name}")
        stem, dot, ext = base.rpartition(".")
        stem, ext = (stem, dot + ext) if dot and stem else (base, "")
        target, number = directory / _safe(filed.form_key) / base, 2
        while target in taken:
            target, number = target.with_name(f"{stem} ({number}){ext}"), number + 1
        taken.add(target)
        found.append(target)
    return found


def _safe(name: str) -> str:
    cleaned = " ".join(_UNSAFE.sub("_", name).split()).strip(". ") or "file"
    if len(cleaned) <= NAME_MAX:
        return cleaned
    _stem, dot, ext = cleaned.rpartition(".")
    keep = dot + ext if dot and len(ext) <= 10 else ""  # the extension says how to open it
    return cleaned[: NAME_MAX - len(keep)] + keep


def _write(target: Path, data: bytes) -> None:
    # Written whole, then renamed: an interrupted run leaves no half file that a rerun would skip.
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.write_bytes(data)
    part.replace(target)
