"""Tasks through the simulator: /assign in Chinese, the confirmation card, the assignee's and the
assigner's buttons, typed follow-ups, /tasks; double taps, two directors, forged presses."""

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select
from support import another_process, local, make_staff

from bot.models import AuditLog, Outbox, Prompt, Task, TaskEvent
from bot.services import leave
from bot.services import staff as staff_service
from bot.services.tasks import ACCEPT, DONE, SEND

# Monday 7 December 2026, 10:00 in Shanghai.
MONDAY = local("2026-12-07 10:00")
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The assignee's card, as a phone shows its buttons (left to right, top to bottom).
CARD_LABELS = ["✅ 完成", "📝 附说明完成", "🕒 申请延期", "❓ 有疑问", "↩️ 退回"]

# For tests/test_i18n.py: every task template with hostile user input (<zz>&).
_HOSTILE = "<zz>&"
_TASK = SimpleNamespace(
    id=1, title=_HOSTILE, status="open", reason=_HOSTILE, assigner_id=1, assignee_id=2,
    deadline=datetime(2026, 12, 11, 9, tzinfo=UTC), done_at=datetime(2026, 12, 12, tzinfo=UTC),
)  # fmt: skip
_ROW = dict(task=_TASK, due="12月11日（周五）17:00", state="overdue", other=_HOSTILE)
CONTEXTS = {
    "task_confirm.html.j2": dict(task=_TASK, assignee=_HOSTILE, due="x", day_off="12月12日（周六）",
                                 instead="12月11日（周五）", outcome=None),
    "task_card.html.j2": dict(task=_TASK, due="x", assigner=_HOSTILE, assignee=_HOSTILE,
                              event="reopened", by=_HOSTILE, repeat=_HOSTILE),
    "task_notice.html.j2": dict(task=_TASK, event="question", who=_HOSTILE, who_id=1, due="x",
                                asked=None, text=_HOSTILE, outcome="accept", by=_HOSTILE),
    "task_list.html.j2": dict(mine=[_ROW], assigned=[_ROW], me_id=2, repeating=[
        dict(series=SimpleNamespace(title=_HOSTILE, assignee_id=1), repeat=_HOSTILE,
             other=_HOSTILE)]),
    "task_series_confirm.html.j2": dict(
        series=SimpleNamespace(title=_HOSTILE, status="draft"), assignee=_HOSTILE,
        repeat=_HOSTILE, first=_HOSTILE),
    "task_superseded.html.j2": dict(task=_TASK),
    "task_series.html.j2": dict(series=SimpleNamespace(title=_HOSTILE), event="stopped",
                                by=_HOSTILE, repeat=_HOSTILE),
    "task_error.html.j2": dict(reason="unknown_person", handle=_HOSTILE),
    "task_ask.html.j2": dict(task=_TASK, step="postpone_reason", asked=_HOSTILE),
    "task_done.html.j2": dict(task=_TASK, step=None),
    "task_reminder.html.j2": dict(task=_TASK, step="escalate", due="x", days=2,
                                  assignee=_HOSTILE, assigner=_HOSTILE),
}  # fmt: skip
NO_USER_INPUT = {"task_status.html.j2"}


