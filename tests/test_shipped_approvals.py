"""The four approvable kinds the rules ask for, as shipped in bot/forms/defaults.toml, end to
end through the simulator: an expense claim with receipts through two steps drawing on the
expenses pool, a content review with a second step for features, a research plan whose
results are asked after its end date, a suggestion answered 采纳 / 已阅存档 / 不采纳."""

from datetime import date

import pytest
import time_machine
from sqlalchemy import select
from support import local, make_staff

from bot.calendar import Period
from bot.models import ApprovalRequest, BudgetCharge
from bot.render import render
from bot.services import budgets, digests
from bot.simulator.samples import png

pytestmark = pytest.mark.databases
TEAM_GROUP = -9181


@pytest.fixture
def thursday():
    with time_machine.travel(local("2026-11-26 10:00"), tick=True) as traveller:
        yield traveller


@pytest.fixture
async def people(app, sim, sessions, thursday, director, channel_manager):
    """王伟 (channel) claims and suggests, 赵敏 (new media) reviews content and plans research,
    孙丽 (content) writes, 陈静 (@finance) reviews claims over ¥5,000, 张总 directs."""
    zhao = sim.user(id=2004, first_name="赵", last_name="敏", username="zhaomin",
                    language_code="zh")  # fmt: skip
    sun = sim.user(id=2006, first_name="孙", last_name="丽", username="sunli", language_code="zh")
    chen = sim.user(id=2008, first_name="陈", last_name="静", username="finance",
                    language_code="zh")  # fmt: skip
    await make_staff(sessions, channel_manager, "channel")
    await make_staff(sessions, zhao, "new_media")
    await make_staff(sessions, sun, "content")
    await make_staff(sessions, chen, "user_ops")
    for person in (director, channel_manager, zhao, sun, chen):
        await person.send("/start")
    group = sim.group(id=TEAM_GROUP, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)
    return type("People", (), dict(wang=channel_manager, zhao=zhao, sun=sun, chen=chen,
                                   zhang=director, group=group))  # fmt: skip


def card_of(person):
    """The newest message of `person` with decision buttons (a card, or a photo carrying one)."""
    return next(m for m in reversed(person.inbox) if any(
        b.callback_data and b.callback_data.startswith("apr:v1:") for r in m.buttons for b in r
    ))  # fmt: skip


def q(person) -> str:
    return person.inbox[-1].plain


async def the_request(sessions) -> ApprovalRequest:
    async with sessions() as s:
        return await s.scalar(select(ApprovalRequest).order_by(ApprovalRequest.id.desc()))


async def claim(person, purpose: str, amount: str, photos: int = 1) -> None:
    """/expense in one message, then the receipts, then ✅ 提交."""
    await person.send(
        f"/expense\n费用用途：{purpose}\n金额（元）：{amount}\n发生日期：2026-11-25\n预算科目：日常费用"
    )
    assert "收据" in q(person), q(person)
    for n in range(photos):
        await person.send_photo(png(640 + n, 480), filename=f"receipt{n}.jpg")
    # Named after the question's first part: 收据/发票 would read as a folder in a file name.
    assert f"已收到 {photos} 张：收据1.jpg" in q(person), q(person)
    await person.press(person.inbox[-1], "✅ 完成")
    review = person.inbox[-1]
    assert purpose in review.plain and "照片" in review.plain, review.plain
    await person.press(review, "✅ 提交")


async def test_an_expense_claim_with_receipts_goes_through_two_steps_and_charges_the_pool(
    app, sim, sessions, people
):
    await people.zhang.send("/budget 费用 2026-11 8000")
    expenses = budgets.find(app.bot_data.settings.budgets.pools, "expenses")

    await claim(people.wang, "沈阳渠道推介会场地费", "6800", photos=1)
    first = card_of(people.zhang)
    assert first.photo is not None  # the receipt carries the card as its caption
    assert "第 1/2 步：运营总监审批" in first.plain and "¥6,800.00" in first.plain
    assert "费用预算（2026年11月）" in first.plain and "剩余 ¥8,000.00" in first.plain
    assert "本单 ¥6,800.00" in first.plain and "⚠️" not in first.plain
    async with sessions() as s:
        held = await s.scalar(select(BudgetCharge))
    assert (held.state, held.amount_fen) == ("held", 680_000)

    await people.zhang.press(first, "✅ 批准")
    second = card_of(people.chen)
    assert second.photo is not None and "第 2/2 步：财务复核" in second.plain
    assert "运营总监审批" in second.plain and "张 总" in second.plain
    await people.chen.press(second, "✅ 批准")

    request = await the_request(sessions)
    assert request.status == "approved"
    assert "已批准" in q(people.wang)
    async with sessions() as s:
        view = await budgets.remainder(s, expenses, "2026-11")
    assert (view.charged, view.pending, view.left) == (680_000, 0, 120_000)


