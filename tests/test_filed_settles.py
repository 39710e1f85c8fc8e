"""Filed means filed: whatever the order of filing, joining and the tick, the report settles
its period's obligation — no overdue reminder, no miss, and it counts as on time."""

import asyncio
from functools import partial

import pytest
import time_machine
from sqlalchemy import select
from support import TZ, another_process, local, make_staff

from bot.calendar import Period
from bot.db import make_engine, make_sessionmaker, transaction
from bot.models import Draft, Obligation, Outbox, Report, Staff, StaffRole
from bot.sender import deliver
from bot.services import kpi, obligations, reports
from bot.telegram_io import TelegramTransport
from jobs.tick import enqueue_due, tick

pytestmark = pytest.mark.databases

DAY = "2026-11-26"  # a Thursday: the daily report is due at 18:00, closes Friday 12:00
ONE_MESSAGE = """/daily
新增入库渠道数：0
洽谈中的渠道数：2
今日签约数：0
今日交付/上线数：0
渠道带来的下载量：40
渠道带来的注册量：5
下一个工作日计划：拜访万科"""


def at(text: str):
    """Stand still at a team-local moment of the day (seconds allowed)."""
    return time_machine.travel(local(f"{DAY} {text}" if len(text) <= 8 else text), tick=False)


async def tick_at(app, text: str) -> None:
    with at(text):
        await tick(app.bot_data, app.bot)


def nags(person) -> list[str]:
    return [m.plain for m in person.inbox if m.plain[:1] in "⏰⚠🔔"]


async def join(person, director) -> None:
    """/start, pick the role, the director approves: the way a new user arrives."""
    await director.send("/start")
    await person.send("/start")
    await person.press(person.inbox[-1], "渠道拓展经理")
    await director.press(director.inbox[-1], "✅ 批准")
    assert "欢迎加入团队" in person.inbox[-1].plain


async def the_day(sessions, person) -> tuple[Obligation, Report]:
    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.telegram_id == person.id))
        obligation = await s.scalar(
            select(Obligation).where(Obligation.staff_id == staff.id, Obligation.period_key == DAY)
        )
        report = await s.scalar(select(Report).where(Report.staff_id == staff.id))
    return obligation, report


async def timeliness(app, sessions, person) -> object:
    """The person's timeliness KPI for November, as the director's /kpi computes it."""
    settings = app.bot_data.settings
    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.telegram_id == person.id))
        result = await kpi.assess(
            s, settings.kpi, settings.reports, app.bot_data.calendar, TZ,
            Period.parse("2026-11"), local("2026-11-27 13:00"),
        )  # fmt: skip
    return next(r for r in result.card(staff.id).results if r.kpi.key == "timeliness")


async def assert_settled_for_good(app, sessions, person) -> None:
    """Nothing overdue at 19:00, not missed after closing, and on time in the KPI."""
    await tick_at(app, "19:00")
    await tick_at(app, "2026-11-27 09:40")  # the next-morning step of the ladder
    await tick_at(app, "2026-11-27 12:30")  # after closing: an open one would become missed
    assert not [n for n in nags(person) if DAY in n]
    obligation, report = await the_day(sessions, person)
    assert obligation.status == "filed" and obligation.filed_at is not None
    assert report.obligation_id == obligation.id and not report.late
    assert (await timeliness(app, sessions, person)).actual == 1


async def test_it_settles_a_report_filed_in_the_first_minute_after_joining(
    app, sessions, channel_manager, director
):
    with at("10:00:00"):
        await join(channel_manager, director)
    with at("10:00:03"):
        await channel_manager.send(ONE_MESSAGE)  # nothing owed yet: filed "for today anyway"
    await tick_at(app, "10:00:06")  # the minute tick makes today's obligation
    with at("10:00:08"):
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")
    assert "按时提交" in channel_manager.inbox[-1].plain

    await assert_settled_for_good(app, sessions, channel_manager)


