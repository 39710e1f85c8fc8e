"""/help and /cancel, and the polite answers to what nobody handled."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.forms import flow
from bot.i18n import normalise
from bot.models import Staff
from bot.services import audit, menu, prompts
from bot.state import BotContext
from handlers.access import staff_only
from handlers.reply import answer_alert, reply


@staff_only()
async def show_help(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """What this person can do, by role."""
    commands = menu.described(menu.commands_for(me, context.settings.reports.forms), me.locale)
    await reply(
        update, me.locale, "help.html.j2", commands=commands, directors=me.has_role("director")
    )


@staff_only()
async def cancel(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """Drop the report being filled and the open prompt, if any, and say what happened."""
    dropped = await flow.cancel(session, me.id) | await prompts.cancel(session, me.id)
    await reply(update, me.locale, "cancel.html.j2", dropped=dropped)


@staff_only()
async def unknown_command(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """A command we do not know."""
    await reply(
        update,
        me.locale,
        "unknown_command.html.j2",
        command=update.effective_message.text.split()[0],
    )


@staff_only()
async def unexpected_text(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """A message no handler took (a photo, a sticker): nobody asked for it."""
    await unexpected_text_reply(update, me)


async def unexpected_text_reply(update: Update, me: Staff) -> None:
    """Say that no question is open, and how to find what to do."""
    await reply(update, me.locale, "unexpected_text.html.j2")


def register(app) -> None:
    """Help and the private-chat fallbacks (registered last)."""
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler("help", show_help, filters=private))
    app.add_handler(CommandHandler("cancel", cancel, filters=private))


async def stale_button(update: Update, context: BotContext) -> None:
    """A button nobody handles (an old keyboard or forged data): say so, record it."""
    async with context.begin() as session:
        await audit.record(
            session,
            update.effective_user.id,
            "button.unknown",
            (update.callback_query.data or "")[:128],
        )
    user = update.effective_user
    await answer_alert(
        update, normalise(user.language_code, context.settings.team.locale), "stale_button.html.j2"
    )


def register_fallbacks(app) -> None:
    """Fallbacks for private chats; they run only when no other handler took the update."""
    private = filters.ChatType.PRIVATE
    app.add_handler(MessageHandler(private & filters.COMMAND, unknown_command))
    text = private & ~filters.COMMAND & filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(text, unexpected_text))
    app.add_handler(CallbackQueryHandler(stale_button))
