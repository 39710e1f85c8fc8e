"""/kpi, /target and /export as people use them; period words; every KPI template's variants."""

from datetime import date
from decimal import Decimal as D
from io import BytesIO
from types import SimpleNamespace

import pytest
import time_machine
from kpi_data import channel, move, obligation, report
from openpyxl import load_workbook
from sqlalchemy import select
from support import another_process, local, make_staff

from bot.calendar import Period
from bot.kpis.spec import KpiConfig, default_kpi
from bot.models import Staff, Target
from bot.render import render
from bot.services import periods
from bot.services.kpi_export import periods_in
from bot.services.kpi_input import InputError as KpiInputError
from bot.services.kpi_input import parse_value
from bot.services.kpi_view import Line
from bot.simulator.html import parse_html

HOSTILE = "<zz>&"
TODAY = date(2026, 11, 26)  # a Thursday in Q4


def q(persona) -> str:
    return persona.inbox[-1].plain


def button(message, text: str) -> str:
    """The callback data of the one button whose label or data contains `text`."""
    found = [b.callback_data for row in message.buttons for b in row
             if text in b.text or text in (b.callback_data or "")]  # fmt: skip
    assert len(found) == 1, (text, message.labels)
    return found[0]


async def staff_row(sessions, persona) -> Staff:
    async with sessions() as s:
        return await s.scalar(select(Staff).where(Staff.telegram_id == persona.id))


async def october(sessions, wang: Staff) -> None:
    """王伟's October: 3,300 of 3,000 downloads, 3 of 4 contracts, 7 of 10 reports on time."""
    async with sessions() as s, s.begin():
        wang = await s.get(Staff, wang.id)
        for day, n in [("2026-10-09", 1000), ("2026-10-19", 1200), ("2026-10-29", 1100)]:
            await report(s, wang, "daily_channel", day, downloads=n)
        for i, name in enumerate("ABC"):
            await move(s, await channel(s, name), wang, "negotiating", "signed", f"2026-10-1{i}")
        for i, status in enumerate(["filed"] * 7 + ["missed"] * 3):
            await obligation(s, wang, "daily_channel", f"2026-10-{12 + i}T18:00", status)


@pytest.fixture
async def team(app, sessions, director, channel_manager, user_ops_manager):
    """A director, 王伟 (channel) and Li Na (user ops, English), all on the team since September."""
    with time_machine.travel(local("2026-09-01T09:00"), tick=True):
        await director.send("/start")
        await make_staff(sessions, channel_manager, "channel")
        await make_staff(sessions, user_ops_manager, "user_ops")
    return SimpleNamespace(
        wang=await staff_row(sessions, channel_manager),
        lina=await staff_row(sessions, user_ops_manager),
    )


# ---- /kpi ------------------------------------------------------------------------------------


async def test_a_channel_managers_october_card(app, sessions, team, channel_manager):
    await october(sessions, team.wang)
    with time_machine.travel(local("2026-11-02T10:00"), tick=True):
        await channel_manager.send("/kpi 上月")
    card = q(channel_manager)
    assert "王 伟 的 KPI · 2026年10月" in card
    # 阶段下载量完成度: 3,300 of 3,000 = 110 %, the bar full; weight 40.
    assert "阶段下载量完成度" in card and "3,300 次" in card and "3,000 次" in card
    assert "▓▓▓▓▓▓▓▓▓▓ 110%" in card
    assert "3 家" in card and "4 家" in card and "▓▓▓▓▓▓▓░░░ 75%" in card  # contracts
    assert "70.0%" in card and "100.0%" in card and "▓▓▓▓▓▓▓░░░ 70%" in card  # on time
    # 40 × 1.1 + 30 × 0.75 + 30 × 0.7 = 87.5 (weights sum to 100); 120 with every KPI capped
    assert "加权得分：87.5（满分 100，超额最高 120）" in card
    assert "⏱" not in card  # October is over: no pace


