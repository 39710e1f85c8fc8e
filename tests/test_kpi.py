"""The KPI engine: every source, targets, weighted scores — numbers computed by hand."""

from decimal import Decimal as D

import pytest
from kpi_data import channel, move, obligation, person, plan, report
from support import TZ, local

from bot.calendar import Period, WorkCalendar
from bot.forms.spec import default_reports
from bot.kpis.spec import KpiConfig, KpiSpec, default_kpi
from bot.services import kpi, targets
from bot.services.targets import TargetError

pytestmark = pytest.mark.databases

CAL = WorkCalendar()  # October 2026: 18 working days (National Day, make-up Saturday the 10th)
NOW = local("2026-11-26T12:00")
OCT = Period.parse("2026-10")


async def assess(session, period, config=None, reports=None, now=NOW):
    return await kpi.assess(session, config or default_kpi(), reports or default_reports(),
                            CAL, TZ, period, now)  # fmt: skip


def by_key(results):
    return {r.kpi.key: r for r in results}


def spec(**overrides) -> KpiSpec:
    base = dict(key="dl", name={"zh": "下载", "en": "Downloads"}, roles=["channel"],
                source="metric", form="daily_channel", field="downloads", weight=1)  # fmt: skip
    return KpiSpec.model_validate(base | overrides)


def test_october_has_eighteen_working_days():
    # The hand computations below rest on this: Oct 1–7 off except the 8th–9th; the 10th worked.
    assert len(OCT.workdays(CAL)) == 18


async def test_metric_sum_counts_the_periods_reports_only(sessions):
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        for day, n in [("2026-09-30", 999), ("2026-10-09", 1000), ("2026-10-12", 800),
                       ("2026-10-30", 1200), ("2026-11-02", 999)]:  # fmt: skip
            await report(s, wang, "daily_channel", day, downloads=n)
        got = by_key((await assess(s, OCT)).card(wang.id).results)["downloads"]
    assert (got.actual, got.target, got.ratio) == (D(3000), D(3000), D(1))


async def test_count_target_spreads_over_working_days(sessions):
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        await report(s, wang, "daily_channel", "2026-10-09", downloads=250)
        week = await assess(s, Period.parse("2026-W41"))  # Oct 5–11: the 8th, 9th, 10th worked
        holiday = await assess(s, Period.parse("2026-10-05"))
        quarter = await assess(s, Period.parse("2026-Q4"))
    got = by_key(week.card(wang.id).results)["downloads"]
    # 3000 over 18 days in whole downloads: 166 a day, the 12 left over one each on the last 12
    # days (docs/kpi.md); the 8th–10th are among the first: 3 × 166.
    assert got.target == D(498)
    assert got.ratio == D(250) / got.target  # 50 %
    off = by_key(holiday.card(wang.id).results)["downloads"]
    assert (off.target, off.problem) == (None, "no_target")  # a holiday carries no target
    assert by_key(quarter.card(wang.id).results)["downloads"].target == D(9000)  # 3 months


async def test_a_mid_month_joiner_owes_the_share_of_days_since_joining(sessions):
    async with sessions() as s, s.begin():
        new = await person(s, "新人", "channel", joined="2026-10-15")
        got = by_key((await assess(s, OCT)).card(new.id).results)
    # Working days from the 15th: 15, 16, 19–23, 26–30 = 12 of 18, to the nearest whole unit.
    assert got["downloads"].target == D(2000)
    assert got["contracts"].target == D(3)  # 2.67


async def test_director_targets_override_config_and_spread_to_weeks(sessions):
    async with sessions() as s, s.begin():
        boss = await person(s, "张总", "director")
        wang = await person(s, "王伟", "channel")
        dl = default_kpi().get("downloads")
        await targets.set_target(s, dl, OCT, wang, D(3600), boss)
        await targets.set_target(s, dl, OCT, None, D(10000), boss)  # the team's own target
        await targets.set_target(s, dl, OCT, wang, D(4500), boss)  # replaces, not adds
        month = await assess(s, OCT)
        week = await assess(s, Period.parse("2026-W41"))
        with pytest.raises(TargetError) as refused:
            await targets.set_target(s, dl, OCT, wang, D(0), boss)
        with pytest.raises(TargetError):
            await targets.set_target(s, dl, OCT, wang, D(-5), boss)
    assert refused.value.reason == "not_positive"
    assert by_key(month.card(wang.id).results)["downloads"].target == D(4500)
    assert by_key(month.team)["downloads"].target == D(10000)
    assert by_key(week.card(wang.id).results)["downloads"].target == D(750)  # 4500 / 18 is whole


