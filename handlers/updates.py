"""Runs before every handler: the same update delivered twice has one effect."""

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.services import team
from bot.state import BotContext


async def skip_repeats(update: Update, context: BotContext) -> None:
    """Record the update id; stop here when it was handled before."""
    async with context.db() as session, session.begin():
        first_time = await team.mark_update(session, update.update_id)
    if not first_time:
        raise ApplicationHandlerStop


def register(app) -> None:
    """In group -1, ahead of everything."""
    app.add_handler(TypeHandler(Update, skip_repeats), group=-1)
