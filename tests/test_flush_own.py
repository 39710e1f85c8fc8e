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

import handlers.reply
from bot import clock, outbox, sender
from bot.marks import marks_for
from bot.models import Lease, Outbox, Staff
from bot.states import OutboxStatus
from bot.telegram_io import TelegramTransport

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


async def _queued(sessions, keys: list[str], chat_id: int = 7001) -> None:
    async with sessions() as s, s.begin():
        for i, key in enumerate(keys):
            await outbox.enqueue(s, key, chat_id, f"消息{i}")


SENDING = (OutboxStatus.SENDING, None)


async def test_an_updates_rows_are_marked_sent_together_by_the_next_transaction(
    app, sessions, monkeypatch
):
    """The rows an update sent are marked with the process's next transaction (bot/marks.py):
    `sending` until then; one that rolls back leaves the marks waiting for the next."""
    monkeypatch.setattr(sender, "MARK_WITHIN", 60.0)  # no timer: only transactions mark
    keys = ["own:1", "own:2", "own:3"]
    await _queued(sessions, keys)
    assert await sender.deliver_own(sessions, _StoppedAt("none"), keys) == []
    assert await _statuses(sessions, keys) == dict.fromkeys(keys, SENDING)
    marks = marks_for(sessions)
    with pytest.raises(RuntimeError):
        async with sessions() as s, s.begin():
            taken = await marks.ride(s)
            try:
                raise RuntimeError("the update failed")
            except RuntimeError:
                marks.put_back(taken)
                raise
    assert await _statuses(sessions, keys) == dict.fromkeys(keys, SENDING)
    async with sessions() as s, s.begin():
        await marks.ride(s)
    assert await _statuses(sessions, keys) == {
        "own:1": (OutboxStatus.SENT, 101),
        "own:2": (OutboxStatus.SENT, 102),
        "own:3": (OutboxStatus.SENT, 103),
    }


async def test_marks_that_could_not_be_written_wait_for_the_next_transaction(
    app, sessions, monkeypatch
):
    monkeypatch.setattr(sender, "MARK_WITHIN", 60.0)
    await _queued(sessions, ["own:f1"])
    await sender.deliver_own(sessions, _StoppedAt("none"), ["own:f1"])
    marks = marks_for(sessions)

    def away():
        raise ConnectionError("the database is away")

    with monkeypatch.context() as patched:
        patched.setattr(marks, "_sessions", away)
        with pytest.raises(ConnectionError):
            await marks.flush()
    assert await _statuses(sessions, ["own:f1"]) == {"own:f1": SENDING}
    async with sessions() as s, s.begin():
        await marks.ride(s)
    assert await _statuses(sessions, ["own:f1"]) == {"own:f1": (OutboxStatus.SENT, 101)}


async def test_rows_sent_are_marked_within_mark_within_when_no_transaction_comes(
    app, sessions, monkeypatch
):
    monkeypatch.setattr(sender, "MARK_WITHIN", 0.05)
    keys = ["own:t1", "own:t2"]
    await _queued(sessions, keys)
    await sender.deliver_own(sessions, _StoppedAt("none"), keys)
    for _ in range(100):
        if (await _statuses(sessions, keys))["own:t2"][0] == OutboxStatus.SENT:
            break
        await asyncio.sleep(0.02)
    assert await _statuses(sessions, keys) == {
        "own:t1": (OutboxStatus.SENT, 101),
        "own:t2": (OutboxStatus.SENT, 102),
    }


