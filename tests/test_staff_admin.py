"""/staff: roles change, people are deactivated and reactivated, and the last director stays."""

import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from bot.models import AuditLog, Staff

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _join(director, person, role_label):
    await director.send("/invite")
    await director.press(director.inbox[-1], role_label)
    token = re.search(r"start=([\w-]+)", director.inbox[-1].plain).group(1)
    await person.send(f"/start {token}")


async def _open_card(director, name):
    await director.send("/staff")
    listing = director.inbox[-1]
    await director.press(listing, name)
    return director.inbox[-1]


async def test_a_director_adds_a_role_and_the_person_is_told(
    app, sim, sessions, director, channel_manager
):
    await director.send("/start")
    await _join(director, channel_manager, "渠道拓展经理")

    card = await _open_card(director, "王 伟")
    await director.press(card, "内容策划经理")

    card = sim.message(card.chat_id, card.message_id)
    assert "✓ 内容策划经理" in [b.text for row in card.buttons for b in row]
    assert "调整了你的角色" in channel_manager.inbox[-1].plain
    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.telegram_id == channel_manager.id))
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "staff.set_roles"))
    assert staff.role_names == {"channel", "content"}
    assert entry.details == {"before": ["channel"], "after": ["channel", "content"]}


async def test_a_deactivated_person_is_refused(app, director, channel_manager):
    await director.send("/start")
    await _join(director, channel_manager, "渠道拓展经理")
    card = await _open_card(director, "王 伟")

    await director.press(card, "停用")

    assert "已停用你使用本机器人的权限" in channel_manager.inbox[-1].plain
    await channel_manager.send("/help")
    assert "权限已被停用" in channel_manager.inbox[-1].plain
    await channel_manager.send("/start")
    assert "权限已被停用" in channel_manager.inbox[-1].plain


@pytest.mark.databases
async def test_the_last_director_cannot_be_removed(app, sim, director):
    await director.send("/start")
    card = await _open_card(director, "张 总")

    answer = await director.press(card, "停用")
    assert answer.show_alert and "至少需要一位" in answer.text
    await director.press(card, "渠道拓展经理")  # a second role, so only "last director" stops it
    answer = await director.press(sim.message(card.chat_id, card.message_id), "✓ 运营总监")
    assert answer.show_alert and "至少需要一位" in answer.text
    assert "✓ 运营总监" in sim.message(card.chat_id, card.message_id).labels


async def test_a_deactivated_persons_work_can_be_handed_over(
    app, sim, director, channel_manager, user_ops_manager
):
    await director.send("/start")
    await _join(director, channel_manager, "渠道拓展经理")
    await _join(director, user_ops_manager, "用户运营经理")
    card = await _open_card(director, "王 伟")
    await director.press(card, "停用")

    await director.press(sim.message(card.chat_id, card.message_id), "移交未完成的工作")
    await director.press(sim.message(card.chat_id, card.message_id), "Li Na")

    assert "移交给 Li Na" in sim.message(card.chat_id, card.message_id).plain


