"""/target: a director's targets, guided by buttons or in one line, and the typed value."""

from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.buttons import ID, KEY, Action
from bot.calendar import Period, local_date
from bot.i18n import t
from bot.kpis.display import per_day, show
from bot.kpis.spec import KpiSpec
from bot.models import Prompt as PromptRow
from bot.models import Staff
from bot.services import kpi, periods, target_prompts, targets
from bot.services.errors import ServiceError
from bot.services.kpi_input import (
    VALUE_MAX,
    InputError,
    check_holder,
    is_team,
    kpi_keyed,
    kpi_named,
    parse_value,
    plain,
    row_id,
)
from bot.services.target_prompts import Prompt
from bot.services.targets import TargetError
from bot.state import BotContext
from handlers import kpi_shared as shared
from handlers.access import staff_only, stale_data
from handlers.reply import acknowledge, answer_alert, edit, reply, rows_of

TEAM = shared.TEAM
_label = shared.label
# The guided /target, a button per step: the KPIs, who (t: the team), a period, then the typed
# value's Save, or Cancel; a prompt is the row that waits for the value (bot/services/prompts.py).
WHO = rf"{TEAM}|{ID}"
PICK_KPI = Action("tgt", "s")
PICK_WHO = Action("tgt", "k:{kpi}", kpi=KEY)
PICK_PERIOD = Action("tgt", "w:{kpi}:{who}", kpi=KEY, who=WHO)
ASK_VALUE = Action("tgt", "p:{kpi}:{who}:{period}", kpi=KEY, who=WHO, period=shared.PERIOD)
SAVE = Action("tgt", "ok:{prompt}:{value}", prompt=ID, value=r"[-0-9.]{1,40}")  # a plain Decimal
CANCEL = Action("tgt", "x:{prompt}", prompt=ID)


