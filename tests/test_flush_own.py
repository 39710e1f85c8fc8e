"""What an update queued goes out right after its commit, from the process that handled it,
in its chat's order (decision 67, seventh round)."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from test_approvals import (  # noqa: F401 (fixtures)
    EXPENSE,
    card_of,
    file_expense,
    people,
    thursday,
    with_forms,
)

from bot import clock, outbox, sender
from bot.models import Lease, Outbox
from bot.states import OutboxStatus

pytestmark = pytest.mark.databases


@pytest.fixture
def settings(settings):
    return with_forms(settings, EXPENSE)


def _told(person) -> bool:
    return any("已批准" in m.plain for m in person.inbox)


async def test_a_decision_is_told_at_once_while_another_process_is_the_sender(
    app,
    sessions,
    people,  # noqa: F811
):
    """A replica that is not the sender still sends what its own update queued, as it sends
    the update's replies: the proposer hears at once, not when the sender next runs."""
    await file_expense(people.wang, "打印宣传单", "300")
    until = clock.now() + timedelta(minutes=5)
    async with sessions() as s, s.begin():
        await s.merge(Lease(name="sender", holder="replica-2:1", expires_at=until))
    await people.zhao.press(card_of(people.zhao), "✅ 批准")
    assert _told(people.wang)
    async with sessions() as s:  # the other process is still the sender
        assert (await s.get(Lease, "sender")).holder == "replica-2:1"


async def test_a_notice_waits_behind_an_older_message_of_its_chat(app, sessions, people):  # noqa: F811
    """The proposer's chat has an older message due but not sent yet (the sender's backlog):
    the decision's notice does not overtake it."""
    await file_expense(people.wang, "打印宣传单", "300")
    async with sessions() as s, s.begin():
        await outbox.enqueue(s, "older:1", people.wang.id, "先到的消息")
    await people.zhao.press(card_of(people.zhao), "✅ 批准")
    texts = [m.plain for m in people.wang.inbox]
    assert "先到的消息" in texts, texts
    assert any("已批准" in t for t in texts[texts.index("先到的消息") + 1 :]), texts


class _StoppedAt:
    """A transport that sends every row until `stop_key`, where the process stops (cancelled
    mid-delivery: CancelledError is no failure of a row, it ends the delivery)."""

    def __init__(self, stop_key: str) -> None:
        self.stop_key, self.sent = stop_key, []

    async def send(self, row, target):
        if row.dedup_key == self.stop_key:
            raise asyncio.CancelledError
        self.sent.append(row.dedup_key)
        return sender.SendResult(message_id=100 + len(self.sent))


async def _statuses(sessions, keys) -> dict[str, tuple]:
    async with sessions() as s:
        rows = await s.scalars(select(Outbox).where(Outbox.dedup_key.in_(keys)))
        return {r.dedup_key: (r.status, r.message_id) for r in rows}


async def test_an_updates_rows_are_marked_sent_together(app, sessions):
    keys = ["own:1", "own:2", "own:3"]
    async with sessions() as s, s.begin():
        for i, key in enumerate(keys):
            await outbox.enqueue(s, key, 7001 + i, f"消息{i}")
    assert await sender.deliver_own(sessions, _StoppedAt("none"), keys) == []
    assert await _statuses(sessions, keys) == {
        "own:1": (OutboxStatus.SENT, 101),
        "own:2": (OutboxStatus.SENT, 102),
        "own:3": (OutboxStatus.SENT, 103),
    }


async def test_rows_that_went_are_not_left_unmarked_longer_than_mark_within(
    app, sessions, monkeypatch
):
    """Marked together, but a row that went is marked once MARK_WITHIN has passed since, even
    with more to send: a process stopped mid-delivery sends again only what went lately."""
    monkeypatch.setattr(sender, "MARK_WITHIN", 0.0)
    keys = ["own:a", "own:b", "own:c"]
    async with sessions() as s, s.begin():
        for i, key in enumerate(keys):
            await outbox.enqueue(s, key, 7101 + i, f"消息{i}")
    with pytest.raises(asyncio.CancelledError):
        await sender.deliver_own(sessions, _StoppedAt("own:c"), keys)
    statuses = await _statuses(sessions, keys)
    assert statuses["own:a"] == (OutboxStatus.SENT, 101)
    assert statuses["own:b"] == (OutboxStatus.SENT, 102)
    assert statuses["own:c"][0] == OutboxStatus.SENDING  # claimed; goes once its claim expires
