"""Pacing (decision 43): each chat gets messages at Telegram's pace, nothing is sent to a chat
inside its retry_after (outbox and replies alike), and a 429 is one INFO line.

The simulator's flood limits are on, and one hand-moved clock drives the simulator, the bot's
pacer (its sleeps move the clock instead of waiting) and the process clock.
"""

import asyncio
import logging
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import clock, outbox, sender
from bot.app import build_application
from bot.botapi import post
from bot.models import Outbox
from bot.pacing import NO_WAIT, ChatBusy, ChatPacer, Wait
from bot.telegram_io import TelegramTransport

pytestmark = [pytest.mark.databases, pytest.mark.paced]


class FakeTime:
    """Simulator, pacer and process clock moved together by hand; the pacer's sleeps move it."""

    def __init__(self, sim, pacer: ChatPacer) -> None:
        self.now = self.start = time.monotonic() + 1  # after anything the pacer saw before
        sim.monotonic = pacer.clock = lambda: self.now
        pacer.sleep = self.sleep

    def advance(self, seconds: float) -> None:
        self.now += seconds
        clock.start_at(clock.now() + timedelta(seconds=seconds))

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def pacer(app) -> ChatPacer:
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, ChatPacer)
    return limiter


def limits_on(sim, pacer) -> FakeTime:
    """Telegram's flood limits on in the simulator, and the bot pacing every chat (switched on
    after a test's set-up, which need not be paced)."""
    sim.flood_limits = True
    pacer.per_chat = True
    return FakeTime(sim, pacer)


async def _unsent(sessions) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).where(Outbox.status != "sent"))


async def _queue(sessions, chat_id: int, count: int) -> None:
    async with sessions() as s, s.begin():
        for i in range(count):
            await outbox.enqueue(s, f"m:{chat_id}:{i}", chat_id, f"m {i}")


async def test_thirty_join_requests_at_once_reach_the_director_paced_and_once(
    app, sim, sessions, director, pacer
):
    await director.send("/start")
    joiners = [sim.user(60_000 + i, f"申请人{i}", language_code="zh") for i in range(30)]
    for person in joiners:
        await person.send("/start")
    fake = limits_on(sim, pacer)

    # All press their role at once: 30 handlers queue a card each and flush the outbox.
    await asyncio.gather(*(p.press(p.inbox[-1], "渠道拓展经理") for p in joiners))
    for _ in range(120):  # the sender job's passes, one simulated second apart
        if not await _unsent(sessions):
            break
        fake.advance(1)
        await sender.deliver(sessions, TelegramTransport(app.bot))

    cards = Counter(
        m.plain.split("申请人")[1].split()[0] for m in director.inbox if "申请人" in m.plain
    )
    assert cards == Counter({str(i): 1 for i in range(30)})  # every card, each once
    assert sim.flood.refusals <= 3
    assert sim.flood.inside_retry_after == 0
    assert all("已发送给运营总监" in p.inbox[-1].plain for p in joiners)


async def test_a_reply_waits_out_the_hold_the_outbox_was_given(app, sim, sessions, director, pacer):
    await director.send("/start")
    sim.flood_limits = True
    FakeTime(sim, pacer)  # per-chat pacing off: the outbox runs into Telegram's limit
    await _queue(sessions, director.id, 4)
    await sender.deliver(sessions, TelegramTransport(app.bot))
    assert sim.flood.refusals == 1  # the fourth: retry after 1 s

    await director.send("/help")  # answered at once, inside the hold, it would be a violation

    assert sim.flood.inside_retry_after == 0
    assert "/daily" in director.inbox[-1].plain or "/kpi" in director.inbox[-1].plain


async def test_a_429_is_one_info_line_without_a_traceback(
    app, sim, sessions, director, pacer, caplog
):
    await director.send("/start")
    sim.flood_limits = True
    FakeTime(sim, pacer)
    await _queue(sessions, director.id, 4)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        await sender.deliver(sessions, TelegramTransport(app.bot))

    assert sim.flood.refusals == 1
    told = [r for r in caplog.records if "retry_after" in r.getMessage()]
    assert [(r.levelno, r.exc_info) for r in told] == [(logging.INFO, None)]
    assert str(director.id) in told[0].getMessage()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []


async def test_the_outbox_leaves_a_chat_that_is_not_ready_and_sends_to_others(
    app, sim, sessions, director, channel_manager, pacer
):
    await director.send("/start")
    channel_manager.started = True
    limits_on(sim, pacer)
    await _queue(sessions, director.id, 6)
    await _queue(sessions, channel_manager.id, 2)

    await sender.deliver(sessions, TelegramTransport(app.bot))

    assert sim.delivered(channel_manager.id) == 2
    assert sum(m.plain.startswith("m ") for m in director.inbox) == 3  # the burst
    assert sim.flood.refusals == 0
    async with sessions() as s:
        waiting = list(await s.scalars(select(Outbox).where(Outbox.status == "pending")))
    assert len(waiting) == 3 and all(r.attempts == 0 for r in waiting)
    assert min(r.next_attempt_at for r in waiting) > clock.now()  # not read again before its slot