async def test_it_settles_a_guided_draft_begun_before_the_obligation_existed(
    app, sessions, channel_manager, director
):
    with at("09:59:00"):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/daily")
        assert "仍然提交今天的" in str(channel_manager.inbox[-1].buttons)
        await channel_manager.press(channel_manager.inbox[-1], "仍然提交今天的")
        await channel_manager.press(channel_manager.inbox[-1], "跳过")  # no channels today
        for answer in ("0", "2", "0", "0", "40", "5"):
            await channel_manager.send(answer)
    await tick_at(app, "10:00:00")
    with at("10:01:30"):
        await channel_manager.press(channel_manager.inbox[-1], "跳过")  # users trained: optional
        await channel_manager.press(channel_manager.inbox[-1], "跳过")  # problems: optional
        await channel_manager.send("拜访万科")
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")

    await assert_settled_for_good(app, sessions, channel_manager)


async def test_the_tick_settles_the_obligation_of_a_period_already_filed(
    app, sessions, channel_manager, director
):
    await tick_at(app, "10:00:00")  # this minute's tick ran just before the approval
    with at("10:00:02"):
        await join(channel_manager, director)
    with at("10:00:08"):
        await channel_manager.send(ONE_MESSAGE)
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")
    await tick_at(app, "10:01:00")  # the next tick creates the day's obligation

    await assert_settled_for_good(app, sessions, channel_manager)


async def test_a_late_report_filed_before_its_obligation_existed_counts_as_late(
    app, sessions, channel_manager, director
):
    with at("17:00:00"):
        await make_staff(sessions, channel_manager, "channel")  # no tick ran until 20:00
    with at("19:30:00"):
        await channel_manager.send(ONE_MESSAGE)
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")
    await tick_at(app, "20:00:00")

    obligation, report = await the_day(sessions, channel_manager)
    assert obligation.status == "late" and report.obligation_id == obligation.id and report.late
    assert obligation.filed_at == report.filed_at


async def test_a_reminder_queued_before_filing_is_not_sent(
    app, sessions, channel_manager, director
):
    with at("09:59:00"):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send(ONE_MESSAGE)  # the draft is older than the obligation
    await tick_at(app, "10:00:00")
    state = app.bot_data
    with at("18:01:00"):  # the overdue reminder is queued, not yet sent
        await enqueue_due(state, local(f"{DAY} 18:01"), partial(transaction, state.sessions))
    with at("18:01:20"):
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")
        await deliver(state.sessions, TelegramTransport(app.bot))

    assert not nags(channel_manager)
    async with sessions() as s:
        reminder = await s.scalar(select(Outbox).where(Outbox.dedup_key.like("nag:%")))
    assert reminder.status == "cancelled"


async def test_filing_and_a_tick_in_two_processes_at_once_settle_the_day(
    app, sim, settings, sessions, db_url, channel_manager, director
):
    with at("09:59:00"):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send(ONE_MESSAGE)
    card = channel_manager.inbox[-1]
    engine = make_engine(db_url)  # the other process's own connections
    try:
        async with another_process(sim, settings, engine):  # takes the updates from now on
            with at("10:00:00"):
                await asyncio.gather(
                    channel_manager.press(card, "✅ 提交"), tick(app.bot_data, app.bot)
                )
    finally:
        await engine.dispose()

    await assert_settled_for_good(app, sessions, channel_manager)


# ---- two sessions, each order held open on purpose -------------------------------------------


async def _person_with_draft(sessions, app) -> tuple[int, int]:
    """A channel manager who joined at 09:00 and began today's report before any obligation."""
    async with sessions() as s, s.begin():
        staff = Staff(telegram_id=3003, display_name="赵 六", locale="zh", active=True,
                      joined_at=local(f"{DAY} 09:00"))  # fmt: skip
        s.add(staff)
        await s.flush()
        s.add(StaffRole(staff_id=staff.id, role="channel"))
        answers = {"new_channels": 0, "negotiating": 1, "contracts_signed": 0, "deliveries": 0,
                   "downloads": 3, "registrations": 1, "plan": "拜访"}  # fmt: skip
        draft = Draft(staff_id=staff.id, form_key="daily_channel", period_key=DAY,
                      obligation_id=None, answers=answers, mode="review", cursor="0",
                      scratch={}, version=1, created_at=local(f"{DAY} 09:30"),
                      updated_at=local(f"{DAY} 09:30"))  # fmt: skip
        s.add(draft)
        await s.flush()
        return staff.id, draft.id


async def _submit(app, sessions, staff_id: int, draft_id: int) -> None:
    form = app.bot_data.settings.reports.form("daily_channel")
    async with sessions() as s, s.begin():
        draft = await s.get(Draft, draft_id)
        staff = await s.get(Staff, staff_id)
        await reports.submit(s, draft, form, staff)