async def test_the_current_month_shows_the_pace_and_reasons(app, sessions, team, user_ops_manager):
    async with sessions() as s, s.begin():
        lina = await s.get(Staff, team.lina.id)
        # W46 (Nov 9–15) counts for November: 800 of 2,000 registrations, retention 30 % of 40 %.
        await report(s, lina, "weekly_feedback", "2026-W46", new_registrations=800,
                     retained_users=300, active_users=1000)  # fmt: skip
    with time_machine.travel(local("2026-11-20T10:00"), tick=True):
        await user_ops_manager.send("/kpi")
    card = q(user_ops_manager)
    assert "KPIs of Li Na · November 2026" in card
    assert "Actual 800 users · target 2,000 users" in card and "▓▓▓▓░░░░░░ 40%" in card
    # 1,200 still to go over the 6 working days after Friday the 20th (23–27, 30).
    assert "Needed per working day to stay on plan: 200 users" in card
    assert "Actual 30.0% · target 40.0%" in card and "75%" in card
    assert "Not scored: no data for this period." in card  # no report was due yet
    # (40 × 0.4 + 30 × 0.75) / 70 = 55 %: timeliness is left out, not counted as zero.
    assert "Weighted score: 55 (out of 100, up to 120 for beating targets)" in card


async def test_someone_without_a_kpi_is_told_so(app, sessions, team, director, user_ops_manager):
    # A team whose KPIs are only for channel managers.
    only_channel = KpiConfig(kpis=[default_kpi().get("downloads")])
    app.bot_data.settings = app.bot_data.settings.model_copy(update={"kpi": only_channel})
    await user_ops_manager.send("/kpi")
    assert "No KPI applies to your role yet" in q(user_ops_manager)
    await director.send("/kpi")
    assert "Li Na" not in director.inbox[-1].labels  # only people assessed on something
    picker, forged = director.inbox[-1], f"kpi:v1:{team.lina.id}:2026-11"
    answer = await director.press_data(picker.message_id, director.id, forged)
    assert answer.show_alert


async def test_staff_cannot_see_other_cards_set_targets_or_export(
    app, sessions, team, channel_manager, outsider
):
    for command in ("/kpi @lina", "/kpi Li Na 2026-10", "/kpi @nobody", "/target", "/export"):
        await channel_manager.send(command)
        assert "只有运营总监" in q(channel_manager), command
    await channel_manager.send("/kpi")
    assert "王 伟" in q(channel_manager)  # their own card, as always
    answer = await channel_manager.press_data(
        channel_manager.inbox[-1].message_id, channel_manager.id, f"kpi:v1:{team.lina.id}:2026-10"
    )
    assert answer.show_alert and "只有运营总监" in answer.text
    await outsider.send("/kpi")
    assert "/start" in q(outsider) and "KPI" not in q(outsider)


async def test_a_director_picks_a_person_then_the_team(app, sessions, team, director):
    await october(sessions, team.wang)
    with time_machine.travel(local("2026-11-02T10:00"), tick=True):
        await director.send("/kpi 2026-10")
        picker = director.inbox[-1]
        assert (
            "2026年10月" in picker.plain and "王 伟" in picker.labels and "Li Na" in picker.labels
        )
        assert picker.labels[-2:] == ["⬅️ 2026年9月", "2026年11月 ➡️"]  # words, keys in the data
        await director.press(picker, button(picker, "王 伟"))
        card = director.inbox[-1]
        assert card.message_id == picker.message_id  # edited in place
        assert "3,300 次" in card.plain and "87.5" in card.plain
        await director.press(card, "kpi:v1:l:2026-10")  # back to the picker
        await director.press(picker, "kpi:v1:t:2026-10")
        team_card = director.inbox[-1].plain
    assert "3,300 次" in team_card and "3 家" in team_card  # the team's actuals
    assert "王 伟 — 87.5" in team_card
    assert "Li Na — 0" in team_card  # nothing reported in October


async def test_a_director_names_someone(app, sessions, team, director):
    await october(sessions, team.wang)
    with time_machine.travel(local("2026-11-02T10:00"), tick=True):
        for command in ("/kpi @wangwei 2026-10", "/kpi 王伟 上月", "/kpi 王 伟 2026-10"):
            await director.send(command)
            assert "王 伟" in q(director) and "3,300 次" in q(director), command
        await director.send("/kpi @nobody")
        assert "@nobody" in q(director)
        await director.send("/kpi 王伟 someday")
        assert "王伟 someday" in q(director)  # the period could not be read


# ---- /target ---------------------------------------------------------------------------------


