"""KPI numbers a director can trust: whole counts, stated maxima, no change against nothing."""

from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from kpi_data import person, report
from support import TZ, local

from bot import charts
from bot.calendar import Period, WorkCalendar
from bot.forms.spec import default_reports
from bot.kpis.display import show
from bot.kpis.spec import KpiSpec, default_kpi
from bot.render import render
from bot.services import digests, kpi, kpi_view, periods, targets
from bot.services.digests import PeriodDigest
from bot.services.kpi import Assessment, Card, Result
from bot.services.kpi_input import InputError, parse_value

pytestmark = pytest.mark.databases

CAL = WorkCalendar()  # October 2026: 18 working days (8–10, 12–16, 19–23, 26–30)
NOW = local("2026-11-26T12:00")
OCT = Period.parse("2026-10")
WEEK = Period.parse("2026-W50")
KPIS = default_kpi()
DOWNLOADS, CONTRACTS, RETENTION = (KPIS.get(k) for k in ("downloads", "contracts", "retention"))
CHANNELS = dict(key="x", name={"zh": "x", "en": "x"}, roles=["channel"], source="channels",
                stage="signed", weight=1)  # fmt: skip


async def assess(session, period):
    return await kpi.assess(session, KPIS, default_reports(), CAL, TZ, period, NOW)


def by_key(results):
    return {r.kpi.key: r for r in results}


# ---- whole counts ----------------------------------------------------------------------------


def test_a_spread_is_whole_units_with_the_remainder_on_the_last_days():
    days = OCT.workdays(CAL)[-10:]
    shares = targets.spread(D(4), days)
    assert list(shares.values()) == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert sum(shares.values()) == 4
    assert list(targets.spread(D(3000), OCT.workdays(CAL)).values()) == [166] * 6 + [167] * 12


async def test_four_channels_over_ten_working_days_are_whole_and_add_up(sessions):
    async with sessions() as s, s.begin():
        boss = await person(s, "张总", "director")
        new = await person(s, "新人", "channel", joined="2026-10-19")  # 10 working days left
        await targets.set_target(s, CONTRACTS, OCT, new, D(4), boss)
        book = await targets.load(s, CAL)
    joined = local("2026-10-19T09:00").astimezone(TZ).date()
    days = [Period.containing("day", d) for d in OCT.workdays(CAL) if d >= joined]
    got = [book.personal(CONTRACTS, new.id, d, joined) for d in days]
    assert got == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]  # whole, the remainder on the last days
    assert sum(got) == 4
    weeks = [book.personal(CONTRACTS, new.id, Period.parse(k), joined)
             for k in ("2026-W43", "2026-W44")]  # fmt: skip
    assert weeks == [0, 4]


async def test_a_weeks_count_target_is_whole_on_the_card(sessions):
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        week = await assess(s, Period.parse("2026-W44"))  # Oct 26–30, the last 5 of 18 days
    got = by_key(week.card(wang.id).results)
    assert got["downloads"].target == D(5 * 167)  # was 833.3
    assert got["contracts"].target == D(4)  # was 1.1: the 4 fall on the last 4 days
    assert show(DOWNLOADS, got["downloads"].target, "zh") == "835 次"
    assert show(DOWNLOADS, D(653), "zh") == "653 次"


def test_the_pace_is_a_whole_number_rounded_up():
    assert kpi.needed_per_day(D(3000), D(600), 18) == D(134)  # 133.3 would leave it short
    assert kpi.needed_per_day(D(4), D(1), 17) == D(1)  # not 0.2 家
    assert kpi.needed_per_day(D(4), D(5), 3) == D(0)  # on plan


def test_a_count_target_must_be_whole():
    with pytest.raises(InputError) as refused:
        parse_value("4.5", CONTRACTS)
    assert refused.value.reason == "not_whole"
    assert parse_value("4", CONTRACTS) == D(4)
    assert parse_value("40.5%", RETENTION) == D("0.405")  # rates keep their decimals
    with pytest.raises(ValueError, match="whole number"):
        KpiSpec.model_validate(CHANNELS | {"target": 3.5})


# ---- scores with their maximum ---------------------------------------------------------------

PERSON = SimpleNamespace(display_name="王伟", id=1)
OVER = Result(DOWNLOADS, D(3600), D(3000), D("1.2"))  # capped at 120 %
ON_TIME = Result(KPIS.get("timeliness"), D("0.9"), D(1), D("0.9"))


def _digest(now: list[Result], before: list[Result], cards=None) -> PeriodDigest:
    cards = cards if cards is not None else [Card(PERSON, WEEK, now)]
    # "monthly": the same KPI lines as a weekly digest, without the feedback and pipeline parts
    return PeriodDigest("monthly", Assessment(WEEK, cards, now),
                        Assessment(WEEK.previous(), [], before))  # fmt: skip


def test_a_score_above_100_states_its_maximum_in_card_digest_and_chart():
    card = Card(PERSON, WEEK, [OVER, ON_TIME])
    assert card.max_score == D(120)  # (40 × 1.2 + 30 × 0.9) / 70 = 107.1
    text = render("kpi_card.html.j2", "zh", team=False, name="王伟", period="第50周", lines=[],
                  score="107.1", best="120", people=[])  # fmt: skip
    assert "加权得分：107.1（满分 100，超额最高 120）" in text
    scores = render("digest_scores.html.j2", "zh", cards=[card], team_score=card.score,
                    period_label="第50周")  # fmt: skip
    assert "满分 100，超额最高 120" in scores and "107.1 王伟" in scores
    digest = _digest([OVER, ON_TIME], [], [card])
    shown = render("digest_period.html.j2", "zh", digest=digest, period_label="第50周",
                   show_scores=True)  # fmt: skip
    assert "得分满分 100，超额最高 120。" in shown and "得分 107.1" in shown
    chart = digests.team_chart(digest, "zh")
    assert "完成度最高计 120%" in chart.note and "完成度最高计 120%" in digests.chart_caption(
        digest, "zh"
    )
    assert chart.series[0][1][0] == 120.0  # the bar stops at the stated maximum
    axes = charts.figure(chart).axes[0]
    assert axes.get_xlim()[1] >= 120


