"""The XLSX export: every sheet's cells, the range, labels, titles, and `opsbot export`."""

from datetime import date, datetime
from io import BytesIO
from types import SimpleNamespace

import pytest
import time_machine
from openpyxl import load_workbook
from support import TZ, local, opsbot_env, run_opsbot

from bot import clock
from bot.calendar import WorkCalendar, local_date
from bot.models import Draft, Obligation, Report, Task, TaskEvent
from bot.services import activities, activity_results, channels, export, feedback, reports, team
from bot.services import staff as staff_service
from bot.services.staff import Person

pytestmark = pytest.mark.databases

NOV = (date(2026, 11, 1), date(2026, 11, 30))
DAILY = "Daily channel-expansion report"
WEEKLY = "Weekly user-feedback summary"
PLAN = {
    "title": "周末缴费送积分", "purpose": "拉新", "mode": "online",
    "targets": [
        {"indicator": "下载量", "target": "5000", "unit": "次"},
        {"indicator": "注册", "target": "800", "unit": "人"},
    ],
    "start_date": "2026-12-01", "end_date": "2026-12-07", "region": "shenyang",
    "budget": 300_000, "expected_return": "注册 800", "risks": "刷分",
}  # fmt: skip
OLD_FORM_FIELDS = {
    "score": {"type": "int", "label": {"zh": "分数", "en": "Score"}, "position": 0},
    "spend": {"type": "money", "label": {"zh": "花费", "en": "Spend"}, "position": 1},
}


def at(text: str):
    return time_machine.travel(local(text), tick=False)


async def _file(s, settings, who, form_key, period_key, answers, obligation=None) -> Report:
    """File a report the way /daily and /weekly do: a draft, submitted."""
    now = clock.now()
    draft = Draft(
        staff_id=who.id, form_key=form_key, period_key=period_key, answers=answers,
        obligation_id=obligation.id if obligation else None, mode="review", cursor="0",
        scratch={}, version=1, created_at=now, updated_at=now,
    )  # fmt: skip
    s.add(draft)
    await s.flush()
    return (await reports.submit(s, draft, settings.reports.form(form_key), who)).report


def _daily(channel_refs, downloads=1200) -> dict:
    return {
        "contacted": channel_refs, "new_channels": 1, "negotiating": 2, "contracts_signed": 1,
        "deliveries": 0, "downloads": downloads, "registrations": 300, "plan": "跟进万科\n准备合同",
    }  # fmt: skip


async def _people(s, settings):
    await team.ensure(s, settings.team)
    wang = await staff_service.add(s, Person(2002, "王伟", None, "zh"), ["channel"], None)
    li = await staff_service.add(s, Person(2003, "Li Na", None, "en"), ["user_ops"], None)
    boss = await staff_service.by_telegram_id(s, settings.team.directors[0])
    return wang, li, boss


async def _channels(s, wang):
    with at("2026-10-15 10:00"):
        old = await channels.create(
            s, name="华润物业", industry="power", region="anshan", actor=wang, phone="13800000000",
            day=date(2026, 10, 15),
        )  # fmt: skip
    with at("2026-11-26 09:00"):
        vanke = await channels.create(
            s, name="万科物业", industry="property", region="dalian", actor=wang, contact="张三",
            day=date(2026, 11, 26),
        )  # fmt: skip
        await channels.set_stage(s, vanke, "contacted", wang, date(2026, 11, 26))
    return old, vanke


async def _reports(s, settings, wang, li, vanke):
    with at("2026-10-30 18:00"):
        await _file(s, settings, wang, "daily_channel", "2026-10-30", _daily([], downloads=999))
    with at("2026-11-26 17:00"):
        ref = {"id": vanke.id, "name": vanke.name}
        daily = await _file(s, settings, wang, "daily_channel", "2026-11-26", _daily([ref]))
        # A field since removed from the form: kept with its label from the report's snapshot.
        mood = {"type": "text", "label": {"zh": "心情", "en": "Mood"}, "position": 99}
        daily.fields = {**daily.fields, "mood": mood}
        daily.answers = {**daily.answers, "mood": "不错"}
        await channels.set_field(s, vanke, "name", "万科物业服务", wang)  # renamed since
        owed = Obligation(
            staff_id=li.id, form_key="weekly_feedback", period_key="2026-W48",
            due_at=local("2026-11-27 17:00"), closes_at=local("2026-11-30 12:00"),
            created_at=clock.now(),
        )  # fmt: skip
        s.add(owed)
        await s.flush()
    with at("2026-11-30 09:00"):
        weekly = {
            "new_registrations": 120, "active_users": 3400, "retained_users": 2900,
            "at_risk_users": 40, "won_back": 5, "feedback_summary": "慢", "actions": "优化",
        }  # fmt: skip
        await _file(s, settings, li, "weekly_feedback", "2026-W48", weekly, obligation=owed)
        s.add(
            Report(
                staff_id=li.id, form_key="old_form", period_key="2026-11-20",
                answers={"score": 7, "spend": 123_450, "note": "无标签"}, fields=OLD_FORM_FIELDS,
                filed_at=clock.now(), updated_at=clock.now(),
            )
        )  # fmt: skip


