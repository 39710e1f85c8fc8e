"""Directors see the team's tasks: /team counts the open ones and names the overdue ones, the
daily digest to directors lists the overdue ones, the weekly digest has a line on them."""

import pytest
import time_machine
from support import TEAM_GROUP, local, make_staff

from jobs.tick import tick

pytestmark = pytest.mark.databases


async def test_team_lists_open_and_overdue_tasks(app, sessions, director, channel_manager):
    with time_machine.travel(local("2026-12-07 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/start")
        await director.send("/team")
        assert "交办事项" not in director.inbox[-1].plain  # no tasks: /team as before
        for text in (
            "/assign @wangwei 整理沈阳物业渠道名单 明天",
            "/assign @wangwei 写周报模板 周五",
        ):
            await director.send(text)
            await director.press(director.inbox[-1], "✅ 发送")
    with time_machine.travel(local("2026-12-09 10:00"), tick=True):
        await director.send("/team")
    text = director.inbox[-1].plain
    assert "交办事项 · 进行中 2 项，逾期 1 项" in text
    assert "⚠️ 王 伟：整理沈阳物业渠道名单（截止 12月8日 " in text
    assert "写周报模板" not in text  # open, not overdue: counted, not named


async def test_digests_list_overdue_tasks_to_directors_and_tally_the_week(
    app, sim, sessions, director, channel_manager
):
    with time_machine.travel(local("2026-12-07 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/start")
        group = sim.group(id=TEAM_GROUP, title="运营部")
        await sim.add_bot_to_group(group, by=director)
        await director.send("/bind", chat=group)
        for text in (
            "/assign @wangwei 整理沈阳物业渠道名单 明天",
            "/assign @wangwei 写周报模板 周五",
        ):
            await director.send(text)
            await director.press(director.inbox[-1], "✅ 发送")
    with time_machine.travel(local("2026-12-08 12:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await channel_manager.press(channel_manager.inbox[-1], "✅ 完成")  # 写周报模板, early
        await director.press(director.inbox[-1], "✅ 验收通过")
    with time_machine.travel(local("2026-12-09 18:30:20"), tick=False):
        await tick(app.bot_data, app.bot)
    [digest] = [m for m in director.inbox if "逾期的交办事项" in m.plain]
    lines = digest.plain.splitlines()
    assert lines[0] == "⏰ 逾期的交办事项 · 2026年12月9日（周三）"
    assert lines[1] == "进行中 1 项，逾期 1 项"
    assert lines[2].startswith("⚠️ 王 伟：整理沈阳物业渠道名单（截止 12月8日 ")
    assert not any("逾期的交办事项" in m.plain for m in sim.messages(TEAM_GROUP))  # directors only
    with time_machine.travel(local("2026-12-14 09:00:20"), tick=False):
        await tick(app.bot_data, app.bot)
    [weekly] = [m for m in sim.messages(TEAM_GROUP) if m.plain.startswith("📊 每周简报 · 第50周")]
    assert "本周到期的交办事项：按时完成 1 项 · 逾期完成 0 项 · 仍未完成 1 项" in weekly.plain
