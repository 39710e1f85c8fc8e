"""`opsbot demo`: the real bot, polling the built-in simulator, acting out a scripted scene."""

import asyncio
import logging
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot import clock
from bot.app import build_application, shutdown, startup
from bot.config import load_settings
from bot.models import Outbox
from bot.services import team
from bot.simulator import Group, Persona, SimMessage, TelegramSimulator
from bot.simulator.samples import png
from bot.state import AppState
from bot.states import UNSENT
from bot.web import demo as dashboard
from jobs.tick import tick

TOKEN = "100000:DEMO"
TEAM_TZ = ZoneInfo("Asia/Shanghai")
# The scene is set on a Thursday afternoon, before the daily report is due at 18:00.
DEMO_START = "2026-11-26 16:30"
ACTIVITY_IN_ONE_MESSAGE = """/activity
活动主题：周末缴费送积分
活动目的：拉新促活，提高缴费用户留存
量化指标：下载量 5000 次
线上还是线下？：线上
开始日期：2026-12-05
结束日期：2026-12-06
主要地区：沈阳
涉及的渠道：华润物业
需要的物资：礼品、广告位
预算（元）：3000
预期收益 / 效果预估：新增注册 800，缴费用户 +5%
风险预估与危机处理：积分被刷：每人每日上限 100 分"""
WEEKLY_IN_ONE_MESSAGE = """/weekly
New registrations this week: 1,240
Active users this week: 5,300
Retained users: 4,100
At-risk / churned users: 180
Users won back: 35
Actions taken and proposed: ticket to the payments team; PDF bill in the next release"""
MEDIA_IN_ONE_MESSAGE = """/media
各平台数据：公众号 5 12000 300 15000 8000 1200 95 朋友圈转发
微博 3 4000 120
下周选题：冬季安全用电专题
行业与竞品动态：标杆账号开始做电费科普短视频"""
CONTENT_IN_ONE_MESSAGE = """/content
本周撰写：媒体软文 《电费账单一键查》
产品文案 缴费页新版说明
行业快讯 辽宁12月电价调整
行业快讯：辽宁省自12月1日起调整物业企业代收电费的结算方式。
下周计划：两篇媒体软文，一期行业快讯"""
EXPENSE_IN_ONE_MESSAGE = """/expense
费用用途：万科物业推介会场地费
金额（元）：6800
发生日期：2026-12-07
预算科目：日常费用"""
REVIEW_IN_ONE_MESSAGE = """/review
标题：冬季安全用电指南
内容类型：专题
发布平台：公众号、APP
正文或链接：三步查电费、两招防跳闸，附物业报修电话。
计划发布日期：2026-12-11"""
DIRECTOR_ID = 1001
DAILY_IN_ONE_MESSAGE = """/daily
新增入库渠道数：{new}
洽谈中的渠道数：3
今日签约数：{signed}
今日交付/上线数：0
渠道带来的下载量：{downloads}
渠道带来的注册量：{registrations}
下一个工作日计划：继续跟进物业渠道"""
# 王伟's Tuesday report typed as one sentence, the way people talk (issue 21): the card shows
# each figure with the words it was read from, and nothing is filed until he submits.
DAILY_AS_A_SENTENCE = (
    "/daily 今天跑了华润和万达两家物业，万达签了，新增1家，在谈3家，没有上线，"
    "带来下载{downloads}、注册{registrations}，明天继续跟进物业渠道"
)
SENTENCE_DAY = "2026-12-08"
# 王伟's week of 7–11 December: (day, new channels, signed, downloads, registrations).
# The director's monthly promotion plan, due on December's first working day.
PLAN_IN_ONE_MESSAGE = """/monthplan
推广目标：新增注册 2000，签约物业 4 家
推广重点：沈阳物业渠道的周末缴费活动，公众号做冬季用电专题
预算（元）：8000"""
WEEK_OF_REPORTS = (
    ("2026-12-07", 2, 0, 600, 90),
    ("2026-12-08", 1, 1, 750, 120),
    ("2026-12-09", 3, 0, 480, 70),
    ("2026-12-10", 0, 0, 820, 130),
    ("2026-12-11", 1, 0, 900, 150),
)


