"""The one global error handler: log with context, tell the person to try again."""

import logging

from telegram import Update

from bot.i18n import normalise
from bot.render import render
from bot.state import BotContext

log = logging.getLogger("opsbot.errors")


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure; in a private chat, apologise with what to do next."""
    log.error("update %s failed", getattr(update, "update_id", None), exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type != "private":
        return
    user = update.effective_user
    locale = normalise(user.language_code if user else None, context.settings.team.locale)
    try:
        await update.effective_chat.send_message(render("error.html.j2", locale))
    except Exception:  # the error handler itself must never raise
        log.exception("could not tell the user about the error")