async def test_a_director_sets_a_target_with_buttons(app, sessions, team, director):
    with time_machine.travel(local("2026-11-20T10:00"), tick=True):
        await director.send("/target")
        step = director.inbox[-1]
        await director.press(step, "tgt:v1:k:downloads")
        labels = director.inbox[-1].labels
        assert "Li Na" not in labels and "王 伟" in labels  # only who holds the KPI's roles
        await director.press(step, button(director.inbox[-1], "王 伟"))
        await director.press(step, button(director.inbox[-1], "2026-11"))
        assert "3,000 次" in q(director)  # the target now
        for bad in ("0", "-5", "很多"):
            await director.send(bad)
            assert "0" in q(director) and "4,000" in q(director), bad  # says what to type
        await director.send("4,000")
        confirm = director.inbox[-1]
        assert "4,000 次" in confirm.plain
        save = button(confirm, "tgt:v1:ok:")
        await director.press(confirm, save)
        done = director.inbox[-1].plain
        # November 2026 has 21 working days: 4,000 / 21 is 190 or 191 a day, in whole downloads.
        assert "4,000 次" in done and "190–191 次" in done and "21" in done
        again = await director.press_data(confirm.message_id, director.id, save)
        assert again.show_alert  # a second press saves nothing twice
        await director.send("5000")  # the question was answered: this is no target any more
        assert "5,000" not in q(director)
        await director.send("/kpi @wangwei")
    assert "4,000 次" in q(director)
    async with sessions() as s:
        rows = list(await s.scalars(select(Target)))
    assert [(r.kpi_key, r.staff_id, r.period_key, r.value) for r in rows] == [
        ("downloads", team.wang.id, "2026-11", D(4000))
    ]


async def test_an_open_report_keeps_its_answers_unless_the_value_is_a_reply(
    app, sessions, sim, team
):
    boss = sim.user(id=1002, first_name="Chen", username="chen", language_code="en")
    with time_machine.travel(local("2026-11-20T10:00"), tick=True):
        await make_staff(sessions, boss, "director", "channel")  # a director who also reports
        await boss.send("/daily")  # nothing is due (no tick ran): file for today anyway
        await boss.press(boss.inbox[-1], button(boss.inbox[-1], "fs:v1:"))
        question = q(boss)
        await boss.send("/target")
        step = boss.inbox[-1]
        await boss.press(step, "tgt:v1:k:downloads")
        await boss.press(step, "tgt:v1:w:downloads:t")
        await boss.press(step, button(boss.inbox[-1], "2026-12"))
        ask = boss.inbox[-1]
        assert "reply to this message" in ask.plain
        await boss.send("3")  # the report's question was asked first: this answers it
        assert "Set the target" not in q(boss) and q(boss) != question
        await boss.send("7000", reply_to=ask)
        assert "Set the target of" in q(boss) and "7,000" in q(boss)


async def test_the_typed_value_survives_a_restart(app, sim, settings, engine, team, director):
    with time_machine.travel(local("2026-11-20T10:00"), tick=True):
        await director.send("/target")
        step = director.inbox[-1]
        await director.press(step, "tgt:v1:k:retention")
        await director.press(step, "tgt:v1:w:retention:t")
        await director.press(step, button(director.inbox[-1], "2026-Q4"))
        async with another_process(sim, settings, engine):
            await director.send("45%")
            confirm = director.inbox[-1]
            assert "45.0%" in confirm.plain
            await director.press(confirm, button(confirm, "tgt:v1:x:"))
            await director.send("45%")  # cancelled: no longer a target's value
            assert "45.0%" not in q(director)


async def test_the_one_line_form(app, sessions, team, director):
    with time_machine.travel(local("2026-11-20T10:00"), tick=True):
        await director.send("/target downloads @wangwei 2026-12 4500")
        assert "4,500 次" in q(director) and "2026年12月" in q(director)
        await director.send("/target retention Li Na next month 45%")
        assert "45.0%" in q(director)
        await director.send("/target 新注册用户完成度 team 2027-Q1 1.2万")
        assert "12,000" in q(director)
        for bad in ("/target downloads @wangwei 2026-12 0", "/target downloads @wangwei 12 月 x"):
            await director.send(bad)
            assert "4,000" in q(director), bad  # how to type a number
        await director.send("/target downloads @lina 2026-12 10")
        assert "Li Na" in q(director)  # not assessed on downloads
        await director.send("/target nonsense @wangwei 2026-12 10")
        assert "downloads" in q(director)  # the KPIs there are
        await director.send("/target downloads @wangwei")
        assert "/target downloads @username 2026-12 4000" in q(director)
        await director.send("/kpi @wangwei 2026-12")
        assert "4,500 次" in q(director)
    async with sessions() as s:
        found = {(r.kpi_key, r.period_key): r.value for r in await s.scalars(select(Target))}
    assert found == {
        ("downloads", "2026-12"): D(4500),
        ("retention", "2026-12"): D("0.45"),
        ("registrations", "2027-Q1"): D(12000),
    }


