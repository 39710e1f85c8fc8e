"""/team (directors): who has filed today and this week, who is late, who is on leave, and the
team's open and overdue tasks."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CommandHandler, filters

from bot import clock
from bot.calendar import local_date
from bot.forms.summary import period_label
from bot.models import Staff
from bot.services import roster
from bot.state import BotContext
from bot.web import links
from handlers.access import staff_only
from handlers.reply import reply


@staff_only("director")
async def show_team(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """One message: every owed form's current period, person by person."""
    tz = context.settings.team.tz
    today = local_date(clock.now(), tz)
    sections = [
        (form.name.get(me.locale), period_label(period, me.locale), lines)
        for form, period, lines in await roster.current(
            session, context.settings.reports.forms, today, context.state.calendar, tz
        )
    ]
    tasks = await roster.open_tasks(session, clock.now())
    buttons = links.private(context.settings, me.locale)  # 📊 the same, at a glance
    await reply(update, me.locale, "team_today.html.j2", buttons, sections=sections, tasks=tasks,
                tz=tz)  # fmt: skip


def register(app) -> None:
    """/team in private chats."""
    app.add_handler(CommandHandler("team", show_team, filters=filters.ChatType.PRIVATE))
