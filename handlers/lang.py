"""/lang: the language the bot speaks to this person."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import clock
from bot.buttons import Action
from bot.models import Staff
from bot.services import menu
from bot.services import staff as staff_service
from bot.state import BotContext
from handlers.access import staff_only
from handlers.reply import acknowledge, edit, reply

CHOOSE = Action("lang", "{locale}", locale="zh|en")
LANG_BUTTONS = [[("简体中文", CHOOSE.pack("zh")), ("English", CHOOSE.pack("en"))]]


@staff_only()
async def ask_language(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """Offer the languages as buttons."""
    await reply(update, me.locale, "lang_choose.html.j2", LANG_BUTTONS)


@staff_only()
async def set_language(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """Switch language and the command menu with it."""
    (locale,) = CHOOSE.unpack(update.callback_query.data)
    await staff_service.set_locale(session, me, locale)
    key = f"staff:{me.id}:menu:{clock.now().isoformat()}"
    await menu.enqueue_commands(session, me, key, context.settings.reports.forms)
    await acknowledge(update)
    await edit(update, locale, "lang_set.html.j2")


def register(app) -> None:
    """/lang and its buttons."""
    app.add_handler(CommandHandler("lang", ask_language, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(set_language, pattern=CHOOSE.pattern))
