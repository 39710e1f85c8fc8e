"""Who may do what: every handler is wrapped here, so roles are checked on every update."""

import functools
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.i18n import normalise
from bot.models import Staff
from bot.services import audit, joining, reachability
from bot.services import staff as staff_service
from bot.services.staff import Person
from bot.state import BotContext
from handlers.reply import answer_alert, reply, transaction

Handler = Callable[[Update, BotContext, AsyncSession, Staff], Awaitable[None]]


def person_of(update: Update, context: BotContext) -> Person:
    """The sender as a Person, with a supported locale."""
    user = update.effective_user
    name = user.full_name or user.username or str(user.id)
    locale = normalise(user.language_code, context.settings.team.locale)
    return Person(user.id, name[:128], user.username, locale)


def staff_only(*roles: str) -> Callable[[Handler], Callable]:
    """Run the handler in one transaction with the sender's active staff row, if they hold `roles`.

    Unknown users are told they can only ask to join, deactivated ones that access is off; a
    button press without the right gets an alert and an audit entry. The handler's replies are
    sent after the transaction commits (none if it raises), then the outbox is flushed, so
    messages queued by the handler go out right away.
    """

    def wrap(func: Handler) -> Callable:
        @functools.wraps(func)
        async def run(update: Update, context: BotContext) -> None:
            user = update.effective_user
            if user is None:
                return
            async with transaction(context) as session:
                actor = await staff_service.sender(session, user.id)
                refusal = _refusal(actor, roles)
                if refusal is None:
                    reachability.mark_reachable(actor)
                    await func(update, context, session, actor)
                else:
                    await _refuse(update, context, session, actor, refusal, roles)

        return run

    return wrap


async def stale_data(update: Update, session: AsyncSession, me: Staff) -> None:
    """Button data we never produced (forged, or an old version): record it, change nothing."""
    await audit.record(session, me.telegram_id, "button.unknown", update.callback_query.data[:128])
    await answer_alert(update, me.locale, "stale_button.html.j2")


def _refusal(actor: Staff | None, roles: tuple[str, ...]) -> str | None:
    if actor is None:
        return "unknown"
    if not actor.active:
        return "deactivated"
    if roles and not actor.role_names & set(roles):
        return "forbidden"
    return None


async def _refuse(
    update: Update,
    context: BotContext,
    session: AsyncSession,
    actor: Staff | None,
    why: str,
    roles: tuple[str, ...],
) -> None:
    locale = actor.locale if actor else person_of(update, context).locale
    known = context.settings.roles
    needed = ["director"] if roles == ("director",) else [known.label(r, locale) for r in roles]
    if update.callback_query is not None:
        await audit.record(
            session,
            update.effective_user.id,
            "access.refused",
            update.callback_query.data[:128] if update.callback_query.data else None,
            reason=why,
        )
        await answer_alert(update, locale, "refused.html.j2", reason=why, roles=needed)
        return
    if update.effective_chat and update.effective_chat.type == "private":
        pending = await joining.pending_request(session, update.effective_user.id)
        if why == "unknown" and pending is not None:
            role = known.label(pending.role, locale)
            await reply(update, locale, "join_error.html.j2", reason="pending", role=role)
            return
        await reply(update, locale, "refused.html.j2", reason=why, roles=needed)