async def test_what_went_is_marked_before_more_is_claimed_or_sent(app, sessions, monkeypatch):
    """A chat's next row is not held up behind rows that went but wait for their mark: a claim
    writes the marks first, and so does the sender before a pass. At shutdown nothing is left
    waiting."""
    monkeypatch.setattr(sender, "MARK_WITHIN", 60.0)
    await _queued(sessions, ["own:m1"])
    await sender.deliver_own(sessions, _StoppedAt("none"), ["own:m1"])
    await _queued(sessions, ["own:m2"])
    transport = _StoppedAt("none")
    assert await sender.deliver_own(sessions, transport, ["own:m2"]) == []
    assert transport.sent == ["own:m2"]
    assert await _statuses(sessions, ["own:m1", "own:m2"]) == {
        "own:m1": (OutboxStatus.SENT, 101),
        "own:m2": SENDING,
    }
    await sender.deliver(sessions, transport, queued=True)
    assert (await _statuses(sessions, ["own:m2"]))["own:m2"] == (OutboxStatus.SENT, 101)
    await _queued(sessions, ["own:m3"], chat_id=7002)
    await sender.deliver_own(sessions, _StoppedAt("none"), ["own:m3"])
    await marks_for(sessions).close()
    assert (await _statuses(sessions, ["own:m3"]))["own:m3"] == (OutboxStatus.SENT, 101)


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


async def test_a_decision_claims_its_messages_before_it_commits(app, sessions, people, monkeypatch):  # noqa: F811
    """The rows a decision queued are claimed in its own transaction: should the process die
    after the commit, before sending, they are not lost; the sender sends them, once, when the
    claim expires."""
    await file_expense(people.wang, "打印宣传单", "300")

    async def dies(*args, **kwargs):
        raise RuntimeError("the process died after the commit")

    with monkeypatch.context() as patched:
        patched.setattr(handlers.reply, "deliver_own", dies)
        patched.setattr(handlers.reply, "deliver", dies)
        await people.zhao.press(card_of(people.zhao), "✅ 批准")
    assert not _told(people.wang)
    async with sessions() as s:
        rows = list(await s.scalars(select(Outbox).where(Outbox.status != OutboxStatus.SENT)))
    # The closed card, the proposer's notice, the group's announcement: claimed, unsent.
    assert sorted(r.status for r in rows) == [OutboxStatus.SENDING] * 3

    transport = TelegramTransport(app.bot)
    assert await sender.deliver(sessions, transport) == 0  # claimed: not another's to send
    clock.start_at(clock.now() + sender.CLAIM_LEASE + timedelta(seconds=1))
    assert await sender.deliver(sessions, transport) == 3
    assert len([m for m in people.wang.inbox if "已批准" in m.plain]) == 1


async def test_a_decider_who_was_unreachable_gets_their_card_closed(app, sessions, people):  # noqa: F811
    """Someone marked unreachable who presses a button is reachable again, and the claim made
    in the same transaction sees it: their own card's edit goes, it is not cancelled."""
    await file_expense(people.wang, "打印宣传单", "300")
    card = card_of(people.zhao)
    async with sessions() as s, s.begin():
        zhao = await s.scalar(select(Staff).where(Staff.telegram_id == people.zhao.id))
        zhao.unreachable_since = clock.now()
    await people.zhao.press(card, "✅ 批准")
    closed = people.zhao.sim.message(card.chat_id, card.message_id)
    assert "本步已由 赵 敏 批准。" in closed.plain and not closed.buttons, closed.plain
    assert _told(people.wang)


async def test_a_claim_sees_what_its_transaction_changed_unflushed(app, sessions, people):  # noqa: F811
    """claim_own reads whether each chat is reachable: a change the session holds unflushed
    (the person wrote to us again) counts, or their row would be cancelled as unreachable."""
    async with sessions() as s, s.begin():
        zhao = await s.scalar(select(Staff).where(Staff.telegram_id == people.zhao.id))
        zhao.unreachable_since = clock.now()
    async with sessions() as s, s.begin():
        zhao = await s.scalar(select(Staff).where(Staff.telegram_id == people.zhao.id))
        zhao.unreachable_since = None
        await outbox.enqueue(s, "own:back", people.zhao.id, "欢迎回来")
        [(row, since)] = await sender.claim_own(s, ["own:back"])
    assert (row.dedup_key, since) == ("own:back", None)
