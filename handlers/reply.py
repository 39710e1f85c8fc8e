"""Replies to the person in front of us, rendered from templates; outbox flushing."""

import html

from telegram import Update
from telegram.error import BadRequest

from bot.outbox import Buttons
from bot.pacing import ChatPacer, Wait
from bot.render import render
from bot.sender import deliver
from bot.state import BotContext
from bot.telegram_io import TelegramTransport, keyboard

# A reply to the person in front of us waits for its chat's turn (its pace, or a 429's
# retry_after) up to this long; the outbox never waits: it leaves the row for a later pass and
# moves on to other chats. Longer than this, the reply is not sent (handlers/errors.py).
REPLY_WAIT = Wait(8.0)
# A handler sends what it queued at once, but never a whole backlog: that is the tick's job, and
# a long send here would hold up everyone else's updates.
FLUSH_ROWS = 25


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
    bot = update.get_bot()
    limit = _limit(bot)
    if not edit:
        await bot.send_message(
            update.effective_chat.id, text, reply_markup=markup(buttons), **limit
        )
        return
    message = update.callback_query.message
    try:
        await bot.edit_message_text(
            text, chat_id=message.chat.id, message_id=message.message_id,
            reply_markup=markup(buttons), **limit,
        )  # fmt: skip
    except BadRequest as exc:
        if "message is not modified" not in str(exc).lower():
            raise


async def reply_document(update: Update, data: bytes, filename: str, caption: str) -> None:
    """Send a file (an export) to the chat the update came from, caption rendered already."""
    bot = update.get_bot()
    await bot.send_document(update.effective_chat.id, document=data, filename=filename,
                            caption=caption, **_limit(bot))  # fmt: skip


def _limit(bot) -> dict:
    # PTB refuses rate_limit_args on a bot without a limiter (benchmarks remove it).
    paced = isinstance(getattr(bot, "rate_limiter", None), ChatPacer)
    return {"rate_limit_args": REPLY_WAIT} if paced else {}


async def answer_alert(update: Update, locale: str, template: str, **ctx) -> None:
    """Answer a button press with an alert box (plain text: alerts do not render HTML)."""
    text = html.unescape(render(template, locale, **ctx))
    await update.callback_query.answer(text[:200], show_alert=True)


async def answer_note(update: Update, locale: str, template: str, **ctx) -> None:
    """Answer a button press with a short toast."""
    text = html.unescape(render(template, locale, **ctx))
    await update.callback_query.answer(text[:200])


async def flush_outbox(context: BotContext) -> None:
    """Send what the handler queued, now that its transaction has committed."""
    await deliver(context.db, TelegramTransport(context.bot), limit=FLUSH_ROWS, rounds=1)