@pytest.fixture
async def team(app, sim, sessions, director, channel_manager):
    """The director (张总, configured) and 王伟 (@wangwei, channel), both started; the clock on
    Monday morning."""
    with time_machine.travel(MONDAY, tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/start")
        yield director, channel_manager


def q(person) -> str:
    return person.inbox[-1].plain


async def _task(sessions) -> Task:
    async with sessions() as s:
        return await s.scalar(select(Task).order_by(Task.id.desc()))


async def _assign_and_send(director, text="/assign @wangwei 整理沈阳物业渠道名单 周五下午5点"):
    await director.send(text)
    card = director.inbox[-1]
    await director.press(card, "✅ 发送")
    return card


async def test_assigned_in_chinese_confirmed_done_and_accepted(team, sessions):
    director, wang = team
    await director.send("/assign @wangwei 整理沈阳物业渠道名单 周五下午5点")
    card = director.inbox[-1]
    assert "王 伟" in card.plain and "整理沈阳物业渠道名单" in card.plain
    assert "12月11日（周五）17:00" in card.plain
    assert card.labels == ["✅ 发送", "✖ 取消"]
    assert len(wang.inbox) == 1  # nothing sent before the confirmation (only /start's welcome)

    await director.press(card, "✅ 发送")
    assert "已发送给 王 伟" in director.inbox[-1].plain and not director.inbox[-1].buttons
    task_card = wang.inbox[-1]
    assert "张 总 交办的新任务" in task_card.plain and "12月11日（周五）17:00" in task_card.plain
    assert task_card.labels == CARD_LABELS

    await wang.press(task_card, "✅ 完成")
    assert "已完成，待验收" in wang.inbox[-1].plain
    notice = director.inbox[-1]
    assert "王 伟 已完成任务 #1" in notice.plain
    await director.press(notice, "✅ 验收通过")
    assert "张 总 已验收任务 #1" in q(wang)
    decided = director.inbox[-1]
    assert "王 伟 已完成任务 #1" in decided.plain and "✅ 张 总 已验收。" in decided.plain
    assert not decided.buttons

    task = await _task(sessions)
    assert task.status == "accepted" and task.accepted_at is not None
    async with sessions() as s:
        kinds = list(await s.scalars(select(TaskEvent.kind).order_by(TaskEvent.id)))
        audited = list(
            await s.scalars(
                select(AuditLog.action).where(AuditLog.action.like("task.%")).order_by(AuditLog.id)
            )
        )
    assert kinds == ["drafted", "sent", "done", "accepted"]
    assert audited == ["task.drafted", "task.sent", "task.done", "task.accepted"]


async def test_cancel_sends_nothing(team, sessions):
    director, wang = team
    await director.send("/assign @wangwei 写周报 明天")
    await director.press(director.inbox[-1], "✖ 取消")
    assert "已取消" in q(director)
    assert (await _task(sessions)).status == "cancelled" and len(wang.inbox) == 1


async def test_a_deadline_on_a_day_off_is_flagged_and_can_move_to_friday(team, sessions):
    director, wang = team
    await director.send("/assign @wangwei 整理名单 12月12日 17:00")
    card = director.inbox[-1]
    assert "12月12日（周六）是休息日，改为12月11日（周五）？" in card.plain
    await director.press(card, "📅 改到工作日")
    assert "12月11日（周五）17:00" in q(director)
    await director.press(director.inbox[-1], "✅ 发送")
    assert "12月11日（周五）17:00" in q(wang)


async def test_a_postponement_approved_and_one_refused(team, sessions, sim):
    director, wang = team
    await _assign_and_send(director)
    await wang.press(wang.inbox[-1], "🕒 申请延期")
    assert "延期到什么时候" in q(wang)
    await wang.send("昨天")
    assert "已经过了" in q(wang) and "请重新发送" in q(wang)
    await wang.send("下周一")
    assert "12月14日（周一）18:00" in q(wang) and "延期原因" in q(wang)
    await wang.send("物业那边下周才回复")
    assert "已提交延期申请" in q(wang)
    notice = director.inbox[-1]
    assert "申请延期" in notice.plain and "物业那边下周才回复" in notice.plain
    first_card = wang.inbox[-5]
    assert first_card.buttons  # until the decision, the first card still works
    toast = await director.press(notice, "✅ 批准")
    assert toast.text == "已同意延期：任务 #1 的新截止时间为 12月14日（周一）18:00。"
    assert "同意了新的截止时间" in q(wang) and "12月14日（周一）18:00" in q(wang)
    # The notice keeps what was asked and says who decided; the first card points to the new.
    decided = sim.message(notice.chat_id, notice.message_id)
    assert "物业那边下周才回复" in decided.plain and not decided.buttons
    assert "张 总 已同意延期：新的截止时间为 12月14日（周一）18:00" in decided.plain
    first_card = sim.message(first_card.chat_id, first_card.message_id)
    assert "此卡片已过期，请看下方最新的卡片" in first_card.plain and not first_card.buttons

    # A second postponement, refused: the deadline stays.
    await wang.press(wang.inbox[-1], "🕒 申请延期")
    await wang.send("12月18日")
    await wang.send("还需要一周")
    toast = await director.press(director.inbox[-1], "✖ 不同意")
    assert toast.text == "已不同意延期：任务 #1 仍按原截止时间 12月14日（周一）18:00。"
    assert "截止时间不变" in q(wang) and "12月14日（周一）18:00" in q(wang)
    task = await _task(sessions)
    assert task.status == "open" and task.asked_deadline is None
    assert (
        f"{task.deadline.astimezone(local('2026-12-14 18:00').tzinfo)}"
        == "2026-12-14 10:00:00+00:00"
    )


async def test_reopened_after_done_with_a_reason(team, sessions):
    director, wang = team
    await _assign_and_send(director)
    await wang.press(wang.inbox[-1], "✅ 完成")
    await director.press(director.inbox[-1], "↩️ 重新打开")
    await director.send("还缺大东区的物业")
    assert "重新打开了这项任务" in q(wang) and "还缺大东区的物业" in q(wang)
    task = await _task(sessions)
    assert task.status == "open" and task.done_at is None
    await wang.press(wang.inbox[-1], "✅ 完成")
    await director.press(director.inbox[-1], "✅ 验收通过")
    assert (await _task(sessions)).status == "accepted"


async def test_done_with_a_note_and_a_link_reaches_the_assigner(team, sessions):
    director, wang = team
    await _assign_and_send(director)
    await wang.press(wang.inbox[-1], "📝 附说明完成")
    assert "完成说明、链接" in q(wang)
    await wang.send("名单已上传 https://docs.example.com/sy-list 共 42 家")
    assert "已完成，待验收" in q(wang)
    notice = director.inbox[-1]
    assert "王 伟 已完成任务 #1" in notice.plain
    assert "说明：名单已上传 https://docs.example.com/sy-list 共 42 家" in notice.plain
    assert notice.labels == ["✅ 验收通过", "↩️ 重新打开"]
    task = await _task(sessions)
    assert task.status == "done" and task.done_note.startswith("名单已上传")


async def test_done_with_a_file_sends_the_file_with_the_notice(team, sessions):
    director, wang = team
    await _assign_and_send(director)
    await wang.press(wang.inbox[-1], "📝 附说明完成")
    sent = await wang.send_document(b"name,phone\n", filename="沈阳物业.csv",
                                    mime_type="text/csv", caption="最终版")  # fmt: skip
    assert "已完成，待验收" in q(wang)
    notice = director.inbox[-1]
    assert notice.document is not None and notice.document.file_id == sent.document.file_id
    assert "王 伟 已完成任务 #1" in notice.plain and "说明：最终版" in notice.plain
    assert notice.labels == ["✅ 验收通过", "↩️ 重新打开"]
    await director.press(notice, "✅ 验收通过")  # the caption is edited, the file stays
    assert (await _task(sessions)).status == "accepted"
    async with sessions() as s:
        done = await s.scalar(select(TaskEvent).where(TaskEvent.kind == "done"))
    assert done.details["file"]["name"] == "沈阳物业.csv"
    assert "✅ 张 总 已验收。" in notice.plain and notice.document is not None  # caption edited
    assert not [m for m in director.inbox if "出了点问题" in m.plain]


async def test_a_question_and_a_hand_back_reach_the_assigner(team, sessions):
    director, wang = team
    await _assign_and_send(director)
    card = wang.inbox[-1]
    await wang.press(card, "❓ 有疑问")
    await wang.send("只要沈河区的吗？")
    assert "问题已发送" in q(wang)
    assert "有疑问" in q(director) and "只要沈河区的吗？" in q(director)
    await wang.press(card, "↩️ 退回")  # the question left the card valid
    await wang.send("这是用户运营的工作")
    assert "退回了任务" in q(director) and "这是用户运营的工作" in q(director)
    assert (await _task(sessions)).status == "returned"


async def test_a_manager_may_assign_only_themselves(team, sessions, director):
    _, wang = team
    await wang.send("/assign @zhang 批预算 明天")
    assert "只有运营总监" in q(wang)
    await wang.send("/assign @wangwei 准备周报材料 明天")
    await wang.press(wang.inbox[-1], "✅ 发送")
    own = wang.inbox[-1]
    assert "❓ 有疑问" not in own.labels
    await wang.press(own, "✅ 完成")
    assert (await _task(sessions)).status == "accepted"  # one's own task closes at once


async def test_tasks_lists_mine_and_what_i_assigned(team, sessions):
    director, wang = team
    await _assign_and_send(director, "/assign @wangwei 整理名单 今天下午5点")
    await _assign_and_send(director, "/assign @wangwei 写方案 下周一")
    await wang.send("/tasks")
    listing = q(wang)
    assert "我的任务" in listing and "整理名单" in listing and "即将到期" in listing
    assert "写方案" in listing and "来自 张 总" in listing
    await director.send("/tasks")
    assert "我交办的" in q(director) and "王 伟" in q(director)
    with time_machine.travel(local("2026-12-07 18:00"), tick=True):
        await wang.send("/tasks")
        assert "已逾期" in q(wang)


async def test_hostile_input_is_refused_politely(team, sessions):
    director, _ = team
    await director.send("/assign @nobody 整理名单 明天")
    assert "团队中没有在职成员 @nobody" in q(director)
    await director.send("/assign @wangwei " + "长" * 500 + " 明天")
    assert "任务内容太长" in q(director)
    await director.send("/assign @wangwei 整理名单 不知道什么时候")
    assert "没有识别出截止时间" in q(director)
    await director.send("/assign @wangwei")
    assert "用法" in q(director)
    await director.send("/assign @" + "x" * 300 + " 整理 明天")
    assert "团队中没有在职成员" in q(director)
    await director.send("/assign @wangwei <b>加粗</b>&<i> 明天")
    card = director.inbox[-1]
    assert "<b>加粗</b>&<i>" in card.plain  # shown as typed, not as markup
    async with sessions() as s:
        assert await s.scalar(select(Task).where(Task.title.like("长%"))) is None


async def test_a_forged_or_foreign_press_is_refused_and_audited(team, sessions, sim, outsider):
    director, wang = team
    await _assign_and_send(director)
    task = await _task(sessions)
    card = wang.inbox[-1]
    # Director presses the assignee's Done (not theirs): refused, audited, nothing changes.
    answer = await director.press_data(card.message_id, card.chat_id, DONE.pack(task.id, 2))
    assert answer.show_alert and "不由你处理" in answer.text
    # Forged data of no known shape, and one for a task that does not exist.
    forged = await wang.press_data(card.message_id, card.chat_id, "task:v1:dn:1:2:x")
    assert forged.show_alert
    ghost = await wang.press_data(card.message_id, card.chat_id, DONE.pack(999, 1))
    assert ghost.show_alert and "不存在" in ghost.text
    # An outdated card: Send pressed again on the confirmation.
    stale = await director.press_data(card.message_id, card.chat_id, SEND.pack(task.id, 1))
    assert stale.show_alert and "已过期" in stale.text
    assert (await _task(sessions)).status == "open"
    async with sessions() as s:
        refused = list(await s.scalars(select(AuditLog).where(AuditLog.action == "access.refused")))
        unknown = list(await s.scalars(select(AuditLog).where(AuditLog.action == "button.unknown")))
    assert {r.details["reason"] for r in refused} == {"not_yours", "not_found"}
    assert unknown


@pytest.mark.databases
async def test_double_taps_and_two_directors_have_exactly_one_effect(team, sessions, sim):
    director, wang = team
    second = sim.user(id=1002, first_name="周", last_name="总", username="zhou", language_code="zh")
    await make_staff(sessions, second, "director")
    await _assign_and_send(director)
    task = await _task(sessions)
    card = wang.inbox[-1]
    done = DONE.pack(task.id, task.version)
    answers = await asyncio.gather(
        *(wang.press_data(card.message_id, card.chat_id, done) for _ in range(3))
    )
    assert sum(1 for a in answers if a.show_alert) == 2
    task = await _task(sessions)
    assert task.status == "done"
    accept = ACCEPT.pack(task.id, task.version)
    notice = director.inbox[-1]
    answers = await asyncio.gather(
        director.press_data(notice.message_id, notice.chat_id, accept),
        second.press_data(notice.message_id, notice.chat_id, accept),
        director.press_data(notice.message_id, notice.chat_id, accept),
    )
    assert sum(1 for a in answers if a.show_alert) == 2
    async with sessions() as s:
        events = list(await s.scalars(select(TaskEvent.kind)))
        told = list(await s.scalars(select(Outbox.dedup_key).where(Outbox.chat_id == wang.id)))
    assert events.count("done") == 1 and events.count("accepted") == 1
    assert len([k for k in told if k.endswith(":accepted")]) == 1
    assert (await _task(sessions)).status == "accepted"


async def test_cancel_drops_a_half_typed_postponement(team, sessions):
    director, wang = team
    await _assign_and_send(director)
    await wang.press(wang.inbox[-1], "🕒 申请延期")
    await wang.send("/cancel")
    async with sessions() as s:
        assert await s.scalar(select(Prompt)) is None
    assert (await _task(sessions)).status == "open"


async def test_a_deputy_standing_in_for_the_director_may_assign(team, sessions, sim):
    director, wang = team
    lina = sim.user(id=2003, first_name="Li", last_name="Na", username="lina", language_code="en")
    await make_staff(sessions, lina, "user_ops")
    await lina.send("/assign @wangwei 整理名单 明天")
    assert "Only a director" in q(lina)
    async with sessions() as s, s.begin():
        zhang = await staff_service.by_telegram_id(s, director.id)
        deputy = await staff_service.by_telegram_id(s, lina.id)
        today = MONDAY.astimezone(SHANGHAI).date()
        await leave.add(s, zhang, today, today, zhang, today=today, deputy=deputy)
    await lina.send("/assign @wangwei 整理名单 tomorrow 5pm")
    card = next(m for m in reversed(lina.inbox) if m.buttons)  # the leave notice may follow it
    assert "Tue 8 Dec at 17:00" in card.plain
    await lina.press(card, "✅ Send")
    assert "Li Na 交办的新任务" in q(wang)


async def test_the_confirmation_and_a_half_typed_postponement_survive_a_restart(
    team, sessions, sim, settings, engine
):
    director, wang = team
    await director.send("/assign @wangwei 整理沈阳物业渠道名单 周五下午5点")
    card = director.inbox[-1]
    async with another_process(sim, settings, engine):
        await director.press(card, "✅ 发送")
        await wang.press(wang.inbox[-1], "🕒 申请延期")
    async with another_process(sim, settings, engine):
        await wang.send("下周一")
        await wang.send("等物业回复")
    assert "申请延期" in q(director) and "12月14日（周一）18:00" in q(director)


async def test_guided_assign_who_what_by_when_with_a_quick_day(team, sessions):
    director, wang = team
    await director.send("/assign")
    assert "交给谁" in q(director)
    await director.press(director.inbox[-1], "王 伟")
    assert "给 王 伟 的新任务" in q(director)
    await director.send("整理沈阳物业渠道名单")
    ask = director.inbox[-1]
    assert "什么时候截止" in ask.plain and ask.labels == ["今天", "明天", "本周五", "下周一"]
    await director.press(ask, "本周五")
    card = director.inbox[-1]
    assert "整理沈阳物业渠道名单" in card.plain and "12月11日（周五）18:00" in card.plain
    await director.press(card, "✅ 发送")
    assert "张 总 交办的新任务" in q(wang)
    again = await director.press(ask, "本周五")  # the question is answered: nothing more
    assert again.show_alert and "已失效" in again.text
    async with sessions() as s:
        assert len(list(await s.scalars(select(Task)))) == 1


async def test_guided_assign_of_a_manager_asks_only_for_their_own_task(team, sessions):
    _, wang = team
    await wang.send("/assign")
    assert "新任务：做什么" in q(wang)
    await wang.send("准备周报材料")
    await wang.send("明天下午3点")
    assert "12月8日（周二）15:00" in q(wang) and "✅ 发送" in wang.inbox[-1].labels


async def test_tasks_stays_one_message_with_many_long_tasks(team, sessions):
    director, wang = team
    for n in range(40):
        await director.send(f"/assign @wangwei {n}号任务{'长' * 190} 明天")
        await director.press(director.inbox[-1], "✅ 发送")
    await wang.send("/tasks")
    listing = q(wang)
    assert "0号任务" in listing and "39号任务" not in listing and len(listing) < 4096