async def test_quarterly_config_target_shares_by_working_days(sessions):
    config = KpiConfig(kpis=[spec(target=6200, target_period="quarter")])
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        got = (await assess(s, OCT, config)).card(wang.id).results[0]
    # Q4 2026: 18 + 21 + 23 = 62 working days; October has 18 of them.
    assert got.target == D(6200) * 18 / 62  # 1800


async def test_metric_average_latest_and_rate(sessions):
    config = KpiConfig(kpis=[
        spec(key="avg", agg="avg", target=100),
        spec(key="latest", agg="latest", target=100),
        spec(key="rate", roles=["user_ops"], form="weekly_feedback", field="retained_users",
             per="active_users", target=D("0.4")),
    ])  # fmt: skip
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        li = await person(s, "李娜", "user_ops")
        for day, n in [("2026-10-09", 90), ("2026-10-12", 120), ("2026-10-20", 60)]:
            await report(s, wang, "daily_channel", day, downloads=n)
        await report(s, li, "weekly_feedback", "2026-W41", retained_users=300, active_users=1000)
        await report(s, li, "weekly_feedback", "2026-W42", retained_users=500, active_users=1000)
        await report(s, li, "weekly_feedback", "2026-W40", retained_users=1, active_users=1)
        result = await assess(s, OCT, config)
    mine = by_key(result.card(wang.id).results)
    assert mine["avg"].actual == D(90)  # (90 + 120 + 60) / 3
    assert mine["latest"].actual == D(60)  # the 20th's report
    rate = by_key(result.card(li.id).results)["rate"]
    # W40 starts on Sep 28, so it belongs to September: (300 + 500) / (1000 + 1000).
    assert rate.actual == D("0.4") and rate.ratio == D(1)


async def test_channels_reaching_a_stage(sessions):
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        li = await person(s, "李娜", "channel")
        a, b, c, d, e = [await channel(s, n) for n in "ABCDE"]
        await move(s, a, wang, "lead", "contacted", "2026-10-08")  # not signed yet
        await move(s, a, wang, "contacted", "signed", "2026-10-09")  # 1
        await move(s, b, wang, "negotiating", "live", "2026-10-12")  # 2: past signed counts
        await move(s, c, wang, "signed", "live", "2026-10-13")  # already signed: no
        await move(s, d, wang, "lost", "signed", "2026-10-14")  # 3: back from lost
        await move(s, a, wang, "signed", "negotiating", "2026-10-20")
        await move(s, a, wang, "negotiating", "signed", "2026-10-21")  # A again: still one
        await move(s, e, wang, "negotiating", "signed", "2026-09-30")  # September
        await move(s, b, li, None, "signed", "2026-10-22")  # li's 1; B twice for the team
        result = await assess(s, OCT)
    assert by_key(result.card(wang.id).results)["contracts"].actual == D(3)
    assert by_key(result.card(li.id).results)["contracts"].actual == D(1)
    assert by_key(result.team)["contracts"].actual == D(3)  # A, B, D


async def test_activity_effect_from_completed_plans(sessions):
    async with sessions() as s, s.begin():
        zhao = await person(s, "赵敏", "activity")
        # (0.8 + 1.5) / 2 = 1.15
        targets_, actuals = [("下载", "5000"), ("注册", "100")], [("下载", "4000"), ("注册", "150")]
        await plan(s, zhao, targets_, actuals, "2026-10-12T10:00")
        await plan(s, zhao, [("下载", "1000"), ("曝光", "0")], [("下载", "500"), ("曝光", "9")],
                   "2026-10-30T10:00")  # 0.5; a zero target cannot be measured  # fmt: skip
        await plan(s, zhao, [("下载", "10")], [("下载", "100")], "2026-11-01T10:00")  # November
        await plan(s, zhao, [("下载", "10")], None, None, status="running")
        result = await assess(s, OCT)
    got = by_key(result.card(zhao.id).results)["activity_effect"]
    assert got.actual == (D("1.15") + D("0.5")) / 2  # 0.825
    assert got.target == D(1)


