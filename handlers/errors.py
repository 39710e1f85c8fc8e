"""The one global error handler: log with context, tell the person to try again."""

import logging

from telegram import Update
from telegram.error import RetryAfter

from bot.i18n import normalise
from bot.render import render
from bot.state import BotContext
from handlers.reply import NotSent

log = logging.getLogger("opsbot.errors")


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure; in a private chat, apologise with what to do next."""
    update_id = getattr(update, "update_id", None)
    # A reply that failed after the commit: the change stands, so the apology must not say
    # that nothing was changed (decision 45).
    saved = isinstance(context.error, NotSent)
    error = context.error.__cause__ if saved else context.error
    if isinstance(error, RetryAfter):
        # Telegram (or our pacer, decision 43) holds the chat longer than a reply may wait: a
        # message to it now would only earn a longer ban, so there is no apology either.
        log.warning("update %s: the reply was not sent: %s", update_id, error)
        return
    log.error("update %s failed%s", update_id, " after its commit" if saved else "", exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type != "private":
        return
    user = update.effective_user
    locale = normalise(user.language_code if user else None, context.settings.team.locale)
    try:
        await update.effective_chat.send_message(
            render("error_saved.html.j2" if saved else "error.html.j2", locale)
        )
    except Exception:  # the error handler itself must never raise
        log.exception("could not tell the user about the error")
