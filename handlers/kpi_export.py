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


async def export_xlsx(update: Update, context: BotContext) -> None:
    """/export [period] (directors): the workbook is built in the transaction, sent after it, so
    no transaction stays open during an upload."""
    built: list[tuple[bytes, str, str]] = []

    @staff_only("director")
    async def build(update: Update, context: BotContext, session: AsyncSession, me: Staff):
        today = shared.today(context)
        try:
            period = periods.parse(shared.args(update), today)
        except ValueError:
            await reply(update, me.locale, "kpi_error.html.j2", reason="bad_period",
                        command="export", text=shared.args(update))  # fmt: skip
            return
        built.append(await _workbook(session, context, me, period))

    await build(update, context)
    for data, filename, caption in built:
        await reply_document(update, data, filename, caption)


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
