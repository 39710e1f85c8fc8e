"""Obligations: created ahead on working days, due and closing on time, filed against the oldest."""

from datetime import date, datetime

import pytest
import time_machine
from sqlalchemy import select
from support import TZ, local

from bot import clock
from bot.calendar import Period, WorkCalendar
from bot.forms.spec import default_reports
from bot.models import Obligation, Staff, StaffRole
from bot.services import obligations
from bot.services.obligations import schedule

pytestmark = pytest.mark.databases

CAL = WorkCalendar()
DAILY = default_reports().form("daily_channel")
WEEKLY = default_reports().form("weekly_feedback")


def test_a_daily_report_is_due_at_18_and_closes_at_noon_the_next_working_day():
    plan = schedule(DAILY, Period.parse("2026-09-30"), CAL, TZ)  # Wednesday before golden week
    assert plan.due_at == local("2026-09-30 18:00")
    assert plan.closes_at == local("2026-10-08 12:00")  # 1–7 Oct off


def test_no_daily_report_on_a_holiday_but_one_on_a_make_up_saturday():
    assert schedule(DAILY, Period.parse("2026-10-01"), CAL, TZ) is None
    assert schedule(DAILY, Period.parse("2026-11-28"), CAL, TZ) is None  # an ordinary Saturday
    plan = schedule(DAILY, Period.parse("2026-10-10"), CAL, TZ)  # 调休 Saturday
    assert plan.due_at == local("2026-10-10 18:00")


def test_the_weekly_summary_is_due_friday_or_the_last_working_day_and_closes_monday_noon():
    plan = schedule(WEEKLY, Period.parse("2026-W48"), CAL, TZ)
    assert plan.due_at == local("2026-11-27 17:00")  # Friday
    assert plan.closes_at == local("2026-11-30 12:00")  # Monday
    plan = schedule(WEEKLY, Period.parse("2026-W40"), CAL, TZ)  # 1 Oct Thu … Fri off
    assert plan.due_at == local("2026-09-30 17:00")  # the last working day of that week


def test_a_week_without_working_days_owes_nothing():
    assert schedule(WEEKLY, Period.parse("2026-W08"), CAL, TZ) is None  # Spring Festival


async def _person(sessions, telegram_id: int, role: str, joined: datetime) -> int:
    async with sessions() as s, s.begin():
        staff = Staff(
            telegram_id=telegram_id,
            display_name=f"p{telegram_id}",
            locale="zh",
            active=True,
            joined_at=joined,
        )
        staff.roles = [StaffRole(role=role)]
        s.add(staff)
        await s.flush()
        return staff.id


async def _obligations(sessions) -> list[Obligation]:
    async with sessions() as s:
        return list(await s.scalars(select(Obligation).order_by(Obligation.id)))


async def test_the_tick_creates_today_and_the_next_period_once(sessions):
    await _person(sessions, 1, "channel", local("2026-11-01 09:00"))
    await _person(sessions, 2, "content", local("2026-11-01 09:00"))  # owes no daily report
    with time_machine.travel(local("2026-11-26 08:00"), tick=False):
        for _ in range(2):
            async with sessions() as s, s.begin():
                await obligations.create_ahead(s, (DAILY,), CAL, TZ)
    rows = await _obligations(sessions)
    assert [(o.period_key, o.status) for o in rows] == [
        ("2026-11-26", "open"),
        ("2026-11-27", "open"),
    ]


async def test_a_person_owes_the_first_period_due_after_they_joined(sessions):
    await _person(sessions, 1, "channel", local("2026-11-26 18:30"))  # after today's due time
    with time_machine.travel(local("2026-11-26 19:00"), tick=False):
        async with sessions() as s, s.begin():
            await obligations.create_ahead(s, (DAILY,), CAL, TZ)
    assert [o.period_key for o in await _obligations(sessions)] == ["2026-11-27"]


async def test_a_report_at_half_past_midnight_counts_for_yesterday(sessions):
    staff_id = await _person(sessions, 1, "channel", local("2026-11-01 09:00"))
    with time_machine.travel(local("2026-11-26 08:00"), tick=False):
        async with sessions() as s, s.begin():
            await obligations.create_ahead(s, (DAILY,), CAL, TZ)
    with time_machine.travel(local("2026-11-27 00:30"), tick=False):
        async with sessions() as s, s.begin():
            await obligations.create_ahead(s, (DAILY,), CAL, TZ)
            target, _ = await obligations.oldest_open(s, staff_id, DAILY.key, date(2026, 11, 27))
    assert target.period_key == "2026-11-26"


