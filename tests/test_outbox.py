"""The outbox: queued once per key, sent once, retried when transient, given up when permanent."""

import asyncio

import pytest
from sqlalchemy import select

from bot import outbox, sender
from bot.models import Outbox
from bot.sender import SendResult

pytestmark = pytest.mark.databases


class FakeTransport:
    """Records what would be sent; answers with scripted results."""

    def __init__(self, results=None, delay=0.0):
        self.sent: list[tuple[int, str]] = []
        self.results = list(results or [])
        self.delay = delay

    async def send(self, row, target_message_id):
        await asyncio.sleep(self.delay)
        result = self.results.pop(0) if self.results else SendResult(message_id=100 + row.id)
        if result.error is None:
            self.sent.append((row.chat_id, row.payload["text"]))
        return result


async def _queue(sessions, key="k1", chat_id=5, text="hi"):
    async with sessions() as s, s.begin():
        return await outbox.enqueue(s, key, chat_id, text, [[("OK", "x:v1:ok")]])


async def _row(sessions, key="k1") -> Outbox:
    async with sessions() as s:
        return await s.scalar(select(Outbox).where(Outbox.dedup_key == key))


async def test_a_key_is_queued_once(sessions):
    assert await _queue(sessions) is True
    assert await _queue(sessions) is False
    async with sessions() as s:
        rows = list(await s.scalars(select(Outbox)))
    assert len(rows) == 1 and rows[0].payload["buttons"] == [[["OK", "x:v1:ok"]]]


async def test_it_sends_and_records_the_message_id(sessions):
    await _queue(sessions)
    transport = FakeTransport()
    assert await sender.deliver(sessions, transport) == 1
    row = await _row(sessions)
    assert row.status == "sent" and row.message_id == 100 + row.id
    assert await sender.deliver(sessions, transport) == 0
    assert transport.sent == [(5, "hi")]


async def test_a_transient_error_is_retried_later(sessions):
    await _queue(sessions)
    transport = FakeTransport([SendResult(error="Timed out")])
    assert await sender.deliver(sessions, transport) == 0
    row = await _row(sessions)
    assert row.status == "pending" and row.attempts == 1 and row.last_error == "Timed out"
    assert row.next_attempt_at > row.created_at


async def test_retry_after_is_honoured(sessions):
    await _queue(sessions)
    await sender.deliver(sessions, FakeTransport([SendResult(error="Flood", retry_after=30)]))
    row = await _row(sessions)
    assert 29 <= (row.next_attempt_at - row.created_at).total_seconds() <= 35


async def test_a_permanent_error_is_not_retried(sessions):
    await _queue(sessions)
    blocked = SendResult(error="Forbidden: bot was blocked by the user", permanent=True)
    await sender.deliver(sessions, FakeTransport([blocked]))
    row = await _row(sessions)
    assert row.status == "failed" and "blocked" in row.last_error


async def test_an_edit_targets_the_message_of_its_reference(sessions):
    await _queue(sessions, key="card")
    await sender.deliver(sessions, FakeTransport())
    async with sessions() as s, s.begin():
        assert await outbox.enqueue_edit(s, "card:closed", "card", "closed")
    seen = []

    class Recorder(FakeTransport):
        async def send(self, row, target_message_id):
            seen.append((row.method, target_message_id))
            return SendResult(message_id=target_message_id)

    await sender.deliver(sessions, Recorder())
    card = await _row(sessions, "card")
    assert seen == [("editMessageText", card.message_id)]


async def test_an_edit_waits_for_its_card_sent_elsewhere_and_not_yet_marked(sessions):
    """Another process sent the card and has not marked it yet (bot/marks.py): an edit of it
    is tried again after a backoff, not given up as "never sent"."""
    from datetime import timedelta

    from sqlalchemy import update

    from bot import clock
    from bot.states import OutboxStatus

    await _queue(sessions, "card", chat_id=8)
    async with sessions() as s, s.begin():  # claimed and sent by a replica, its mark to come
        await s.execute(
            update(Outbox)
            .where(Outbox.dedup_key == "card")
            .values(status=OutboxStatus.SENDING, lease_until=clock.now() + timedelta(minutes=2))
        )
        assert await outbox.enqueue_edit(s, "card:closed", "card", "closed")
    transport = FakeTransport()
    assert await sender.deliver(sessions, transport) == 0
    edit = await _row(sessions, "card:closed")
    assert (edit.status, edit.last_error) == ("pending", sender.CARD_UNMARKED)
    async with sessions() as s, s.begin():  # the replica's mark
        await s.execute(
            update(Outbox)
            .where(Outbox.dedup_key == "card")
            .values(status=OutboxStatus.SENT, message_id=777, lease_until=None)
        )
    seen = []

    class Recorder(FakeTransport):
        async def send(self, row, target_message_id):
            seen.append((row.method, target_message_id))
            return SendResult(message_id=target_message_id)

    clock.start_at(clock.now() + timedelta(seconds=5))
    try:
        assert await sender.deliver(sessions, Recorder()) == 1
    finally:
        clock.reset()
    assert seen == [("editMessageText", 777)]


async def test_two_concurrent_senders_send_each_row_once(sessions):
    for i in range(20):
        await _queue(sessions, key=f"k{i}", text=f"m{i}")
    transport = FakeTransport(delay=0.001)
    await asyncio.gather(sender.deliver(sessions, transport), sender.deliver(sessions, transport))
    await sender.deliver(sessions, transport)
    texts = [text for _, text in transport.sent]
    assert sorted(texts) == sorted(f"m{i}" for i in range(20))
