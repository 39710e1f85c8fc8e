"""Replies to the person in front of us, rendered from templates; outbox flushing."""

import html

from telegram import Update
from telegram.error import BadRequest

from bot.outbox import Buttons, deliver
from bot.render import render
from bot.state import BotContext
from bot.telegram_io import TelegramTransport, keyboard


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
    await update.effective_chat.send_message(
        render(template, locale, **ctx), reply_markup=markup(buttons)
    )


async def edit(
    update: Update, locale: str, template: str, buttons: Buttons | None = None, **ctx
) -> None:
    """Replace the text of the message whose button was pressed."""
    try:
        await update.callback_query.edit_message_text(
            render(template, locale, **ctx), reply_markup=markup(buttons)
        )
    except BadRequest as exc:
        if "message is not modified" not in str(exc).lower():
            raise


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
    await deliver(context.db, TelegramTransport(context.bot))