async def test_a_claim_over_what_is_left_is_flagged_and_a_rejection_releases_it(
    app, sessions, people
):
    await people.zhang.send("/budget 费用 2026-11 1000")
    await claim(people.wang, "物料印刷", "1500", photos=2)
    card = card_of(people.zhang)  # two receipts: the card first, the album after it
    assert card.photo is None and "第 1/1 步：运营总监审批" in card.plain
    assert "超出 ¥500.00 ⚠️" in card.plain
    photos = [m for m in people.zhang.inbox if m.photo is not None]
    assert len(photos) == 2
    await people.zhang.press(card, "✖ 驳回")
    await people.zhang.send("超预算，下月再报")
    assert (await the_request(sessions)).status == "rejected"
    assert "超预算，下月再报" in q(people.wang)
    async with sessions() as s:
        assert await s.scalar(select(BudgetCharge)) is None  # released


async def test_content_review_takes_a_second_step_for_features_and_then_asks_for_the_link(
    app, sim, sessions, people
):
    body = "冬季缴费指南：三步完成线上缴费。"
    await people.sun.send(
        f"/review\n标题：冬季缴费指南\n内容类型：专题\n发布平台：公众号、APP\n正文或链接：{body}\n"
        "计划发布日期：2026-11-30"
    )
    await people.sun.press(people.sun.inbox[-1], "✅ 提交")
    first = card_of(people.zhao)
    assert "第 1/2 步：新媒体经理审核" in first.plain and body in first.plain
    await people.zhao.press(first, "✅ 批准")
    second = card_of(people.zhang)
    assert "第 2/2 步：运营总监审核" in second.plain
    await people.zhang.press(second, "✅ 批准")
    assert (await the_request(sessions)).status == "approved"
    assert "链接" in q(people.sun)  # the published link is asked for next


async def test_an_article_needs_only_the_new_media_managers_review(app, sessions, people):
    await people.sun.send(
        "/review\n标题：小区物业缴费提醒\n内容类型：图文\n发布平台：公众号\n正文或链接：https://mp.example.com/d/1\n"
        "计划发布日期：2026-11-30"
    )
    await people.sun.press(people.sun.inbox[-1], "✅ 提交")
    assert "第 1/1 步：新媒体经理审核" in card_of(people.zhao).plain
    request = await the_request(sessions)
    assert [s["who"] for s in request.steps["steps"]] == ["role:new_media"]


async def test_a_suggestion_is_adopted_noted_or_declined_with_a_reply_the_proposer_reads(
    app, sessions, people
):
    replies = {"✅ 采纳": ("采纳。", "下周一起试行"), "📝 已阅存档": ("已阅", "先存档，Q1 再议"),
               "✖ 不采纳": ("未被采纳", "与现有流程冲突")}  # fmt: skip
    for button, (said, reply) in replies.items():
        await people.wang.send(
            f"/suggest\n建议标题：渠道周报改为表格 {button}\n方面：工作流程\n"
            "现状与问题：周报格式不统一\n建议内容：统一用表格模板\n预期效果：汇总省一半时间"
        )
        await people.wang.press(people.wang.inbox[-1], "✅ 提交")
        card = card_of(people.zhang)
        assert card.labels[-3:] == ["✅ 采纳", "📝 已阅存档", "✖ 不采纳"]
        await people.zhang.press(card, button)
        assert "回复" in q(people.zhang)
        await people.zhang.send(reply)
        told = q(people.wang)
        assert said in told and f"回复：{reply}" in told, told
    async with sessions() as s:
        statuses = list(
            await s.scalars(select(ApprovalRequest.status).order_by(ApprovalRequest.id))
        )
    assert statuses == ["approved", "noted", "rejected"]

    # The month's digest counts them.
    settings, month = app.bot_data.settings, Period.containing("month", date(2026, 11, 26))
    async with sessions() as s:
        digest = await digests.period_digest(
            s, settings, app.bot_data.calendar, "monthly", month, local("2026-12-01 09:00")
        )
    text = render("digest_period.html.j2", "zh", digest=digest, period_label="2026年11月",
                  show_scores=False)  # fmt: skip
    assert "合理化建议" in text
    assert "本月提出 3 条：采纳 1 · 已阅存档 1 · 不采纳 1 · 待答复 0" in text


async def test_a_published_pieces_figures_count_in_the_content_kpi(app, sessions, people):
    await people.sun.send(
        "/figures\n内容标题：冬季缴费指南\n阅读/播放量：5200\n点赞：80\n转发/分享：30\n新增粉丝：45"
    )
    await people.sun.press(people.sun.inbox[-1], "✅ 提交")
    await people.sun.send("/kpi")
    card = q(people.sun)
    assert "发布内容阅读量 · 权重 30\n实际 5,200 次" in card, card