# ---- /export ---------------------------------------------------------------------------------


async def test_export_sends_a_workbook_with_the_kpi_sheet(app, sessions, team, director):
    await october(sessions, team.wang)
    with time_machine.travel(local("2026-11-02T10:00"), tick=True):
        await director.send("/export 2026-10")
    sent = director.inbox[-1]
    assert sent.document.name == "opsbot-2026-10.xlsx" and "2026年10月" in sent.plain
    book = load_workbook(BytesIO(sent.document.data))
    sheet = book.worksheets[-1]  # the KPI sheet comes after everything else
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(rows[0]) == 9
    wang = {r[2]: r for r in rows[1:] if r[1] == "王 伟"}
    assert set(wang) == {
        "阶段下载量完成度",
        "签约渠道完成度",
        "报告按期提交率",
        "交办事项按时完成率",
    }
    assert wang["交办事项按时完成率"][3] is None  # no task was due: no number, not a zero
    downloads = wang["阶段下载量完成度"]
    assert downloads[0] == "2026-10" and downloads[3:8] == [3300, 3000, 1.1, 40, 87.5]
    assert wang["报告按期提交率"][3:6] == [0.7, 1, 0.7]
    assert {r[1] for r in rows[1:]} == {"王 伟", "Li Na", rows[-1][1]}  # and the team
    await director.send("/export sometime")
    assert "sometime" in q(director)


def test_an_export_of_a_quarter_also_shows_its_months():
    keys = [p.key for p in periods_in(date(2026, 10, 1), date(2026, 12, 31))]
    assert keys == ["2026-Q4", "2026-10", "2026-11", "2026-12"]
    assert [p.key for p in periods_in(date(2026, 11, 23), date(2026, 11, 29))] == ["2026-W48"]
    odd = periods_in(date(2026, 10, 15), date(2026, 11, 20))  # not one period: its months
    assert [p.key for p in odd] == ["2026-10", "2026-11"]


# ---- periods and values ----------------------------------------------------------------------


PERIOD_WORDS = [
    ("", "2026-11"), ("本月", "2026-11"), ("This Month", "2026-11"), ("month", "2026-11"),
    ("上月", "2026-10"), ("上个月", "2026-10"), ("last month", "2026-10"), ("下个月", "2026-12"),
    ("今天", "2026-11-26"), ("today", "2026-11-26"), ("昨天", "2026-11-25"),
    ("本周", "2026-W48"), ("week", "2026-W48"), ("上周", "2026-W47"), ("LAST WEEK", "2026-W47"),
    ("本季度", "2026-Q4"), ("quarter", "2026-Q4"), ("上季度", "2026-Q3"),
    ("last quarter", "2026-Q3"), ("今年", "2026"), ("本年", "2026"), ("this year", "2026"),
    ("去年", "2025"), ("last year", "2025"),
    ("2026-11-26", "2026-11-26"), ("2026-W48", "2026-W48"), ("2026-w48", "2026-W48"),
    ("2026-11", "2026-11"), ("2026-Q4", "2026-Q4"), ("2026-q1", "2026-Q1"), ("2026", "2026"),
    ("11月", "2026-11"), ("3月", "2026-03"), ("2025年11月", "2025-11"),
    ("2025 年 3 月", "2025-03"), ("１１月", "2026-11"), ("Q4", "2026-Q4"),
    ("第四季度", "2026-Q4"), ("2027年第一季度", "2027-Q1"), ("2025年", "2025"),
    ("Oct", "2026-10"), ("october 2025", "2025-10"), ("11-05", "2026-11-05"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "key"), PERIOD_WORDS)
def test_period_words(text, key):
    assert periods.parse(text, TODAY).key == key


