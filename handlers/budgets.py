"""/budget (directors): every budget pool's figures for its current period, or one pool's amount
set (/budget 费用 2026-12 30000; /budget 2026-12 50000 is still the activity budget)."""

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CommandHandler, filters

from bot import clock
from bot.calendar import Period, local_date
from bot.forms.fields import DEFAULT_CAP, FieldError, halfwidth, parse_number
from bot.models import Staff
from bot.services import budgets
from bot.services.budgets import BudgetError, Pool
from bot.state import BotContext
from handlers.access import staff_only
from handlers.reply import reply


@staff_only("director")
async def show_budgets(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """/budget [pool] [YYYY-MM | YYYY-Qn] [yuan]: show every pool, or set one and show them."""
    configured = budgets.pools(context.settings)
    today = local_date(clock.now(), context.settings.team.tz)
    locale = director.locale
    saved = None
    try:
        pool, period, amount = _parse(list(context.args or []), configured)
        if amount is not None:
            key = period or budgets.period_key(pool, today)
            await budgets.set_amount(session, pool, key, amount, director)
            saved = budgets.line_context(await budgets.remainder(session, pool, key), locale)
        views = await budgets.overview(session, configured, period or f"{today:%Y-%m}")
    except BudgetError as exc:
        await reply(
            update, locale, "budget_error.html.j2", **_explain(exc, configured, today, locale)
        )
        return
    await reply(
        update,
        locale,
        "budget_overview.html.j2",
        lines=[budgets.line_context(view, locale) for view in views],
        saved=saved,
        **_examples(configured, today, locale),
    )


def _parse(args: list[str], configured: tuple[Pool, ...]) -> tuple[Pool, str | None, int | None]:
    """(the pool, the period typed or None, the amount in fen or None) of /budget's arguments;
    without a pool named, the activities pool (what /budget set before pools existed)."""
    pool = budgets.find(configured, args[0]) if args else None
    if pool is not None:
        args.pop(0)
    period = args.pop(0) if args and "-" in args[0][1:] else None
    if args and pool is None and not any(c.isdigit() for c in halfwidth(args[0])):
        raise BudgetError("unknown_pool", text=args[0])
    pool = pool or next(p for p in configured if p.key == budgets.ACTIVITIES)
    return pool, period, _fen(" ".join(args)) if args else None


def _fen(text: str) -> int:
    """Yuan as typed ("50000", "5万", "1,200.50") to whole fen; BudgetError when it is not."""
    try:
        amount = parse_number(text.removeprefix("¥").removesuffix("元"))
    except (FieldError, ValueError, ArithmeticError):
        raise BudgetError("amount") from None
    # Above DEFAULT_CAP yuan is a slipped finger (and soon more fen than BIGINT holds).
    if not amount.is_finite() or amount < 0 or amount > DEFAULT_CAP:
        raise BudgetError("amount")
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _examples(configured: tuple[Pool, ...], today, locale: str) -> dict:
    """An example pool (not activities, which /budget sets without a name) and periods."""
    example = next((p for p in configured if p.key != budgets.ACTIVITIES), configured[0])
    return dict(
        example=example.label(locale),
        month=f"{today:%Y-%m}",
        quarter=Period.containing("quarter", today).key,
    )


def _explain(exc: BudgetError, configured: tuple[Pool, ...], today, locale: str) -> dict:
    """The error template's context: the reason, its details, and the pools by name."""
    context = dict(reason=exc.reason, text="", name="", quarter="", month=f"{today:%Y-%m}")
    context["names"] = [p.label(locale) for p in configured]
    context.update(exc.details)
    if "pool" in context:
        context["name"] = context.pop("pool").label(locale)
    return context


def register(app) -> None:
    """/budget, in private chats."""
    app.add_handler(CommandHandler("budget", show_budgets, filters=filters.ChatType.PRIVATE))
