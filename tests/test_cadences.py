"""Monthly, quarterly and yearly forms: due and closing on the working calendar, owed, reminded,
filed or late, excused on leave, shown in /my and /team, scored by timeliness, exported."""

from datetime import date
from io import BytesIO

import pytest
import time_machine
from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy import select
from support import TZ, local, make_staff

from bot.calendar import Period, WorkCalendar
from bot.forms.spec import FormSpec, default_reports
from bot.models import Leave, Obligation, Staff
from bot.services import export, kpi, obligations
from bot.services.obligations import schedule
from jobs.tick import tick

CAL = WorkCalendar()
FIELDS = [
    {"key": "contracts", "type": "int", "label": {"zh": "签约数", "en": "Contracts"}, "min": 0,
     "metric": True},
    {"key": "summary", "type": "longtext", "label": {"zh": "小结", "en": "Summary"}},
]  # fmt: skip


def form(key: str, cadence: str, command: str, zh: str, **rules) -> FormSpec:
    return FormSpec.model_validate(
        {"key": key, "name": {"zh": zh, "en": key}, "command": command, "roles": ["channel"],
         "cadence": cadence, "due_time": "17:00", "close_time": "18:00", "fields": FIELDS,
         **rules}
    )  # fmt: skip


MONTHLY = form("monthly_expansion", "monthly", "monthly", "渠道拓展月报")
QUARTERLY = form("quarterly_expansion", "quarterly", "quarterly", "渠道拓展季报")
YEARLY = form("yearly_plan", "yearly", "yearly", "年度计划")


# ---- due and close days on the working calendar ----------------------------------------------


def test_a_month_ending_on_a_sunday_is_due_on_its_last_working_day_open_two_more():
    plan = schedule(MONTHLY, Period.parse("2026-05"), CAL, TZ)  # 31 May 2026 is a Sunday
    assert plan.due_at == local("2026-05-29 17:00")  # Friday
    assert plan.closes_at == local("2026-06-02 18:00")  # the second working day of June


def test_a_make_up_saturday_is_the_months_due_day():
    plan = schedule(MONTHLY, Period.parse("2026-02"), CAL, TZ)
    assert plan.due_at == local("2026-02-28 17:00")  # 调休: Saturday 28 February is worked
    assert plan.closes_at == local("2026-03-03 18:00")


def test_february_2027_ends_on_a_sunday_and_is_due_on_the_friday():
    weekdays = WorkCalendar(provider=lambda d: d.weekday() < 5)  # whatever 2027's data says
    plan = schedule(MONTHLY, Period.parse("2027-02"), weekdays, TZ)
    assert plan.due_at == local("2027-02-26 17:00")
    assert plan.closes_at == local("2027-03-02 18:00")


def test_a_quarter_closes_after_golden_week_and_a_year_in_the_new_year():
    q3 = schedule(QUARTERLY, Period.parse("2026-Q3"), CAL, TZ)
    assert q3.due_at == local("2026-09-30 17:00")
    assert q3.closes_at == local("2026-10-09 18:00")  # 1–7 Oct off: 8th and 9th
    year = schedule(YEARLY, Period.parse("2026"), CAL, TZ)
    assert year.due_at == local("2026-12-31 17:00")
    assert year.closes_at == local("2027-01-05 18:00")


def test_due_on_another_working_day_of_the_period():
    first = form("plan", "monthly", "plan", "月度计划", due_workday=1, close_workdays=1)
    plan = schedule(first, Period.parse("2026-10"), CAL, TZ)
    assert plan.due_at == local("2026-10-08 17:00")  # the first working day after golden week
    assert plan.closes_at == local("2026-10-09 18:00")
    second_last = form("m2", "monthly", "m2", "月报", due_workday=-2)
    assert schedule(second_last, Period.parse("2026-05"), CAL, TZ).due_at == local(
        "2026-05-28 17:00"
    )


def test_the_cadence_rules_are_checked():
    with pytest.raises(ValidationError, match="due_workday"):
        form("d", "daily", "d", "日报", due_workday=-1)  # a daily form has no working-day count
    with pytest.raises(ValidationError, match="count from 1"):
        form("m", "monthly", "m", "月报", due_workday=0)
    with pytest.raises(ValidationError):
        form("m", "fortnightly", "m", "月报")


def test_the_nth_working_day_is_clamped_to_the_span():
    assert CAL.nth_workday(date(2026, 10, 1), date(2026, 10, 7), 1) is None  # golden week
    assert CAL.nth_workday(date(2026, 10, 5), date(2026, 10, 9), 5) == date(2026, 10, 9)
    assert CAL.nth_workday(date(2026, 10, 5), date(2026, 10, 9), -5) == date(2026, 10, 8)


