"""/daily, /weekly (every configured form), typed answers, form buttons, and /my."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import clock
from bot.calendar import local_date
from bot.forms import flow
from bot.forms.flow import FlowContext
from bot.forms.spec import FormSpec
from bot.forms.summary import period_label
from bot.models import Staff
from bot.services import mine
from bot.state import BotContext
from handlers import activities as plans
from handlers import approvals as requests
from handlers.access import staff_only
from handlers.basics import unexpected_text_reply
from handlers.reply import acknowledge, answer_alert, reply, send_rendered
from handlers.report_view import EDIT_PAST, FORM, START_ANYWAY, keyboard, render_step

PRIVATE = filters.ChatType.PRIVATE
LIST_WORDS = ("list", "列表")


def _context(context: BotContext, staff: Staff, form: FormSpec) -> FlowContext:
    today = local_date(clock.now(), context.settings.team.tz)
    return FlowContext(
        staff=staff,
        form=form,
        reports=context.settings.reports,
        today=today,
        team_locale=context.settings.team.locale,
        pools=context.settings.budgets.pools,
    )


def file_command(form: FormSpec):
    """The /<command> handler of one form: guided, or one message when text follows."""

    @staff_only(*form.roles)
    async def start_form(
        update: Update, context: BotContext, session: AsyncSession, me: Staff
    ) -> None:
        current = context.settings.reports.form(form.key) or form  # config may have moved on
        ctx = _context(context, me, current)
        text = _text_after_command(update)
        if current.target == "activity_plan" and text.lower() in LIST_WORDS:
            await plans.reply_my_plans(update, session, me)
            return
        if current.target == "approval" and text.lower() in LIST_WORDS:
            await requests.reply_mine(update, session, me)
            return
        step = await (flow.oneshot(session, ctx, text) if text else flow.begin(session, ctx))
        await _send(update, me, step, ctx)

    start_form.__name__ = f"start_{form.key}"
    return start_form


def _text_after_command(update: Update) -> str:
    text = update.effective_message.text or ""
    first = text.split(maxsplit=1)
    return first[1].strip() if len(first) > 1 else ""


async def take_answer(
    update: Update, context: BotContext, session: AsyncSession, me: Staff, prompt: None = None
) -> None:
    """A typed message: the answer to the current question of the person's draft (handlers/text.py
    routes it here when the draft is what the text answers)."""
    draft = await flow.draft_of(session, me.id)
    form = context.settings.reports.form(draft.form_key) if draft else None
    if draft is None or form is None:
        await unexpected_text_reply(update, me)
        return
    ctx = _context(context, me, form)
    step = await flow.answer_text(session, draft, ctx, update.effective_message.text or "")
    await _send(update, me, step, ctx)


@staff_only()
async def press_form_button(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """f:v1:<draft>:<version>:<action>:<arg> — only the current card of one's own draft acts."""
    draft_id, version, action, arg = FORM.unpack(update.callback_query.data)
    draft = await flow.draft_of(session, me.id)
    form = context.settings.reports.form(draft.form_key) if draft else None
    if draft is None or form is None or str(draft.id) != draft_id:
        await answer_alert(update, me.locale, "form_stale.html.j2", gone=True)
        return
    ctx = _context(context, me, form)
    if str(draft.version) != version:
        await answer_alert(update, me.locale, "form_stale.html.j2", gone=False)
        await _send(update, me, await flow.show(session, draft, ctx), ctx, edit_in_place=False)
        return
    await acknowledge(update)
    step = await flow.press(session, draft, ctx, action, arg)
    await _send(update, me, step, ctx, edit_in_place=True)


@staff_only()
async def start_anyway(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """File for today although nothing is due."""
    (form_key,) = START_ANYWAY.unpack(update.callback_query.data)
    await _begin(update, context, me, form_key, lambda ctx: flow.begin_anyway(session, ctx))


@staff_only()
async def edit_past(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """Edit a report of an earlier period that is still open for editing."""
    form_key, period = EDIT_PAST.unpack(update.callback_query.data)
    await _begin(update, context, me, form_key, lambda ctx: flow.begin_edit(session, ctx, period))


async def _begin(update: Update, context: BotContext, me: Staff, form_key: str, begin) -> None:
    form = context.settings.reports.form(form_key)
    if form is None or not me.role_names & set(form.roles):
        await answer_alert(update, me.locale, "form_stale.html.j2", gone=True)
        return
    await acknowledge(update)
    ctx = _context(context, me, form)
    await _send(update, me, await begin(ctx), ctx, edit_in_place=True)


async def _send(update: Update, me: Staff, step, ctx: FlowContext, edit_in_place=False) -> None:
    await send_rendered(update, render_step(step, ctx), keyboard(step, ctx), edit=edit_in_place)


@staff_only()
async def show_mine(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """/my: what I owe now and my latest reports."""
    today = local_date(clock.now(), context.settings.team.tz)
    owed, latest = await mine.owed_and_latest(session, me.id, today)
    forms = {f.key: f.name.get(me.locale) for f in context.settings.reports.forms}
    periods = {x.period_key: period_label(x.period_key, me.locale) for x in (*owed, *latest)}
    await reply(update, me.locale, "my_reports.html.j2", owed=owed, latest=latest, forms=forms,
                periods=periods, tz=context.settings.team.tz)  # fmt: skip


def register(app) -> None:
    """One command per form, the form buttons, and /my (typed answers: handlers/text.py)."""
    for form in app.bot_data.settings.reports.forms:
        app.add_handler(CommandHandler(form.command, file_command(form), filters=PRIVATE))
    app.add_handler(CommandHandler("my", show_mine, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(press_form_button, pattern=FORM.pattern))
    app.add_handler(CallbackQueryHandler(start_anyway, pattern=START_ANYWAY.pattern))
    app.add_handler(CallbackQueryHandler(edit_past, pattern=EDIT_PAST.pattern))