class Recorder:
    """A Bot API call that notes when (on the fake clock) it reached Telegram."""

    def __init__(self, fake: FakeTime) -> None:
        self.fake, self.at = fake, []

    async def __call__(self, *args, **kwargs):
        self.at.append(round(self.fake.now - self.fake.start, 3))
        return True


async def _paced_calls(pacer: ChatPacer, chat_id: int, n: int) -> list[float]:
    fake = FakeTime(type("Sim", (), {})(), pacer)
    call = Recorder(fake)
    data = {"chat_id": chat_id, "text": "x"}
    await asyncio.gather(
        *(pacer.process_request(call, (), {}, "sendMessage", data, Wait(120)) for _ in range(n))
    )
    return call.at


async def test_a_private_chat_gets_a_burst_of_three_then_one_a_second():
    at = await _paced_calls(ChatPacer(), 42, 6)
    assert [round(t) for t in at] == [0, 0, 0, 1, 2, 3]


async def test_a_group_gets_twenty_a_minute():
    at = await _paced_calls(ChatPacer(), -42, 22)
    assert max(at[:20]) < 1 and [round(t) for t in at[20:]] == [60, 60]


async def test_a_reply_to_a_chat_held_longer_than_it_may_wait_is_dropped_quietly(
    app, sim, director, pacer, caplog
):
    await director.send("/start")
    sim.flood_limits = True
    FakeTime(sim, pacer)
    pacer.hold(director.id, 30)  # a group-sized wait: longer than a reply may wait
    before = len(director.inbox)
    with caplog.at_level(logging.INFO):
        await director.send("/help")

    assert len(director.inbox) == before  # no reply, and no apology inside the hold either
    assert sim.flood.refusals == 0 and sim.flood.inside_retry_after == 0
    assert [(r.levelno, r.exc_info) for r in caplog.records if "not sent" in r.getMessage()] == [
        (logging.WARNING, None)
    ]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_reply_waits_longer_for_its_chat_than_a_call_that_says_nothing(
    app, sim, director, pacer
):
    await director.send("/start")
    sim.flood_limits = True
    fake = FakeTime(sim, pacer)
    pacer.hold(director.id, 6.5)  # past the default wait (5 s), within a reply's (8 s)
    before = len(director.inbox)
    await director.send("/help")

    assert len(director.inbox) == before + 1 and "/staff" in director.inbox[-1].plain
    assert fake.now - fake.start >= 6.5 and sim.flood.inside_retry_after == 0


async def test_a_call_through_botapi_waits_only_as_long_as_its_caller_may(
    app, sim, director, pacer
):
    await director.send("/start")
    sim.flood_limits = True
    fake = FakeTime(sim, pacer)
    pacer.hold(director.id, 3)
    said = {"chat_id": director.id, "text": "<b>好</b>", "parse_mode": "HTML"}
    with pytest.raises(ChatBusy):  # the outbox's NO_WAIT: left for a later pass
        await post(app.bot, "sendMessage", said, rate_limit_args=NO_WAIT)
    assert fake.now - fake.start == 0

    sent = await post(app.bot, "sendMessage", said, rate_limit_args=Wait(5))
    assert fake.now - fake.start >= 3
    assert sent["message_id"] == director.inbox[-1].message_id  # Telegram's answer, as it came
    assert director.inbox[-1].plain == "好"


async def test_the_simulator_counts_a_send_inside_retry_after(sim, director):
    director.started = True
    sim.flood_limits = True
    fake = type("Clock", (), {"now": 0.0})()
    sim.monotonic = lambda: fake.now
    refusals = [sim.flood.admit(director.id, True) for _ in range(4)]
    fake.now = 0.5  # told to wait 1 s; half of it has passed
    refusals.append(sim.flood.admit(director.id, True))
    fake.now = 1.0
    refusals.append(sim.flood.admit(director.id, True))

    assert refusals == [None, None, None, 1, 1, None]
    assert (sim.flood.refusals, sim.flood.inside_retry_after) == (2, 1)


def test_the_application_is_paced_unless_built_for_a_test_without_flood_limits(settings):
    """Production (and tests marked `paced`) get the limiter; flow tests leave it out."""
    assert isinstance(build_application(settings).bot.rate_limiter, ChatPacer)
    assert build_application(settings, paced=False).bot.rate_limiter is None
