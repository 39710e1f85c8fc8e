"""Updates from different chats are handled at once; a chat's, and a person's, stay in order."""

import asyncio

from telegram import Update

from bot.ordering import ChatOrder

GROUP = -100123


def message(update_id: int, chat_id: int, user_id: int) -> Update:
    chat_type = "private" if chat_id > 0 else "supergroup"
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat_id, "type": chat_type},
                "from": {"id": user_id, "is_bot": False, "first_name": "x"},
                "text": "/my",
            },
        },
        None,
    )


async def run(order: ChatOrder, updates: list[Update], held: set[int]):
    """Process the updates as PTB does (a task each, in arrival order); the ids in `held` wait
    for `release` before finishing. Returns the started / finished logs and the release event."""
    started, finished, release = [], [], asyncio.Event()

    async def handle(update: Update) -> None:
        started.append(update.update_id)
        if update.update_id in held:
            await release.wait()
        finished.append(update.update_id)

    tasks = [asyncio.create_task(order.process_update(u, handle(u))) for u in updates]
    return tasks, started, finished, release


async def test_another_chat_is_answered_while_a_chat_waits_and_the_chat_keeps_its_order():
    order = ChatOrder(8)
    updates = [message(1, 11, 11), message(2, 22, 22), message(3, 11, 11)]
    tasks, started, finished, release = await run(order, updates, held={1})
    await asyncio.sleep(0.01)
    assert finished == [2]  # chat 22 did not wait for chat 11
    assert started == [1, 2]  # chat 11's second update waits for its first
    release.set()
    await asyncio.gather(*tasks)
    assert finished == [2, 1, 3]


async def test_one_person_in_the_group_and_in_private_is_handled_in_order():
    order = ChatOrder(8)
    updates = [message(1, GROUP, 11), message(2, 11, 11), message(3, GROUP, 22)]
    tasks, started, finished, release = await run(order, updates, held={1})
    await asyncio.sleep(0.01)
    assert started == [1]  # person 11's private message, and the group's next, wait
    release.set()
    await asyncio.gather(*tasks)
    assert finished == [1, 2, 3]
    assert order._locks == {}  # nothing kept for chats with nothing in hand


async def test_no_more_than_the_limit_at_once():
    order = ChatOrder(2)
    updates = [message(i, i, i) for i in range(1, 5)]
    tasks, started, finished, release = await run(order, updates, held={1, 2, 3, 4})
    await asyncio.sleep(0.01)
    assert started == [1, 2]
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(finished) == [1, 2, 3, 4]