class Transcript:
    """Prints every message the bot sends or edits, once, as a readable chat log."""

    def __init__(
        self, sim: TelegramSimulator, state: AppState, speed: float, updates: asyncio.Queue
    ) -> None:
        self.sim = sim
        self.state = state
        self.updates = updates  # the Application's update queue: join() = every update handled
        self.speed = speed
        self.names: dict[int, str] = {}
        self.seen: dict[tuple[int, int], int] = {}

    def watch(self, chat_id: int, name: str) -> None:
        self.names[chat_id] = name

    def scene(self, title: str) -> None:
        print(f"\n━━━ {title} ━━━")

    def says(self, who: Persona, text: str, where: Group | None = None) -> None:
        place = f" (in {where.title})" if where else ""
        print(f"\n👤 {who.first_name}{place}: {text}")

    def presses(self, who: Persona, label: str) -> None:
        print(f"\n👆 {who.first_name} presses [{label}]")

    def note(self, text: str) -> None:
        print(f"   ℹ️  {text}")

    def mark(self) -> int:
        """Where the simulator's call log stands before an action."""
        return len(self.sim.calls)

    async def flush(self, since: int | None = None) -> None:
        if since is not None:
            await self._answered(since)
        await self._settled()
        for chat_id, name in self.names.items():
            for msg in self.sim.messages(chat_id):
                key = (chat_id, msg.message_id)
                if self.seen.get(key) == msg.edited_count:
                    continue
                edited = key in self.seen
                self.seen[key] = msg.edited_count
                self._print(name, msg, edited)
        if self.speed:
            await asyncio.sleep(self.speed)

    async def _answered(self, since: int, patience: float = 10.0) -> None:
        # On a busy machine the bot may fetch an update and work on it longer than wait_idle's
        # quiet spell; wait for its first call back (a reply, an edit, a callback answer).
        deadline = asyncio.get_running_loop().time() + patience
        while asyncio.get_running_loop().time() < deadline:
            if any(c.method != "getUpdates" for c in self.sim.calls[since:]):
                return
            await asyncio.sleep(0.02)

    async def _settled(self, patience: float = 30.0) -> None:
        # What an action queued may go out with the handler's own flush or, when the sender job
        # holds the lease, up to one sender round later: wait for the outbox to drain, not for a
        # quiet spell that a busy machine can fake.
        # Every update fetched (the simulator) has been handled to its end (the update queue's
        # join: PTB marks an update done after its handlers ran), replies included, since they
        # go out after the commit. No quiet spell to guess with: 0.3 s a line was most of the
        # demo's 40 s.
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            await self.sim.wait_idle(quiet=0.05, timeout=patience)
            await asyncio.wait_for(self.updates.join(), timeout=patience)
            waiting = await _unsent(self.state)
            if not waiting:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{waiting} queued message(s) were not delivered in time")
            await asyncio.sleep(0.1)

    def _print(self, name: str, msg: SimMessage, edited: bool) -> None:
        label = "✏️  bot edits its message to" if edited else "🤖 bot →"
        print(f"{label} {name}:")
        if msg.photo is not None:
            print(f"   │ [🖼  {msg.photo.name}, {msg.photo.size // 1024} KB]")
        for line in msg.plain.splitlines() or ([] if msg.photo else [""]):
            print(f"   │ {line}")
        for row in msg.buttons:
            print("   │ " + " ".join(f"[{b.text}]" for b in row))


