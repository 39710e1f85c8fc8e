"""The new-media and content-planning managers' weekly reports, and the ad-hoc research report,
end to end: owed, reminded, filed, announced, scored."""

import pytest
import time_machine
from sqlalchemy import select
from support import TEAM_GROUP, local, make_staff

from bot.models import Metric, Obligation, Report
from jobs.tick import tick

MEDIA = """/media
各平台数据：公众号 5 12000 300 15000 8000 1200 95 朋友圈转发
微博 3 4000 120
下周选题：夏季用电安全专题
行业与竞品动态：标杆账号开始做电费科普"""

CONTENT = """/content
Written this week: Soft article / Pay your bill in one tap
Product copy / https://example.com/app
Industry bulletin / Liaoning tariffs in December
Industry bulletin: Liaoning adjusts the tariff for property companies from 1 December.
Plan for next week: two soft articles"""

RESEARCH = """/research
调研类别：核心用户
题目：沈阳物业用户缴费习惯
调研结论与分析：七成用户在月初缴费
建议：月初推送缴费提醒"""


@pytest.fixture
def media_manager(sim):
    return sim.user(
        id=2004, first_name="赵", last_name="敏", username="zhaomin", language_code="zh"
    )


@pytest.fixture
def content_manager(sim):
    return sim.user(id=2005, first_name="Chen", last_name="Jing", language_code="en")


@pytest.fixture
async def writers(app, sessions, director, media_manager, content_manager):
    """Both managers on the team from Monday 23 November; the director started."""
    with time_machine.travel(local("2026-11-23 09:00"), tick=True):
        await make_staff(sessions, media_manager, "new_media")
        await make_staff(sessions, content_manager, "content")
        for person in (director, media_manager, content_manager):
            await person.send("/start")
    return media_manager, content_manager


async def at(app, when: str) -> None:
    with time_machine.travel(local(when), tick=False):
        await tick(app.bot_data, app.bot)


def nags(person) -> list[str]:
    return [m.plain for m in person.inbox if m.plain[:1] in "⏰⚠🔔"]


async def _metrics(sessions, form_key: str) -> dict[str, int]:
    async with sessions() as s:
        rows = await s.scalars(select(Metric).where(Metric.form_key == form_key))
        return {m.field_key: int(m.value) for m in rows}


async def test_both_managers_owe_a_weekly_and_are_reminded_before_it_is_due(app, sessions, writers):
    media, content = writers
    await at(app, "2026-11-27 16:30")  # Friday, half an hour before 17:00
    async with sessions() as s:
        owed = {(o.form_key, o.period_key) for o in await s.scalars(select(Obligation))}
    assert owed >= {("weekly_media", "2026-W48"), ("weekly_content", "2026-W48")}
    assert not any(key == "daily_channel" for key, _ in owed)
    [media_nag] = nags(media)
    [content_nag] = nags(content)
    assert "新媒体周报" in media_nag and "/media" in media_nag
    assert "Weekly content report" in content_nag and "/content" in content_nag


