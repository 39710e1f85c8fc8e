"""/leave: record days away — for myself, or (directors) for someone; a director names a deputy."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CommandHandler, filters

from bot import clock
from bot.calendar import local_date
from bot.forms.fields import FieldError, parse_date
from bot.models import Staff
from bot.services import leave
from bot.services import staff as staff_service
from bot.services.leave import LeaveError
from bot.state import BotContext
from handlers.access import staff_only
from handlers.reply import reply


@staff_only()
async def record_leave(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """/leave FROM TO [@deputy] — or, for a director, /leave @person FROM TO."""
    today = local_date(clock.now(), context.settings.team.tz)
    args = list(context.args or [])
    if not args:
        await reply(
            update, me.locale, "leave_list.html.j2", leaves=await leave.mine(session, me.id, today)
        )
        return
    person = me
    if args[0].startswith("@") and len(args) >= 3 and me.has_role("director"):
        person = await staff_service.by_handle(session, args.pop(0))
    try:
        if person is None:
            raise LeaveError("unknown_person")
        start, end = _day(args[0], today), _day(args[1] if len(args) > 1 else args[0], today)
        deputy = await staff_service.by_handle(session, args[2]) if len(args) > 2 else None
        if len(args) > 2 and deputy is None:
            raise LeaveError("unknown_person")
        recorded = await leave.add(session, person, start, end, me, today=today, deputy=deputy)
    except LeaveError as exc:
        await reply(update, me.locale, "leave_error.html.j2", reason=exc.reason, **exc.details)
        return
    await reply(update, me.locale, "leave_done.html.j2", name=person.display_name,
                start=recorded.start_date.isoformat(), end=recorded.end_date.isoformat(),
                deputy=deputy.display_name if deputy else "")  # fmt: skip


def _day(text: str, today):
    try:
        return parse_date(text, today)
    except (FieldError, ValueError):
        raise LeaveError("bad_date", text=text) from None


def register(app) -> None:
    """/leave in private chats."""
    app.add_handler(CommandHandler("leave", record_leave, filters=filters.ChatType.PRIVATE))
