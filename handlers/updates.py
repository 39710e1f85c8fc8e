"""Runs before every handler: a redelivered update has no effect, nor has an edited message."""

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.i18n import normalise
from bot.services import team
from bot.state import BotContext
from handlers.reply import reply


async def skip_repeats(update: Update, context: BotContext) -> None:
    """Hand the update id to the handler's transaction (`BotContext.begin` records it there and
    stops a redelivery); an edited message is recorded here and answered, and goes no further."""
    if update.edited_message is None:
        context.unrecorded_update = update.update_id
        return
    try:
        async with context.begin() as session:
            first_time = await team.mark_update(session, update.update_id)
    except Exception as exc:
        # The database is away (or locked): report it once and stop (the person is told that
        # nothing changed and to try again).
        await context.application.process_error(update=update, error=exc)
        raise ApplicationHandlerStop from exc
    if not first_time:
        raise ApplicationHandlerStop
    # Handlers would run a command a second time; a new message is the way to change things.
    if update.effective_chat.type == "private":
        user = update.effective_user
        locale = normalise(user.language_code, context.settings.team.locale)
        await reply(update, locale, "edited_message.html.j2")
    raise ApplicationHandlerStop


def register(app) -> None:
    """In group -1, ahead of everything."""
    app.add_handler(TypeHandler(Update, skip_repeats), group=-1)
