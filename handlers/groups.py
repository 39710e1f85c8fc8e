"""Groups: the bot stays only where a director put it; /bind makes the team group."""

import logging

from telegram import ChatMemberUpdated, Update
from telegram.ext import ChatMemberHandler, CommandHandler, MessageHandler, filters

from bot.services import audit, team
from bot.services import staff as staff_service
from bot.state import BotContext
from handlers.reply import flush_outbox, reply

log = logging.getLogger(__name__)
GROUPS = filters.ChatType.GROUPS


async def on_membership(update: Update, context: BotContext) -> None:
    """The bot was added to a group or taken out of one."""
    change: ChatMemberUpdated = update.my_chat_member
    if change.chat.type not in ("group", "supergroup"):
        return
    if _joined(change):
        await on_added(update, context)
    elif _gone(change):
        await on_removed(update, context)


async def on_removed(update: Update, context: BotContext) -> None:
    """Out of the team group (removed, or left): the directors hear it and how to fix it."""
    change: ChatMemberUpdated = update.my_chat_member
    by = change.from_user.id if change.from_user else None
    async with context.begin() as session:
        lost = await team.group_lost(session, change.chat.id, by, change.new_chat_member.status)
    if lost:
        log.warning("removed from the team group %s (%s)", change.chat.id, change.chat.title)
        await flush_outbox(context)


async def on_added(update: Update, context: BotContext) -> None:
    """Added to a group: stay if a director did it (and explain /bind), otherwise leave."""
    change: ChatMemberUpdated = update.my_chat_member
    async with context.begin() as session:
        adder = await staff_service.by_telegram_id(session, change.from_user.id)
        allowed = adder is not None and adder.active and adder.has_role("director")
        action = "group.added" if allowed else "group.left_unauthorised"
        await audit.record(session, change.from_user.id, action, f"chat:{change.chat.id}")
    if allowed:
        await reply(update, adder.locale, "group_added.html.j2")
    else:
        log.info("left group %s: added by non-director %s", change.chat.id, change.from_user.id)
        await context.bot.leave_chat(change.chat.id)


IN_GROUP = ("member", "administrator")


def _joined(change: ChatMemberUpdated) -> bool:
    was = change.old_chat_member.status in IN_GROUP
    return change.new_chat_member.status in IN_GROUP and not was


def _gone(change: ChatMemberUpdated) -> bool:
    was = change.old_chat_member.status in IN_GROUP
    return was and change.new_chat_member.status in ("left", "kicked")


async def bind(update: Update, context: BotContext) -> None:
    """/bind in a group by a director: this becomes the team group. Others get nothing."""
    chat = update.effective_chat
    async with context.begin() as session:
        actor = await staff_service.by_telegram_id(session, update.effective_user.id)
        if actor is None or not actor.active or not actor.has_role("director"):
            await audit.record(
                session, update.effective_user.id, "group.bind_refused", f"chat:{chat.id}"
            )
            return
        await team.bind_group(session, chat.id, chat.title, actor.telegram_id)
    await reply(update, actor.locale, "group_bound.html.j2", title=chat.title or "")
    await flush_outbox(context)


async def on_migrated(update: Update, context: BotContext) -> None:
    """A group became a supergroup: follow it, so the team group keeps receiving."""
    message = update.effective_message
    # Telegram posts one note in each chat: "moved to" in the old, "moved from" in the new.
    if message.migrate_to_chat_id:
        old, new = message.chat.id, message.migrate_to_chat_id
    else:
        old, new = message.migrate_from_chat_id, message.chat.id
    async with context.begin() as session:
        await team.follow_migration(session, old, new)


def register(app) -> None:
    """Group membership (added, removed), /bind, and supergroup migration."""
    app.add_handler(ChatMemberHandler(on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(CommandHandler("bind", bind, filters=GROUPS))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE & GROUPS, on_migrated))
