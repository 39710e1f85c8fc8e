"""Telegram's flood limits kept on our side: each chat paced, held after a 429, 30/s overall.

PTB's AIORateLimiter spaces calls overall and per group, but not per private chat, halts every
chat when one is told to wait, and logs each 429 it does not retry as an ERROR with a
traceback. This limiter (decision 43) is the one door every Bot API call goes through, the
outbox's sends and the replies alike, so both know each chat's pace and each chat's hold.
"""

import asyncio
import logging
import math
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# Telegram: about 30 messages a second to different chats. Evenly spaced at exactly 30/s, the
# calls meet its rolling one-second window edge-on, and any jitter on the way earned 429s
# (bench/outbox_send.py: 15 in 1,000); 29.5/s leaves a margin.
OVERALL_PER_SECOND = 29.5
PRIVATE_BURST = 3  # a private chat takes a short burst ...
PRIVATE_PER_SECOND = 1.0  # ... then about one message a second
GROUP_PER_MINUTE = 20  # a group: 20 messages in any minute
# Calls that post into a chat; getChat, sendChatAction, answerCallbackQuery and the like are
# not messages and are not paced.
PACED_PREFIXES = ("send", "edit", "copy", "forward")
UNPACED = {"sendChatAction"}
KEEP_CHATS = 4096  # forget idle chats past this many, so memory stays flat

HoldCallback = Callable[[int, float], Awaitable[None]]


@dataclass(frozen=True)
class Wait:
    """`rate_limit_args` of one call: the longest it may wait for its chat, in seconds."""

    up_to: float


NO_WAIT = Wait(0.0)  # the outbox: a chat that is not ready is left for a later pass
DEFAULT_WAIT = Wait(5.0)  # a call that says nothing (the error handler's note)