async def run_demo(
    speed: float = 0.0,
    chart_path: Path | None = None,
    *,
    serve: bool = False,
    port: int = 0,
    then=None,
) -> int:
    """Run the scene; returns an exit code. The digest chart is written only to `chart_path`.
    Then the dashboard answers on localhost; `serve` keeps it serving until Ctrl-C, `then`
    (bench/dashboard.py) is called with its address first."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="opsbot-demo-") as tmp:
        async with TelegramSimulator(token=TOKEN, bot_username="opsbot_demo_bot") as sim:
            settings = load_settings(
                telegram={
                    "token": TOKEN,
                    "base_url": sim.base_url,
                    "base_file_url": sim.base_file_url,
                    # The simulator's flood limits are off here, so is pacing (decision 43): the
                    # scene presses faster than Telegram would let the bot answer.
                    "pace_per_chat": False,
                },
                database={"url": f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}"},
                team={"name": "互联网运营部", "directors": [DIRECTOR_ID]},
            )
            clock.start_at(clock.parse_local(DEMO_START, settings.team.tz))
            app = build_application(settings)
            await app.initialize()
            await startup(app)
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            await app.start()
            # The scene ticks when it says so (scene 7 on); the minute job would tick at
            # wall-clock times and could put its message between a card and the press that
            # reads it (on a busy machine: the calendar notice after the join card).
            for job in app.job_queue.get_jobs_by_name("tick"):
                job.schedule_removal()
            try:
                app.bot_data.extras["bot"] = app.bot
                log = Transcript(sim, app.bot_data, speed, app.update_queue)
                await _scene(sim, log, app.bot_data)
                await _digest_scene(sim, log, app.bot_data, chart_path)
                director = {"id": DIRECTOR_ID, "first_name": "张总", "language_code": "zh"}
                with_sim = None if then is None else (lambda base, url: then(base, url, sim))
                await dashboard.show(app, director, serve=serve, port=port, then=with_sim)
            finally:
                await app.updater.stop()
                await app.stop()
                await shutdown(app)
                await app.shutdown()
    clock.reset()
    print("\n✅ demo finished: the bot ran against the built-in Telegram simulator, no token used.")
    return 0


async def _scene(sim: TelegramSimulator, log: Transcript, state: AppState) -> None:
    director = sim.user(id=DIRECTOR_ID, first_name="张总", username="zhang", language_code="zh")
    wang = sim.user(id=2002, first_name="王伟", username="wangwei", language_code="zh")
    lina = sim.user(id=2003, first_name="Li Na", username="lina", language_code="en")
    stranger = sim.user(id=9009, first_name="陌生人", language_code="zh")
    for p in (director, wang, lina, stranger):
        log.watch(p.id, p.first_name)

    log.scene("1. The director (from config) says hello")
    await _say(log, director, "/start")

    log.scene("2. 王伟 asks to join as channel-expansion manager; the director approves")
    await _say(log, wang, "/start")
    await _press(log, wang, wang.inbox[-1], "渠道拓展经理")
    await _press(log, director, director.inbox[-1], "✅ 批准")

    log.scene("3. The director invites Li Na with a single-use link")
    await _say(log, director, "/invite")
    await _press(log, director, director.inbox[-1], "用户运营经理")
    token = director.inbox[-1].plain.split("start=")[1].split()[0]
    await _say(log, lina, f"/start {token}")
    log.note("the same link a second time:")
    await _say(log, stranger, f"/start {token}")

    log.scene("4. A stranger asks to join; the director rejects; a second press changes nothing")
    await _say(log, stranger, "/start")
    await _press(log, stranger, stranger.inbox[-1], "新媒体经理")
    card = director.inbox[-1]
    approve_data = card.button("✅ 批准").callback_data
    await _press(log, director, card, "❌ 拒绝")
    answer = await director.press_data(card.message_id, card.chat_id, approve_data)
    log.note(f"pressing the old card again answers: {answer.text if answer else None}")
    await _say(log, stranger, "/staff")

    log.scene("5. Groups: a stranger's group is left; the director binds the team group")
    other = sim.group(id=-4001, title="闲聊群")
    log.watch(other.id, other.title)
    log.note("陌生人 adds the bot to 闲聊群")
    await sim.add_bot_to_group(other, by=stranger)
    await log.flush()
    log.note(f"bot left 闲聊群: {other.id in sim.left_chats}")
    team_group = sim.group(id=-4002, title="运营部工作群")
    log.watch(team_group.id, team_group.title)
    log.note("张总 adds the bot to 运营部工作群")
    await sim.add_bot_to_group(team_group, by=director)
    await log.flush()
    await _say(log, director, "/bind", team_group)

    log.note("Telegram upgrades 运营部工作群 to a supergroup (new chat id)")
    supergroup = await sim.migrate_group(team_group)
    log.watch(supergroup.id, f"{supergroup.title} (supergroup)")
    await log.flush()
    for _ in range(500):  # the bot answers nothing to a migration: watch the database follow
        if await _team_group_id(state) == supergroup.id:
            break
        await asyncio.sleep(0.02)
    log.note(f"team group followed to {await _team_group_id(state)} (supergroup {supergroup.id})")

    log.scene("6. The director manages staff")
    await _say(log, director, "/staff")
    await _press(log, director, director.inbox[-1], "王伟")
    await _press(log, director, director.inbox[-1], "内容策划经理")

    log.scene("7. The minute tick: today's reports become due (and a calendar notice)")
    await tick(state, sim_bot(state))
    await log.flush()
    log.note("obligations created for everyone who must file today and this week")

    log.scene("8. 王伟 adds a channel, signs it, and files the daily report step by step")
    await _say(log, wang, "/channel new 华润物业")
    await _press(log, wang, wang.inbox[-1], "沈阳")
    await _press(log, wang, wang.inbox[-1], "物业")
    await _press(log, wang, wang.inbox[-1], "已签约")
    await _say(log, wang, "/daily")
    card = wang.inbox[-1]
    await _press(log, wang, card, "华润物业")
    await _say(log, wang, "万科物业")
    await _press(log, wang, wang.inbox[-1], "沈阳")
    await _press(log, wang, wang.inbox[-1], "物业")
    await _press(log, wang, wang.inbox[-1], "完成")
    await _press(log, wang, wang.inbox[-1], "使用 2")
    await _say(log, wang, "三")
    await _press(log, wang, wang.inbox[-1], "使用 1")
    await _say(log, wang, "0")
    await _say(log, wang, "1.2万")
    await _say(log, wang, "八百")
    await _say(log, wang, "5")  # channel users trained
    await _press(log, wang, wang.inbox[-1], "跳过")
    await _say(log, wang, "拜访华润物业沈阳总部，推进万科物业的合同")
    await _press(log, wang, wang.inbox[-1], "✅ 提交")
    await _say(log, wang, "/my")

    log.scene("9. Feedback as it arrives: typed, forwarded, and a repeat counted up")
    await _say(log, wang, "/feedback 缴费页面太慢，经常卡住")
    await _say(log, lina, "/feedback 缴费页面太慢，经常卡住！")
    log.note("Li Na forwards a user's message to the bot")
    await lina.forward("Would love a monthly bill as PDF", sender_name="App user 1024")
    await log.flush()
    await _say(log, lina, "/feedback list")

    log.scene("10. Li Na files the weekly summary in one message (feedback pre-filled)")
    await _say(log, lina, WEEKLY_IN_ONE_MESSAGE)
    review = lina.inbox[-1]
    # The card shows one line of the pre-filled summary; its button sends all of it.
    await _press(log, lina, review, "📄 This week's user feedback in full")
    await _press(log, lina, review, "✅ Submit")

    log.scene("10b. 王伟, content planning too since scene 6, files the weekly content report")
    await _say(log, wang, CONTENT_IN_ONE_MESSAGE)
    await _press(log, wang, wang.inbox[-1], "✅ 提交")

    log.scene("10c. 赵敏 joins as new-media manager and files the weekly platform report")
    zhao = sim.user(id=2004, first_name="赵敏", username="zhaomin", language_code="zh")
    log.watch(zhao.id, zhao.first_name)
    await _say(log, director, "/invite")
    await _press(log, director, director.inbox[-1], "新媒体经理")
    token = director.inbox[-1].plain.split("start=")[1].split()[0]
    await _say(log, zhao, f"/start {token}")
    await _say(log, zhao, MEDIA_IN_ONE_MESSAGE)
    await _press(log, zhao, zhao.inbox[-1], "✅ 提交")

    log.scene("11. An activity plan: proposed, sent back with a reason, resubmitted, approved")
    await _say(log, wang, ACTIVITY_IN_ONE_MESSAGE)
    await _press(log, wang, wang.inbox[-1], "✅ 提交")
    card = director.inbox[-1]
    await _press(log, director, card, "✏️ 要求修改")
    await _say(log, director, "预算偏高，请控制在 2000 元以内")
    await _say(log, wang, "/activity")
    await _press(log, wang, wang.inbox[-1], "✏️ 修改某项")
    await _press(log, wang, wang.inbox[-1], "预算（元）")
    await _say(log, wang, "2000")
    await _press(log, wang, wang.inbox[-1], "✅ 提交")
    await _press(log, director, director.inbox[-1], "✅ 批准")

    log.scene("12. Nagging like healthchecks: 王伟 misses two days; the director hears of it")
    for moment, what in (
        ("2026-11-27 17:05", "Friday 17:05, an hour before the daily report is due"),
        ("2026-11-27 18:05", "Friday 18:05: overdue"),
        ("2026-11-27 23:30", "Friday 23:30: quiet hours, nothing is sent"),
        ("2026-11-30 09:35", "Monday 09:35: the next-morning reminder; last week's digest"),
        ("2026-12-01 12:05", "Tuesday 12:05: Monday's report closed unfiled, a second miss"),
    ):
        clock.start_at(clock.parse_local(moment, TEAM_TZ))
        log.note(what)
        await tick(state, sim_bot(state))
        await log.flush()

    await _say(log, director, "/team")

    log.scene("12b. The director files December's promotion plan; the team group sees it")
    clock.start_at(clock.parse_local("2026-12-01 14:00", TEAM_TZ))
    await _say(log, director, PLAN_IN_ONE_MESSAGE)
    await _press(log, director, director.inbox[-1], "✅ 提交")

    log.scene("13. After the activity: results asked for, filed, reviewed")
    clock.start_at(clock.parse_local("2026-12-07 09:30", TEAM_TZ))
    log.note("the clock moves on to Monday 7 December, the day after the activity ended")
    await tick(state, sim_bot(state))
    await log.flush()
    await _say(log, wang, "/results")
    await _say(log, wang, "下载量 4200 次")
    await _say(log, wang, "1850")
    await _say(log, wang, "物业群裂变效果最好")
    await _say(log, wang, "提前一周预热，积分上限再调低")
    await _press(log, wang, wang.inbox[-1], "✅ 提交")

    log.scene("13b. A task in Chinese: assigned, postponed, done and accepted; a weekly one")
    await _say(log, director, "/assign @wangwei 整理沈阳物业渠道名单 周五下午5点")
    await _press(log, director, director.inbox[-1], "✅ 发送")
    await _press(log, wang, wang.inbox[-1], "🕒 申请延期")
    await _say(log, wang, "下周一")
    await _say(log, wang, "万科物业的联系人下周才回来")
    await _press(log, director, director.inbox[-1], "✅ 批准")
    await _press(log, wang, wang.inbox[-1], "✅ 完成")
    await _press(log, director, director.inbox[-1], "✅ 验收通过")
    await _say(log, director, "/assign @wangwei 渠道周报汇总 每周一 10:00")
    await _press(log, director, director.inbox[-1], "✅ 发送")
    log.note("from now on the tick sends 王伟 this task each Monday morning, holidays skipped")

    log.scene("13c. An expense claim with a receipt photo, through two steps and the budget")
    chen = sim.user(id=2008, first_name="陈静", username="finance", language_code="zh")
    log.watch(chen.id, chen.first_name)
    log.note("陈静 keeps the books; the claim's second step (over ¥5,000) names her @finance")
    await _say(log, director, "/invite")
    await _press(log, director, director.inbox[-1], "活动运营经理")
    token = director.inbox[-1].plain.split("start=")[1].split()[0]
    await _say(log, chen, f"/start {token}")
    await _say(log, director, "/budget 费用 2026-12 10000")
    await _say(log, wang, EXPENSE_IN_ONE_MESSAGE)
    await _send_photo(log, wang, png(900, 1200, 230), "收据.jpg")
    await _press(log, wang, wang.inbox[-1], "✅ 完成")
    await _press(log, wang, wang.inbox[-1], "✅ 提交")
    await _press(log, director, _card(director), "✅ 批准")
    await _press(log, chen, _card(chen), "✅ 批准")
    await _say(log, director, "/budget")

    log.scene("13d. Content reviewed by the new-media manager and the director, then published")
    await _say(log, wang, REVIEW_IN_ONE_MESSAGE)
    await _press(log, wang, wang.inbox[-1], "✅ 提交")
    await _press(log, zhao, _card(zhao), "✅ 批准")
    await _press(log, director, _card(director), "💬 批准并附言")
    await _say(log, director, "标题再短一点，周五上午发")
    await _say(log, wang, "https://mp.weixin.qq.com/s/winter-power-guide")

    log.scene("14. Li Na blocks the bot; the director is told once")
    await lina.block_bot()
    log.note("Li Na blocked the bot")
    await _say(log, director, "/staff")
    card = director.inbox[-1]  # the list turns into Li Na's card, edited in place
    await _press(log, director, card, "Li Na")
    await _press(log, director, card, "活动运营经理")
    await _press(log, director, card, "✓ 活动运营经理")
    log.note(
        "two role changes, two notices to Li Na: Telegram refused the first, the second "
        "was not even tried, and the director heard about it once"
    )


async def _digest_scene(
    sim: TelegramSimulator, log: Transcript, state: AppState, chart_path: Path | None
) -> None:
    wang, director = sim.users[2002], sim.users[DIRECTOR_ID]
    log.scene("15. A week of daily reports, each in one message (Tuesday's as a sentence); the "
              "day's digest at 18:30")  # fmt: skip
    for day, new, signed, downloads, registrations in WEEK_OF_REPORTS:
        clock.start_at(clock.parse_local(f"{day} 17:00", TEAM_TZ))
        await tick(state, sim_bot(state))
        if signed:  # the contract goes into the channel library too: the KPI counts from there
            await _say(log, wang, "/channel new 万达物业")
            for label in ("沈阳", "物业", "已签约"):
                await _press(log, wang, wang.inbox[-1], label)
        typed = DAILY_AS_A_SENTENCE if day == SENTENCE_DAY else DAILY_IN_ONE_MESSAGE
        await _say(log, wang, typed.format(
            new=new, signed=signed, downloads=downloads, registrations=registrations))  # fmt: skip
        await _press(log, wang, wang.inbox[-1], "✅ 提交")
        clock.start_at(clock.parse_local(f"{day} 18:31", TEAM_TZ))
        await tick(state, sim_bot(state))
        await log.flush()

    log.scene("16. Monday 09:00: the week's digest in the group, the scores to the director")
    clock.start_at(clock.parse_local("2026-12-14 09:00", TEAM_TZ))
    await tick(state, sim_bot(state))
    await log.flush()
    await _say(log, wang, "/kpi 上周")
    await _say(log, director, "/kpi")
    group = await _team_group_id(state)
    photos = [m for m in sim.messages(group) if m.photo is not None]
    if not photos:
        return
    if chart_path is None:
        log.note("to look at the digest's chart, run: opsbot demo --chart chart.png")
        return
    await asyncio.to_thread(chart_path.write_bytes, photos[-1].photo.data)
    log.note(f"the digest's chart was saved to {chart_path}")


def sim_bot(state: AppState):
    """The running application's bot (the tick sends through it)."""
    return state.extras["bot"]


