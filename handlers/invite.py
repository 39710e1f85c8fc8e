"""/invite: a director creates a single-use, expiring deep link that joins with a role."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.buttons import Action
from bot.models import Staff
from bot.services import joining
from bot.state import BotContext
from handlers.access import staff_only, stale_data
from handlers.reply import acknowledge, edit, reply, rows_of

# A role's shape; one not in [roles] (forged, or taken out of config) is stale data.
PICK_ROLE = Action("inv", "role:{role}", role="[a-z][a-z0-9_]*")


@staff_only("director")
async def ask_invite_role(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """/invite [role]: with a role, make the link; without, offer the roles as buttons."""
    role = context.args[0] if context.args else None
    roles = context.settings.roles
    if roles.known(role):
        await _send_link(update, context, session, director, role, edit_message=False)
        return
    rows = rows_of([(roles.label(r, director.locale), PICK_ROLE.pack(r)) for r in roles.keys])
    await reply(update, director.locale, "invite_choose_role.html.j2", rows, bad=role is not None)


@staff_only("director")
async def create_invite(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """The director picked a role for the invite."""
    (role,) = PICK_ROLE.unpack(update.callback_query.data)
    if not context.settings.roles.known(role):
        await stale_data(update, session, director)
        return
    await acknowledge(update)
    await _send_link(update, context, session, director, role, edit_message=True)


async def _send_link(update, context, session, director, role, *, edit_message: bool) -> None:
    ttl = timedelta(hours=context.settings.join.invite_ttl_hours)
    invite = await joining.create_invite(session, role, director, ttl, context.settings.roles)
    link = f"https://t.me/{context.bot.username}?start={invite.token}"
    send = edit if edit_message else reply
    await send(
        update,
        director.locale,
        "invite_link.html.j2",
        link=link,
        role=context.settings.roles.label(role, director.locale),
        hours=ttl.total_seconds() // 3600,
        expires=invite.expires_at.astimezone(context.settings.team.tz),
    )


def register(app) -> None:
    """/invite and its role buttons."""
    app.add_handler(CommandHandler("invite", ask_invite_role, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(create_invite, pattern=PICK_ROLE.pattern))
