"""/export [period] (directors): everything recorded in a period as XLSX, KPIs included."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CommandHandler

from bot import clock
from bot.calendar import Period
from bot.models import Staff
from bot.render import render
from bot.services import kpi_export, periods
from bot.state import BotContext
from handlers import kpi_shared as shared
from handlers.access import staff_only
from handlers.reply import reply, reply_document


@staff_only("director")
async def export_xlsx(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """/export [period] (directors): the workbook is built in the transaction and, like every
    reply, uploaded after it has committed."""
    try:
        period = periods.parse(shared.args(update), shared.today(context))
    except ValueError:
        await reply(update, me.locale, "kpi_error.html.j2", reason="bad_period",
                    command="export", text=shared.args(update))  # fmt: skip
        return
    await reply_document(update, *await _workbook(session, context, me, period))


async def _workbook(session: AsyncSession, context: BotContext, me: Staff, period: Period):
    """(XLSX bytes, file name, caption) of everything recorded in `period`, KPIs included."""
    s = context.settings
    from bot.services import export  # openpyxl (and numpy) only when someone exports

    sheet = await kpi_export.kpi_sheet(session, s, context.state.calendar, period.start,
                                       period.end, me.locale, clock.now())  # fmt: skip
    data = await export.build(session, s, period.start, period.end, me.locale,
                              extra_sheets=[sheet])  # fmt: skip
    caption = render("export_caption.html.j2", me.locale,
                     period=periods.label(period, me.locale))  # fmt: skip
    return data, f"opsbot-{period.key}.xlsx", caption


def register(app) -> None:
    """/export."""
    app.add_handler(CommandHandler("export", export_xlsx, filters=shared.PRIVATE))
