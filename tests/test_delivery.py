"""Delivery through the simulator: floods, blocked people, migrated groups, unwanted rows."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from telegram import Bot

from bot import clock, outbox, sender
from bot.models import JoinRequest, Outbox, Staff, Team
from bot.services import joining
from bot.services.staff import Person
from bot.telegram_io import TelegramTransport

pytestmark = pytest.mark.databases


class FakeTime:
    """One hand-moved clock for the simulator's flood limits and the bot's process clock."""

    def __init__(self, sim) -> None:
        self.now = 1000.0
        sim.monotonic = lambda: self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        clock.start_at(clock.now() + timedelta(seconds=seconds))


@pytest.fixture
async def bare_bot(sim):
    """A PTB Bot without the rate limiter, so 429s reach the outbox instead of being slept."""
    bot = Bot(sim.token, base_url=sim.base_url, base_file_url=sim.base_file_url)
    await bot.initialize()
    yield bot
    await bot.shutdown()


async def _queue(sessions, chat_id: int, count: int, prefix: str = "m") -> None:
    async with sessions() as s, s.begin():
        for i in range(count):
            await outbox.enqueue(s, f"{prefix}:{chat_id}:{i}", chat_id, f"{prefix} {i}")


async def _statuses(sessions) -> dict[str, int]:
    async with sessions() as s:
        rows = list(await s.scalars(select(Outbox.status)))
    return {status: rows.count(status) for status in set(rows)}


async def test_a_429_storm_is_waited_out_and_everything_arrives_once(
    app, sim, sessions, bare_bot, director
):
    await director.send("/start")
    sim.flood_limits = True
    time = FakeTime(sim)
    await _queue(sessions, director.id, 40)
    transport = TelegramTransport(bare_bot)

    passes = 0
    while (await _statuses(sessions)).get("pending", 0) and passes < 100:
        await sender.deliver(sessions, transport)
        time.advance(1)
        passes += 1

    texts = [m.plain for m in director.inbox if m.plain.startswith("m ")]
    assert sorted(texts) == sorted(f"m {i}" for i in range(40))
    assert sim.refused(director.id) > 0  # the storm really happened
    assert [
        c for c in sim.calls if c.error_code == 429 and c.params.get("chat_id") != director.id
    ] == []


async def test_retry_after_pushes_the_row_back_by_that_long(app, sim, sessions, bare_bot, director):
    await director.send("/start")
    sim.flood_limits = True
    FakeTime(sim)
    await _queue(sessions, director.id, 5)
    await sender.deliver(sessions, TelegramTransport(bare_bot))
    async with sessions() as s:
        waiting = list(await s.scalars(select(Outbox).where(Outbox.status == "pending")))
    assert waiting, "over the burst, Telegram asked us to wait"
    row = next(r for r in waiting if r.last_error)  # the one refused; the rest were not tried
    assert "retry in 1 seconds" in row.last_error.lower() and row.attempts == 0
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=0.5)


async def test_a_blocked_person_is_marked_and_directors_are_told_once(
    app, sim, sessions, director, channel_manager
):
    await director.send("/start")
    await director.send("/invite channel")
    token = director.inbox[-1].plain.split("start=")[1].split()[0]
    await channel_manager.send(f"/start {token}")
    await channel_manager.block_bot()
    notices_before = len(director.inbox)

    for n in range(2):
        async with sessions() as s, s.begin():
            await outbox.enqueue(s, f"note:{n}", channel_manager.id, f"note {n}")
        await sender.deliver(sessions, TelegramTransport(app.bot))

    told = director.inbox[notices_before:]
    assert len(told) == 1 and "无法再联系到 王 伟" in told[0].plain
    assert sim.refused(channel_manager.id) == 1  # the second note was not even tried
    async with sessions() as s:
        person = await s.scalar(select(Staff).where(Staff.telegram_id == channel_manager.id))
        rows = {r.dedup_key: r for r in await s.scalars(select(Outbox))}
    assert person.unreachable_since is not None
    assert rows["note:0"].status == "failed" and "blocked" in rows["note:0"].last_error
    assert rows["note:1"].status == "cancelled"

    await channel_manager.unblock_bot()
    await channel_manager.send("/help")
    async with sessions() as s, s.begin():
        await outbox.enqueue(s, "note:2", channel_manager.id, "note 2")
    await sender.deliver(sessions, TelegramTransport(app.bot))
    assert channel_manager.inbox[-1].plain == "note 2"


async def test_a_migrated_team_group_keeps_receiving(app, sim, sessions, director):
    await director.send("/start")
    group = sim.group(id=-7001, title="运营部")
    await sim.add_bot_to_group(group, by=director)
    await director.send("/bind", chat=group)
    push, sim.on_update = sim.on_update, None  # the bot misses the migration service messages
    supergroup = await sim.migrate_group(group)
    sim.on_update = push
    async with sessions() as s, s.begin():
        await outbox.enqueue(s, "digest:test", group.id, "日报汇总")

    await sender.deliver(sessions, TelegramTransport(app.bot))
    await sender.deliver(sessions, TelegramTransport(app.bot))

    assert supergroup.messages[-1].plain == "日报汇总"
    async with sessions() as s:
        assert (await s.get(Team, 1)).group_chat_id == supergroup.id
        row = await s.scalar(select(Outbox).where(Outbox.dedup_key == "digest:test"))
    assert row.status == "sent" and row.chat_id == supergroup.id


async def test_a_card_no_longer_wanted_is_dropped_unsent(app, sim, sessions, director):
    await director.send("/start")
    before = len(director.inbox)
    async with sessions() as s, s.begin():
        person = Person(4242, "赵六", None, "zh")
        req = await joining.request(s, person, "content", max_per_day=3)
    async with sessions() as s, s.begin():
        (await s.get(JoinRequest, req.id)).status = "withdrawn"

    await sender.deliver(sessions, TelegramTransport(app.bot))

    assert len(director.inbox) == before
    async with sessions() as s:
        card = await s.scalar(select(Outbox).where(Outbox.about == f"join:{req.id}"))
    assert card.status == "cancelled" and "no longer wanted" in card.last_error


async def test_only_the_lease_holder_sends(app, sim, sessions, director):
    await director.send("/start")
    await _queue(sessions, director.id, 3)
    transport = TelegramTransport(app.bot)
    assert await sender.deliver(sessions, transport, holder="replica-a") == 3
    await _queue(sessions, director.id, 3, prefix="n")
    assert await sender.deliver(sessions, transport, holder="replica-b") == 0

    clock.start_at(clock.now() + sender.SENDER_LEASE + timedelta(seconds=1))
    assert await sender.deliver(sessions, transport, holder="replica-b") == 3  # taken over
