"""Shared by the dashboard's tests: a team with something to show, and signed init data."""

from datetime import date

import httpx
from sqlalchemy import select
from support import make_staff

from bot import clock
from bot.cli.demo import ACTIVITY_IN_ONE_MESSAGE
from bot.models import ActivityPlan, Staff
from bot.services import channels, feedback
from bot.web import initdata
from bot.webhook import create_app
from jobs.tick import tick

# 王伟's plan, in one message, as in the demo: it waits for the director (start and end after the
# tests' week).
PLAN = ACTIVITY_IN_ONE_MESSAGE
DAILY = """/daily
新增入库渠道数：2
洽谈中的渠道数：3
今日签约数：1
今日交付/上线数：0
渠道带来的下载量：120
渠道带来的注册量：45
下一个工作日计划：继续跟进物业渠道"""
ISSUE_TIME = "2026-11-26 10:00"  # a Thursday; the daily report is due at 18:00


def user_of(persona) -> dict:
    """The `user` field Telegram puts in a persona's init data."""
    found = {"id": persona.id, "first_name": persona.first_name}
    if persona.last_name:
        found["last_name"] = persona.last_name
    if persona.language_code:
        found["language_code"] = persona.language_code
    return found


def signed(persona, token: str, *, age: int = 0) -> str:
    """Init data as Telegram signs it for `persona` opening the bot's Mini App `age` s ago."""
    return initdata.sign(user_of(persona), token, int(clock.now().timestamp()) - age,
                         query_id="AAH-test")  # fmt: skip


def auth(data: str) -> dict:
    """The header every API call carries."""
    return {"Authorization": f"tma {data}"}


async def seed(app, sessions, director, wang, lina) -> None:
    """张总 directs; 王伟 (channels) filed today's daily report, owns three channels and proposed
    a plan; Li Na (user ops, English) owes her report; a week of feedback."""
    await make_staff(sessions, wang, "channel", "activity")
    await make_staff(sessions, lina, "user_ops")
    for person in (director, wang, lina):
        await person.send("/start")
    await tick(app.bot_data, app.bot)  # today's and this week's obligations
    await wang.send(DAILY)
    await wang.press(wang.inbox[-1], "✅ 提交")
    today = clock.now().date()
    async with sessions() as s, s.begin():
        wang_row = await s.scalar(select(Staff).where(Staff.telegram_id == wang.id))
        zhang = await s.scalar(select(Staff).where(Staff.telegram_id == director.id))
        made = []
        for name, region, industry in (("华润物业", "shenyang", "property"),
                                       ("万科物业", "shenyang", "property"),
                                       ("大连电力", "dalian", "power")):  # fmt: skip
            made.append(await channels.create(
                s, name=name, industry=industry, region=region, actor=wang_row, day=today,
                owner=wang_row))  # fmt: skip
        await channels.set_stage(s, made[0], "contacted", wang_row, today)
        await channels.set_stage(s, made[0], "signed", wang_row, today)
        other = await channels.create(s, name="沈阳燃气", industry="power", region="shenyang",
                                      actor=zhang, day=today, owner=zhang)  # fmt: skip
        assert other.id
        week = clock.now().astimezone(sim_tz()).strftime("%G-W%V")
        await feedback.record(s, wang_row, "缴费页面太慢，经常卡住", week_key=week)
        await feedback.record(s, wang_row, "缴费页面太慢，经常卡住！", week_key=week)
        await feedback.record(s, wang_row, "希望增加电子发票", week_key=week)
    # After the library has 华润物业: a plan naming a new channel asks for its region first.
    await wang.send(PLAN)
    await wang.press(wang.inbox[-1], "✅ 提交")


def sim_tz():
    from support import TZ

    return TZ


async def the_plan(sessions) -> ActivityPlan:
    async with sessions() as s:
        return await s.scalar(select(ActivityPlan).order_by(ActivityPlan.id.desc()))


def client(app, settings) -> httpx.AsyncClient:
    """The ASGI app (webhook or polling mode alike) in front of the Application."""
    transport = httpx.ASGITransport(app=create_app(app, settings))
    return httpx.AsyncClient(transport=transport, base_url="http://opsbot.test")


def week_key(day: date) -> str:
    """The ISO week of a day, as feedback is keyed."""
    return day.strftime("%G-W%V")
