"""The shipped monthly, quarterly and yearly forms and the user-acquisition report, end to end:
owed on the right working day, pre-filled from the month's daily reports and the channel
library, filed, announced, scored."""

from datetime import date

import pytest
import time_machine
from sqlalchemy import select, update
from support import TEAM_GROUP, TZ, local, make_staff

from bot.calendar import Period, WorkCalendar
from bot.forms.fields import FieldContext
from bot.forms.spec import default_reports
from bot.models import Draft, Metric, Obligation, Report, Staff
from bot.services import channels, prefill
from bot.services.obligations import schedule
from jobs.tick import tick

REPORTS = default_reports()


def daily(contracts: int, deliveries: int) -> str:
    return f"""/daily
新增入库渠道数：0
洽谈中的渠道数：1
今日签约数：{contracts}
今日交付/上线数：{deliveries}
渠道带来的下载量：100
渠道带来的注册量：20
下一个工作日计划：跟进"""


async def at(app, when: str) -> None:
    with time_machine.travel(local(when), tick=False):
        await tick(app.bot_data, app.bot)


async def file(person, when: str, text: str, submit: str = "✅ 提交") -> str:
    with time_machine.travel(local(when), tick=True):
        await person.send(text)
        await person.press(person.inbox[-1], submit)
    return person.inbox[-1].plain


async def _director_since(sessions, persona, when: str) -> None:
    """The director (made from config when the app starts, today) on the team since `when`."""
    async with sessions() as s, s.begin():
        await s.execute(
            update(Staff).where(Staff.telegram_id == persona.id).values(joined_at=local(when))
        )


async def _owed(sessions) -> dict[tuple[str, str], str]:
    async with sessions() as s:
        rows = await s.scalars(select(Obligation))
        return {(o.form_key, o.period_key): o.due_at.astimezone(TZ) for o in rows}


async def _metrics(sessions, form_key: str) -> dict[str, float]:
    async with sessions() as s:
        rows = await s.scalars(select(Metric).where(Metric.form_key == form_key))
        return {m.field_key: float(m.value) for m in rows}


# ---- owed on the right working day -----------------------------------------------------------


def test_each_shipped_period_form_is_due_on_its_working_day():
    cal = WorkCalendar()
    due = {
        key: schedule(REPORTS.form(key), Period.parse(period), cal, TZ).due_at
        for key, period in (
            ("monthly_channel", "2026-05"),  # May ends on a Sunday: the Friday
            ("quarterly_channel", "2026-Q3"),
            ("ops_report", "2026-02"),  # 调休: Saturday 28 February is worked
            ("plan_month", "2026-10"),  # the first working day after golden week
            ("plan_quarter", "2026-Q4"),
            ("weekly_users", "2026-W48"),
        )
    }
    assert due == {
        "monthly_channel": local("2026-05-29 17:00"),
        "quarterly_channel": local("2026-09-30 17:00"),
        "ops_report": local("2026-02-28 17:00"),
        "plan_month": local("2026-10-08 17:00"),
        "plan_quarter": local("2026-10-08 17:00"),
        "weekly_users": local("2026-11-27 17:00"),
    }
    year = schedule(REPORTS.form("plan_year"), Period.parse("2026"), cal, TZ)
    assert year.due_at.date() == cal.nth_workday(date(2026, 1, 1), date(2026, 12, 31), 1)


