"""The issue's failure list, one part each (tests elsewhere that already cover a case named).

1. kill -9 while 500 reminders are sent: test_kill_9_mid_500_reminders_then_a_new_sender_...
   (test_crash.py does the same for plain outbox rows, and two senders racing).
2. The same update twice: a command and /invite in test_updates.py; a form answer and a button
   press in test_a_redelivered_form_answer_and_button_press_count_once.
3. A restart mid-form, carrying on to filing: test_a_restart_mid_daily_then_the_person_...
   (test_daily.py::test_a_restart_mid_form_loses_nothing stops before filing); mid reason
   prompt: test_a_restart_between_reject_and_the_reason_takes_the_next_message_as_the_reason.
4. 429 bursts, every wait honoured per chat: test_429_bursts_are_waited_out_per_chat_and_...
5. A person who blocked the bot, a migrated group: test_delivery.py; the database away for
   10 s: test_the_database_unreachable_for_10_seconds_crashes_nothing_and_loses_nothing.
6. Two replicas on PostgreSQL through a working day: test_two_replicas_on_postgresql_...
"""

import asyncio
import contextvars
import logging
import signal
import time
from collections import Counter
from datetime import date, timedelta

import pytest
import time_machine
from conftest import PG_ADMIN_URL
from failure_support import (
    FloodLog,
    pg_outage,
    replica,
    sqlite_outage,
    start_sender,
    talking_to,
)
from sqlalchemy import delete, select
from support import another_process, local, make_staff
from telegram import Bot

import jobs
from bot import clock, outbox, sender
from bot.forms.spec import default_reports
from bot.models import ActivityPlan, Draft, Lease, Metric, Obligation, Outbox, Report
from bot.services import activities
from bot.services import staff as staff_service
from bot.services.staff import Person
from bot.telegram_io import TelegramTransport
from jobs.tick import tick

pytestmark = [pytest.mark.databases, pytest.mark.slow]


def q(person) -> str:
    return person.inbox[-1].plain


# ---- 1. kill -9 in the middle of sending 500 reminders -----------------------------------------

REMINDERS = 500
KILL_AT = REMINDERS // 3


async def test_kill_9_mid_500_reminders_then_a_new_sender_delivers_every_one(
    app, sim, sessions, db_url, director
):
    staff = [sim.user(id=60_000 + i, first_name=f"员工{i}", language_code="zh")
             for i in range(REMINDERS)]  # fmt: skip
    for person in staff:
        person.started = True
    director.started = True  # the tick also tells the director about 2027's missing calendar
    with time_machine.travel(local("2026-11-26 09:00"), tick=False):
        async with sessions() as s, s.begin():
            for p in staff:
                await staff_service.add(
                    s, Person(p.id, p.first_name, None, "zh"), ["channel"], None
                )

    # 18:05 on a working day: everyone's daily report is overdue. The tick queues the reminders;
    # this process must not send them (the kill is about a sender), so another holds the lease.
    due = local("2026-11-26 18:05")
    with time_machine.travel(due, tick=False):
        assert await sender.take_sender_lease(sessions, holder="elsewhere")
        report = await tick(app.bot_data, app.bot)
    assert report.sent == 0
    async with sessions() as s, s.begin():
        nags = list(await s.scalars(select(Outbox).where(Outbox.dedup_key.like("nag:%"))))
        await s.execute(delete(Lease))
    assert len(nags) == REMINDERS and {n.chat_id for n in nags} == {p.id for p in staff}

    # The simulator kills the sender with SIGKILL the moment it has accepted message KILL_AT,
    # before answering: the worst spot (Telegram has it, the row is still `sending`). The kill
    # point is exact, so the sender needs no rate limiter to be caught mid-way.
    victim = await start_sender(sim, db_url, holder="victim", at=due, rate=0)
    accepted = 0

    async def send_then_kill(params: dict, files: dict, send_message) -> dict:
        nonlocal accepted
        result = await send_message(params, files)
        accepted += 1
        if accepted == KILL_AT and victim.returncode is None:
            victim.send_signal(signal.SIGKILL)
        return result

    with sim.intercept("sendMessage", send_then_kill):
        await asyncio.wait_for(victim.wait(), timeout=60)
    assert victim.returncode == -signal.SIGKILL, (await victim.stderr.read()).decode()[-2000:]
    before = sum(len(p.inbox) for p in staff)
    assert 0 < before < REMINDERS, "the kill must land mid-way"
    async with sessions() as s:
        in_flight = list(await s.scalars(select(Outbox).where(Outbox.status == "sending")))
    assert len(in_flight) == 1  # one sender, one row between claim and mark

    # A new sender, started once the dead one's claims and lease have expired.
    later = due + sender.SENDER_LEASE + sender.CLAIM_LEASE + timedelta(seconds=5)
    restarted = await start_sender(sim, db_url, holder="restarted", at=later, rate=0)
    out, err = await asyncio.wait_for(restarted.communicate(), timeout=120)
    assert restarted.returncode == 0, err.decode()[-2000:]

    per_chat = {p.id: Counter(m.plain for m in p.inbox) for p in staff}
    assert all(len(c) == 1 and "逾期" in next(iter(c)) for c in per_chat.values())  # none lost
    duplicated = {chat for chat, c in per_chat.items() if sum(c.values()) > 1}
    duplicates = sum(sum(c.values()) - 1 for c in per_chat.values())
    # Duplicates only where the kill left a row between Telegram's OK and the mark, one each.
    assert duplicated <= {row.chat_id for row in in_flight}
    assert duplicates <= len(in_flight)
    async with sessions() as s:
        assert set(await s.scalars(select(Outbox.status))) == {"sent"}
    print(f"killed after {before} of {REMINDERS}; in flight {len(in_flight)}; "
          f"duplicates {duplicates}; restarted sender {out.decode().split()[-1]}")  # fmt: skip