async def _unsent(state: AppState) -> int:
    async with state.sessions() as session:
        return await session.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.status.in_(UNSENT))
        )


async def _team_group_id(state: AppState) -> int | None:
    async with state.sessions() as session:
        return (await team.get(session)).group_chat_id


async def _say(log: Transcript, who: Persona, text: str, where: Group | None = None) -> None:
    log.says(who, text, where)
    since = log.mark()
    await who.send(text, chat=where) if where else await who.send(text)
    await log.flush(since)


async def _send_photo(log: Transcript, who: Persona, data: bytes, name: str) -> None:
    print(f"\n👤 {who.first_name} sends a photo: {name}")
    since = log.mark()
    await who.send_photo(data, filename=name)
    await log.flush(since)


def _card(person: Persona) -> SimMessage:
    """The newest approval card in `person`'s chat (a text, or a photo carrying it)."""
    return next(
        m for m in reversed(person.inbox)
        if any(b.callback_data and b.callback_data.startswith("apr:") for r in m.buttons for b in r)
    )  # fmt: skip


async def _press(log: Transcript, who: Persona, message: SimMessage, label: str) -> None:
    log.presses(who, label)
    since = log.mark()
    answer = await who.press(message, label)
    if answer and answer.text:
        log.note(f"{'alert' if answer.show_alert else 'toast'}: {answer.text}")
    await log.flush(since)