async def test_every_role_owes_its_new_forms(
    app, sessions, director, channel_manager, user_ops_manager
):
    with time_machine.travel(local("2026-09-25 09:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await make_staff(sessions, user_ops_manager, "user_ops")
        await director.send("/start")
    await _director_since(sessions, director, "2026-09-25 09:00")
    await at(app, "2026-10-08 09:00")  # Thursday, the quarter's first working day
    owed = await _owed(sessions)
    assert owed[("monthly_channel", "2026-10")] == local("2026-10-30 17:00")
    assert owed[("quarterly_channel", "2026-Q4")] == local("2026-12-31 17:00")
    assert owed[("weekly_users", "2026-W41")] == local("2026-10-09 17:00")
    assert owed[("plan_month", "2026-10")] == local("2026-10-08 17:00")
    assert owed[("plan_quarter", "2026-Q4")] == local("2026-10-08 17:00")
    assert owed[("ops_report", "2026-10")] == local("2026-10-30 17:00")
    assert ("plan_year", "2026") not in owed  # January's plan closed long ago


# ---- channel expansion: the month's report starts from the dailies and the library -----------


async def _library(sessions, persona) -> None:
    """Three channels of the manager's: two in Shenyang (one signed in November), one in Dalian."""
    async with sessions() as s, s.begin():
        wang = await s.scalar(select(Staff).where(Staff.telegram_id == persona.id))
        day = date(2026, 11, 10)
        a = await channels.create(s, name="万科物业", industry="property", region="shenyang",
                                  actor=wang, day=day)  # fmt: skip
        await channels.create(s, name="华润物业", industry="property", region="shenyang",
                              actor=wang, day=day)  # fmt: skip
        await channels.create(s, name="大连电力", industry="power", region="dalian",
                              actor=wang, day=date(2026, 10, 20))  # fmt: skip
        await channels.set_stage(s, a, "negotiating", wang, day)
        await channels.set_stage(s, a, "signed", wang, date(2026, 11, 24))


async def test_the_monthly_channel_report_is_pre_filled_from_the_dailies_and_the_library(
    app, sessions, director, channel_manager
):
    wang = channel_manager
    with time_machine.travel(local("2026-10-28 09:00"), tick=True):
        await make_staff(sessions, wang, "channel")
        await director.send("/start")
        await wang.send("/start")
    await at(app, "2026-10-29 09:00")
    await file(wang, "2026-10-29 17:00", daily(5, 5))  # October's: not November's
    await _library(sessions, wang)
    for day, contracts, deliveries in (("24", 1, 0), ("25", 2, 1)):
        await at(app, f"2026-11-{day} 09:00")
        await file(wang, f"2026-11-{day} 17:00", daily(contracts, deliveries))

    await at(app, "2026-11-30 09:00")  # Monday, November's last working day
    with time_machine.travel(local("2026-11-30 10:00"), tick=True):
        await wang.send("/monthly\n下月拓展方向：大连电力企业")
        review = wang.inbox[-1].plain
        await wang.press(wang.inbox[-1], "✅ 提交")
    assert "本月签约数：3" in review and "本月交付上线数：1" in review
    assert "覆盖地区与行业：渠道库中有 3 家渠道" in review  # the card's line; whole text a tap away
    assert "按时提交" in wang.inbox[-1].plain
    card = director.inbox[-1].plain
    assert "渠道拓展月报" in card and "王 伟" in card and "本月签约数：3" in card

    async with sessions() as s:
        report = await s.scalar(select(Report).where(Report.form_key == "monthly_channel"))
    coverage = report.answers["coverage"]
    assert coverage["generated"] == "channels:period"  # figures, not words
    assert coverage["added"] == 2 and coverage["signed"] == 1 and coverage["live"] == 0
    assert await _metrics(sessions, "monthly_channel") == {"contracts_signed": 3, "deliveries": 1}
    chinese = FieldContext("zh", date(2026, 11, 30), REPORTS.regions, REPORTS.industries)
    assert "沈阳 2（已签约 1）、大连 1" in prefill.generated_text(coverage, chinese)
    # Rendered for each reader: an English one reads the same figures in English.
    english = FieldContext("en", date(2026, 11, 30), REPORTS.regions, REPORTS.industries)
    text = prefill.generated_text(coverage, english)
    assert "3 channels in the library, 1 signed or live." in text
    assert "Shenyang 2 (1 signed)" in text and "Property management 2 (1 signed)" in text
    assert "This period: 2 added, 1 signed, 0 delivered." in text


async def test_no_dailies_leave_the_figures_to_be_typed(app, sessions, channel_manager):
    wang = channel_manager
    with time_machine.travel(local("2026-11-02 09:00"), tick=True):
        await make_staff(sessions, wang, "channel")
        await wang.send("/start")
    await at(app, "2026-11-30 09:00")
    with time_machine.travel(local("2026-11-30 10:00"), tick=True):
        await wang.send("/monthly\n下月拓展方向：大连")
    assert "本月签约数" in wang.inbox[-1].plain  # asked: nothing was reported, not 0
    async with sessions() as s:
        draft = await s.scalar(select(Draft))
    assert draft.answers["contracts_signed"] is None
    assert draft.answers["coverage"]["regions"] == []


# ---- user operations: the weekly user-acquisition report --------------------------------------

FEEDBACK = """/weekly
New registrations this week: 400
Active users this week: 1200
Retained users: 500
Churned users: 40
Users won back: 10
Actions: call the churned"""

USERS = """/users
Registrations by source: Partners 320
AppStore 80
Registration conversion (%): 35.5
Converted to paid: 24
Community members: 860"""


async def test_the_user_acquisition_report_carries_the_funnel_and_scores_paid_conversion(
    app, sessions, lina, director
):
    await at(app, "2026-11-20 09:00")
    await file(lina, "2026-11-20 10:00", FEEDBACK, "✅ Submit")
    with time_machine.travel(local("2026-11-20 11:00"), tick=True):
        await lina.send(USERS)
        review = lina.inbox[-1].plain
        await lina.press(lina.inbox[-1], "✅ Submit")
        filed = lina.inbox[-1].plain
        await lina.send("/kpi this week")
        card = lina.inbox[-1].plain
    # The figures the weekly summary already gave are not typed twice.
    assert "Active users: 1,200" in review and "Churned users: 40" in review
    assert "Filed on time" in filed
    assert "用户获取周报" in director.inbox[-1].plain
    assert await _metrics(sessions, "weekly_users") == {
        "registrations": 400, "registration_rate": 35.5, "active_users": 1200,
        "retained_users": 500, "churned_users": 40, "won_back": 10, "paid_users": 24,
        "community_size": 860,
    }  # fmt: skip
    assert "Paid conversion rate · weight 20\nActual 2.0% · target 5.0%" in card  # 24 / 1,200


# ---- the director: plans and the operations report, announced to the team group ---------------

PLAN = """/monthplan
推广目标：新增注册 2000，签约物业 4 家
推广重点：沈阳物业渠道和公众号专题
预算（元）：5000"""


async def test_the_directors_monthly_plan_is_filed_and_announced_to_the_group(
    app, sim, sessions, lina, director
):
    await _director_since(sessions, director, "2026-11-16 09:00")
    await at(app, "2026-12-01 09:00")  # Tuesday, December's first working day
    assert "月度推广计划" in (await _nag(app, director, "2026-12-01 16:05"))
    before = len(sim.messages(TEAM_GROUP))
    filed = await file(director, "2026-12-01 16:30", PLAN)
    assert "按时提交" in filed
    group = sim.messages(TEAM_GROUP)
    assert len(group) == before + 1
    assert "月度推广计划" in group[-1].plain and "沈阳物业渠道和公众号专题" in group[-1].plain
    async with sessions() as s:
        owed = await s.scalar(
            select(Obligation).where(
                Obligation.form_key == "plan_month", Obligation.period_key == "2026-12"
            )
        )
    assert owed.status == "filed"


async def test_the_monthly_operations_report_is_filed_and_announced(
    app, sim, sessions, lina, director
):
    await _director_since(sessions, director, "2026-11-16 09:00")
    await at(app, "2026-11-30 09:00")
    filed = await file(
        director,
        "2026-11-30 15:00",
        "/opsreport\n运营总结：注册完成 95%\n经验总结：物业渠道转化最好\n改进目标与计划：提升留存",
    )
    assert "按时提交" in filed
    assert "月度运营报告" in sim.messages(TEAM_GROUP)[-1].plain


async def _nag(app, person, when: str) -> str:
    await at(app, when)
    return "\n".join(m.plain for m in person.inbox if m.plain[:1] in "⏰⚠🔔")


async def test_the_quarterly_report_sums_the_quarters_dailies_and_the_quarterly_plan_is_filed(
    app, sim, sessions, lina, director, channel_manager
):
    wang = channel_manager
    with time_machine.travel(local("2026-10-09 09:00"), tick=True):
        await make_staff(sessions, wang, "channel")
        await wang.send("/start")
    await _director_since(sessions, director, "2026-09-25 09:00")
    await at(app, "2026-10-09 09:00")
    # The quarter's plan, on Friday 9 October: its due day (8 October) passed, still open.
    filed = await file(director, "2026-10-09 10:00", PLAN.replace("/monthplan", "/quarterplan"))
    assert "季度推广计划 · 2026年第四季度" in filed and "迟交" in filed
    assert "季度推广计划" in sim.messages(TEAM_GROUP)[-1].plain
    for day, contracts in (("2026-10-09", 1), ("2026-11-25", 2), ("2026-12-30", 4)):
        await at(app, f"{day} 09:00")
        await file(wang, f"{day} 17:00", daily(contracts, 1))
    await at(app, "2026-12-31 09:00")
    with time_machine.travel(local("2026-12-31 10:00"), tick=True):
        await wang.send("/quarterly\n下季度拓展方向：锦州")
        review = wang.inbox[-1].plain
        await wang.press(wang.inbox[-1], "✅ 提交")
    assert "本季度签约数：7" in review and "本季度交付上线数：3" in review
    assert "按时提交" in wang.inbox[-1].plain
    assert await _metrics(sessions, "quarterly_channel") == {"contracts_signed": 7, "deliveries": 3}


def test_a_prefill_naming_nothing_is_refused():
    from pydantic import ValidationError

    from bot.forms.spec import ReportsConfig

    def with_prefill(source: str, kind: str = "int") -> dict:
        data = REPORTS.model_dump(mode="json", exclude_unset=True)
        monthly = next(f for f in data["forms"] if f["key"] == "monthly_channel")
        monthly["fields"][1] |= {"prefill": source, "type": kind, "metric": kind == "int"}
        return data

    ReportsConfig.model_validate(with_prefill("sum:daily_channel:downloads"))
    for source, kind, problem in (
        ("sum:no_such_form", "int", "no metric contracts_signed"),
        ("sum:daily_channel:plan", "int", "no metric plan"),
        ("sum:daily_channel", "text", "a sum pre-fills a number"),
        ("channels:period", "int", "fills a longtext"),
        ("library:everything", "int", "unknown prefill"),
    ):
        with pytest.raises(ValidationError, match=problem):
            ReportsConfig.model_validate(with_prefill(source, kind))
