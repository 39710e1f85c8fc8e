"""Digests in the team group: daily filing and pace, weekly KPIs with a chart, scores privately."""

import asyncio
from datetime import date, timedelta

import pytest
import time_machine
from kpi_data import obligation, report
from sqlalchemy import select, update
from support import local, make_staff

from bot.calendar import WorkCalendar
from bot.models import Outbox, Staff, Team
from bot.services import leave
from bot.services.digest_schedule import due_now, last_fire
from jobs.tick import tick

pytestmark = pytest.mark.databases

GROUP = -8001
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def team(app, sim, sessions, director, channel_manager, user_ops_manager, outsider):
    """The director, two channel managers (王 伟, Li Na), the bound group; 9009 joins as channel."""
    with time_machine.travel(local("2026-11-02 09:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await make_staff(sessions, user_ops_manager, "channel")
    await director.send("/start")
    group = sim.group(id=GROUP, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)
    return sim


async def staff(sessions, persona) -> Staff:
    async with sessions() as s:
        return await s.scalar(select(Staff).where(Staff.telegram_id == persona.id))


async def file_days(sessions, persona, days: dict[str, int], statuses: dict[str, str]) -> None:
    person = await staff(sessions, persona)
    async with sessions() as s, s.begin():
        for day, downloads in days.items():
            await report(s, person, "daily_channel", day, downloads=downloads)
        for day, status in statuses.items():
            await obligation(s, person, "daily_channel", f"{day}T18:00", status)


def group_messages(sim):
    return sim.messages(GROUP)


async def test_daily_digest_lists_filers_missing_and_the_pace(
    app, team, sessions, channel_manager, user_ops_manager
):
    await file_days(sessions, channel_manager, {"2026-11-25": 900, "2026-11-26": 500},
                    {"2026-11-26": "filed"})  # fmt: skip
    await file_days(sessions, user_ops_manager, {}, {"2026-11-26": "open"})
    before = len(group_messages(team))
    with time_machine.travel(local("2026-11-26 18:30:20"), tick=False):
        await tick(app.bot_data, app.bot)
        await tick(app.bot_data, app.bot)  # a second tick sends nothing more
    new = group_messages(team)[before:]
    assert len(new) == 1
    text = new[0].plain
    assert "每日简报 · 2026年11月26日（周四）" in text
    assert "已提交（1）：王 伟" in text and "未提交（1）：Li Na" in text
    # 3000 a month over November's 21 working days in whole downloads: 142 a day, the 18 left
    # over one each on the last 18 days (the 5th on): 143 on the 26th, two managers 286. Month
    # so far 1,400 of 6,000; the 27th and 30th are left: (6000 − 1400) / 2 = 2,300 a day.
    assert "今天 500，计划每天 286" in text
    assert "本月累计 1,400 / 6,000" in text and "每个工作日需完成 2,300" in text


async def test_no_daily_digest_on_a_day_off(app, team):
    before = len(group_messages(team))
    with time_machine.travel(local("2026-11-28 18:31"), tick=False):  # a Saturday
        await tick(app.bot_data, app.bot)
    assert len(group_messages(team)) == before


async def test_weekly_digest_text_chart_and_private_scores(
    app, team, sessions, director, channel_manager, user_ops_manager
):
    # Week 48 (Nov 23–27): 5 of the days that carry 143 of 3000 (see above), 715 each.
    await file_days(sessions, channel_manager, {"2026-11-17": 250, "2026-11-24": 500},
                    {"2026-11-23": "filed", "2026-11-24": "filed", "2026-11-25": "filed",
                     "2026-11-26": "filed", "2026-11-27": "missed"})  # fmt: skip
    before, director_before = len(group_messages(team)), len(director.inbox)
    with time_machine.travel(local("2026-11-30 09:00:40"), tick=False):
        await tick(app.bot_data, app.bot)
    new = group_messages(team)[before:]
    assert len(new) == 2  # one text, one chart
    text, chart = new
    assert "每周简报 · 第48周（11月23日–29日）" in text.plain
    # 王 伟: 500 / 715 = 69.9 %; the week before 250 / 715 = 35 %; timeliness 4 of 5 = 80 %.
    assert "▓▓▓▓▓▓░░░░ 70% 阶段下载量完成度" in text.plain
    assert "▓▓▓▓▓▓▓▓░░ 80% 报告按期提交率" in text.plain
    # The team: 500 of 2 × 715 = 35 %, up 17.5 → 17 points on the 17.5 % before; counts whole.
    assert "阶段下载量完成度：500 / 1,430 · 35%（比上期 +17 个百分点）" in text.plain, text.plain
    assert "待审批 0 · 已批准 0 · 进行中 0 · 本周完成 0" in text.plain
    assert "得分" not in text.plain  # scores stay private
    assert chart.photo is not None and chart.photo.data.startswith(PNG)
    scores = [m for m in director.inbox[director_before:] if "考核得分" in m.plain]
    assert len(scores) == 1
    # 王 伟: (40 × 0.7 + 30 × 0 + 30 × 0.8) / 100 = 52; Li Na filed nothing: 0 (timeliness:
    # nothing due, so her score is over downloads and contracts).
    assert "52 王 伟" in scores[0].plain and "0 Li Na" in scores[0].plain


async def test_each_digest_goes_once_even_after_a_restart(app, team, sessions):
    with time_machine.travel(local("2026-11-30 09:01"), tick=False):
        await tick(app.bot_data, app.bot)
    before = len(group_messages(team))
    with time_machine.travel(local("2026-11-30 11:00"), tick=False):  # a later tick, same week
        await tick(app.bot_data, app.bot)
    assert len(group_messages(team)) == before
    async with sessions() as s:
        keys = (await s.scalars(select(Outbox.dedup_key).where(
            Outbox.dedup_key.like("digest:weekly:%")))).all()  # fmt: skip
    assert sorted(k for k in keys if ":scores:" not in k) == [
        "digest:weekly:2026-W48",
        "digest:weekly:2026-W48:chart",
    ]


async def test_an_empty_week_says_so_in_english(app, sim, sessions, director):
    await director.send("/start")
    group = sim.group(id=GROUP, title="Ops")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)
    async with sessions() as s, s.begin():
        await s.execute(update(Team).values(locale="en"))
    before = len(group_messages(sim))
    with time_machine.travel(local("2026-11-30 09:00:05"), tick=False):
        await tick(app.bot_data, app.bot)
    new = group_messages(sim)[before:]
    assert len(new) == 1  # nothing to chart
    assert "Weekly digest · Week 48 (23–29 Nov)" in new[0].plain
    assert "No KPIs to report for this period" in new[0].plain
    assert "No feedback was recorded this week." in new[0].plain


async def test_scores_in_the_group_when_the_team_turns_them_on(
    app, team, sessions, director, channel_manager
):
    shown = app.bot_data.settings.kpi.model_copy(update={"show_scores_in_group": True})
    app.bot_data.settings = app.bot_data.settings.model_copy(update={"kpi": shown})
    await file_days(sessions, channel_manager, {"2026-11-24": 500}, {})
    director_before = len(director.inbox)
    with time_machine.travel(local("2026-11-30 09:00:40"), tick=False):
        await tick(app.bot_data, app.bot)
    text = [m for m in group_messages(team) if m.text and "每周简报" in m.plain][-1]
    assert "王 伟 · 得分 40" in text.plain  # (40 × 0.7 + 30 × 0) / 70 = 40
    assert not [m for m in director.inbox[director_before:] if "考核得分" in m.plain]


async def test_away_people_are_not_missing(app, team, sessions, channel_manager, outsider):
    await make_staff(sessions, outsider, "channel")
    person = await staff(sessions, outsider)
    async with sessions() as s, s.begin():
        day = date(2026, 11, 26)
        await leave.add(s, person, day, day, person, today=day)
    with time_machine.travel(local("2026-11-26 18:31"), tick=False):
        await tick(app.bot_data, app.bot)
    lines = group_messages(team)[-1].plain.splitlines()
    missing = next(line for line in lines if line.startswith("⚠️ 未提交"))
    away = next(line for line in lines if line.startswith("🌴 请假"))
    assert "王 伟" in missing and "陌生人" not in missing
    assert away == "🌴 请假：陌生人"


def test_cron_fires_are_caught_within_the_grace_and_not_after(settings):
    tz = settings.team.tz
    grace = timedelta(hours=6)
    assert last_fire("0 9 * * mon", tz, local("2026-11-30 09:00:30"), grace) == local(
        "2026-11-30 09:00"
    )
    assert last_fire("0 9 * * mon", tz, local("2026-11-30 14:59"), grace) == local(
        "2026-11-30 09:00"
    )  # a process that was down at 09:00 still sends
    assert last_fire("0 9 * * mon", tz, local("2026-11-30 15:01"), grace) is None
    assert last_fire("0 9 * * mon", tz, local("2026-11-30 08:59"), grace) is None


def test_a_late_daily_digest_waits_for_no_one_after_quiet_hours_begin(settings):
    cal = WorkCalendar()
    assert [d.kind for d in due_now(settings, cal, local("2026-11-26 21:59"))] == ["daily"]
    assert due_now(settings, cal, local("2026-11-26 22:00")) == []  # quiet hours
    assert due_now(settings, cal, local("2026-11-27 00:10")) == []  # the next day


def test_which_digests_are_due_and_for_which_period(settings):
    cal = WorkCalendar()
    due = {d.kind: d.period.key for d in due_now(settings, cal, local("2026-10-01 09:31"))}
    # Oct 1 is a holiday (no daily digest); the 1st brings last month's and last quarter's.
    assert due == {"monthly": "2026-09", "quarterly": "2026-Q3"}
    monday = {d.kind: d.period.key for d in due_now(settings, cal, local("2026-11-30 09:00:40"))}
    assert monday == {"weekly": "2026-W48"}
    evening = {d.kind: d.period.key for d in due_now(settings, cal, local("2026-11-30 18:31"))}
    assert evening == {"daily": "2026-11-30"}


async def test_two_processes_due_at_once_queue_the_digest_once(
    app, team, sim, settings, db_url, sessions, channel_manager
):
    from support import another_process

    from bot.db import make_engine
    from jobs import digests

    await file_days(sessions, channel_manager, {"2026-11-24": 500}, {})
    before = len(group_messages(team))
    second_engine = make_engine(db_url)  # a process of its own: its own connections
    try:
        async with another_process(sim, settings, second_engine) as other:
            at = local("2026-11-30 09:00:40")
            with time_machine.travel(at, tick=False):
                queued = await asyncio.gather(digests.run_due(app.bot_data, at),
                                              digests.run_due(other.bot_data, at))  # fmt: skip
                await tick(app.bot_data, app.bot)  # sends
    finally:
        await second_engine.dispose()
    assert sum(queued) == 3  # text, chart, the director's scores: by one process or the other
    new = group_messages(team)[before:]
    assert len(new) == 2 and new[1].photo is not None
    async with sessions() as s:
        rows = (await s.scalars(select(Outbox.dedup_key).where(
            Outbox.dedup_key.like("digest:weekly:2026-W48%")))).all()  # fmt: skip
    assert len(rows) == len(set(rows)) == 3  # text, chart, the director's scores


async def test_weekly_digest_brings_feedback_summaries_and_the_pipeline(
    app, team, sessions, channel_manager
):
    from kpi_data import plan

    from bot.services import feedback

    wang = await staff(sessions, channel_manager)
    async with sessions() as s, s.begin():
        await feedback.record(s, wang, "缴费页面太慢", week_key="2026-W48", count=3)
        await feedback.record(s, wang, "希望支持电子发票", week_key="2026-W48")
        await plan(s, wang, [("下载", "100")], None, None, status="pending")
        await plan(s, wang, [("下载", "100")], None, None, status="running")
        done = await plan(s, wang, [("下载", "100")], [("下载", "80")], "2026-11-25T10:00")
        summary = await report(s, wang, "weekly_feedback", "2026-W48", new_registrations=10)
        # The summary was announced to the team supergroup as message 77.
        s.add(Outbox(dedup_key=f"report:{summary.id}:v1:-1001234567890", chat_id=-1001234567890,
                     method="sendMessage", payload={}, status="sent", created_at=local(
                         "2026-11-27T17:00"), next_attempt_at=local("2026-11-27T17:00"),
                     message_id=77))  # fmt: skip
    assert done.status == "completed"
    with time_machine.travel(local("2026-11-30 09:00:40"), tick=False):
        await tick(app.bot_data, app.bot)
    text = [m for m in group_messages(team) if m.text and "每周简报" in m.plain][-1]
    assert "共 2 条，涉及 4 位用户。" in text.plain
    assert (
        "1. 缴费页面太慢（3 位用户）" in text.plain
        and "2. 希望支持电子发票（1 位用户）" in text.plain
    )
    assert '<a href="https://t.me/c/1234567890/77">王 伟</a>' in text.text
    assert "待审批 1 · 已批准 0 · 进行中 1 · 本周完成 1" in text.plain


async def test_monthly_digest_in_english_plan_vs_actual(app, team, sessions, channel_manager):
    async with sessions() as s, s.begin():
        await s.execute(update(Team).values(locale="en"))
    # November: 21 working days; two channel managers × 3000 = 6000 planned.
    await file_days(sessions, channel_manager, {"2026-11-03": 1500, "2026-11-20": 3000},
                    {"2026-11-03": "filed", "2026-11-20": "late"})  # fmt: skip
    before = len(group_messages(team))
    with time_machine.travel(local("2026-12-01 09:00:30"), tick=False):
        await tick(app.bot_data, app.bot)
    texts = [m.plain for m in group_messages(team)[before:] if m.text]
    monthly = next(t for t in texts if "Monthly digest" in t)
    assert "Monthly digest · November 2026" in monthly
    # October had no report at all: no change to show, and it says so.
    assert "Download completion: 4,500 / 6,000 · 75% (no data for the period before)" in monthly
    assert "Reports filed on time: 50.0% / 100.0% · 50%" in monthly  # 1 of 2 on time
    assert "▓▓▓▓▓▓▓▓▓▓ 120% Download completion" in monthly  # 王 伟: 4500 / 3000, capped
    assert "User feedback" not in monthly  # weekly only


def _hostile_contexts() -> dict:
    """Every digest template with user-controlled values (names, feedback, KPI names) hostile."""
    from decimal import Decimal as D
    from types import SimpleNamespace

    from bot.calendar import Period
    from bot.kpis.spec import KpiSpec
    from bot.services.digests import Daily, PeriodDigest
    from bot.services.feedback import WeekSummary
    from bot.services.kpi import Assessment, Card, Pace, Result

    hostile = "<zz>&"
    spec = KpiSpec.model_validate(dict(key="k", name={"zh": hostile, "en": hostile},
                                       roles=["channel"], source="channels", stage="signed",
                                       target=4, weight=1))  # fmt: skip
    person = SimpleNamespace(display_name=hostile, id=1)
    week = Period.parse("2026-W48")
    result = Result(spec, D(3), D(4), D("0.75"))
    now = Assessment(week, [Card(person, week, [result])], [result])
    before = Assessment(week.previous(), [], [Result(spec, D(1), D(4), D("0.25"))])
    item = SimpleNamespace(text=hostile, count=2)
    summary = WeekSummary("2026-W48", 1, 2, {"bug": 2}, {}, [item], [])
    weekly = PeriodDigest("weekly", now, before, {"pending": 1, "approved": 0, "running": 0,
                          "completed": 0}, summary, [(hostile, "https://t.me/c/1/2")])  # fmt: skip
    daily = Daily(week.start, [(hostile, True)], [hostile], [hostile],
                  [Pace(spec, D(1), D("0.8"), D(5), D(17), 3)])  # fmt: skip
    return {
        "digest_daily.html.j2": dict(digest=daily, day_label=hostile),
        "digest_period.html.j2": dict(digest=weekly, period_label=hostile, show_scores=True),
        "digest_scores.html.j2": dict(cards=now.cards, team_score=D(50), period_label=hostile),
        "digest_chart.html.j2": dict(period_label=hostile, compared=True, cap=120),
    }


CONTEXTS = _hostile_contexts()
NO_USER_INPUT: set[str] = set()


def test_a_monthly_target_smaller_than_its_working_days_is_not_split_by_day():
    """4 signings in a month of 21 working days: "plan 0 a day" and "needs 1 a day" misread the
    month, so the daily digest states the month's target and what is still to go."""
    from decimal import Decimal as D

    from bot.kpis.spec import KpiSpec
    from bot.render import render
    from bot.services.digests import Daily
    from bot.services.kpi import Pace

    signed = KpiSpec.model_validate(dict(key="signed", name={"zh": "签约渠道", "en": "Signed"},
                                         roles=["channel"], source="channels", stage="signed",
                                         target=4, weight=1))  # fmt: skip
    thin = Pace(signed, D(0), D(0), D(1), D(4), 10, month_workdays=21)
    broad = Pace(signed, D(500), D(286), D(1400), D(6000), 2, month_workdays=21)
    daily = Daily(date(2026, 11, 26), [("王伟", False)], [], [], [thin, broad])

    text = render("digest_daily.html.j2", "zh", digest=daily, day_label="11月26日")

    assert "签约渠道：今天 0（本月目标 4，不按天分摊）" in text
    assert "不按天分摊）\n  本月累计 1 / 4 · 还差 3，本月还剩 10 个工作日\n• " in text
    assert "计划每天 0" not in text and "每个工作日需完成 1 " not in text
    assert "今天 500，计划每天 286" in text and "每个工作日需完成 2,300" in text  # as before
