"""/team: the director sees who has filed, who is late or overdue, and who is away."""

import pytest
import time_machine
from support import local, make_staff

from jobs.tick import tick

pytestmark = pytest.mark.databases

ONE_MESSAGE = """/daily
新增入库渠道数：0
洽谈中的渠道数：0
今日签约数：0
今日交付/上线数：0
渠道带来的下载量：0
渠道带来的注册量：0
下一个工作日计划：拜访"""


async def test_team_shows_filed_overdue_and_away(
    app, sessions, director, channel_manager, user_ops_manager, outsider
):
    with time_machine.travel(local("2026-11-20 09:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await make_staff(sessions, user_ops_manager, "channel")
        await make_staff(sessions, outsider, "channel")
        for person in (director, channel_manager, user_ops_manager, outsider):
            await person.send("/start")
        await outsider.send("/leave 11-26 11-26")
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await tick(app.bot_data, app.bot)
        await channel_manager.send(ONE_MESSAGE)
        await channel_manager.press(channel_manager.inbox[-1], "✅ 提交")
    with time_machine.travel(local("2026-11-26 18:30"), tick=True):
        await director.send("/team")
    text = director.inbox[-1].plain
    assert "渠道拓展日报 · 2026年11月26日（周四）" in text
    assert "王 伟 — 已提交 11月26日 10:00" in text
    assert "Li Na — 已逾期（截止 11月26日 18:00）" in text
    assert "陌生人 — 请假中" in text
    # The quarter's and the year's plans closed long ago and nobody owes them now: not listed.
    assert "季度推广计划" not in text and "年度推广计划" not in text
    assert "用户反馈周报 · 第48周" in text  # a weekly form is listed all week


async def test_team_is_for_directors(app, sessions, channel_manager):
    await make_staff(sessions, channel_manager, "channel")
    await channel_manager.send("/team")
    assert "只有运营总监" in channel_manager.inbox[-1].plain