async def _feedback(s, li, vanke):
    with at("2026-10-20 10:00"):
        await feedback.record(s, li, "October: 页面太慢", week_key="2026-W43")
    with at("2026-11-25 10:00"):
        item, _ = await feedback.record(s, li, "=1+1 缴费页面太慢", week_key="2026-W48")
        await feedback.update(s, li, item, channel_id=vanke.id, segment="heavy", count=3)
        await feedback.record(s, li, "希望加夜间模式", week_key="2026-W48", source="forward",
                              forwarded_from="用户群")  # fmt: skip


async def _activities(s, settings, wang, boss):
    form = settings.reports.form("activity_plan")
    with at("2026-09-01 10:00"):
        september = {**PLAN, "title": "九月活动", "start_date": "2026-09-05",
                     "end_date": "2026-09-10"}  # fmt: skip
        await activities.submit(
            s, wang, form, september, reports=settings.reports, today=date(2026, 9, 1)
        )
    with at("2026-11-26 10:00"):
        plan = await activities.submit(
            s, wang, form, dict(PLAN), reports=settings.reports, today=date(2026, 11, 26)
        )
        day = date(2026, 11, 26)
        await activities.decide(s, plan.id, plan.version, boss, "approved", today=day)
    with at("2026-12-08 10:00"):
        await activities.start_due(s, date(2026, 12, 1))
        results = {
            "actuals": [
                {"indicator": "下载量", "actual": "4200", "unit": "次"},
                {"indicator": "注册", "actual": "1000", "unit": "人"},
            ],
            "actual_cost": 280_000, "what_worked": "社群", "improvements": "预热",
        }  # fmt: skip
        await activity_results.complete(s, wang, plan.id, results)
    return plan


@pytest.fixture
async def recorded(sessions, settings):
    """Two months of work: reports in and out of November, channels, feedback and plans."""
    async with sessions() as s, s.begin():
        wang, li, boss = await _people(s, settings)
        old, vanke = await _channels(s, wang)
        await _feedback(s, li, vanke)  # before the weekly summary, which freezes the week
        await _reports(s, settings, wang, li, vanke)
        plan = await _activities(s, settings, wang, boss)
    return SimpleNamespace(wang=wang, li=li, boss=boss, old=old, vanke=vanke, plan=plan)


async def _book(sessions, settings, start=NOV[0], end=NOV[1], locale="en", **kw):
    async with sessions() as s:
        data = await export.build(s, settings, start, end, locale, **kw)
    return load_workbook(BytesIO(data))


def _table(sheet) -> list[dict]:
    """The sheet's rows as {header: value}."""
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(2, values_only=True)]


# ---- reports ---------------------------------------------------------------------------------


async def test_sheets_come_in_order_with_english_headers(sessions, settings, recorded):
    book = await _book(sessions, settings, extra_sheets=[("KPI", ["KPI", "Value"], [["x", 1]])])
    assert book.sheetnames == [
        DAILY, WEEKLY, "Weekly new-media report", "Weekly content report",
        "Monthly expansion report", "Quarterly expansion report",
        "Weekly user-acquisition report", "Monthly promotion plan", "Quarterly promotion plan",
        "Yearly promotion plan", "Monthly operations report", "old_form",
        "Channel library", "Stage changes", "Feedback", "Activities", "Tasks", "Files",
        "KPI",
    ]  # fmt: skip
    daily = book[DAILY]
    assert [c.value for c in daily[1]][:6] == [
        "Name", "Period", "Filed at", "Late", "Version", "Channels contacted",
    ]  # fmt: skip
    assert daily.freeze_panes == "A2" and daily.auto_filter.ref == "A1:P2"
    assert all(c.font.b for c in daily[1])
    assert [c.value for c in book["KPI"][2]] == ["x", 1]


