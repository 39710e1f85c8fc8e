"""Who sees what people write: the directors' daily "problems and help needed" message, and a
form's `announce` (the directors' compact card, the team group, or nobody). Decision 56."""

import pytest
import time_machine
from pydantic import ValidationError
from sqlalchemy import select
from support import TEAM_GROUP, local, make_staff

from bot.forms.spec import FormSpec
from bot.models import Outbox
from jobs.tick import tick

LONG_PROBLEM = "万科物业要求先在业主群试点，需要公司出具授权函并提供三十份海报，" * 3
HEADING = "问题与需要的支持"


def daily(problem: str | None) -> str:
    """A one-message daily report, with or without a problem raised."""
    lines = ["/daily", "新增入库渠道数：0", "洽谈中的渠道数：1", "今日签约数：0",
             "今日交付上线数：0", "渠道带来的下载量：10", "渠道带来的注册量：5"]  # fmt: skip
    if problem is not None:
        lines.append(f"问题与支持：{problem}")
    lines.append("下一个工作日计划：跟进万科")
    return "\n".join(lines)


@pytest.fixture
async def team(app, sim, sessions, director, channel_manager, user_ops_manager):
    """王 伟 and Li Na (English) file the daily channel report; the team group is bound."""
    with time_machine.travel(local("2026-11-23 09:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await make_staff(sessions, user_ops_manager, "channel")
        for person in (director, channel_manager, user_ops_manager):
            await person.send("/start")
        group = sim.group(id=TEAM_GROUP, title="运营部")
        await sim.add_bot_to_group(group, by=director)
        await director.send("/bind", chat=group)
    return sim


async def file(app, person, text: str, when: str, submit: str = "✅ 提交") -> None:
    with time_machine.travel(local(when), tick=True):
        await tick(app.bot_data, app.bot)
        await person.send(text)
        await person.press(person.inbox[-1], submit)


async def digest_at(app, when: str) -> None:
    with time_machine.travel(local(when), tick=False):
        await tick(app.bot_data, app.bot)


def problems(person) -> list:
    return [m for m in person.inbox if HEADING in m.plain or "Problems and help" in m.plain]


async def test_a_problem_raised_reaches_the_directors_next_daily_digest_by_name(
    app, team, director, channel_manager
):
    await file(app, channel_manager, daily(LONG_PROBLEM), "2026-11-26 17:00")
    assert not problems(director)  # nothing until the digest
    await digest_at(app, "2026-11-26 18:30:20")
    await digest_at(app, "2026-11-26 18:45:00")  # once a day, however many ticks
    [message] = problems(director)
    lines = message.plain.splitlines()
    assert lines[0] == "🆘 问题与需要的支持 · 2026年11月26日（周四）"
    assert "• 王 伟：" + LONG_PROBLEM[:60] + "…" in lines  # clipped on the message
    # … and whole one tap away.
    [button] = [b for row in message.buttons for b in row]
    assert button.text == "📄 王 伟全文"
    await director.press(message, button.text)
    assert director.inbox[-1].plain == "📄 问题与支持\n" + LONG_PROBLEM
    # Not in the team group: the group's digest names who filed, not what they need.
    assert not any(HEADING in m.plain for m in team.messages(TEAM_GROUP))


async def test_two_people_raise_problems_one_message_names_both(
    app, team, director, channel_manager, user_ops_manager
):
    await file(app, channel_manager, daily("需要海报"), "2026-11-26 16:00")
    await file(app, user_ops_manager, daily("缺少授权函"), "2026-11-26 17:00", "✅ Submit")
    await digest_at(app, "2026-11-26 18:30:20")
    [message] = problems(director)
    assert "• Li Na：缺少授权函" in message.plain and "• 王 伟：需要海报" in message.plain
    assert not message.buttons  # nothing clipped


async def test_nobody_raised_anything_no_message(app, team, director, channel_manager):
    await file(app, channel_manager, daily(None), "2026-11-26 17:00")
    before = len(team.messages(TEAM_GROUP))
    await digest_at(app, "2026-11-26 18:30:20")
    assert len(team.messages(TEAM_GROUP)) == before + 1  # the group's digest still goes
    assert not problems(director)


async def test_a_late_report_is_in_the_next_days_message_with_its_day(
    app, team, director, channel_manager
):
    await digest_at(app, "2026-11-26 18:30:20")  # Thursday: 王 伟 has not filed yet
    await file(app, channel_manager, daily("需要海报"), "2026-11-27 09:00")  # Thursday's, late
    await digest_at(app, "2026-11-27 18:30:20")
    [message] = problems(director)
    assert "11月27日" in message.plain.splitlines()[0]
    assert "王 伟 · 2026年11月26日（周四）：需要海报" in message.plain


RESEARCH = """/research
调研类别：核心用户
题目：沈阳物业用户缴费习惯
调研结论与分析：{findings}"""


def announce_research(app, *readers: str) -> None:
    """The research report's `announce`, as a deployment's config would set it."""
    settings = app.bot_data.settings
    research = settings.reports.form("research").model_copy(update={"announce": readers})
    forms = tuple(research if f.key == "research" else f for f in settings.reports.forms)
    reports_cfg = settings.reports.model_copy(update={"forms": forms})
    app.bot_data.settings = settings.model_copy(update={"reports": reports_cfg})


def research_cards(person) -> list:
    return [m for m in person.inbox if m.plain.startswith("📊") and "调研报告" in m.plain]


@pytest.fixture
async def researcher(app, sessions, team, sim):
    """A new-media manager who files research reports."""
    media = sim.user(id=2004, first_name="赵", last_name="敏", language_code="zh")
    with time_machine.travel(local("2026-11-23 09:00"), tick=True):
        await make_staff(sessions, media, "new_media")
        await media.send("/start")
    return media


async def test_directors_get_a_compact_card_the_group_nothing(app, team, director, researcher):
    announce_research(app, "directors")
    group_before = len(team.messages(TEAM_GROUP))
    findings = "七成用户在月初缴费，" * 10
    await file(app, researcher, RESEARCH.format(findings=findings), "2026-11-26 10:00")
    [card] = research_cards(director)
    lines = card.plain.splitlines()
    assert lines[:2] == ["📊 调研报告 · 2026年11月26日（周四）", "提交人：赵 敏"]
    assert "调研结论与分析：" + findings[:60] + "…" in lines
    assert not any(line.startswith("建议") for line in lines)  # unanswered: not on the card
    assert len(lines) == 6  # two lines of heading, a blank, the three answers
    [button] = [b for row in card.buttons for b in row]
    await director.press(card, button.text)
    assert director.inbox[-1].plain == "📄 调研结论与分析\n" + findings
    assert len(team.messages(TEAM_GROUP)) == group_before


async def test_a_form_for_the_group_is_posted_there_not_to_the_directors(
    app, team, director, researcher
):
    announce_research(app, "group")
    group_before = len(team.messages(TEAM_GROUP))
    await file(app, researcher, RESEARCH.format(findings="月初缴费"), "2026-11-26 10:00")
    assert len(team.messages(TEAM_GROUP)) == group_before + 1
    assert "调研报告" in team.messages(TEAM_GROUP)[-1].plain
    assert not research_cards(director)


async def test_a_form_for_nobody_sends_no_message_at_all(app, team, sessions, director, researcher):
    announce_research(app)
    group_before = len(team.messages(TEAM_GROUP))
    await file(app, researcher, RESEARCH.format(findings="月初缴费"), "2026-11-26 10:00")
    assert "已提交" in researcher.inbox[-1].plain
    assert len(team.messages(TEAM_GROUP)) == group_before
    assert not research_cards(director)
    async with sessions() as s:
        assert not (await s.scalars(select(Outbox).where(Outbox.dedup_key.like("report:%")))).all()


def test_the_shipped_forms_say_who_reads_them():
    from bot.forms.spec import default_reports

    forms = {f.key: f for f in default_reports().forms}
    assert forms["daily_channel"].announce == ()  # the digest carries it
    assert [f.key for f in forms["daily_channel"].fields if f.problems] == ["problems"]
    assert forms["weekly_feedback"].announce == ("directors", "group")
    assert forms["weekly_media"].announce == ("directors",)


def test_visibility_config_is_checked():
    field = {"key": "p", "type": "longtext", "label": {"zh": "问题", "en": "Problems"}}
    base = {"key": "f", "name": {"zh": "表", "en": "F"}, "command": "f", "roles": ["channel"]}
    with pytest.raises(ValidationError, match="names a reader twice"):
        FormSpec.model_validate(base | {"cadence": "daily", "fields": [field],
                                        "announce": ["group", "group"]})  # fmt: skip
    with pytest.raises(ValidationError, match="daily forms only"):
        FormSpec.model_validate(
            base | {"cadence": "weekly", "fields": [field | {"problems": True}]}
        )
    with pytest.raises(ValidationError, match="only text fields"):
        number = field | {"type": "int", "problems": True}
        FormSpec.model_validate(base | {"cadence": "daily", "fields": [number]})
    with pytest.raises(ValidationError):
        FormSpec.model_validate(base | {"cadence": "daily", "fields": [field],
                                        "announce": ["everyone"]})  # fmt: skip