@staff_only("director")
async def target_command(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """/target — guided by buttons; or in one line: /target KPI WHO [PERIOD] VALUE."""
    args = list(context.args or [])
    if not args:
        await reply(update, me.locale, "target_pick_kpi.html.j2", _kpi_buttons(context, me))
        return
    try:
        kpi_spec, who, period, value = await _one_line(session, context, args)
        done = await _save(session, context, me, kpi_spec, who, period, value)
    except (InputError, TargetError) as exc:
        await reply(update, me.locale, "target_error.html.j2", **_target_error(context, me, exc))
        return
    await reply(update, me.locale, "target_done.html.j2", **done)


async def _one_line(session: AsyncSession, context: BotContext, args: list[str]):
    """KPI, who (None: the team), period and value from `/target downloads @lina 2026-12 4000`."""
    if len(args) < 3:
        raise InputError("usage")
    kpi_spec = kpi_named(context.settings.kpi, args[0])
    middle, named = args[1:-1], False
    for cut in range(len(middle), 0, -1):  # the longest name first: "/target … Li Na 本月 40%"
        who_text, period_text = " ".join(middle[:cut]), " ".join(middle[cut:])
        team = is_team(who_text)
        who = None if team else await shared.find(session, context, who_text)
        if not team and who is None:
            continue
        named = True
        try:
            period = periods.parse(period_text, shared.today(context))
        except ValueError:
            continue
        check_holder(kpi_spec, who)
        return kpi_spec, who, period, parse_value(args[-1], kpi_spec)
    raise InputError("bad_period" if named else "unknown_person", text=" ".join(middle))


async def _save(
    session: AsyncSession,
    context: BotContext,
    me: Staff,
    spec: KpiSpec,
    who: Staff | None,
    period: Period,
    value: Decimal,
) -> dict:
    """Store the target; the template context saying what it now is (and per working day)."""
    await targets.set_target(session, spec, period, who, value, me)
    days = len(period.workdays(context.state.calendar))
    daily = per_day(spec, value, days, me.locale) if spec.additive and days else None
    return {
        "kpi": spec.name.get(me.locale),
        "who": _who_name(me, who),
        "period": periods.label(period, me.locale),
        "value": show(spec, value, me.locale),
        "per_day": daily,
        "days": days,
    }


def on_press(action: Action, step):
    """The handler of one /target button: the step gets the data's values; a refused input is
    an alert, a period or value we never send is a stale button."""

    @staff_only("director")
    async def press(update: Update, context: BotContext, session: AsyncSession, me: Staff):
        try:
            await step(update, context, session, me, *action.unpack(update.callback_query.data))
        except (InputError, TargetError) as exc:
            await answer_alert(update, me.locale, "target_error.html.j2",
                               **_target_error(context, me, exc))  # fmt: skip
            return
        except (ValueError, InvalidOperation):
            await stale_data(update, session, me)
            return
        await acknowledge(update)

    return press


async def _step_kpis(update, context, session, me) -> None:
    await edit(update, me.locale, "target_pick_kpi.html.j2", _kpi_buttons(context, me))


async def _step_who(update, context, session, me, key: str) -> None:
    spec = _kpi(context, key)
    people = [p for p in await kpi.assessed_staff(session, context.settings.kpi)
              if spec.applies_to(p.role_names)]  # fmt: skip
    buttons = [(t(me.locale, "👥 Team"), PICK_PERIOD.pack(key, TEAM))]
    buttons += [(_label(p.display_name), PICK_PERIOD.pack(key, p.id)) for p in people]
    back = [(t(me.locale, "« Back"), PICK_KPI.pack())]
    await edit(update, me.locale, "target_pick_who.html.j2", [*rows_of(buttons), back],
               kpi=spec.name.get(me.locale))  # fmt: skip


async def _step_period(update, context, session, me, key: str, who_id: str) -> None:
    spec, who = _kpi(context, key), await _who_by_id(session, context, key, who_id)
    today = shared.today(context)
    month, quarter = Period.containing("month", today), Period.containing("quarter", today)
    choices = [(t(me.locale, "This month"), month), (t(me.locale, "Next month"), month.next()),
               (t(me.locale, "This quarter"), quarter),
               (t(me.locale, "Next quarter"), quarter.next()),
               (t(me.locale, "This year"), Period.containing("year", today))]  # fmt: skip
    buttons = [(t(me.locale, "%(which)s (%(period)s)", which=label,
                  period=periods.label(p, me.locale)), ASK_VALUE.pack(key, who_id, p.key))
               for label, p in choices]  # fmt: skip
    back = [(t(me.locale, "« Back"), PICK_WHO.pack(key))]
    await edit(update, me.locale, "target_pick_period.html.j2", [*rows_of(buttons), back],
               kpi=spec.name.get(me.locale), who=_who_name(me, who))  # fmt: skip


async def _step_ask(update, context, session, me, key: str, who_id: str, period_key: str):
    spec, who = _kpi(context, key), await _who_by_id(session, context, key, who_id)
    period = Period.parse(period_key)
    message_id = update.callback_query.message.message_id
    prompt = await target_prompts.ask(session, me, key, who and who.id, period.key, message_id)
    current = await _current_target(session, context, spec, who, period)
    cancel = [[(t(me.locale, "✖ Cancel"), CANCEL.pack(prompt.id))]]
    await edit(update, me.locale, "target_ask.html.j2", cancel, kpi=spec.name.get(me.locale),
               who=_who_name(me, who), period=periods.label(period, me.locale),
               current=show(spec, current, me.locale), percent=spec.percent,
               reply_needed=await target_prompts.reply_needed(session, prompt, me))  # fmt: skip


async def _step_save(update, context, session, me, prompt_id: str, value: str) -> None:
    prompt = await target_prompts.claim(session, row_id(prompt_id), me)
    if prompt is None:
        raise InputError("expired")
    spec, who, period = await _prompt_parts(session, context, prompt)
    amount_typed = Decimal(value)
    if not amount_typed.is_finite() or amount_typed > VALUE_MAX:
        raise ValueError(f"not a target value: {value}")  # forged: we never send such data
    done = await _save(session, context, me, spec, who, period, amount_typed)
    await target_prompts.close(session, prompt)
    await edit(update, me.locale, "target_done.html.j2", **done)


async def _step_cancel(update, context, session, me, prompt_id: str) -> None:
    prompt = await target_prompts.claim(session, row_id(prompt_id), me)
    if prompt is None:  # saved, cancelled or expired already: nothing to undo
        raise InputError("expired")
    await target_prompts.close(session, prompt)
    await edit(update, me.locale, "target_cancelled.html.j2")


async def take_value(
    update: Update, context: BotContext, session: AsyncSession, me: Staff, row: PromptRow
) -> None:
    """The typed value of a target (handlers/text.py routes it here): checked, then offered for
    confirmation."""
    prompt = target_prompts.of(row)
    text = update.effective_message.text or ""
    try:
        if not me.has_role("director"):  # no longer a director since it was asked
            raise InputError("expired")
        spec, who, period = await _prompt_parts(session, context, prompt)
        value = parse_value(text, spec)
    except (InputError, TargetError) as exc:
        cancel = [[(t(me.locale, "✖ Cancel"), CANCEL.pack(prompt.id))]]
        await reply(update, me.locale, "target_error.html.j2", cancel,
                    **_target_error(context, me, exc))  # fmt: skip
        return
    save = SAVE.pack(prompt.id, plain(value))
    buttons = [[(t(me.locale, "✅ Save"), save),
                (t(me.locale, "✖ Cancel"), CANCEL.pack(prompt.id))]]  # fmt: skip
    await reply(update, me.locale, "target_confirm.html.j2", buttons, kpi=spec.name.get(me.locale),
                who=_who_name(me, who), period=periods.label(period, me.locale),
                value=show(spec, value, me.locale))  # fmt: skip


async def _prompt_parts(session: AsyncSession, context: BotContext, prompt: Prompt):
    """The KPI, person (None: team) and period a prompt is about, if all still stand."""
    spec = _kpi(context, prompt.kpi_key)
    who_id = TEAM if prompt.staff_id is None else str(prompt.staff_id)
    who = await _who_by_id(session, context, spec.key, who_id)
    return spec, who, Period.parse(prompt.period_key)


def _kpi(context: BotContext, key: str) -> KpiSpec:
    return kpi_keyed(context.settings.kpi, key)


async def _who_by_id(
    session: AsyncSession, context: BotContext, key: str, who_id: str
) -> Staff | None:
    """The person a button names (None: the team); they must still be assessed on the KPI."""
    if who_id == TEAM:
        return None
    person = await shared.assessed(session, context, row_id(who_id))
    if person is None:  # left the team, or no KPI applies any more
        raise InputError("expired")
    check_holder(_kpi(context, key), person)
    return person


async def _current_target(
    session: AsyncSession, context: BotContext, spec: KpiSpec, who: Staff | None, period: Period
) -> Decimal | None:
    """What the target is now: a director's, or the config's spread over the period."""
    book = await targets.load(session, context.state.calendar)
    tz = context.settings.team.tz
    if who is not None:
        return book.personal(spec, who.id, period, local_date(who.joined_at, tz))
    holders = [p for p in await kpi.assessed_staff(session, context.settings.kpi)
               if spec.applies_to(p.role_names)]  # fmt: skip
    personal = [book.personal(spec, p.id, period, local_date(p.joined_at, tz)) for p in holders]
    return book.team(spec, period, personal)


def _kpi_buttons(context: BotContext, me: Staff):
    specs = context.settings.kpi.kpis
    return rows_of([(_label(k.name.get(me.locale)), PICK_WHO.pack(k.key)) for k in specs])


def _target_error(context: BotContext, me: Staff, exc: ServiceError) -> dict:
    """The template context of a refused target: the reason, what was typed, the KPI keys."""
    found = {"reason": exc.reason, "text": "", "name": "", "kpi": "", "percent": False}
    found |= {k: str(v) for k, v in exc.details.items()}
    spec = context.settings.kpi.get(found["kpi"])
    if spec is not None:
        found |= {"kpi": spec.name.get(me.locale), "percent": spec.percent}
    return found | {"kpis": [k.key for k in context.settings.kpi.kpis]}


def _who_name(me: Staff, who: Staff | None) -> str:
    return t(me.locale, "the team") if who is None else who.display_name


def register(app) -> None:
    """/target and its buttons (the typed value comes through handlers/text.py)."""
    app.add_handler(CommandHandler("target", target_command, filters=shared.PRIVATE))
    for action, step in [
        (PICK_KPI, _step_kpis),
        (PICK_WHO, _step_who),
        (PICK_PERIOD, _step_period),
        (ASK_VALUE, _step_ask),
        (SAVE, _step_save),
        (CANCEL, _step_cancel),
    ]:
        app.add_handler(CallbackQueryHandler(on_press(action, step), pattern=action.pattern))