# ---- 2. the same update delivered twice: a form answer and a button press ----------------------
# (test_updates.py covers a command and /invite.)


@pytest.fixture
async def wang(app, sim, sessions, channel_manager, director):
    """The channel manager on a working Thursday morning, with today's obligation."""
    with time_machine.travel(local("2026-11-26 10:00"), tick=True):
        await make_staff(sessions, channel_manager, "channel")
        await director.send("/start")
        await channel_manager.send("/start")
        await tick(app.bot_data, app.bot)
        yield channel_manager


async def _draft(sessions) -> Draft:
    async with sessions() as s:
        return await s.scalar(select(Draft))


async def test_a_redelivered_form_answer_and_button_press_count_once(app, sim, sessions, wang):
    await wang.send("/daily")
    await wang.press(wang.inbox[-1], "跳过")  # a button press: the channels question skipped
    assert "2/10" in q(wang)
    seen, draft = len(wang.inbox), await _draft(sessions)
    await sim.inject(sim.updates[-1])  # Telegram delivers the same callback query again
    assert len(wang.inbox) == seen and (await _draft(sessions)).version == draft.version

    await wang.send("3")  # a form answer: new channels
    assert "3/10" in q(wang)
    seen, draft = len(wang.inbox), await _draft(sessions)
    await sim.inject(sim.updates[-1])  # the same message again
    assert len(wang.inbox) == seen
    again = await _draft(sessions)
    assert (again.version, again.cursor, again.answers) == (draft.version, draft.cursor,
                                                            draft.answers)  # fmt: skip
    await wang.send("5")  # the next answer still goes to the next question
    assert "4/10" in q(wang)
    assert (await _draft(sessions)).answers["negotiating"] == 5


# ---- 3. a restart in the middle of a form, and of a director's reason prompt -------------------
# (test_daily.py::test_a_restart_mid_form_loses_nothing restarts mid-form without filing.)


async def test_a_restart_mid_daily_then_the_person_carries_on_and_files(
    app, sim, settings, engine, sessions, wang
):
    await wang.send("/daily")
    await wang.press(wang.inbox[-1], "跳过")
    await wang.send("1")  # new channels
    await wang.send("4")  # negotiating
    assert "4/10" in q(wang)

    async with another_process(sim, settings, engine):  # the old process's memory is gone
        await wang.send("2")  # contracts signed
        await wang.send("0")  # deliveries
        await wang.send("1,200")  # downloads
        await wang.send("300")  # registrations
        await wang.press(wang.inbox[-1], "跳过")  # channel users trained
        await wang.press(wang.inbox[-1], "跳过")  # problems
        await wang.send("明天拜访华润物业")
        assert "1,200" in q(wang)  # the summary card, with answers from both processes
        await wang.press(wang.inbox[-1], "✅ 提交")
        assert "按时提交" in q(wang)

    async with sessions() as s:
        report = await s.scalar(select(Report))
        metrics = {m.field_key: int(m.value) for m in await s.scalars(select(Metric))}
        obligation = await s.scalar(select(Obligation).where(Obligation.period_key == "2026-11-26"))
        assert await s.scalar(select(Draft)) is None
    assert report.period_key == "2026-11-26" and not report.late and obligation.status == "filed"
    assert metrics | {"contacted": 0} == {
        "contacted": 0, "new_channels": 1, "negotiating": 4, "contracts_signed": 2,
        "deliveries": 0, "downloads": 1200, "registrations": 300,
    }  # fmt: skip