# ---- obligations -----------------------------------------------------------------------------


async def _person(sessions, persona, joined: str) -> int:
    with time_machine.travel(local(joined), tick=False):
        await make_staff(sessions, persona, "channel")
    async with sessions() as s:
        return (await s.scalar(select(Staff).where(Staff.telegram_id == persona.id))).id


async def _owed(sessions) -> dict[tuple[str, str], str]:
    async with sessions() as s:
        rows = await s.scalars(select(Obligation).order_by(Obligation.id))
        return {(o.form_key, o.period_key): o.status for o in rows}


async def _create(sessions, when: str, *forms: FormSpec) -> None:
    with time_machine.travel(local(when), tick=False):
        async with sessions() as s, s.begin():
            await obligations.create_ahead(s, forms, CAL, TZ)
            await obligations.excuse_on_leave(s, TZ)


@pytest.mark.databases
async def test_a_month_owes_only_its_own_report_and_a_form_added_late_owes_nothing_closed(
    sessions, channel_manager
):
    await _person(sessions, channel_manager, "2026-04-01 09:00")
    await _create(sessions, "2026-05-06 09:00", MONTHLY, QUARTERLY, YEARLY)
    assert await _owed(sessions) == {
        ("monthly_expansion", "2026-05"): "open",
        ("quarterly_expansion", "2026-Q2"): "open",
        ("yearly_plan", "2026"): "open",
    }
    # A monthly plan due on the first working day, configured on the 20th: nothing for May.
    early = form("plan", "monthly", "plan", "月度计划", due_workday=1)
    await _create(sessions, "2026-05-20 09:00", early)
    assert ("plan", "2026-05") not in await _owed(sessions)


@pytest.mark.databases
async def test_leave_recorded_after_the_obligation_excuses_it(sessions, channel_manager):
    staff_id = await _person(sessions, channel_manager, "2026-04-01 09:00")
    await _create(sessions, "2026-06-01 09:00", MONTHLY, QUARTERLY)
    async with sessions() as s, s.begin():
        s.add(Leave(staff_id=staff_id, start_date=date(2026, 6, 29), end_date=date(2026, 6, 30),
                    created_by=staff_id, created_at=local("2026-06-10 09:00")))  # fmt: skip
        s.add(Leave(staff_id=staff_id, start_date=date(2026, 6, 1), end_date=date(2026, 6, 2),
                    created_by=staff_id, created_at=local("2026-06-10 09:00")))  # fmt: skip
    await _create(sessions, "2026-06-10 09:00", MONTHLY, QUARTERLY)
    assert await _owed(sessions) == {
        ("monthly_expansion", "2026-06"): "excused",  # due 30 June, on leave
        ("quarterly_expansion", "2026-Q2"): "excused",
    }


@pytest.mark.databases
async def test_a_daily_report_created_ahead_is_excused_by_a_later_leave(sessions, channel_manager):
    staff_id = await _person(sessions, channel_manager, "2026-04-01 09:00")
    daily = default_reports().form("daily_channel")
    await _create(sessions, "2026-06-01 09:00", daily)  # today and tomorrow
    async with sessions() as s, s.begin():
        s.add(Leave(staff_id=staff_id, start_date=date(2026, 6, 2), end_date=date(2026, 6, 2),
                    created_by=staff_id, created_at=local("2026-06-01 10:00")))  # fmt: skip
    await _create(sessions, "2026-06-01 10:01", daily)
    assert await _owed(sessions) == {
        ("daily_channel", "2026-06-01"): "open",
        ("daily_channel", "2026-06-02"): "excused",
    }


# ---- through the bot -------------------------------------------------------------------------


@pytest.fixture
def settings(settings):
    """The team's config with a monthly and a quarterly report for channel managers (only)."""
    reports = settings.reports.model_copy(update={"forms": (MONTHLY, QUARTERLY)})
    return settings.model_copy(update={"reports": reports})


async def at(app, when: str) -> None:
    with time_machine.travel(local(when), tick=False):
        await tick(app.bot_data, app.bot)


async def send(person, when: str, text: str) -> str:
    with time_machine.travel(local(when), tick=True):
        await person.send(text)
    return person.inbox[-1].plain


async def file_monthly(person, when: str, contracts: int) -> None:
    with time_machine.travel(local(when), tick=True):
        await person.send(f"/monthly\n签约数：{contracts}\n小结：顺利")
        await person.press(person.inbox[-1], "✅ 提交")