async def test_a_daily_report_has_its_numbers_as_numbers_in_their_columns(
    sessions, settings, recorded
):
    book = await _book(sessions, settings)
    (row,) = _table(book[DAILY])  # the October report is outside the range
    assert row["Name"] == "王伟" and row["Period"] == "2026-11-26"
    assert row["Filed at"] == datetime(2026, 11, 26, 17, 0)  # team-local, without a zone
    assert row["Late"] == "No" and row["Version"] == 1
    assert row["Downloads driven"] == 1200 and isinstance(row["Downloads driven"], int)
    assert row["Channels in negotiation"] == 2
    assert row["Channels contacted"] == "万科物业服务"  # today's name
    assert row["Plan for the next working day"] == "跟进万科\n准备合同"
    assert row["Problems"] is None
    assert list(row)[-1] == "Mood" and row["Mood"] == "不错"  # gone from the form, still here
    sheet = book[DAILY]
    assert sheet["C2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["C2"].is_date and sheet["G2"].data_type == "n"


async def test_a_late_weekly_report_and_a_removed_form_are_exported(sessions, settings, recorded):
    book = await _book(sessions, settings)
    (weekly,) = _table(book[WEEKLY])
    assert weekly["Name"] == "Li Na" and weekly["Period"] == "2026-W48"
    assert weekly["Late"] == "Yes" and weekly["Active users this week"] == 3400
    (old,) = _table(book["old_form"])  # no longer configured: titled by its key
    assert old["Score"] == 7 and old["Spend"] == 1234.5  # money in yuan, from whole fen
    assert book["old_form"]["G2"].number_format == "#,##0.00"
    assert list(old)[-1] == "note" and old["note"] == "无标签"  # no label kept: its key


async def test_a_week_overlapping_the_range_counts(sessions, settings, recorded):
    book = await _book(sessions, settings, date(2026, 11, 29), date(2026, 12, 3))
    assert [r["Period"] for r in _table(book[WEEKLY])] == ["2026-W48"]  # 23–29 Nov
    assert _table(book[DAILY]) == []
    # No report in range: the header is the current form's (the removed field is not there).
    assert [c.value for c in book[DAILY][1]][-1] == "Plan for the next working day"


# ---- channels, feedback, activities ----------------------------------------------------------


async def test_the_channel_library_is_all_of_it_with_labels(sessions, settings, recorded):
    book = await _book(sessions, settings)
    rows = {r["Channel"]: r for r in _table(book["Channel library"])}
    assert set(rows) == {"华润物业", "万科物业服务"}  # created in October, still listed
    vanke = rows["万科物业服务"]
    assert (vanke["Industry"], vanke["Region"], vanke["Stage"]) == (
        "Property management", "Dalian", "Contacted",
    )  # fmt: skip
    assert vanke["Owner"] == "王伟" and vanke["Contact"] == "张三"
    assert rows["华润物业"]["Phone"] == "13800000000"
    assert rows["华润物业"]["Created at"] == datetime(2026, 10, 15, 10, 0)


async def test_stage_changes_are_those_of_the_range(sessions, settings, recorded):
    book = await _book(sessions, settings)
    changes = _table(book["Stage changes"])
    assert [(c["Channel"], c["From stage"], c["To stage"]) for c in changes] == [
        ("万科物业服务", None, "Lead"),
        ("万科物业服务", "Lead", "Contacted"),
    ]
    assert changes[1]["Changed by"] == "王伟" and changes[1]["Day"] == datetime(2026, 11, 26)


async def test_feedback_of_the_range_only(sessions, settings, recorded):
    book = await _book(sessions, settings)
    first, second = _table(book["Feedback"])
    assert first["Text"] == "=1+1 缴费页面太慢"  # kept as text, never a formula
    assert book["Feedback"]["H2"].data_type == "s"
    assert (first["Week"], first["Author"], first["Users"], first["Channel"]) == (
        "2026-W48", "Li Na", 3, "万科物业服务",
    )  # fmt: skip
    assert (first["Category"], first["Segment"], first["Severity"]) == (
        "Experience", "Heavy user", "Medium",
    )  # fmt: skip
    assert first["Source"] == "Typed in" and second["Source"] == "Forwarded from 用户群"
    assert first["Created at"] == datetime(2026, 11, 25, 10, 0)


async def test_activities_with_money_in_yuan_and_their_effects(sessions, settings, recorded):
    book = await _book(sessions, settings)
    (plan,) = _table(book["Activities"])  # the September plan is out of range
    assert plan["Plan no."] == recorded.plan.id and plan["Title"] == "周末缴费送积分"
    assert plan["Proposer"] == "王伟" and plan["Status"] == "completed"
    assert plan["Decision"] == "approved" and plan["Decided by"] == "Director 1001"
    assert plan["Start date"] == datetime(2026, 12, 1)
    assert plan["Budget (CNY)"] == 3000 and plan["Actual cost (CNY)"] == 2800
    assert plan["Submitted at"] == datetime(2026, 11, 26, 10, 0)
    assert plan["Completed at"] == datetime(2026, 12, 8, 10, 0)
    assert plan["Results"] == "下载量: 4,200/5,000 次 (84%)\n注册: 1,000/800 人 (125%)"
    assert plan["Average effect"] == pytest.approx(1.045)
    sheet = book["Activities"]
    assert sheet["H2"].number_format == "#,##0.00" and sheet["Q2"].number_format == "0%"


async def test_december_has_the_plan_that_runs_in_it(sessions, settings, recorded):
    book = await _book(sessions, settings, date(2026, 12, 5), date(2026, 12, 5))
    assert [r["Title"] for r in _table(book["Activities"])] == ["周末缴费送积分"]
    assert _table(book["Feedback"]) == [] and _table(book["Stage changes"]) == []


# ---- tasks -----------------------------------------------------------------------------------


def _task(s, boss, who, title, deadline, status, done_at=None):
    now = local("2026-11-02 09:00")
    task = Task(
        assigner_id=boss.id, assignee_id=who.id, title=title, deadline=local(deadline),
        status=status, version=3, done_at=local(done_at) if done_at else None,
        created_at=now, updated_at=now,
    )  # fmt: skip
    s.add(task)
    return task


async def test_the_tasks_sheet_says_who_finished_on_time(sessions, settings):
    async with sessions() as s, s.begin():
        wang, li, boss = await _people(s, settings)
        on_time = _task(s, boss, wang, "整理沈阳物业渠道名单", "2026-11-13 17:00", "accepted",
                        "2026-11-13 16:00")  # fmt: skip
        late = _task(s, boss, li, "<b>用户回访</b>", "2026-11-10 18:00", "done", "2026-11-11 09:00")
        _task(s, boss, wang, "overdue", "2026-11-20 18:00", "open")
        _task(s, boss, li, "not due yet", "2099-12-01 18:00", "open")  # assigned in November
        _task(s, boss, wang, "never sent", "2026-11-20 18:00", "draft")
        _task(s, boss, wang, "cancelled", "2026-11-20 18:00", "cancelled")
        await s.flush()
        for kind in ("postpone_asked", "postpone_approved", "postpone_refused", "postponed"):
            at_ = local("2026-11-12 10:00")
            s.add(TaskEvent(task_id=on_time.id, at=at_, actor_id=boss.id, kind=kind, version=2))
        s.add(TaskEvent(task_id=late.id, at=at_, actor_id=boss.id, kind="done", version=2))
    with at("2026-12-01 10:00"):
        rows = _table((await _book(sessions, settings))["Tasks"])
        zh = _table((await _book(sessions, settings, locale="zh"))["交办事项"])

    assert [r["Task"] for r in rows] == ["<b>用户回访</b>", "整理沈阳物业渠道名单", "overdue",
                                         "not due yet"]  # fmt: skip
    first, second, third, fourth = rows
    assert second["Assigned by"] == boss.display_name and second["Assignee"] == "王伟"
    assert second["Deadline"] == datetime(2026, 11, 13, 17, 0)  # Shanghai wall time
    assert second["Done at"] == datetime(2026, 11, 13, 16, 0) and second["Status"] == "accepted"
    assert (second["On time"], second["Postponements"]) == ("Yes", 2)
    assert (first["On time"], first["Postponements"], first["Status"]) == (
        "No",
        0,
        "done, to accept",
    )
    assert (third["On time"], third["Done at"]) == ("No", None)
    assert fourth["On time"] is None
    assert zh[1]["按时完成"] == "是" and zh[1]["状态"] == "已验收"


# ---- languages, titles, empty ----------------------------------------------------------------


async def test_a_chinese_workbook_builds(sessions, settings, recorded):
    book = await _book(sessions, settings, locale="zh")
    assert book.sheetnames[:5] == [
        "渠道拓展日报",
        "用户反馈周报",
        "新媒体周报",
        "内容策划周报",
        "渠道拓展月报",
    ]
    assert book.sheetnames[11] == "old_form" and len(book.sheetnames) == 18
    (row,) = _table(book["渠道拓展日报"])
    assert row["渠道带来的下载量"] == 1200 and "接触的渠道" in row


async def test_an_empty_database_gives_headers_only(sessions, settings):
    book = await _book(sessions, settings)
    assert len(book.sheetnames) == 17  # no reports: no removed forms either
    for sheet in book.worksheets:
        assert sheet.max_row == 1 and sheet["A1"].value


async def test_extra_sheets_are_appended_with_safe_unique_titles(sessions, settings):
    extra = [
        ("Feedback", ["a"], []),
        ("KPI: 2026/11 [draft]?", ["KPI", "Score"], [["Downloads", 0.84]]),
        ("K" * 40, ["b"], [["long"]]),
        ("k" * 40, ["c"], []),
    ]
    book = await _book(sessions, settings, extra_sheets=extra)
    assert book.sheetnames[-4:] == [
        "Feedback (2)", "KPI- 2026-11 -draft--", "K" * 31, "k" * 27 + " (2)",
    ]  # fmt: skip
    assert _table(book["KPI- 2026-11 -draft--"]) == [{"KPI": "Downloads", "Score": 0.84}]


def test_sheet_titles_are_what_excel_accepts():
    titles = export.sheet_titles(["History", "'a'", "", "a", "A", "x/y\\z", "周报" * 20])
    assert titles == ["History (2)", "a", "Sheet", "a (2)", "A (3)", "x-y-z", "周报" * 15 + "周"]
    assert all(len(t) <= 31 for t in titles)


async def test_range_must_not_end_before_it_starts(sessions, settings):
    with pytest.raises(ValueError, match="before"):
        await _book(sessions, settings, date(2026, 11, 30), date(2026, 11, 1))


# ---- the command line --------------------------------------------------------------------------


@pytest.mark.slow
async def test_opsbot_export_writes_the_file(db_url, sessions, settings, recorded, tmp_path):
    out = tmp_path / "nov.xlsx"
    env = opsbot_env(None, db_url)
    code, stdout, err = await run_opsbot(
        "export", "--period", "2026-11", "--out", str(out), "--locale", "en", env=env
    )
    assert code == 0, err
    assert stdout.startswith(f"{out}: 19 sheets, ")  # the 18 above and the KPI results
    book = load_workbook(out)
    assert _table(book[DAILY])[0]["Downloads driven"] == 1200
    kpis = _table(book[book.sheetnames[-1]])
    assert book.sheetnames[-1] == "KPIs" and {row["Period"] for row in kpis} == {"2026-11"}
    downloads = [r for r in kpis if r["KPI"] == "Download completion" and r["Person"] != "Team"]
    # 王伟 joined today (the real clock): November's 3000 is pro-rated to the days left.
    cal, joined = WorkCalendar(), local_date(recorded.wang.joined_at, TZ)
    share = 3000 * cal.count_workdays(joined, date(2026, 11, 30)) / 21 if joined.month == 11 else 0
    assert downloads and downloads[0]["Actual"] == 1200
    assert downloads[0]["Target"] == pytest.approx(share, abs=0.01)


@pytest.mark.slow
async def test_opsbot_export_refuses_a_backwards_range(db_url, tmp_path):
    env = opsbot_env(None, db_url)
    out = tmp_path / "x.xlsx"
    code, _, err = await run_opsbot(
        "export", "--from", "2026-11-30", "--to", "2026-11-01", "--out", str(out), env=env
    )
    assert code == 2 and "--from 2026-11-30 is after --to 2026-11-01" in err
    assert not out.exists()
    code, _, err = await run_opsbot("export", "--period", "2026-13", "--out", str(out), env=env)
    assert code == 2 and "bad month period key" in err and "Traceback" not in err