class ChatBusy(RetryAfter):
    """Raised without calling Telegram: the chat is paced or held for `retry_after` seconds."""


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds."""
    # PTB 22 warns that retry_after becomes a timedelta; accept both without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


class ChatPacer(BaseRateLimiter[Wait]):
    """PTB rate limiter: one call in flight per chat, each chat paced, nothing sent in a hold."""

    def __init__(
        self,
        *,
        per_chat: bool = True,
        clock: Callable[[], float] = time.monotonic,
        on_hold: HoldCallback | None = None,
    ) -> None:
        self.per_chat = per_chat  # off only against a simulator whose flood limits are off
        self.clock = clock
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests move a fake clock
        self.on_hold = on_hold  # records a 429 where other processes see it (the database)
        self._holds: dict[int, float] = {}
        self._tokens: dict[int, tuple[float, float]] = {}  # private chat -> (tokens, at)
        self._group_sent: dict[int, deque[float]] = {}
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # chat -> (lock, users)
        self._next_overall = 0.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def ready_in(self, chat_id: int) -> float:
        """Seconds until a message to `chat_id` may go: 0 when it may go now."""
        now = self.clock()
        wait = self._holds.get(chat_id, now) - now
        if self.per_chat:
            wait = max(wait, self._pace_wait(chat_id, now))
        return max(wait, 0.0)

    def hold(self, chat_id: int, seconds: float) -> None:
        """Send nothing to `chat_id` for `seconds` (Telegram said so, here or elsewhere)."""
        until = self.clock() + seconds
        self._holds[chat_id] = max(self._holds.get(chat_id, until), until)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict | list[dict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Wait | None,
    ) -> bool | dict | list[dict]:
        """Pace one Bot API call; raise ChatBusy rather than wait longer than the caller may."""
        chat = _paced_chat(endpoint, data)
        if chat is None:
            return await callback(*args, **kwargs)
        patience = (rate_limit_args or DEFAULT_WAIT).up_to
        async with self._chat_lock(chat):  # one call in flight per chat, in arrival order
            for attempt in range(2):
                wait = self.ready_in(chat)
                if wait > patience:
                    raise ChatBusy(max(1, math.ceil(wait)))
                patience -= wait
                # The chat's slot is taken for when the call really goes (after the overall
                # spacing too), so the pace counts from the moment Telegram sees the message.
                delay = self._overall_slot(after=wait)
                self._take(chat, delay)
                await self._sleep(delay)
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as exc:
                    seconds = retry_seconds(exc)
                    await self._told_to_wait(chat, seconds)
                    if attempt == 1 or seconds > patience:
                        raise
                    # the person in front of us gets the answer once the wait is over
        raise AssertionError("unreachable")

    async def _told_to_wait(self, chat: int, seconds: float) -> None:
        # One line, no traceback: the wait is honoured here and by the outbox; nobody needs
        # to act on it (ERROR is for what needs a person).
        log.info("Telegram asked to wait: chat %s, retry_after %s s", chat, f"{seconds:g}")
        self.hold(chat, seconds)
        if self.on_hold is not None:
            try:
                await self.on_hold(chat, seconds)
            except Exception as exc:  # the hold is kept in memory all the same
                log.warning("could not record the hold of chat %s: %r", chat, exc)

    def _pace_wait(self, chat: int, now: float) -> float:
        if chat > 0:  # private chats have positive ids, groups and channels negative ones
            tokens, at = self._tokens.get(chat, (float(PRIVATE_BURST), now))
            tokens = min(PRIVATE_BURST, tokens + (now - at) * PRIVATE_PER_SECOND)
            return (1 - tokens) / PRIVATE_PER_SECOND if tokens < 1 else 0.0
        sent = self._group_sent.get(chat)
        if not sent:
            return 0.0
        while sent and sent[0] <= now - 60:
            sent.popleft()
        return sent[0] + 60 - now if len(sent) >= GROUP_PER_MINUTE else 0.0

    def _take(self, chat: int, wait: float) -> None:
        """Take the chat's slot `wait` seconds from now (the caller sleeps until then)."""
        if not self.per_chat:
            return
        at = self.clock() + wait
        if chat > 0:
            tokens, then = self._tokens.get(chat, (float(PRIVATE_BURST), at))
            tokens = min(PRIVATE_BURST, tokens + (at - then) * PRIVATE_PER_SECOND)
            self._tokens[chat] = (tokens - 1, at)
        else:
            self._group_sent.setdefault(chat, deque()).append(at)
        if len(self._tokens) + len(self._group_sent) + len(self._holds) > KEEP_CHATS:
            self._forget_idle()

    def _overall_slot(self, after: float) -> float:
        """Seconds to wait for the first overall slot at least `after` seconds from now: an even
        30/s, no initial burst (a burst of 30 and then 30/s overshoots Telegram's window)."""
        now = self.clock()
        slot = max(now + after, self._next_overall)
        self._next_overall = slot + 1 / OVERALL_PER_SECOND
        return slot - now

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            await self.sleep(seconds)

    def _chat_lock(self, chat: int) -> "_ChatLock":
        return _ChatLock(self._locks, chat)

    def _forget_idle(self) -> None:
        now = self.clock()
        self._holds = {c: u for c, u in self._holds.items() if u > now}
        self._tokens = {c: v for c, v in self._tokens.items() if self._pace_wait(c, now) > 0}
        self._group_sent = {c: s for c, s in self._group_sent.items() if s and s[-1] > now - 60}


class _ChatLock:
    """A per-chat asyncio.Lock that is dropped when nobody holds or awaits it."""

    def __init__(self, locks: dict[int, tuple[asyncio.Lock, int]], chat: int) -> None:
        self.locks, self.chat = locks, chat

    async def __aenter__(self) -> None:
        lock, users = self.locks.get(self.chat, (asyncio.Lock(), 0))
        self.locks[self.chat] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.locks[self.chat][0].release()
        self._leave()

    def _leave(self) -> None:
        lock, users = self.locks[self.chat]
        if users <= 1:
            del self.locks[self.chat]
        else:
            self.locks[self.chat] = (lock, users - 1)


def _paced_chat(endpoint: str, data: dict[str, Any]) -> int | None:
    if endpoint in UNPACED or not endpoint.startswith(PACED_PREFIXES):
        return None
    chat = data.get("chat_id")
    if isinstance(chat, str):
        try:
            return int(chat)
        except ValueError:
            return -1 - (hash(chat) & (1 << 62) - 1)  # "@channel": paced like a group
    return chat if isinstance(chat, int) else None