def nags(person, about: str) -> list[str]:
    return [m.plain for m in person.inbox if m.plain[:1] in "⏰⚠🔔" and about in m.plain]


async def test_a_months_report_is_owed_reminded_filed_late_excused_scored_and_exported(
    app, sessions, settings, channel_manager, director
):
    wang = channel_manager
    with time_machine.travel(local("2026-04-20 09:00"), tick=True):
        await make_staff(sessions, wang, "channel")
        await director.send("/start")
        await wang.send("/start")
    await at(app, "2026-04-20 09:01")
    mine = await send(wang, "2026-04-20 09:05", "/my")
    assert "渠道拓展月报 · 2026年4月 · 截止 4月30日 17:00" in mine
    assert "渠道拓展季报 · 2026年第二季度 · 截止 6月30日 17:00" in mine
    await file_monthly(wang, "2026-04-30 10:00", 2)  # April: on time

    # May ends on a Sunday: due Friday the 29th, reminded, and chased on Monday 1 June.
    for moment in ("2026-05-06 09:00", "2026-05-29 16:05", "2026-05-29 17:05",
                   "2026-06-01 09:31"):  # fmt: skip
        await at(app, moment)
    may = nags(wang, "2026年5月")
    assert len(may) == 3
    assert "快到截止时间" in may[0] and "已逾期" in may[1] and "还没有提交" in may[2]
    team = await send(director, "2026-06-01 10:00", "/team")
    assert "渠道拓展月报 · 2026年5月" in team  # still open: May is chased, not June
    assert "王 伟 — 已逾期（截止 5月29日 17:00）" in team
    await file_monthly(wang, "2026-06-01 10:30", 3)  # late

    # On leave for the quarter's (and June's) due day, recorded after both were owed.
    await send(wang, "2026-06-10 09:00", "/leave 06-29 06-30")
    for moment in ("2026-06-10 09:01", "2026-06-30 16:05", "2026-06-30 17:05"):
        await at(app, moment)
    assert not nags(wang, "2026年6月") and not nags(wang, "第二季度")
    team = await send(director, "2026-06-30 18:00", "/team")
    assert "渠道拓展季报 · 2026年第二季度" in team and "王 伟 — 请假中" in team
    await at(app, "2026-07-03 09:00")  # everything of Q2 closed
    async with sessions() as s:
        statuses = {o.period_key: o.status for o in await s.scalars(select(Obligation))}
    assert statuses == {"2026-04": "filed", "2026-05": "late", "2026-06": "excused",
                        "2026-Q2": "excused", "2026-07": "open", "2026-Q3": "open"}  # fmt: skip

    # Timeliness: May 0 of 1; the quarter 1 of 2 (April on time, May late; leave aside).
    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.telegram_id == wang.id))
        for key, expected in (("2026-05", 0), ("2026-Q2", 0.5)):
            result = await kpi.assess(
                s, settings.kpi, settings.reports, app.bot_data.calendar, TZ,
                Period.parse(key), local("2026-07-03 09:00"),
            )  # fmt: skip
            got = next(r for r in result.card(staff.id).results if r.kpi.key == "timeliness")
            assert got.actual == pytest.approx(expected), key
        book = await export.build(s, settings, date(2026, 4, 1), date(2026, 6, 30))
    sheet = load_workbook(BytesIO(book))["渠道拓展月报"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [(r[1], r[3]) for r in rows] == [("2026-04", "否"), ("2026-05", "是")]
    assert "渠道拓展季报" in load_workbook(BytesIO(book)).sheetnames


async def test_a_make_up_saturday_due_day_is_reminded_on_the_saturday(
    app, sessions, channel_manager, director
):
    with time_machine.travel(local("2026-02-02 09:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await channel_manager.send("/start")
    await at(app, "2026-02-02 09:01")
    await at(app, "2026-02-28 16:05")  # a Saturday, worked (调休)
    gentle = nags(channel_manager, "2026年2月")
    assert len(gentle) == 1 and "今天 17:00" in gentle[0]


async def test_two_missed_months_in_a_row_reach_the_directors(
    app, sessions, channel_manager, director
):
    with time_machine.travel(local("2026-04-20 09:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/start")
    for moment in ("2026-04-20 09:01", "2026-05-07 18:01", "2026-05-08 09:00",
                   "2026-06-02 18:01"):  # fmt: skip
        await at(app, moment)
    escalations = [
        m.plain for m in director.inbox if "王 伟" in m.plain and "渠道拓展月报" in m.plain
    ]
    assert len(escalations) == 1 and "2026年5月" in escalations[0]