def test_the_default_kind_and_unknown_text():
    assert periods.parse("", TODAY, default="week").key == "2026-W48"
    assert periods.parse("  ", TODAY, default="quarter") == Period.parse("2026-Q4")
    for bad in ("someday", "13月", "Q5", "2026-13", "5", "@wangwei", "本月吧"):
        with pytest.raises(ValueError):
            periods.parse(bad, TODAY)


def test_target_values_as_typed():
    downloads, retention = default_kpi().get("downloads"), default_kpi().get("retention")
    assert parse_value("4,000", downloads) == D(4000)
    assert parse_value("1.2万", downloads) == D(12000)
    assert parse_value("3000次", downloads) == D(3000)
    assert parse_value("40%", retention) == D("0.4")
    assert parse_value("40", retention) == D("0.4")
    assert parse_value("0.4", retention) == D("0.4")
    for bad in ("x", "NaN", "1e5", "40%%", "9" * 20, "40%"):  # a count is not a percentage
        with pytest.raises(KpiInputError):
            parse_value(bad, downloads)


# ---- templates -------------------------------------------------------------------------------

_LINE = Line(HOSTILE, "40", HOSTILE, HOSTILE, "▓░", "50%", "no_data", HOSTILE, False)
_TARGET = dict(kpi=HOSTILE, who=HOSTILE, period=HOSTILE)
# tests/test_i18n.py renders every template in CONTEXTS with hostile input.
CONTEXTS = {
    "kpi_card.html.j2": dict(team=False, name=HOSTILE, period=HOSTILE, lines=[_LINE], score="1",
                             best="120", people=[]),
    "kpi_pick.html.j2": dict(period=HOSTILE, count=2),
    "kpi_error.html.j2": dict(reason="bad_period", text=HOSTILE, command="kpi", name="",
                              mine=False),
    "target_pick_who.html.j2": dict(kpi=HOSTILE),
    "target_pick_period.html.j2": dict(kpi=HOSTILE, who=HOSTILE),
    "target_ask.html.j2": dict(_TARGET, current="3,000", percent=False, reply_needed=True),
    "target_confirm.html.j2": dict(_TARGET, value="4,000"),
    "target_done.html.j2": dict(_TARGET, value="4,000", per_day="190.5", days=21),
    "target_error.html.j2": dict(reason="unknown_kpi", text=HOSTILE, name="", kpi="",
                                 kpis=[HOSTILE], percent=False),
    "export_caption.html.j2": dict(period=HOSTILE),
}  # fmt: skip
NO_USER_INPUT = {"target_pick_kpi.html.j2", "target_cancelled.html.j2"}
VARIANTS = [
    ("kpi_card.html.j2", dict(team=True, score=None, people=[(HOSTILE, "1"), (HOSTILE, None)])),
    ("kpi_card.html.j2", dict(lines=[], people=[], team=True, score=None)),
    ("kpi_card.html.j2", dict(score=None)),
    ("kpi_card.html.j2", dict(best="100")),
    ("kpi_pick.html.j2", dict(count=0)),
    ("target_ask.html.j2", dict(percent=True, reply_needed=False)),
    ("target_done.html.j2", dict(per_day=None)),
    *[("kpi_card.html.j2", dict(lines=[Line(HOSTILE, None, "1", "2", "░", "—", problem, None,
                                            on_plan)]))
      for problem, on_plan in [("no_target", True), ("zero_target", False), ("source_gone", False),
                                (None, False)]],
    *[("kpi_error.html.j2", dict(reason=r, mine=m, name=HOSTILE))
      for r, m in [("no_kpis", True), ("no_kpis", False), ("unknown_person", False)]],
    ("kpi_error.html.j2", dict(reason="no_kpis", name="")),
    *[("target_error.html.j2", dict(reason=r, percent=p, name=HOSTILE, kpi=HOSTILE))
      for r in ("usage", "unknown_person", "not_holder", "bad_period", "expired", "not_positive",
                "bad_value", "not_whole") for p in (False, True)],
]  # fmt: skip


@pytest.mark.parametrize("locale", ["zh", "en"])
@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_every_variant_is_telegram_html(name, variant, locale):
    visible, _ = parse_html(render(name, locale, **(CONTEXTS[name] | variant)))
    assert visible.strip() and HOSTILE not in render(name, locale, **(CONTEXTS[name] | variant))
