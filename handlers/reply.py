"""Replies to the person in front of us, rendered from templates and sent once the update's
transaction has committed; outbox flushing."""

import html
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import BadRequest

from bot import outbox
from bot.botapi import HTML, post
from bot.outbox import CAPTION_MAX, Buttons
from bot.pacing import ChatPacer, Wait
from bot.render import render
from bot.sender import claim_own, deliver, deliver_own
from bot.state import BotContext
from bot.telegram_io import TelegramTransport, keyboard

# A reply to the person in front of us waits for its chat's turn (its pace, or a 429's
# retry_after) up to this long; the outbox never waits: it leaves the row for a later pass and
# moves on to other chats. Longer than this, the reply is not sent (handlers/errors.py).
REPLY_WAIT = Wait(8.0)
# A handler sends what it queued at once, but never a whole backlog: that is the tick's job, and
# a long send here would hold up everyone else's updates.
FLUSH_ROWS = 25


@dataclass
class _Holding:
    """What an update's transaction leaves to do once it commits."""

    # The Telegram calls a handler made inside it, in order: a call can wait seconds for its
    # chat (REPLY_WAIT), and on SQLite an open transaction holds the one write lock.
    calls: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    # The rows it queued, claimed for sending before it committed (None: not claimed yet).
    claimed: list | None = None


# None when no transaction() is open in this update's task.
_held: ContextVar[_Holding | None] = ContextVar("held", default=None)


class NotSent(Exception):
    """A reply held for the commit failed: what the person did was saved (the cause says why)."""


@asynccontextmanager
async def transaction(context: BotContext) -> AsyncIterator[AsyncSession]:
    """One session and transaction for the update; replies made inside it are sent after it
    commits, in order, then the outbox is flushed. Nothing is sent when the block raises."""
    outermost = _held.get() is None and not context.in_transaction
    async with after_commit(context), context.begin() as session:
        yield session
        if outermost:  # its commit is the update's: claim what it queued as part of it
            await _claim_queued(session)


async def _claim_queued(session: AsyncSession) -> None:
    # The claim would be a transaction of its own after the commit (~1 ms of CPU an update).
    await outbox.write_later(session)  # what it held for later is queued too
    keys = outbox.queued()
    if keys:
        _held.get().claimed = await claim_own(session, keys[:FLUSH_ROWS])


@asynccontextmanager
async def after_commit(context: BotContext) -> AsyncIterator[None]:
    """Hold the Telegram calls made inside the block; make them when it ends without error.
    Nested, the outermost block sends (an inner commit is not the end of the outer one)."""
    if _held.get() is not None:
        yield
        return
    holding = _Holding()
    token = _held.set(holding)
    with outbox.watching() as queued:
        try:
            yield
        finally:
            _held.reset(token)
    try:
        for call in holding.calls:
            await call()
    except Exception as exc:
        raise NotSent(str(exc)) from exc
    finally:  # what the handler queued is committed and goes out even if a reply did not
        if queued:  # nothing queued: no outbox read (the sender job sends any backlog)
            await flush_outbox(context, queued, holding.claimed)


async def _call(call: Callable[[], Awaitable[object]]) -> None:
    """Make a Telegram call now, or once the open transaction() has committed."""
    held = _held.get()
    if held is None:
        await call()
    else:
        held.calls.append(call)


def rows_of(buttons: list[tuple[str, str]], width: int = 2) -> Buttons:
    """Lay buttons out `width` to a row (Chinese labels fit two to a phone-width row)."""
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def markup(buttons: Buttons | None):
    """[[(label, data)]] to an inline keyboard."""
    return keyboard([[[label, data] for label, data in row] for row in buttons or []])


async def reply(
    update: Update, locale: str, template: str, buttons: Buttons | None = None, **ctx
) -> None:
    """Send a rendered template to the chat the update came from."""
    await send_rendered(update, render(template, locale, **ctx), buttons)


async def edit(
    update: Update, locale: str, template: str, buttons: Buttons | None = None, **ctx
) -> None:
    """Replace the text of the message whose button was pressed."""
    await send_rendered(update, render(template, locale, **ctx), buttons, edit=True)


async def send_rendered(
    update: Update, text: str, buttons: Buttons | None = None, *, edit: bool = False
) -> None:
    """Send (or, for a button press, edit in place) text already rendered from templates."""
    await _call(partial(_send_text, update, text, buttons, edit))


async def send_private(update: Update, chat_id: int, text: str) -> None:
    """Send rendered text to a person's private chat (a press in the group answered privately)."""
    bot = update.get_bot()
    await _call(partial(bot.send_message, chat_id, text, **_limit(bot)))


async def _send_text(update: Update, text: str, buttons: Buttons | None, edit: bool) -> None:
    # Through botapi.post: nothing here reads the message Telegram sends back.
    bot = update.get_bot()
    limit = _limit(bot)
    keys = markup(buttons)
    if not edit:
        params = {"chat_id": update.effective_chat.id, "text": text, "parse_mode": HTML,
                  "reply_markup": keys}  # fmt: skip
        await post(bot, "sendMessage", params, **limit)
        return
    message = update.callback_query.message
    where = {"chat_id": message.chat.id, "message_id": message.message_id, "parse_mode": HTML,
             "reply_markup": keys}  # fmt: skip
    try:
        if getattr(message, "text", None) is None:  # a file sent with the card as its caption
            await post(bot, "editMessageCaption", where | {"caption": text[:CAPTION_MAX]}, **limit)
        else:
            await post(bot, "editMessageText", where | {"text": text}, **limit)
    except BadRequest as exc:
        if "message is not modified" not in str(exc).lower():
            raise


async def reply_document(update: Update, data: bytes, filename: str, caption: str) -> None:
    """Send a file (an export) to the chat the update came from, caption rendered already."""
    bot = update.get_bot()
    await _call(partial(bot.send_document, update.effective_chat.id, document=data,
                        filename=filename, caption=caption, **_limit(bot)))  # fmt: skip


def _limit(bot) -> dict:
    # PTB refuses rate_limit_args on a bot without a limiter (benchmarks remove it).
    paced = isinstance(getattr(bot, "rate_limiter", None), ChatPacer)
    return {"rate_limit_args": REPLY_WAIT} if paced else {}


async def answer_alert(update: Update, locale: str, template: str, **ctx) -> None:
    """Answer a button press with an alert box (plain text: alerts do not render HTML)."""
    text = html.unescape(render(template, locale, **ctx))
    await _call(partial(update.callback_query.answer, text[:200], show_alert=True))


async def answer_note(update: Update, locale: str, template: str, **ctx) -> None:
    """Answer a button press with a short toast."""
    text = html.unescape(render(template, locale, **ctx))
    await _call(partial(update.callback_query.answer, text[:200]))


async def acknowledge(update: Update) -> None:
    """Answer a button press with nothing to say (the client stops its spinner)."""
    await _call(update.callback_query.answer)


async def flush_outbox(
    context: BotContext, keys: list[str] | None = None, claimed: list | None = None
) -> None:
    """Send what the handler queued (`keys`; None: it did not count them), now that its
    transaction has committed (`claimed`: the rows it claimed in it); rows it could not take
    itself (behind a chat's older rows, or too many) go with the backlog."""
    transport = TelegramTransport(context.bot)
    own = keys[:FLUSH_ROWS] if keys else None
    left = await deliver_own(context.db, transport, own, claimed) if own else None
    if left is None or left or len(keys) > FLUSH_ROWS:
        await deliver(context.db, transport, limit=FLUSH_ROWS, rounds=1, queued=True)
