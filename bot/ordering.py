"""Updates from different chats handled concurrently, each chat's and each person's in order."""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Enough to overlap one update's Telegram and database round trips with others' work, and under
# the connection pool's 15 (SQLAlchemy's 5 + 10 overflow) so jobs still get a connection.
CONCURRENT_UPDATES = 8


class ChatOrder(BaseUpdateProcessor):
    """At most `max_concurrent_updates` at once; two updates that share a chat or a person run
    one after the other, in the order they arrived (a form answer, then its ✅ submit)."""

    def __init__(self, max_concurrent_updates: int = CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[tuple[str, int], tuple[asyncio.Lock, int]] = {}

    async def process_update(self, update: object, coroutine: Awaitable) -> None:
        """Wait for the update's chat and person, then for a free slot, then handle it."""
        # Taken before the slot: a chat's queued updates do not hold slots other chats could use.
        async with self._turn(keys_of(update)):
            await super().process_update(update, coroutine)

    async def do_process_update(self, update: object, coroutine: Awaitable) -> None:
        """Handle it (the order was settled in process_update)."""
        await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    @asynccontextmanager
    async def _turn(self, keys: list[tuple[str, int]]) -> AsyncIterator[None]:
        # Always chat before person (the sorted order): no two updates wait for each other.
        async with AsyncExitStack() as stack:
            for key in keys:
                await stack.enter_async_context(self._lock(key))
            yield

    @asynccontextmanager
    async def _lock(self, key: tuple[str, int]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()  # FIFO: waiters get it in the order they asked
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]  # one entry per chat with work in hand, not per chat seen
            else:
                self._locks[key] = (lock, users - 1)


def keys_of(update: object) -> list[tuple[str, int]]:
    """What an update must wait for: its chat, then its sender (a person in several chats)."""
    if not isinstance(update, Update):
        return []
    keys = []
    if update.effective_chat is not None:
        keys.append(("chat", update.effective_chat.id))
    if update.effective_user is not None:
        keys.append(("user", update.effective_user.id))
    return sorted(keys)
