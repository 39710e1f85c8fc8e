"""Time to build the weekly digest as the metric history grows (10k, 100k, 1M rows).

The team and the measured week stay the same; only the history before it grows. A digest that
reads the period's rows through the (form, field, period_start) index costs the same at every
size; one that scanned the history would grow tenfold with it. Prints figures, asserts nothing.
"""

import argparse
import asyncio
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import func, insert, select
from support import check_db_option, fresh_database, header, peak_rss_mb

from bot import charts
from bot.calendar import Period, WorkCalendar
from bot.config import load_settings
from bot.db import make_engine, make_sessionmaker
from bot.migrate import upgrade
from bot.models import Metric, Obligation, Report, Staff, StaffRole
from bot.render import render
from bot.services import digests

PEOPLE = 30  # channel managers, each filing the daily report every day
FIELDS = ("new_channels", "negotiating", "contracts_signed", "deliveries", "downloads",
          "registrations", "contacted")  # fmt: skip
WEEK = Period.parse("2026-W48")
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
CHUNK = 20_000


async def populate(sessions, metric_rows: int) -> None:
    """PEOPLE managers; daily reports backwards from the measured week until `metric_rows`."""
    async with sessions() as s, s.begin():
        staff = [Staff(telegram_id=10_000 + i, display_name=f"经理{i:02d}", locale="zh",
                       joined_at=datetime(2018, 1, 1, tzinfo=UTC),
                       roles=[StaffRole(role="channel")]) for i in range(PEOPLE)]  # fmt: skip
        s.add_all(staff)
        await s.flush()
        ids = [p.id for p in staff]
    reports_needed = -(-metric_rows // len(FIELDS))
    days = -(-reports_needed // PEOPLE)
    day, report_id, metrics, reports, written = WEEK.end, 0, [], [], 0
    for _ in range(days):
        for staff_id in ids:
            if written >= metric_rows:
                break
            report_id += 1
            reports.append(_report(report_id, staff_id, day))
            for key in FIELDS[: min(len(FIELDS), metric_rows - written)]:
                metrics.append(dict(report_id=report_id, staff_id=staff_id,
                                    form_key="daily_channel", field_key=key,
                                    period_key=day.isoformat(), period_start=day,
                                    value=Decimal(report_id % 97)))  # fmt: skip
                written += 1
        if len(metrics) >= CHUNK:
            await _flush(sessions, reports, metrics)
        day -= timedelta(days=1)
    await _flush(sessions, reports, metrics)
    await _obligations(sessions, ids)


def _report(report_id: int, staff_id: int, day: date) -> dict:
    at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    return dict(id=report_id, staff_id=staff_id, form_key="daily_channel",
                period_key=day.isoformat(), answers={}, fields={}, version=1, late=False,
                filed_at=at, updated_at=at)  # fmt: skip


async def _flush(sessions, reports: list, metrics: list) -> None:
    async with sessions() as s, s.begin():
        if reports:
            await s.execute(insert(Report), reports)
        if metrics:
            await s.execute(insert(Metric), metrics)
    reports.clear()
    metrics.clear()


async def _obligations(sessions, ids: list[int]) -> None:
    rows = []
    for day in WEEK.days()[:5]:
        due = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
        rows += [dict(staff_id=i, form_key="daily_channel", period_key=day.isoformat(),
                      due_at=due, closes_at=due, status="filed", reminder_step=0,
                      created_at=due) for i in ids]  # fmt: skip
    async with sessions() as s, s.begin():
        await s.execute(insert(Obligation), rows)


async def build_digest(sessions, settings, cal) -> tuple[float, float, int]:
    """(seconds to gather and render the text, seconds to draw the chart, text length)."""
    started = time.perf_counter()
    async with sessions() as s:
        digest = await digests.period_digest(s, settings, cal, "weekly", WEEK, NOW)
    text = render("digest_period.html.j2", "zh", digest=digest, period_label=WEEK.key,
                  show_scores=False)  # fmt: skip
    gathered = time.perf_counter() - started
    started = time.perf_counter()
    chart = digests.team_chart(digest, "zh")
    if chart is not None:
        await charts.render(chart)
    return gathered, time.perf_counter() - started, len(text)


async def one_case(admin_url: str | None, metric_rows: int) -> dict:
    async with fresh_database(admin_url) as url:
        settings = load_settings(database={"url": url})
        engine = make_engine(url)
        try:
            await upgrade(engine)
            sessions = make_sessionmaker(engine)
            started = time.perf_counter()
            await populate(sessions, metric_rows)
            filled = time.perf_counter() - started
            async with sessions() as s:
                total = await s.scalar(select(func.count(Metric.id)))
            cal = WorkCalendar()
            await build_digest(sessions, settings, cal)  # warm: imports, caches, first chart
            runs = [await build_digest(sessions, settings, cal) for _ in range(3)]
        finally:
            await engine.dispose()
    gathered = sorted(r[0] for r in runs)[1]
    drawn = sorted(r[1] for r in runs)[1]
    return dict(rows=total, fill=filled, gather=gathered, chart=drawn, chars=runs[0][2])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="postgresql+asyncpg://… server URL (default: SQLite)")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    check_db_option(args.db)
    print(await header("weekly digest build time vs metric history", args.db), flush=True)
    print(f"team: {PEOPLE} channel managers; the week {WEEK.key} holds "
          f"{PEOPLE * 7 * len(FIELDS)} of the rows; median of 3 after a warm-up")  # fmt: skip
    print(f"{'metric rows':>12} {'fill s':>8} {'text ms':>8} {'chart ms':>9} {'chars':>6}")
    for size in (int(n) for n in args.sizes.split(",")):
        r = await one_case(args.db, size)
        print(f"{r['rows']:>12,} {r['fill']:>8.1f} {r['gather'] * 1000:>8.0f} "
              f"{r['chart'] * 1000:>9.0f} {r['chars']:>6}")  # fmt: skip
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
