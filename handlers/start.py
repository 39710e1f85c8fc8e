"""/start: join by request (pick a role, a director decides) or by invite link; welcome back."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.buttons import Action
from bot.models import Staff
from bot.services import joining, menu, obligations, reachability
from bot.services import staff as staff_service
from bot.services.joining import JoinError
from bot.services.roles import RolesConfig
from bot.state import BotContext
from handlers.access import person_of
from handlers.reply import answer_alert, edit, flush_outbox, reply, rows_of, transaction

# Any word: joining.request names an unknown role to the person instead of a stale button.
PICK_ROLE = Action("join", "role:{role}", role=r"\w+")


async def start(update: Update, context: BotContext) -> None:
    """Known people get a welcome back; invite tokens join; others pick a role to request."""
    person = person_of(update, context)
    token = context.args[0] if context.args else None
    async with transaction(context) as session:
        staff = await staff_service.by_telegram_id(session, person.telegram_id)
        if staff is not None and staff.active:
            staff_service.refresh_profile(staff, person)
            reachability.mark_reachable(staff)
            forms = context.settings.reports.forms
            commands = menu.described(menu.commands_for(staff, forms), staff.locale)
            await reply(
                update,
                staff.locale,
                "welcome_back.html.j2",
                name=staff.display_name,
                commands=commands,
            )
            return
        try:
            if token:
                joined = await joining.redeem_invite(
                    session, token, person, context.settings.roles, context.settings.reports.forms
                )
                await owe_from_now(session, context, joined)
            else:
                await joining.check_can_request(
                    session, person, context.settings.join.max_requests_per_day
                )
                await reply(
                    update,
                    person.locale,
                    "join_choose_role.html.j2",
                    role_buttons(context.settings.roles, person.locale),
                    team=context.settings.team.name,
                )
        except JoinError as exc:
            why = explain(exc, person.locale, context.settings.roles)
            await reply(update, person.locale, "join_error.html.j2", **why)


def role_buttons(roles: RolesConfig, locale: str) -> list[list[tuple[str, str]]]:
    """One button per role one may ask for (configured ones too), two per row."""
    return rows_of([(roles.label(r, locale), PICK_ROLE.pack(r)) for r in roles.joinable])


def explain(exc: JoinError, locale: str, roles: RolesConfig) -> dict[str, str]:
    """What join_error.html.j2 needs to explain `exc` in `locale`."""
    return {
        "reason": exc.reason,
        "role": roles.label(exc.details.get("role"), locale),
        "status": exc.details.get("status", ""),
        "by": exc.details.get("by", ""),
    }


async def choose_role(update: Update, context: BotContext) -> None:
    """The unknown user picked a role: file the request and tell the directors."""
    query = update.callback_query
    person = person_of(update, context)
    (role,) = PICK_ROLE.unpack(query.data)
    roles, limit = context.settings.roles, context.settings.join.max_requests_per_day
    try:
        async with context.begin() as session:
            await joining.request(session, person, role, limit, roles)
    except JoinError as exc:
        why = explain(exc, person.locale, roles)
        await answer_alert(update, person.locale, "join_error.html.j2", **why)
        return
    await query.answer()
    await edit(
        update, person.locale, "join_requested.html.j2", role=roles.label(role, person.locale)
    )
    await flush_outbox(context)


def register(app) -> None:
    """/start in private chats and the role buttons."""
    app.add_handler(CommandHandler("start", start, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(choose_role, pattern=PICK_ROLE.pattern))


async def owe_from_now(session: AsyncSession, context: BotContext, staff: Staff) -> None:
    """A person who just joined owes today's reports now, not from the next minute's tick (a
    /daily in between would be told nothing is due on a working day); only theirs: the rest of
    the team is the tick's."""
    tz = context.settings.team.tz
    await obligations.create_for_newcomer(
        session, context.settings.reports.forms, context.state.calendar, tz, staff
    )
