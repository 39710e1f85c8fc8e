"""After an approval (issue 18, decision 63): the published link asked of the proposer, the
content's figures N working days later (counted by the KPIs), a research's results after its end
date — asked, reminded once per step, closed by the answer, through the simulator."""

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select, update
from support import another_process, local, make_staff
from test_approvals import TEAM_GROUP, with_forms

from bot.calendar import Period
from bot.kpis.spec import KpiConfig, KpiSpec
from bot.models import ApprovalFollowup, ApprovalRequest, Outbox
from bot.services import kpi as kpi_service
from bot.services import staff as staff_service
from bot.services.approval_followups import FollowupStatus
from jobs.tick import tick

pytestmark = pytest.mark.databases

TZ = ZoneInfo("Asia/Shanghai")
CONTENT = {
    "key": "content_check",
    "command": "review",
    "name": {"zh": "内容发布审核", "en": "Content review"},
    "roles": ["channel"],
    "cadence": "adhoc",
    "target": "approval",
    "fields": [
        {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"}},
        {"key": "platform", "type": "text", "label": {"zh": "平台", "en": "Platform"}},
    ],
    "approval": {
        "steps": [{"who": "directors", "name": {"zh": "运营总监", "en": "Operations director"}}],
        "after": {
            "announce": "group",
            "ask_link": True,
            "figures_after_days": 2,
            "figures_form": "piece_figures",
        },
    },
}
FIGURES = {
    "key": "piece_figures",
    "command": "figures",
    "name": {"zh": "内容数据", "en": "Content figures"},
    "roles": ["channel"],
    "cadence": "adhoc",
    "fields": [
        {"key": "title", "type": "text", "label": {"zh": "标题", "en": "Title"},
         "prefill": "approval:title"},
        {"key": "reads", "type": "int", "metric": True, "min": 0,
         "label": {"zh": "阅读量", "en": "Reads"}},
        {"key": "likes", "type": "int", "metric": True, "min": 0,
         "label": {"zh": "点赞", "en": "Likes"}},
        {"key": "shares", "type": "int", "metric": True, "min": 0,
         "label": {"zh": "转发", "en": "Shares"}},
        {"key": "new_followers", "type": "int", "metric": True, "min": 0,
         "label": {"zh": "新增粉丝", "en": "New followers"}},
    ],
}  # fmt: skip
RESEARCH = {
    "key": "survey_plan",
    "command": "survey",
    "name": {"zh": "调研计划", "en": "Research plan"},
    "roles": ["channel"],
    "cadence": "adhoc",
    "target": "approval",
    "fields": [
        {"key": "subject", "type": "text", "label": {"zh": "调研主题", "en": "Subject"}},
        {"key": "end_date", "type": "date", "label": {"zh": "结束日期", "en": "End date"}},
    ],
    "approval": {
        "steps": [{"who": "directors", "name": {"zh": "运营总监", "en": "Operations director"}}],
        "after": {"results_after": "end_date", "results_form": "survey_results"},
    },
}
RESULTS = {
    "key": "survey_results",
    "command": "surveydone",
    "name": {"zh": "调研结果", "en": "Research results"},
    "roles": ["channel"],
    "cadence": "adhoc",
    "fields": [
        {"key": "subject", "type": "text", "label": {"zh": "调研主题", "en": "Subject"},
         "prefill": "approval:title"},
        {"key": "findings", "type": "longtext", "label": {"zh": "结论", "en": "Findings"}},
    ],
}  # fmt: skip
READS = KpiSpec(
    key="reads_all",
    name={"zh": "阅读量", "en": "Reads"},
    roles=("channel",),
    source="metric",
    form="weekly_media",
    also_forms=("piece_figures",),
    field="reads",
    target=Decimal(1000),
    weight=Decimal(10),
)

_H = "<zz>&"
CONTEXTS = {
    "approval_followup_ask.html.j2": dict(kind="figures", title=_H, form=_H, command="figures",
                                          reminder=True),
    "approval_followup_done.html.j2": dict(kind="link", title=_H, figures_days=2,
                                           next_title=_H),
    "approval_published.html.j2": dict(title=_H, url="https://example.com/?a=1&b=<2>",
                                       proposer=_H),
}  # fmt: skip
NO_USER_INPUT = {"approval_followup_error.html.j2"}


@pytest.fixture
def settings(settings):
    return with_forms(settings, CONTENT, FIGURES, RESEARCH, RESULTS)


@pytest.fixture
async def people(app, sim, sessions, director, channel_manager):
    """王伟 proposes (channel), 张总 (1001) decides, the group is bound; Thursday 26 November."""
    with time_machine.travel(local("2026-11-26 10:00"), tick=False):
        await make_staff(sessions, channel_manager, "channel")
        for person in (director, channel_manager):
            await person.send("/start")
        group = sim.group(id=TEAM_GROUP, title="运营部")
        await sim.add_bot_to_group(group, by=director)
        await director.send("/bind", chat=group)
    return SimpleNamespace(wang=channel_manager, zhang=director, group=group)


async def at(app, when: str) -> None:
    with time_machine.travel(local(when), tick=False):
        await tick(app.bot_data, app.bot)


async def file_and_approve(people, command: str, lines: str, when: str) -> None:
    with time_machine.travel(local(when), tick=False):
        await people.wang.send(f"/{command}\n{lines}")
        await people.wang.press(people.wang.inbox[-1], "✅ 提交")
        card = people.zhang.inbox[-1]
        await people.zhang.press(card, "✅ 批准")


async def followups(sessions) -> dict[str, ApprovalFollowup]:
    async with sessions() as s:
        return {f.kind: f for f in await s.scalars(select(ApprovalFollowup))}


async def keep_prefilled(person) -> None:
    """Keep the pre-filled answer of the question just asked (the request's title)."""
    question = person.inbox[-1]
    keep = [b.text for row in question.buttons for b in row if b.text.startswith("✔")]
    assert keep, question.plain
    await person.press(question, keep[0])


def texts(person) -> list[str]:
    return [m.plain for m in person.inbox]


# ---- the published link -----------------------------------------------------------------------


async def test_the_link_is_asked_refused_unless_a_link_and_kept(app, sim, sessions, people):
    await file_and_approve(people, "review", "标题：冬季推广长文\n平台：公众号", "2026-11-26 10:00")
    asked = people.wang.inbox[-1].plain
    assert "冬季推广长文" in asked and "链接" in asked and "http" in asked

    with time_machine.travel(local("2026-11-26 11:00"), tick=False):
        await people.wang.send("明天发")
        assert (
            "不是链接" in people.wang.inbox[-1].plain and "https://" in people.wang.inbox[-1].plain
        )
        assert (await followups(sessions))["link"].status == FollowupStatus.ASKED
        await people.wang.send("https://mp.weixin.qq.com/s/abc?x=1&y=<2>")
    said = people.wang.inbox[-1].plain
    assert "已记下" in said and "2 个工作日" in said
    link = (await followups(sessions))["link"]
    assert link.status == FollowupStatus.DONE
    assert link.answer == {"url": "https://mp.weixin.qq.com/s/abc?x=1&y=<2>"}

    notice = people.zhang.inbox[-1].plain
    assert "已发布：《冬季推广长文》" in notice and "mp.weixin.qq.com/s/abc" in notice
    announced = people.group.messages[-1].plain
    assert "冬季推广长文" in announced and "mp.weixin.qq.com/s/abc" in announced

    with time_machine.travel(local("2026-11-26 11:05"), tick=False):
        await people.wang.send("/mine")
    mine = people.wang.inbox[-1].plain
    assert "冬季推广长文" in mine and "https://mp.weixin.qq.com/s/abc" in mine


async def test_two_links_asked_at_once_are_taken_in_turn(app, sessions, people):
    await file_and_approve(people, "review", "标题：甲文\n平台：公众号", "2026-11-26 10:00")
    await file_and_approve(people, "review", "标题：乙文\n平台：微博", "2026-11-26 10:10")
    with time_machine.travel(local("2026-11-26 11:00"), tick=False):
        await people.wang.send("https://example.com/a")
        assert "现在请发送《乙文》的链接" in people.wang.inbox[-1].plain
        await people.wang.send("https://example.com/b")
    async with sessions() as s:
        rows = await s.execute(
            select(ApprovalRequest.title, ApprovalFollowup.answer)
            .join(ApprovalFollowup, ApprovalFollowup.request_id == ApprovalRequest.id)
            .where(ApprovalFollowup.kind == "link")
        )
        links = {title: answer["url"] for title, answer in rows}
    assert links == {"甲文": "https://example.com/a", "乙文": "https://example.com/b"}


# ---- the figures, N working days after the link ---------------------------------------------


async def give_link(people, when: str) -> None:
    with time_machine.travel(local(when), tick=False):
        await people.wang.send("https://example.com/p/1")


async def test_figures_are_asked_two_working_days_later_across_the_weekend_and_counted(
    app, sim, sessions, people
):
    await file_and_approve(people, "review", "标题：双十二预热\n平台：抖音", "2026-11-27 09:00")
    await give_link(people, "2026-11-27 10:00")  # Friday
    await at(app, "2026-11-30 10:30")  # Monday: one working day only
    assert not any("请填报《双十二预热》" in t for t in texts(people.wang))
    await at(app, "2026-12-01 10:01")  # Tuesday: two working days
    asked = people.wang.inbox[-1].plain
    assert "请填报《双十二预热》" in asked and "/figures" in asked

    with time_machine.travel(local("2026-12-01 11:00"), tick=False):
        await people.wang.send("/figures")
        await keep_prefilled(people.wang)
        for answer in ("1200", "35", "8", "12"):
            await people.wang.send(answer)
        review = people.wang.inbox[-1]
        assert "标题：双十二预热" in review.plain and "阅读量：1,200" in review.plain
        await people.wang.press(review, "✅ 提交")
    assert (await followups(sessions))["figures"].status == FollowupStatus.DONE

    async with sessions() as s:
        wang = await staff_service.by_telegram_id(s, people.wang.id)
        window = kpi_service.Window.of(
            Period.containing("month", date(2026, 12, 1)), TZ, datetime.now(UTC)
        )
        mine, _ = await kpi_service.measure(s, READS, window, [wang.id])
    assert mine[wang.id] == Decimal(1200)

    await at(app, "2026-12-03 10:30")  # filed: no reminder
    assert not any("提醒" in t for t in texts(people.wang))


def test_a_kpi_may_read_a_field_of_several_forms(settings):
    config = KpiConfig(kpis=(READS,))
    assert config.get("reads_all").forms() == ("weekly_media", "piece_figures")
    with pytest.raises(ValueError, match="also_forms"):
        KpiSpec(**{**READS.model_dump(), "source": "channels", "stage": "signed"})


def test_config_refuses_a_followup_form_that_is_not_an_adhoc_report(settings):
    bad = {**CONTENT, "approval": {**CONTENT["approval"], "after": {
        "figures_after_days": 2, "figures_form": "daily_channel"}}}  # fmt: skip
    with pytest.raises(Exception, match="daily_channel"):
        with_forms(settings, bad, FIGURES)
    half = {**CONTENT, "approval": {**CONTENT["approval"], "after": {"figures_after_days": 2}}}
    with pytest.raises(Exception, match="go together"):
        with_forms(settings, half, FIGURES)
    no_date = {**RESEARCH, "approval": {**RESEARCH["approval"], "after": {
        "results_after": "subject", "results_form": "survey_results"}}}  # fmt: skip
    with pytest.raises(Exception, match="date field"):
        with_forms(settings, no_date, RESULTS)


# ---- research results after the end date ------------------------------------------------------


async def test_research_results_are_asked_after_the_end_date_and_close_when_filed(
    app, sim, sessions, people
):
    lines = "调研主题：沈阳商户满意度\n结束日期：2026-12-04"
    await file_and_approve(people, "survey", lines, "2026-11-26 10:00")
    await at(app, "2026-12-04 15:00")  # the last day of the research: not yet
    await at(app, "2026-12-05 10:00")  # Saturday: not a working day
    assert not any("沈阳商户满意度》（调研计划）已结束" in t for t in texts(people.wang))
    await at(app, "2026-12-07 09:31")  # Monday morning
    asked = people.wang.inbox[-1].plain
    assert "《沈阳商户满意度》（调研计划）已结束" in asked and "/surveydone" in asked

    with time_machine.travel(local("2026-12-07 10:00"), tick=False):
        await people.wang.send("/surveydone")
        await keep_prefilled(people.wang)
        await people.wang.send("商户更看重结算速度")
        review = people.wang.inbox[-1]
        assert "调研主题：沈阳商户满意度" in review.plain  # pre-filled with the request's title
        await people.wang.press(review, "✅ 提交")
    assert (await followups(sessions))["results"].status == FollowupStatus.DONE


# ---- reminders: once per step, two processes ticking ------------------------------------------


async def test_reminders_go_once_per_step_with_two_processes_ticking(
    app, sim, settings, engine, sessions, people
):
    lines = "调研主题：渠道回访\n结束日期：2026-11-27"
    await file_and_approve(people, "survey", lines, "2026-11-26 10:00")
    async with another_process(sim, settings, engine) as fresh:
        for when in ("2026-11-30 09:31", "2026-11-30 09:32", "2026-12-01 09:40",
                     "2026-12-01 09:41", "2026-12-03 09:45", "2026-12-04 09:45"):  # fmt: skip
            with time_machine.travel(local(when), tick=False):
                await asyncio.gather(tick(app.bot_data, app.bot), tick(fresh.bot_data, fresh.bot))
    async with sessions() as s:
        keys = sorted(await s.scalars(select(Outbox.dedup_key).where(Outbox.about.like("fu:%"))))
    row = (await followups(sessions))["results"]
    assert keys == [f"fu:{row.id}:ask", f"fu:{row.id}:remind:1", f"fu:{row.id}:remind:2"]
    about = [t for t in texts(people.wang) if "渠道回访" in t and "已结束" in t]
    assert len(about) == 3 and sum("提醒" in t for t in about) == 2


# ---- a request no longer approved, a proposer who left ----------------------------------------


async def test_followups_of_a_request_no_longer_approved_are_cancelled(app, sessions, people):
    lines = "调研主题：竞品调研\n结束日期：2026-11-27"
    await file_and_approve(people, "survey", lines, "2026-11-26 10:00")
    async with sessions() as s, s.begin():
        await s.execute(update(ApprovalRequest).values(status="withdrawn"))
    await at(app, "2026-11-30 09:31")
    assert (await followups(sessions))["results"].status == FollowupStatus.CANCELLED
    assert not any("竞品调研" in t and "已结束" in t for t in texts(people.wang))


async def test_hand_over_moves_what_is_owed_to_the_successor(app, sim, sessions, people):
    from bot.services import handover

    lines = "调研主题：社区推广\n结束日期：2026-11-27"
    await file_and_approve(people, "survey", lines, "2026-11-26 10:00")
    li = sim.user(id=2010, first_name="李", last_name="雷", username="lilei", language_code="zh")
    await make_staff(sessions, li, "channel")
    with time_machine.travel(local("2026-11-26 10:30"), tick=False):
        await li.send("/start")
    async with sessions() as s, s.begin():
        wang = await staff_service.by_telegram_id(s, people.wang.id)
        successor = await staff_service.by_telegram_id(s, li.id)
        for mover in handover.MOVERS:
            await mover(s, wang.id, successor.id, actor=people.zhang.id, tz=TZ)
    await at(app, "2026-11-30 09:31")
    assert any("社区推广" in m.plain and "/surveydone" in m.plain for m in li.inbox)
    assert not any("社区推广" in t and "已结束" in t for t in texts(people.wang))