PLAN_FORM = default_reports().form("activity_plan")


async def test_a_restart_between_reject_and_the_reason_takes_the_next_message_as_the_reason(
    app, sim, settings, engine, sessions, director, user_ops_manager, channel_manager
):
    await make_staff(sessions, user_ops_manager, "director")
    await make_staff(sessions, channel_manager, "activity")
    for persona in (director, user_ops_manager, channel_manager):
        await persona.send("/help")
    today = date.today()
    answers = {
        "title": "Spring push", "purpose": "More downloads", "mode": "online",
        "targets": [{"indicator": "Downloads", "target": "5000", "unit": "times"}],
        "start_date": (today + timedelta(days=3)).isoformat(),
        "end_date": (today + timedelta(days=10)).isoformat(),
        "region": "shenyang", "channels": [], "people": ["design"], "materials": ["funds"],
        "budget": 1_000_000, "expected_return": "10k new users", "risks": "Rain",
    }  # fmt: skip
    async with sessions() as s, s.begin():
        proposer = await staff_service.by_telegram_id(s, channel_manager.id)
        plan = await activities.submit(
            s, proposer, PLAN_FORM, answers, reports=default_reports(), today=today
        )
    await sender.deliver(sessions, TelegramTransport(app.bot))
    card = user_ops_manager.inbox[-1]
    await user_ops_manager.press(card, "❌ Reject")
    assert "Please send the reason" in q(user_ops_manager)

    async with another_process(sim, settings, engine) as fresh:
        await user_ops_manager.send("Too expensive for Q4")
        await sender.deliver(sessions, TelegramTransport(fresh.bot))

    assert "Rejected" in q(user_ops_manager)
    assert "Too expensive for Q4" in q(channel_manager)
    current = sim.message(card.chat_id, card.message_id)
    assert "Rejected by Li Na." in current.plain and current.buttons == []
    async with sessions() as s:
        decided = await s.get(ActivityPlan, plan.id)
    assert decided.status == "rejected"


# ---- 4. 429 bursts: everything arrives once, and every wait is honoured ------------------------


