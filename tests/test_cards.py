"""Report and plan cards fit a phone: one field a line, long answers clipped, a button for all."""

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select
from support import TZ, local, make_staff

from bot.models import AuditLog as Audit
from bot.models import Draft, Report
from jobs.tick import tick

LONG_PLAN = "拜访华润物业沈阳总部，" * 12  # 132 characters
DAILY = f"""/daily
新增入库渠道数：2
洽谈中的渠道数：3
今日签约数：1
今日交付/上线数：0
渠道带来的下载量：1.2万
渠道带来的注册量：800
遇到的问题 / 需要的支持：物业
群里推广
需要海报
下一个工作日计划：{LONG_PLAN}"""


@pytest.fixture
async def wang(app, sim, sessions, channel_manager, director, user_ops_manager):
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await make_staff(sessions, user_ops_manager, "user_ops")
        await director.send("/start")
        await channel_manager.send("/start")
        await tick(app.bot_data, app.bot)
        yield channel_manager


async def test_the_daily_summary_card_fits_twenty_lines_one_field_a_line(wang):
    await wang.send(DAILY)  # the old long labels still parse
    card = wang.inbox[-1]
    lines = card.plain.splitlines()
    assert len(lines) <= 20, card.plain
    assert "渠道带来的下载量：12,000" in lines
    assert "问题与支持：物业 群里推广 需要海报" in lines  # one line on the card
    [plan] = [line for line in lines if line.startswith("下一个工作日计划：")]
    assert plan == "下一个工作日计划：" + LONG_PLAN[:60] + "…"  # 60 characters, then …


async def test_the_whole_text_button_sends_the_answer_as_filed(sessions, wang):
    await wang.send(DAILY)
    card = wang.inbox[-1]
    [button] = [b for row in card.buttons for b in row if b.text.startswith("📄")]
    assert button.text == "📄 下一个工作日计划全文"
    assert len(button.callback_data.encode()) <= 64
    await wang.press(card, button.text)
    assert wang.inbox[-1].plain == "📄 下一个工作日计划\n" + LONG_PLAN
    await wang.press(wang.inbox[-2], "✅ 提交")  # the filed card has the button too
    filed = wang.inbox[-2]
    assert [b.text for row in filed.buttons for b in row] == ["📄 下一个工作日计划全文"]
    async with sessions() as s:
        assert (await s.scalar(select(Report))).answers["plan"] == LONG_PLAN


async def test_someone_elses_or_a_forged_whole_text_button_is_refused(
    sessions, wang, user_ops_manager
):
    await wang.send(DAILY)
    async with sessions() as s:
        draft = await s.scalar(select(Draft))
    await user_ops_manager.send("/help")
    mine = user_ops_manager.inbox[-1]
    for data in (f"tx:v1:d:{draft.id}:plan", "tx:v1:d:99:plan", "tx:v1:x:1:plan",
                 f"tx:v1:d:{draft.id}:nope", "tx:v1:d:1:plan:extra"):  # fmt: skip
        before = len(user_ops_manager.inbox)
        answer = await user_ops_manager.press_data(mine.message_id, mine.chat_id, data)
        assert answer.show_alert
        assert len(user_ops_manager.inbox) == before  # nothing of 王伟's report was sent
    async with sessions() as s:
        audits = list(await s.scalars(select(Audit).where(Audit.action == "button.unknown")))
    assert len(audits) == 5


async def test_the_director_reads_a_plan_in_full_once_per_decision_round(
    app, sim, sessions, channel_manager, director
):
    from test_activity_flow import PLAN

    with time_machine.travel(datetime(2026, 11, 26, 2, 0, tzinfo=UTC), tick=True):
        await make_staff(sessions, channel_manager, "activity")
        await director.send("/start")
        await channel_manager.send(PLAN)  # the old long labels still parse
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")
        card = director.inbox[-1]
        assert "量化指标：下载量 5,000 次" in card.plain and "活动形式：线上" in card.plain
        await director.press(card, "✏️ 要求修改")
        await director.send("预算太高")
        await channel_manager.send("/activity")
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")  # version 2, unchanged
        await director.press(director.inbox[-1], "✅ 批准")

    texts = [sim.message(m.chat_id, m.message_id).plain for m in director.inbox]
    in_full = [t for t in texts if "活动目的：拉新促活" in t]
    assert len(in_full) == 0  # both decided cards now show the title and the outcome only
    decided = [t for t in texts if "活动方案 #1" in t]
    assert len(decided) == 2 and "已要求修改" in decided[0] and "已由 张 总 批准" in decided[1]
    assert all("活动主题：周末缴费送积分" in t and "预算 ¥3,000.00" in t for t in decided)
    assert all(len(t.splitlines()) <= 9 for t in decided)  # the full card: every field


async def test_a_plans_long_answer_is_read_whole_by_the_director_not_by_a_colleague(
    app, sim, sessions, channel_manager, director, user_ops_manager
):
    from test_activity_flow import PLAN

    purpose = "拉新促活，" * 20  # 100 characters
    with time_machine.travel(datetime(2026, 11, 26, 2, 0, tzinfo=UTC), tick=True):
        await make_staff(sessions, channel_manager, "activity")
        await make_staff(sessions, user_ops_manager, "user_ops")
        await director.send("/start")
        await channel_manager.send(PLAN.replace("活动目的：拉新促活", f"活动目的：{purpose}"))
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")
        card = director.inbox[-1]
        [button] = [b for row in card.buttons for b in row if b.text.startswith("📄")]
        assert button.text == "📄 活动目的全文" and len(button.callback_data.encode()) <= 64
        await director.press(card, button.text)
        assert director.inbox[-1].plain == "📄 活动目的\n" + purpose
        assert "✅ 批准" in card.labels  # the card and its decision buttons stay as they were

        await user_ops_manager.send("/help")
        mine = user_ops_manager.inbox[-1]
        before = len(user_ops_manager.inbox)
        answer = await user_ops_manager.press_data(
            mine.message_id, mine.chat_id, button.callback_data
        )
    assert answer.show_alert and len(user_ops_manager.inbox) == before


async def test_a_report_filed_before_labels_were_kept_is_read_whole_with_todays_labels(
    app, sessions, wang
):
    from bot import clock
    from bot.models import Staff
    from bot.services import fulltext

    async with sessions() as s, s.begin():
        me = await s.scalar(select(Staff).where(Staff.telegram_id == wang.id))
        report = Report(staff_id=me.id, form_key="daily_channel", period_key="2026-11-25",
                        answers={"plan": LONG_PLAN}, fields={}, filed_at=clock.now(),
                        updated_at=clock.now())  # fmt: skip
        s.add(report)
        await s.flush()
        today = clock.now().astimezone(TZ).date()
        cfg = app.bot_data.settings.reports
        found = await fulltext.answer(s, me, "r", report.id, "plan", cfg, today)
    assert found == ("下一个工作日计划", LONG_PLAN)