def test_every_cap_at_100_says_plain_out_of_100():
    flat = KpiSpec.model_validate(dict(key="x", name={"zh": "x", "en": "x"}, roles=["channel"],
                                       source="metric", form="f", field="v", target=10, weight=1,
                                       cap=1))  # fmt: skip
    card = Card(PERSON, WEEK, [Result(flat, D(10), D(10), D(1))])
    scores = render("digest_scores.html.j2", "en", cards=[card], team_score=None,
                    period_label="Week 50")  # fmt: skip
    assert "(out of 100)" in scores and "up to" not in scores


# ---- no change against nothing ---------------------------------------------------------------


async def test_a_week_before_with_no_report_is_no_data_not_a_zero(sessions):
    async with sessions() as s, s.begin():
        wang = await person(s, "王伟", "channel")
        await report(s, wang, "daily_channel", "2026-10-28", downloads=900)
        now = await assess(s, Period.parse("2026-W44"))
        before = await assess(s, Period.parse("2026-W43"))
    was = by_key(before.team)["downloads"]
    assert (was.actual, was.measured) == (D(0), False)  # still a scored 0 for the week itself
    assert by_key(now.team)["downloads"].measured
    digest = PeriodDigest("monthly", now, before)
    text = render("digest_period.html.j2", "zh", digest=digest, period_label="第44周",
                  show_scores=False)  # fmt: skip
    assert "阶段下载量完成度：900 / 835 · 108%（上期无数据）" in text
    assert "个百分点" not in text.split("阶段下载量完成度：")[1].split("\n")[0]


def test_a_change_is_shown_when_the_week_before_had_data():
    now = Result(DOWNLOADS, D(500), D(1000), D("0.5"))
    before = Result(DOWNLOADS, D(200), D(1000), D("0.2"))
    text = render("digest_period.html.j2", "zh", digest=_digest([now], [before]),
                  period_label="第50周", show_scores=False)  # fmt: skip
    assert "50%（比上期 +30 个百分点）" in text


# ---- the chart lists every KPI ---------------------------------------------------------------


def test_a_kpi_without_data_is_in_the_chart_and_no_missing_bar_has_a_label():
    retention = Result(RETENTION, None, D("0.4"), None, "no_data")
    digest = _digest([OVER, retention, ON_TIME], [Result(DOWNLOADS, D(0), D(10), D(0),
                                                         measured=False)])  # fmt: skip
    chart = digests.team_chart(digest, "zh")
    assert chart.labels == ["阶段下载量完成度", "用户留存率", "报告按期提交率"]
    axes = charts.figure(chart).axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == chart.labels
    texts = [t.get_text() for t in axes.texts]
    assert "无数据" in texts  # written where retention's bar would be
    assert sorted(x for x in texts if x.endswith("%")) == ["120%", "90%"]  # no "0%" anywhere
    legend = axes.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["本期"]
    assert "上期无数据" in digests.chart_caption(digest, "zh")
    caption = digests.chart_caption(digest, "zh")
    assert caption.startswith("📈 <b>团队 KPI 完成度 · 第50周（12月7日–13日）</b>")
    assert len(caption) <= 1024


def test_both_periods_in_the_legend_when_both_have_bars():
    before = [Result(DOWNLOADS, D(900), D(1000), D("0.9")), ON_TIME]
    chart = digests.team_chart(_digest([OVER, ON_TIME], before), "en")
    legend = charts.figure(chart).axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["This period", "Period before"]


# ---- periods in words ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "zh", "en"),
    [
        ("2026-W50", "第50周（12月7日–13日）", "Week 50 (7–13 Dec)"),
        ("2026-W49", "第49周（11月30日–12月6日）", "Week 49 (30 Nov – 6 Dec)"),
        ("2026-12", "2026年12月", "December 2026"),
        ("2026-Q4", "2026年第四季度", "Q4 2026"),
        ("2026", "2026年", "2026"),
        ("2026-12-07", "2026年12月7日（周一）", "Mon 7 Dec 2026"),
    ],
)
def test_a_period_reads_as_words(key, zh, en):
    period = Period.parse(key)
    assert periods.label(period, "zh") == zh
    assert periods.label(period, "en") == en


def test_a_spread_share_of_zero_says_the_plan_is_zero_not_that_no_target_exists():
    zero = Result(CONTRACTS, D(1), D(0), None, "no_target")  # 4 a month, all on the last days
    card = render("kpi_card.html.j2", "zh", team=False, name="王伟", period="第50周",
                  lines=[kpi_view.line(zero, "zh", None, weighted=True)], score=None, best=None,
                  people=[])  # fmt: skip
    assert "目标 0 家" in card and "未计分：本期计划为 0" in card and "/target" not in card
    digest = _digest([zero], [Result(CONTRACTS, D(0), D(0), None, "no_target")])
    text = render("digest_period.html.j2", "zh", digest=digest, period_label="第50周",
                  show_scores=False)  # fmt: skip
    assert "签约渠道完成度：1 / 0 · 本期计划为 0" in text
    assert digests.team_chart(digest, "zh").gaps == ["本期计划为 0"]