async def test_429_bursts_are_waited_out_per_chat_and_nothing_is_dropped(
    app, sim, sessions, director
):
    people = [sim.user(id=50_000 + i, first_name=f"R{i}") for i in range(4)]
    for person in people:
        person.started = True
    group = sim.group(id=-5001, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    chats = [p.id for p in people] + [group.id]
    async with sessions() as s, s.begin():
        for n in range(12):  # a private chat takes 3 at once, then 1/s
            for person in people:
                await outbox.enqueue(s, f"burst:{person.id}:{n}", person.id, f"p {n}")
        for n in range(30):  # a group takes 20 a minute
            await outbox.enqueue(s, f"burst:group:{n}", group.id, f"g {n}")
    sim.flood_limits = True
    bot = Bot(sim.token, base_url=sim.base_url)  # no limiter: every 429 reaches the outbox
    await bot.initialize()
    try:
        with time_machine.travel(clock.now(), tick=False) as traveller:
            flood = FloodLog(sim, traveller)
            for _ in range(200):  # the sender job's passes, one simulated second apart
                await sender.deliver(sessions, TelegramTransport(bot))
                if not await _unsent(sessions):
                    break
                flood.advance(1)
    finally:
        await bot.shutdown()

    refusals = [e for e in flood.entries if e[2] is not None]
    assert len(refusals) >= 5 and any(e[1] == group.id for e in refusals)  # bursts happened
    assert any(e[2] > 30 for e in refusals)  # the group was told to wait most of a minute
    assert flood.early_sends() == []  # no send to a chat before its retry_after had passed
    for chat, expected in zip(chats, [12] * 4 + [30], strict=True):
        texts = Counter(m.plain for m in sim.messages(chat) if m.plain[:2] in ("p ", "g "))
        assert len(texts) == expected and set(texts.values()) == {1}, chat  # all, each once
    assert await _unsent(sessions) == 0
    async with sessions() as s:
        assert set(await s.scalars(select(Outbox.attempts))) == {1}  # a wait is not an attempt


async def _unsent(sessions) -> int:
    async with sessions() as s:
        return len(list(await s.scalars(select(Outbox.id).where(Outbox.status != "sent"))))


# ---- 5. the database unreachable for 10 seconds ------------------------------------------------
# (A person who blocked the bot and a migrated group: test_delivery.py::
# test_a_blocked_person_is_marked_and_directors_are_told_once and
# test_a_migrated_team_group_keeps_receiving.)

OUTAGE = 10.0
APOLOGY = "出了点问题"


async def test_the_database_unreachable_for_10_seconds_crashes_nothing_and_loses_nothing(
    app, sim, sessions, db_url, wang, caplog
):
    """PostgreSQL refuses connections and cuts the open ones; on SQLite another connection holds
    the write lock (longer than the busy timeout). Meanwhile the real JobQueue runs the sender
    every 2 s, a tick runs, and the person answers their half-filled /daily."""
    await wang.send("/daily")
    await wang.press(wang.inbox[-1], "跳过")
    await wang.send("1")
    assert "3/10" in q(wang)
    with time_machine.travel(local("2026-11-26 17:05"), tick=True):  # the gentle reminder is due
        async with sessions() as s, s.begin():
            for n in range(3):  # queued before the outage, not sent yet
                await outbox.enqueue(s, f"note:{n}", wang.id, f"note {n}")
        outage = (
            pg_outage(db_url, PG_ADMIN_URL) if db_url.startswith("postgresql") else
            sqlite_outage(db_url)
        )  # fmt: skip
        caplog.set_level(logging.INFO)
        before = len(wang.inbox)
        try:
            async with outage:
                began = time.monotonic()
                await app.start()  # the JobQueue: the sender every 2 s, the tick every minute
                # Scheduled from the travelled clock, as in a process started at this moment.
                for job in app.job_queue.jobs():
                    job.schedule_removal()
                jobs.register(app)
                tick_job = app.job_queue.get_jobs_by_name("tick")[0]
                # An answer arrives and a tick runs while the database is away.
                await asyncio.gather(wang.send("4"), tick_job.run(app))
                during = [m.plain for m in wang.inbox[before:]]
                await asyncio.sleep(OUTAGE - (time.monotonic() - began))
            assert app.running and app.job_queue.scheduler.running  # nothing crashed

            # Back: the sender job (still scheduled) sends what was queued, on its own.
            for _ in range(100):
                if (notes := sum(m.plain.startswith("note ") for m in wang.inbox)) == 3:
                    break
                await asyncio.sleep(0.1)
            await wang.send("4")  # the person tries again, as told
            await tick_job.run(app)  # the next minute's tick does what the failed one did not
        finally:
            if app.running:
                await app.stop()

    # The person was told once to try again, and that message changed nothing.
    assert len(during) == 1 and APOLOGY in during[0], during
    assert notes == 3  # sent by the scheduled sender job, before anyone wrote to the bot
    assert any("tick failed" in r.getMessage() for r in caplog.records)
    assert any("sending failed" in r.getMessage() for r in caplog.records)
    texts = Counter(m.plain for m in wang.inbox)
    assert all(texts[f"note {n}"] == 1 for n in range(3))  # queued before: delivered once
    assert "4/10" in [m.plain for m in wang.inbox if "/10" in m.plain][-1]
    assert sum("快到截止时间" in t for t in texts.elements()) == 1  # the reminder: once
    draft = await _draft(sessions)
    assert draft.answers["new_channels"] == 1 and draft.answers["negotiating"] == 4
    async with sessions() as s:
        assert set(await s.scalars(select(Outbox.status))) == {"sent"}


# ---- 6. two replicas on PostgreSQL through a working day ---------------------------------------

ONE_MESSAGE = """/daily
新增入库渠道数：0
洽谈中的渠道数：1
今日签约数：0
今日交付/上线数：0
渠道带来的下载量：10
渠道带来的注册量：2
下一个工作日计划：拜访"""
DAY = "2026-11-30"  # a Monday: the weekly digest at 09:00, the daily one at 18:30
GENTLE, OVERDUE = "快到截止时间", "已逾期"
HOLDER = contextvars.ContextVar("holder", default=sender.HOLDER)


def working_day() -> list[str]:
    """08:00–19:00 every quarter of an hour, and every minute around the gentle reminders
    (17:00), the overdue ones (18:00), a filing at 18:10 and the daily digest (18:30)."""
    minutes = set(range(8 * 60, 19 * 60 + 1, 15))
    for start, end in (("16:55", "17:05"), ("17:55", "18:12"), ("18:25", "18:35")):
        minutes |= set(range(_minute(start), _minute(end) + 1))
    return [f"{DAY} {m // 60:02d}:{m % 60:02d}" for m in sorted(minutes)]


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@pytest.mark.postgresql_only
async def test_two_replicas_on_postgresql_through_a_working_day_send_everything_once(
    sim, settings, db_url, sessions, director, monkeypatch
):
    # Each replica sends as itself (a real one is host:pid), so the sender lease is contended.
    monkeypatch.setattr(
        "jobs.tick.deliver",
        lambda sessions, transport, **kw: sender.deliver(sessions, transport,
                                                         holder=HOLDER.get(), **kw),
    )  # fmt: skip
    staff = [sim.user(id=70_000 + i, first_name=f"员工{i}", language_code="zh") for i in range(6)]
    group = sim.group(id=-7001, title="运营部")
    async with replica(settings, db_url) as a, replica(settings, db_url) as b:
        with time_machine.travel(local(f"{DAY} 07:30"), tick=False):
            for person in staff:
                await make_staff(sessions, person, "channel")
            async with talking_to(sim, a):
                await director.send("/start")
                await sim.add_bot_to_group(group, by=director)
                await director.send("/bind", chat=group)
            async with talking_to(sim, b):
                for person in staff:
                    await person.send("/start")

        # Who files when, and through which replica: before any reminder, between the gentle
        # and the overdue one, after both; two never file.
        filings = {"10:00": (staff[0], a), "16:30": (staff[1], b), "17:30": (staff[2], a),
                   "18:10": (staff[3], b)}  # fmt: skip
        sent = {"a": 0, "b": 0}

        async def tick_as(name: str, app) -> None:
            HOLDER.set(f"replica-{name}")
            sent[name] += (await tick(app.bot_data, app.bot)).sent

        for moment in working_day():
            with time_machine.travel(local(moment), tick=False):
                if (filing := filings.get(moment[-5:])) is not None:
                    person, via = filing
                    async with talking_to(sim, via):
                        await person.send(ONE_MESSAGE)
                        await person.press(person.inbox[-1], "✅ 提交")
                    assert "提交" in q(person)
                await asyncio.gather(tick_as("a", a), tick_as("b", b))

    # Nothing reached any chat twice.
    said = Counter(
        (c.params["chat_id"], c.params.get("text") or c.params.get("caption") or c.method)
        for c in sim.calls
        if c.ok and c.method in ("sendMessage", "sendPhoto")
    )
    assert [k for k, n in said.items() if n > 1] == []
    # Every expected reminder, once.
    expected = {0: [], 1: [], 2: [GENTLE], 3: [GENTLE, OVERDUE], 4: [GENTLE, OVERDUE],
                5: [GENTLE, OVERDUE]}  # fmt: skip
    for i, steps in expected.items():
        daily = [m.plain for m in staff[i].inbox if "渠道拓展日报" in m.plain]
        got = [s for text in daily for s in (GENTLE, OVERDUE) if s in text]
        assert got == steps, (i, [m.plain for m in staff[i].inbox])
        # 30 November is the month's last working day: the monthly report is chased too.
        monthly = [m.plain for m in staff[i].inbox if "渠道拓展月报" in m.plain]
        got = [s for text in monthly for s in (GENTLE, OVERDUE) if s in text]
        assert got == [GENTLE, OVERDUE], (i, monthly)
    # The daily digest, and Monday's weekly one, reached the group once each.
    daily = [m.plain for m in group.messages if "每日简报" in m.plain]
    assert len(daily) == 1 and "未提交（2）：员工4、员工5" in daily[0], daily
    assert sum("每周简报 · 第48周（11月23日–29日）" in m.plain for m in group.messages) == 1
    async with sessions() as s:
        statuses = Counter(await s.scalars(select(Outbox.status)))
    assert set(statuses) == {"sent"}, statuses
    print(f"sent by replica a: {sent['a']}, by replica b: {sent['b']}")