async def test_timeliness_counts_reports_due_by_now(sessions):
    now = local("2026-10-30T20:00")
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        statuses = ["filed"] * 7 + ["late", "late", "missed"]
        days = ["08", "09", "10", "12", "13", "14", "15", "16", "19", "20"]
        for day, status in zip(days, statuses, strict=True):
            await obligation(s, wang, "daily_channel", f"2026-10-{day}T18:00", status)
        await obligation(s, wang, "daily_channel", "2026-10-21T18:00", "excused")  # on leave
        await obligation(s, wang, "daily_channel", "2026-10-22T18:00", "open")  # overdue
        await obligation(s, wang, "daily_channel", "2026-10-31T18:00", "open")  # not due yet
        result = await assess(s, OCT, now=now)
    got = by_key(result.card(wang.id).results)["timeliness"]
    assert got.actual == D(7) / 11  # 7 on time of 11 due (the open overdue one counts)


async def test_weighted_score_over_a_month_with_a_holiday(sessions):
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        for day in ("2026-10-09", "2026-10-19", "2026-10-29"):
            await report(s, wang, "daily_channel", day, downloads=1100)  # 3300 of 3000: 110 %
        for i, name in enumerate("ABCDE"):  # 5 of 4 signed: 125 %, capped at 120 %
            await move(s, await channel(s, name), wang, "negotiating", "signed", f"2026-10-1{i}")
        for i, status in enumerate(["filed"] * 7 + ["missed"] * 3):  # 70 %
            await obligation(s, wang, "daily_channel", f"2026-10-{12 + i}T18:00", status)
        card = (await assess(s, OCT)).card(wang.id)
    results = by_key(card.results)
    assert results["contracts"].ratio == D("1.25") and results["contracts"].completion == D("1.2")
    # 40 × 1.1 + 30 × 1.2 + 30 × 0.7 = 101 (weights already sum to 100)
    assert card.score == D(101)


async def test_a_kpi_whose_source_field_is_gone_is_shown_but_not_scored(sessions):
    reports = default_reports()
    daily = reports.form("daily_channel")
    trimmed_daily = daily.model_copy(update={"fields": tuple(
        f for f in daily.fields if f.key != "downloads")})  # fmt: skip
    trimmed = reports.model_copy(update={"forms": tuple(
        trimmed_daily if f.key == "daily_channel" else f for f in reports.forms)})  # fmt: skip
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        await report(s, wang, "daily_channel", "2026-10-09", downloads=600)
        for i, name in enumerate("ABCDE"):
            await move(s, await channel(s, name), wang, "negotiating", "signed", f"2026-10-1{i}")
        for i, status in enumerate(["filed"] * 7 + ["missed"] * 3):
            await obligation(s, wang, "daily_channel", f"2026-10-{12 + i}T18:00", status)
        result = await assess(s, OCT, reports=trimmed)
    card = result.card(wang.id)
    downloads = by_key(card.results)["downloads"]
    assert downloads.problem == "source_gone" and downloads.actual == D(600)
    assert result.problems == {"downloads": "daily_channel.downloads"}
    # Renormalised over contracts and timeliness: (30 × 1.2 + 30 × 0.7) / 60 × 100 = 95
    assert card.score == D(95)


async def test_a_period_with_no_data(sessions):
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        await person(s, "张总", "director")  # directors are not assessed by the default set
        result = await assess(s, Period.parse("2026-11"))
    card = result.card(wang.id)
    got = by_key(card.results)
    assert got["downloads"].actual == D(0) and got["downloads"].ratio == D(0)
    assert got["timeliness"].problem == "no_data"  # nothing was due: not a zero
    assert card.score == D(0)
    assert [c.staff.display_name for c in result.cards] == ["王伟"]


async def test_a_team_with_nobody_assessed(sessions):
    async with sessions() as s:
        empty = await assess(s, Period.parse("2026-11"))
    assert empty.cards == [] and empty.team == []


def test_config_refuses_a_zero_or_negative_target():
    with pytest.raises(ValueError):
        spec(target=0)
    with pytest.raises(ValueError):
        spec(target=-3)
