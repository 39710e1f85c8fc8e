"""What an update queued goes out right after its commit, from the process that handled it,
in its chat's order (decision 67, seventh round)."""

from datetime import timedelta

import pytest
from test_approvals import (  # noqa: F401 (fixtures)
    EXPENSE,
    card_of,
    file_expense,
    people,
    thursday,
    with_forms,
)

from bot import clock, outbox
from bot.models import Lease

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