async def _create_ahead(app, session) -> None:
    state = app.bot_data
    await obligations.create_ahead(session, state.settings.reports.forms, state.calendar, TZ)


async def _settled(sessions, staff_id: int) -> tuple[str, bool]:
    async with sessions() as s:
        obligation = await s.scalar(
            select(Obligation).where(Obligation.staff_id == staff_id, Obligation.period_key == DAY)
        )
        report = await s.scalar(select(Report).where(Report.staff_id == staff_id))
    return obligation.status, report.obligation_id == obligation.id


async def test_a_report_being_filed_while_the_tick_creates_the_obligation(app, sessions, db_url):
    staff_id, draft_id = await _person_with_draft(sessions, app)
    tick_engine = make_engine(db_url)
    tick_sessions = make_sessionmaker(tick_engine)
    form = app.bot_data.settings.reports.form("daily_channel")
    try:
        with at("10:00:00"):
            async with sessions() as filer, tick_sessions() as ticker:
                await filer.begin()
                draft, staff = await filer.get(Draft, draft_id), await filer.get(Staff, staff_id)
                await reports.submit(filer, draft, form, staff)  # filed, not yet committed
                await ticker.begin()
                creating = asyncio.create_task(_create_ahead(app, ticker))
                await asyncio.sleep(0.3)  # let the tick reach the database (it may wait there)
                await filer.commit()
                await creating
                await ticker.commit()
    finally:
        await tick_engine.dispose()
    assert await _settled(sessions, staff_id) == ("filed", True)


async def test_the_tick_creating_the_obligation_while_a_report_is_filed(app, sessions, db_url):
    staff_id, draft_id = await _person_with_draft(sessions, app)
    filer_engine = make_engine(db_url)
    try:
        with at("10:00:00"):
            async with sessions() as ticker:
                await ticker.begin()
                await _create_ahead(app, ticker)  # created, not yet committed
                filing = asyncio.create_task(
                    _submit(app, make_sessionmaker(filer_engine), staff_id, draft_id)
                )
                await asyncio.sleep(0.3)  # let the filing reach the database (it may wait there)
                await ticker.commit()
                await filing
    finally:
        await filer_engine.dispose()
    assert await _settled(sessions, staff_id) == ("filed", True)


async def test_a_report_left_unlinked_by_an_earlier_version_is_filed_not_missed_at_closing(
    app, sessions, channel_manager, director
):
    with at("09:00:00"):
        await make_staff(sessions, channel_manager, "channel")
    await tick_at(app, "09:01:00")
    async with sessions() as s, s.begin():  # as versions before this fix left it: no link
        staff = await s.scalar(select(Staff).where(Staff.telegram_id == channel_manager.id))
        filed = local(f"{DAY} 17:30")
        s.add(Report(staff_id=staff.id, form_key="daily_channel", period_key=DAY,
                     obligation_id=None, answers={}, fields={}, version=1, late=False,
                     filed_at=filed, updated_at=filed))  # fmt: skip

    await tick_at(app, "2026-11-27 12:30")

    obligation, report = await the_day(sessions, channel_manager)
    assert obligation.status == "filed" and report.obligation_id == obligation.id


async def test_a_person_just_approved_owes_todays_report_before_any_tick(
    app, sim, sessions, director, channel_manager
):
    with at("10:00:00"):
        await join(channel_manager, director)
    with at("10:00:03"):  # no tick has run since the approval
        await channel_manager.send("/daily")

    question = channel_manager.inbox[-1].plain
    assert "2026年11月26日" in question and "今天无需提交" not in question
    obligation, _ = await the_day(sessions, channel_manager)
    assert obligation is not None and obligation.status == "open"


async def test_a_person_joining_by_invite_owes_todays_report_at_once(
    app, sim, sessions, director, channel_manager
):
    with at("09:59:00"):
        await director.send("/start")
        await director.send("/invite")
        await director.press(director.inbox[-1], "渠道拓展经理")
    token = director.inbox[-1].plain.split("start=")[1].split()[0]
    with at("10:00:00"):
        await channel_manager.send(f"/start {token}")

    obligation, _ = await the_day(sessions, channel_manager)
    assert obligation is not None and obligation.status == "open"
