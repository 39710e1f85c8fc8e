"""Directors see the team's tasks: /team counts the open ones and names the overdue ones."""

import pytest
import time_machine
from support import local, make_staff

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