async def test_the_new_media_weekly_is_filed_per_platform_and_summed_for_kpis(
    app, sessions, writers, director
):
    media, _ = writers
    with time_machine.travel(local("2026-11-27 15:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await media.send(MEDIA)
        review = media.inbox[-1]
        assert "公众号 5 12,000 300 15,000 8,000 1,200 95 朋友圈转发" in review.plain
        assert "微博 3 4,000 120" in review.plain
        await media.press(review, "✅ 提交")
        filed = media.inbox[-1].plain
        await media.send("/kpi 本周")
        card = media.inbox[-1].plain

    assert "按时提交" in filed
    assert "新媒体周报" in director.inbox[-1].plain and "赵 敏" in director.inbox[-1].plain
    # Each figure is the sum over the platforms; PV, UV, RV only where given.
    assert await _metrics(sessions, "weekly_media") == {
        "published": 8, "reads": 16000, "new_followers": 420,
        "pv": 15000, "uv": 8000, "rv": 1200,
    }  # fmt: skip
    assert "新增粉丝完成度" in card and "420" in card
    assert "阅读量完成度" in card and "16,000" in card
    assert "报告按期提交率" in card


async def test_the_content_weekly_counts_the_pieces_and_keeps_the_bulletin(
    app, sessions, writers, director
):
    _, content = writers
    with time_machine.travel(local("2026-11-27 15:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await content.send(CONTENT)
        review = content.inbox[-1]
        assert "Soft article Pay your bill in one tap" in review.plain
        await content.press(review, "✅ Submit")
        filed = content.inbox[-1].plain
        await content.send("/kpi this week")
        card = content.inbox[-1].plain

    assert "Filed on time" in filed
    assert "内容策划周报" in director.inbox[-1].plain
    assert await _metrics(sessions, "weekly_content") == {"pieces": 3}
    async with sessions() as s:
        report = await s.scalar(select(Report).where(Report.form_key == "weekly_content"))
    assert report.answers["bulletin"].startswith("Liaoning adjusts the tariff")
    assert [p["kind"] for p in report.answers["pieces"]] == [
        "soft_article",
        "product_copy",
        "bulletin",
    ]
    assert "Pieces written vs plan" in card and "Reports filed on time" in card


async def test_a_missed_weekly_counts_against_timeliness(app, sessions, writers):
    media, _ = writers
    for moment in ("2026-11-27 16:30", "2026-11-27 17:05", "2026-11-30 09:31", "2026-11-30 12:05"):
        await at(app, moment)
    async with sessions() as s:
        weekly = await s.scalar(
            select(Obligation).where(
                Obligation.form_key == "weekly_media", Obligation.period_key == "2026-W48"
            )
        )
    assert weekly.status == "missed"
    assert len([n for n in nags(media) if "新媒体周报" in n]) == 3


async def test_a_research_report_is_filed_and_sent_to_the_directors(
    app, sessions, writers, director
):
    media, _ = writers
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await media.send(RESEARCH)
        await media.press(media.inbox[-1], "✅ 提交")
        filed = media.inbox[-1].plain
        card = director.inbox[-1].plain
        # The same day, the command opens that report again: a second version.
        await media.send(RESEARCH.replace("七成", "六成"))
        await media.press(media.inbox[-1], "✅ 提交")
        edited = media.inbox[-1].plain

    assert "调研报告" in filed and "2026年11月26日" in filed
    assert "已提交，谢谢！" in filed and "按时" not in filed
    assert "调研报告" in card and "赵 敏" in card and "七成用户在月初缴费" in card
    assert "版本 2" in edited
    async with sessions() as s:
        [report] = list(await s.scalars(select(Report).where(Report.form_key == "research")))
        owed = list(await s.scalars(select(Obligation).where(Obligation.form_key == "research")))
    assert report.period_key == "2026-11-26" and report.version == 2 and not report.late
    assert report.answers["kind"] == "core_users" and owed == []


async def test_only_its_roles_may_file_the_research_report(app, writers):
    _, content = writers
    await content.send("/research")
    assert "Research report" not in content.inbox[-1].plain


# ---- figures per item: a group's metric sub-fields are summed, a metric group is counted ------


def _platforms(**sub) -> dict:
    figure = {"key": "reads", "type": "int", "label": {"zh": "阅读", "en": "Reads"}, "metric": True}
    name = {"key": "name", "type": "text", "label": {"zh": "平台", "en": "Platform"}}
    return {
        "key": "platforms", "type": "group", "label": {"zh": "平台", "en": "Platforms"},
        "fields": [name, figure | sub],
    }  # fmt: skip


def test_a_sub_field_metric_may_not_share_a_key_with_another_metric():
    from pydantic import ValidationError

    from bot.forms.spec import FormSpec

    reads = {"key": "reads", "type": "int", "label": {"zh": "阅读", "en": "Reads"}, "metric": True}
    base = {"key": "f", "name": {"zh": "表", "en": "F"}, "command": "f", "roles": ["new_media"]}
    with pytest.raises(ValidationError, match="two metrics share a key"):
        FormSpec.model_validate(base | {"cadence": "weekly", "fields": [_platforms(), reads]})
    form = FormSpec.model_validate(base | {"cadence": "weekly", "fields": [_platforms()]})
    assert [(f.key, g.key) for f, g in form.metrics()] == [("reads", "platforms")]


def test_group_figures_sum_what_was_given_and_a_metric_group_counts_its_items():
    from decimal import Decimal

    from bot.forms.fields import group_sum, to_metric
    from bot.forms.spec import FieldSpec

    group = FieldSpec.model_validate(_platforms() | {"metric": True})
    reads = group.fields[1]
    items = [{"name": "a", "reads": 5}, {"name": "b"}, {"name": "c", "reads": 7}]
    assert group_sum(group, reads, items) == Decimal(12)
    assert group_sum(group, reads, [{"name": "a"}]) is None  # nobody gave it: no figure, not 0
    assert group_sum(group, reads, "not a list") is None
    assert to_metric(group, items) == Decimal(3)


async def test_an_ad_hoc_report_goes_where_its_config_says(app, sim, lina, director):
    """A research report configured for the team group (not the directors) is posted there."""
    settings = app.bot_data.settings
    research = settings.reports.form("research").model_copy(update={"announce": ("group",)})
    forms = tuple(research if f.key == "research" else f for f in settings.reports.forms)
    reports_cfg = settings.reports.model_copy(update={"forms": forms})
    app.bot_data.settings = settings.model_copy(update={"reports": reports_cfg})
    before = len(sim.messages(TEAM_GROUP))
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await director.send(RESEARCH)
        await director.press(director.inbox[-1], "✅ 提交")
    group = sim.messages(TEAM_GROUP)
    assert "已提交，谢谢！" in director.inbox[-1].plain
    assert len(group) == before + 1 and "调研报告" in group[-1].plain
    assert "七成用户在月初缴费" in group[-1].plain