async def test_tomorrows_obligation_cannot_be_filed_today(sessions):
    staff_id = await _person(sessions, 1, "channel", local("2026-11-01 09:00"))
    with time_machine.travel(local("2026-11-26 08:00"), tick=False):
        async with sessions() as s, s.begin():
            await obligations.create_ahead(s, (DAILY,), CAL, TZ)
            first, _ = await obligations.oldest_open(s, staff_id, DAILY.key, date(2026, 11, 26))
            obligations.mark_filed(first, clock.now())
        async with sessions() as s:
            assert await obligations.oldest_open(s, staff_id, DAILY.key, date(2026, 11, 26)) == (
                None,
                False,
            )


async def test_late_filing_is_marked_and_unfiled_periods_close_as_missed(sessions):
    staff_id = await _person(sessions, 1, "channel", local("2026-11-01 09:00"))
    with time_machine.travel(local("2026-11-26 08:00"), tick=False):
        async with sessions() as s, s.begin():
            await obligations.create_ahead(s, (DAILY,), CAL, TZ)
    with time_machine.travel(local("2026-11-26 19:00"), tick=False):
        async with sessions() as s, s.begin():
            today, _ = await obligations.oldest_open(s, staff_id, DAILY.key, date(2026, 11, 26))
            obligations.mark_filed(today, clock.now())
    with time_machine.travel(local("2026-11-30 12:01"), tick=False):  # Friday's closed Monday noon
        async with sessions() as s, s.begin():
            assert len(await obligations.close_expired(s)) == 1
    statuses = {o.period_key: o.status for o in await _obligations(sessions)}
    assert statuses == {"2026-11-26": "late", "2026-11-27": "missed"}


async def _newcomer_owes(sessions, staff_id: int, forms=(DAILY, WEEKLY)) -> list[tuple]:
    """create_for_newcomer for `staff_id`, then what the next tick adds (nothing, if it is
    right); the rows as (form, period, status)."""
    async with sessions() as s, s.begin():
        person = await s.get(Staff, staff_id)
        await s.refresh(person, ["roles"])
        made = await obligations.create_for_newcomer(s, forms, CAL, TZ, person)
    async with sessions() as s, s.begin():
        assert await obligations.create_ahead(s, forms, CAL, TZ) == 0, "the tick found more"
    rows = [(o.form_key, o.period_key, o.status) for o in await _obligations(sessions)]
    assert made == len(rows), (made, rows)
    return rows


async def test_a_newcomer_owes_at_once_what_the_tick_would_create(sessions):
    with time_machine.travel(local("2026-11-26 10:00"), tick=False):  # Thursday
        staff_id = await _person(sessions, 1, "channel", local("2026-11-26 09:59"))
        async with sessions() as s, s.begin():
            s.add(StaffRole(staff_id=staff_id, role="user_ops"))  # owes the weekly one too
        assert sorted(await _newcomer_owes(sessions, staff_id)) == [
            ("daily_channel", "2026-11-26", "open"),
            ("daily_channel", "2026-11-27", "open"),
            ("weekly_feedback", "2026-W48", "open"),
            ("weekly_feedback", "2026-W49", "open"),
        ]


async def test_someone_back_from_leave_owes_nothing_for_a_day_still_on_leave(sessions):
    from bot.models import Leave

    with time_machine.travel(local("2026-11-26 10:00"), tick=False):
        staff_id = await _person(sessions, 1, "channel", local("2026-11-01 09:00"))
        async with sessions() as s, s.begin():
            s.add(Leave(staff_id=staff_id, start_date=date(2026, 11, 20),
                        end_date=date(2026, 11, 26), created_at=clock.now()))  # fmt: skip
        rows = await _newcomer_owes(sessions, staff_id, (DAILY,))
    assert rows == [("daily_channel", "2026-11-27", "open")]


async def test_someone_who_filed_before_leaving_has_that_day_filed_when_back(sessions):
    from bot.models import Report

    with time_machine.travel(local("2026-11-26 10:00"), tick=False):
        staff_id = await _person(sessions, 1, "channel", local("2026-11-01 09:00"))
        async with sessions() as s, s.begin():
            now = clock.now()
            s.add(Report(staff_id=staff_id, form_key="daily_channel", period_key="2026-11-26",
                         answers={}, fields={}, filed_at=now, updated_at=now))  # fmt: skip
        rows = await _newcomer_owes(sessions, staff_id, (DAILY,))
    assert rows == [
        ("daily_channel", "2026-11-26", "filed"),
        ("daily_channel", "2026-11-27", "open"),
    ]