@pytest.mark.databases
async def test_handover_gives_the_successor_the_tasks_owed_and_assigned(
    app, sim, sessions, director, channel_manager, user_ops_manager
):
    from support import local

    from bot.models import Task, TaskEvent

    with time_machine.travel(local("2026-12-07 10:00"), tick=True):
        await director.send("/start")
        await _join(director, channel_manager, "渠道拓展经理")
        await _join(director, user_ops_manager, "用户运营经理")
        await director.send("/assign @wangwei 整理沈阳物业渠道名单 周五下午5点")
        await director.press(director.inbox[-1], "✅ 发送")
        old_card = channel_manager.inbox[-1]
        await channel_manager.send("/assign @wangwei 写周报 明天")  # his own task
        await channel_manager.press(channel_manager.inbox[-1], "✅ 发送")
        card = await _open_card(director, "王 伟")
        await director.press(card, "停用")
        await director.press(sim.message(card.chat_id, card.message_id), "移交未完成的工作")
        await director.press(sim.message(card.chat_id, card.message_id), "Li Na")

        assert "移交给 Li Na" in sim.message(card.chat_id, card.message_id).plain
        told = [m.plain for m in user_ops_manager.inbox if "now yours" in m.plain]  # Li Na: en
        assert "王 伟's task from 张 总" in told[0] and "整理沈阳物业渠道名单" in told[0]
        assert "王 伟's own task" in told[1] and "写周报" in told[1] and len(told) == 2
        dead = sim.message(old_card.chat_id, old_card.message_id)  # his card is dead
        assert not dead.buttons and "此卡片已过期" in dead.plain
        card = next(m for m in user_ops_manager.inbox if "整理沈阳物业渠道名单" in m.plain)
        await user_ops_manager.press(card, "✅ Done")
        assert (
            "Li Na" in director.inbox[-1].plain
            and "整理沈阳物业渠道名单" in director.inbox[-1].plain
        )
    async with sessions() as s:
        lina = await s.scalar(select(Staff).where(Staff.telegram_id == user_ops_manager.id))
        tasks = list(await s.scalars(select(Task).order_by(Task.id)))
        moved = list(await s.scalars(select(TaskEvent).where(TaskEvent.kind == "handed_over")))
        audited = await s.scalar(select(AuditLog).where(AuditLog.action == "task.handed_over"))
    assert [t.assignee_id for t in tasks] == [lina.id, lina.id]
    assert tasks[1].assigner_id == lina.id and tasks[0].status == "done"
    assert len(moved) == 2 and audited.actor_telegram_id == director.id


async def test_staff_buttons_from_a_non_director_change_nothing(
    app, sessions, director, channel_manager
):
    await director.send("/start")
    await _join(director, channel_manager, "渠道拓展经理")

    answer = await channel_manager.press_data(1, channel_manager.id, "staff:v1:role:1:channel")

    assert answer.show_alert and "只有运营总监" in answer.text
    async with sessions() as s:
        director_row = await s.scalar(select(Staff).where(Staff.telegram_id == director.id))
    assert director_row.role_names == {"director"}


async def test_language_can_be_switched(app, sim, director, channel_manager):
    await director.send("/start")
    await _join(director, channel_manager, "渠道拓展经理")

    await channel_manager.send("/lang")
    await channel_manager.press(channel_manager.inbox[-1], "English")

    assert "English" in channel_manager.inbox[-1].plain
    await channel_manager.send("/help")
    assert "What I can do for you" in channel_manager.inbox[-1].plain
    assert ("help", "What I can do for you") in sim.menu(channel_manager)


@pytest.mark.databases
async def test_handover_moves_channels_and_plans_and_excuses_open_reports(
    app, sessions, director, channel_manager, user_ops_manager
):
    from datetime import date

    from support import make_staff

    from bot import clock
    from bot.models import ActivityPlan, Channel, Obligation
    from bot.services import channels, handover
    from bot.services import staff as staff_service

    await make_staff(sessions, channel_manager, "channel")
    await make_staff(sessions, user_ops_manager, "user_ops")
    async with sessions() as s, s.begin():
        wang = await staff_service.by_telegram_id(s, channel_manager.id)
        lina = await staff_service.by_telegram_id(s, user_ops_manager.id)
        await channels.create(
            s,
            name="万科物业",
            industry="property",
            region="shenyang",
            actor=wang,
            day=date(2026, 11, 26),
        )
        now = clock.now()
        s.add(
            Obligation(
                staff_id=wang.id,
                form_key="daily_channel",
                period_key="2026-11-26",
                due_at=now,
                closes_at=now,
                status="open",
                created_at=now,
            )
        )
        s.add(ActivityPlan(proposer_id=wang.id, status="pending", title="t", answers={},
                           fields={}, start_date=date(2026, 12, 1), end_date=date(2026, 12, 2),
                           budget_period="2026-12", submitted_at=now, created_at=now,
                           updated_at=now))  # fmt: skip
        wang.active = False
        moved = await staff_service.handover(s, wang, lina, director.id, tz=SHANGHAI)
        assert moved == 3 and handover.MOVERS
    async with sessions() as s:
        assert (await s.scalar(select(Channel))).owner_id == lina.id
        assert (await s.scalar(select(ActivityPlan))).proposer_id == lina.id
        assert (await s.scalar(select(Obligation))).status == "excused"
