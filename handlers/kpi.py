"""/kpi (cards), /target (a director's targets, guided or in one line) and /export (XLSX)."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import clock
from bot.calendar import ONE_DAY, Period, local_date
from bot.forms.fields import FieldError, fold, halfwidth, parse_number
from bot.i18n import t
from bot.kpis.display import amount, bar, pct
from bot.kpis.spec import KpiSpec
from bot.models import Staff
from bot.render import render
from bot.services import kpi, kpi_export, periods, target_prompts, targets
from bot.services import staff as staff_service
from bot.services.errors import ServiceError
from bot.services.kpi import Card, Result
from bot.services.target_prompts import Prompt
from bot.services.targets import TargetError
from bot.state import BotContext
from handlers import activities
from handlers.access import staff_only, stale_data
from handlers.reply import answer_alert, edit, reply, reply_document, rows_of

PRIVATE = filters.ChatType.PRIVATE
MAX_DATA = 64  # Telegram's limit on callback data
LABEL_MAX = 40
TEAM = "t"
TEAM_WORDS = {"team", "团队", "全队", "全组", "部门", "全部门"}
# A typed target above this is a typo (the column holds 16 digits before the point).
VALUE_MAX = Decimal(10) ** 12
VALUE_PLACES = Decimal("0.0001")


class InputError(ServiceError):
    """What was typed cannot be used; `reason` picks the message."""


# ---- /kpi ------------------------------------------------------------------------------------


@staff_only()
async def show_kpi(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """/kpi [period] — my card; a director picks someone, or names them: /kpi @user 2026-10."""
    if not me.has_role("director"):
        await _show_mine(update, context, session, me)
        return
    try:
        who, period = await _who_and_when(session, context, _args(update), _today(context))
    except InputError as exc:
        await reply(update, me.locale, "kpi_error.html.j2", command="kpi", **_explain(exc))
        return
    if who is None:
        text, buttons = await _picker(session, context, me, period)
        await reply(update, me.locale, "kpi_pick.html.j2", buttons, **text)
        return
    await _reply_card(update, context, session, me, who, period)


async def _show_mine(update: Update, context: BotContext, session: AsyncSession, me: Staff):
    """A staff member's own card; naming anyone else, known or not, is refused."""
    try:
        who, period = await _who_and_when(session, context, _args(update), _today(context))
    except InputError as exc:
        if exc.reason == "unknown_person":
            who, period = None, None
        else:
            await reply(update, me.locale, "kpi_error.html.j2", command="kpi", **_explain(exc))
            return
    if period is None or (who is not None and who.id != me.id):
        await reply(update, me.locale, "refused.html.j2", reason="forbidden", roles=["director"])
        return
    await _reply_card(update, context, session, me, me, period)


async def _reply_card(update, context, session, me: Staff, who: Staff, period: Period) -> None:
    card = await _person_card(session, context, me, who, period)
    if card is None:
        await reply(update, me.locale, "kpi_error.html.j2", reason="no_kpis", command="kpi",
                    name=who.display_name, mine=who.id == me.id)  # fmt: skip
        return
    await reply(update, me.locale, "kpi_card.html.j2", **card)


@staff_only("director")
async def press_kpi(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """kpi:v1:<l | t | staff id>:<period> — the picker, the team's card, or one person's card."""
    _, _, who, key = update.callback_query.data.split(":", 3)
    try:
        period = Period.parse(key)
    except ValueError:
        await stale_data(update, session, me)
        return
    back = rows_of([(t(me.locale, "« Back"), _data("kpi", "l", period.key))])
    if who == "l":
        text, buttons = await _picker(session, context, me, period)
        await edit(update, me.locale, "kpi_pick.html.j2", buttons, **text)
    elif who == TEAM:
        card = await _team_card(session, context, me, period)
        await edit(update, me.locale, "kpi_card.html.j2", back, **card)
    else:
        person = await _assessed(session, context, row_id(who))
        card = person and await _person_card(session, context, me, person, period)
        if not card:
            await answer_alert(update, me.locale, "kpi_error.html.j2", reason="no_kpis",
                               command="kpi", name=person.display_name if person else "",
                               mine=False)  # fmt: skip
            return
        await edit(update, me.locale, "kpi_card.html.j2", back, **card)
    await update.callback_query.answer()


async def _who_and_when(
    session: AsyncSession, context: BotContext, text: str, today: date
) -> tuple[Staff | None, Period]:
    """ "@user 2026-10" / "王伟 上月" / "上月": a person (None: nobody named) and a period."""
    try:
        return None, periods.parse(text, today)
    except ValueError:
        pass
    words, named = text.split(), False
    for cut in range(len(words), 0, -1):  # the longest name first: "王 伟 上月"
        person = await _find(session, context, " ".join(words[:cut]))
        if person is None:
            continue
        named = True
        try:
            return person, periods.parse(" ".join(words[cut:]), today)
        except ValueError:
            continue
    if named or not text.startswith("@"):
        raise InputError("bad_period", text=text)
    raise InputError("unknown_person", text=text)


async def _find(session: AsyncSession, context: BotContext, text: str) -> Staff | None:
    """Someone assessed, by @username, Telegram id, or name (spaces and case do not count)."""
    if text.startswith("@") or text.isdigit():
        return await staff_service.by_handle(session, text)
    wanted = fold(text)
    if not wanted:
        return None
    people = await kpi.assessed_staff(session, context.settings.kpi)
    exact = [p for p in people if fold(p.display_name) == wanted]
    found = exact or [p for p in people if wanted in fold(p.display_name)]
    return found[0] if len(found) == 1 else None


async def _assessed(session: AsyncSession, context: BotContext, staff_id: int) -> Staff | None:
    people = await kpi.assessed_staff(session, context.settings.kpi)
    return next((p for p in people if p.id == staff_id), None)


async def _picker(session: AsyncSession, context: BotContext, me: Staff, period: Period):
    """A director's choice: the team, everyone assessed, and the periods either side."""
    people = await kpi.assessed_staff(session, context.settings.kpi)
    buttons = [(t(me.locale, "👥 Team"), _data("kpi", TEAM, period.key))] if people else []
    buttons += [(_label(p.display_name), _data("kpi", p.id, period.key)) for p in people]
    earlier, later = period.previous(), period.next()
    nav = [(f"⬅️ {periods.label(earlier, me.locale)}", _data("kpi", "l", earlier.key)),
           (f"{periods.label(later, me.locale)} ➡️", _data("kpi", "l", later.key))]  # fmt: skip
    text = {"period": periods.label(period, me.locale), "count": len(people)}
    return text, [*rows_of(buttons), nav]


@dataclass(frozen=True)
class Line:
    """One KPI on a card, ready to show."""

    name: str
    weight: str | None
    actual: str
    target: str
    bar: str
    completion: str
    problem: str | None
    pace: str | None  # what each working day left needs; None when not a count or not now
    on_plan: bool = False


async def _person_card(
    session: AsyncSession, context: BotContext, me: Staff, person: Staff, period: Period
) -> dict | None:
    """The template context of one person's card, or None if no KPI applies to them."""
    card = (await _assess(session, context, period, [person])).card(person.id)
    if card is None:
        return None
    days = _days_left(context, period)
    lines = [_line(r, me.locale, days, weighted=True) for r in card.results]
    return dict(team=False, name=person.display_name, period=periods.label(period, me.locale),
                lines=lines, score=_score(card), best=_best(card), people=[])  # fmt: skip


async def _team_card(session: AsyncSession, context: BotContext, me: Staff, period: Period):
    """The team's KPIs (no weights: the team has no score) and everyone's weighted score."""
    found = await _assess(session, context, period)
    days = _days_left(context, period)
    lines = [_line(r, me.locale, days, weighted=False) for r in found.team]
    people = [(c.staff.display_name, _score(c)) for c in found.cards]
    best = max((c.max_score for c in found.cards if c.max_score is not None), default=None)
    return dict(team=True, name="", period=periods.label(period, me.locale), lines=lines,
                score=None, best=None if best is None else amount(best), people=people)  # fmt: skip


async def _assess(session: AsyncSession, context: BotContext, period: Period, people=None):
    s = context.settings
    return await kpi.assess(session, s.kpi, s.reports, context.state.calendar, s.team.tz,
                            period, clock.now(), people)  # fmt: skip


def _days_left(context: BotContext, period: Period) -> int | None:
    """Working days after today, when the period is the current month (for the pace)."""
    today = _today(context)
    if period != Period.containing("month", today):
        return None
    return context.state.calendar.count_workdays(today + ONE_DAY, period.end) or None


def _line(r: Result, locale: str, days_left: int | None, *, weighted: bool) -> Line:
    needed = kpi.needed_per_day(r.target, r.actual, days_left or 0) if r.kpi.additive else None
    on_plan = needed == 0
    pace = None if needed is None or on_plan else show(r.kpi, needed, locale)
    return Line(
        name=r.kpi.name.get(locale),
        weight=amount(r.kpi.weight) if weighted else None,
        actual=show(r.kpi, r.actual, locale),
        target=show(r.kpi, r.target, locale),
        bar=bar(r.completion),
        completion=pct(r.completion),
        # A spread share of 0 (the month's few units fall on later days) is not a missing target.
        problem="zero_target" if r.problem == "no_target" and r.target == 0 else r.problem,
        pace=pace,
        on_plan=on_plan,
    )


def show(spec: KpiSpec, value: Decimal | None, locale: str) -> str:
    """A KPI's value as people read it: rates to 0.1 %, counts with their unit."""
    if value is None:
        return "—"
    if spec.percent:
        return pct(value, 1)
    return f"{amount(value)} {spec.unit.get(locale)}" if spec.unit else amount(value)


def _score(card: Card) -> str | None:
    return None if card.score is None else amount(card.score)


def _best(card: Card) -> str | None:
    """The card's highest possible score (above 100 when KPIs count beyond their target)."""
    return None if card.max_score is None else amount(card.max_score)


# ---- /target ---------------------------------------------------------------------------------


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
    kpi_spec = _kpi_named(context, args[0])
    middle, named = args[1:-1], False
    for cut in range(len(middle), 0, -1):  # the longest name first: "/target … Li Na 本月 40%"
        who_text, period_text = " ".join(middle[:cut]), " ".join(middle[cut:])
        team = fold(who_text) in TEAM_WORDS
        who = None if team else await _find(session, context, who_text)
        if not team and who is None:
            continue
        named = True
        try:
            period = periods.parse(period_text, _today(context))
        except ValueError:
            continue
        _check_holder(kpi_spec, who)
        return kpi_spec, who, period, parse_value(args[-1], kpi_spec)
    raise InputError("bad_period" if named else "unknown_person", text=" ".join(middle))


def _kpi_named(context: BotContext, word: str) -> KpiSpec:
    """A KPI by key or by its name in either language."""
    wanted = fold(word)
    for spec in context.settings.kpi.kpis:
        if wanted in (fold(spec.key), fold(spec.name.zh), fold(spec.name.en)):
            return spec
    raise InputError("unknown_kpi", text=word)


def _check_holder(spec: KpiSpec, who: Staff | None) -> None:
    """A personal target only for someone assessed on the KPI (the team always is)."""
    if who is not None and not spec.applies_to(who.role_names):
        raise InputError("not_holder", name=who.display_name, kpi=spec.key)


def parse_value(text: str, spec: KpiSpec) -> Decimal:
    """A typed target: "4000", "4,000", "1.2万"; for rates "40%" (or 40, or 0.4) is 0.4."""
    s = halfwidth(text).strip()
    for unit in (spec.unit.zh, spec.unit.en) if spec.unit else ():
        s = s.removesuffix(unit).strip()
    percent = s.endswith("%") or s.startswith("百分之")
    s = s.removesuffix("%").removeprefix("百分之")
    try:
        value = parse_number(s)
    except (FieldError, ValueError, ArithmeticError):
        raise InputError("bad_value", text=text, kpi=spec.key) from None
    if spec.percent and (percent or value > 1):  # 40 means 40 %; 0.4 is already a rate
        value /= 100
    if (percent and not spec.percent) or not value.is_finite() or value > VALUE_MAX:
        raise InputError("bad_value", text=text, kpi=spec.key)
    if spec.additive and value != value.to_integral_value():  # 4.5 channels cannot be signed
        raise InputError("not_whole", text=text, kpi=spec.key)
    value = value.quantize(VALUE_PLACES)
    if value <= 0:
        raise TargetError("not_positive", value=value, kpi=spec.key)
    return value


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
    per_day = _per_day(spec, value, days, me.locale) if spec.additive and days else None
    return {
        "kpi": spec.name.get(me.locale),
        "who": _who_name(me, who),
        "period": periods.label(period, me.locale),
        "value": show(spec, value, me.locale),
        "per_day": per_day,
        "days": days,
    }


def _per_day(spec: KpiSpec, value: Decimal, days: int, locale: str) -> str:
    """What a target spread over `days` working days means a day: "130" or "130–131 次"."""
    low = (value / days).to_integral_value(ROUND_FLOOR)
    if low * days == value:
        return show(spec, low, locale)
    span = f"{amount(low)}–{amount(low + 1)}"  # whole units, the extra one on the last days
    return f"{span} {spec.unit.get(locale)}" if spec.unit else span


@staff_only("director")
async def press_target(
    update: Update, context: BotContext, session: AsyncSession, me: Staff
) -> None:
    """tgt:v1:… — the steps of the guided /target: KPI, who, period, then Save or Cancel."""
    action, _, args = update.callback_query.data.removeprefix("tgt:v1:").partition(":")
    try:
        await TARGET_STEPS[action](update, context, session, me, args)
    except (InputError, TargetError) as exc:
        await answer_alert(update, me.locale, "target_error.html.j2",
                           **_target_error(context, me, exc))  # fmt: skip
        return
    except (KeyError, ValueError, InvalidOperation):
        await stale_data(update, session, me)
        return
    await update.callback_query.answer()


async def _step_kpis(update, context, session, me, args: str) -> None:
    await edit(update, me.locale, "target_pick_kpi.html.j2", _kpi_buttons(context, me))


async def _step_who(update, context, session, me, key: str) -> None:
    spec = _kpi(context, key)
    people = [p for p in await kpi.assessed_staff(session, context.settings.kpi)
              if spec.applies_to(p.role_names)]  # fmt: skip
    buttons = [(t(me.locale, "👥 Team"), _data("tgt", "w", key, TEAM))]
    buttons += [(_label(p.display_name), _data("tgt", "w", key, p.id)) for p in people]
    back = [(t(me.locale, "« Back"), _data("tgt", "s"))]
    await edit(update, me.locale, "target_pick_who.html.j2", [*rows_of(buttons), back],
               kpi=spec.name.get(me.locale))  # fmt: skip


async def _step_period(update, context, session, me, args: str) -> None:
    key, who_id = args.split(":")
    spec, who = _kpi(context, key), await _who_by_id(session, context, key, who_id)
    today = _today(context)
    month, quarter = Period.containing("month", today), Period.containing("quarter", today)
    choices = [(t(me.locale, "This month"), month), (t(me.locale, "Next month"), month.next()),
               (t(me.locale, "This quarter"), quarter),
               (t(me.locale, "Next quarter"), quarter.next()),
               (t(me.locale, "This year"), Period.containing("year", today))]  # fmt: skip
    buttons = [(t(me.locale, "%(which)s (%(period)s)", which=label,
                  period=periods.label(p, me.locale)), _data("tgt", "p", key, who_id, p.key))
               for label, p in choices]  # fmt: skip
    back = [(t(me.locale, "« Back"), _data("tgt", "k", key))]
    await edit(update, me.locale, "target_pick_period.html.j2", [*rows_of(buttons), back],
               kpi=spec.name.get(me.locale), who=_who_name(me, who))  # fmt: skip


async def _step_ask(update, context, session, me, args: str) -> None:
    key, who_id, period_key = args.split(":")
    spec, who = _kpi(context, key), await _who_by_id(session, context, key, who_id)
    period = Period.parse(period_key)
    message_id = update.callback_query.message.message_id
    prompt = await target_prompts.ask(session, me, key, who and who.id, period.key, message_id)
    current = await _current_target(session, context, spec, who, period)
    cancel = [[(t(me.locale, "✖ Cancel"), _data("tgt", "x", prompt.id))]]
    await edit(update, me.locale, "target_ask.html.j2", cancel, kpi=spec.name.get(me.locale),
               who=_who_name(me, who), period=periods.label(period, me.locale),
               current=show(spec, current, me.locale), percent=spec.percent,
               reply_needed=await target_prompts.other_question(session, me))  # fmt: skip


async def _step_save(update, context, session, me, args: str) -> None:
    prompt_id, value = args.split(":")
    prompt = await target_prompts.claim(session, row_id(prompt_id), me)
    if prompt is None:
        raise InputError("expired")
    spec, who, period = await _prompt_parts(session, context, prompt)
    amount_typed = Decimal(value)
    if not amount_typed.is_finite() or amount_typed > VALUE_MAX:
        raise ValueError(f"not a target value: {value}")  # forged: we never send such data
    done = await _save(session, context, me, spec, who, period, amount_typed)
    await target_prompts.close(session, prompt, me, "saved")
    await edit(update, me.locale, "target_done.html.j2", **done)


async def _step_cancel(update, context, session, me, args: str) -> None:
    prompt = await target_prompts.claim(session, row_id(args), me)
    if prompt is None:  # saved, cancelled or expired already: nothing to undo
        raise InputError("expired")
    await target_prompts.close(session, prompt, me, "cancelled")
    await edit(update, me.locale, "target_cancelled.html.j2")


TARGET_STEPS = {
    "s": _step_kpis,
    "k": _step_who,
    "w": _step_period,
    "p": _step_ask,
    "ok": _step_save,
    "x": _step_cancel,
}


async def take_text(update: Update, context: BotContext) -> None:
    """A director's typed target value, when the bot asked for one; any other text goes on to
    activities (a director's reason), then to the report flow. One handler in group 0, so a text
    has exactly one effect and the order stays spelled out in handlers/__init__.py."""
    async with context.db() as session:
        me = await staff_service.by_telegram_id(session, update.effective_user.id)
        owed = (
            me is not None
            and me.active
            and me.has_role("director")
            and await target_prompts.pending(session, me, _reply_to(update)) is not None
        )
    if owed:
        await take_value(update, context)
    else:
        await activities.take_text(update, context)


@staff_only("director")
async def take_value(update: Update, context: BotContext, session: AsyncSession, me: Staff):
    """The typed value of a target: checked, then offered for confirmation."""
    prompt = await target_prompts.pending(session, me, _reply_to(update))
    text = update.effective_message.text or ""
    try:
        if prompt is None:  # closed by a press in the meantime
            raise InputError("expired")
        spec, who, period = await _prompt_parts(session, context, prompt)
        value = parse_value(text, spec)
    except (InputError, TargetError) as exc:
        cancel = [[(t(me.locale, "✖ Cancel"), _data("tgt", "x", prompt.id))]] if prompt else None
        await reply(update, me.locale, "target_error.html.j2", cancel,
                    **_target_error(context, me, exc))  # fmt: skip
        return
    save = _data("tgt", "ok", prompt.id, _plain(value))
    buttons = [[(t(me.locale, "✅ Save"), save), (t(me.locale, "✖ Cancel"),
                                                 _data("tgt", "x", prompt.id))]]  # fmt: skip
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
    spec = context.settings.kpi.get(key)
    if spec is None:
        raise InputError("unknown_kpi", text=key)
    return spec


async def _who_by_id(
    session: AsyncSession, context: BotContext, key: str, who_id: str
) -> Staff | None:
    """The person a button names (None: the team); they must still be assessed on the KPI."""
    if who_id == TEAM:
        return None
    person = await _assessed(session, context, row_id(who_id))
    if person is None:  # left the team, or no KPI applies any more
        raise InputError("expired")
    _check_holder(_kpi(context, key), person)
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
    return rows_of([(_label(k.name.get(me.locale)), _data("tgt", "k", k.key)) for k in specs])


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


def _plain(value: Decimal) -> str:
    """4000.0000 -> "4000", 0.4000 -> "0.4" (for button data)."""
    return f"{value.normalize():f}"


# ---- /export ---------------------------------------------------------------------------------


async def export_xlsx(update: Update, context: BotContext) -> None:
    """/export [period] (directors): the workbook is built in the transaction, sent after it, so
    no transaction stays open during an upload."""
    built: list[tuple[bytes, str, str]] = []

    @staff_only("director")
    async def build(update: Update, context: BotContext, session: AsyncSession, me: Staff):
        today = _today(context)
        try:
            period = periods.parse(_args(update), today)
        except ValueError:
            await reply(update, me.locale, "kpi_error.html.j2", reason="bad_period",
                        command="export", text=_args(update))  # fmt: skip
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


# ---- shared ----------------------------------------------------------------------------------


def _args(update: Update) -> str:
    parts = (update.effective_message.text or "").split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def _today(context: BotContext) -> date:
    return local_date(clock.now(), context.settings.team.tz)


def _reply_to(update: Update) -> int | None:
    """The bot's message this one replies to, if any (a reply names the prompt it answers)."""
    replied = update.effective_message.reply_to_message
    by_bot = replied is not None and replied.from_user is not None and replied.from_user.is_bot
    return replied.message_id if by_bot else None


def _data(prefix: str, *parts: object) -> str:
    """Callback data `prefix:v1:…`; KPI keys (≤ 32), ids and values keep it under 64 bytes."""
    data = ":".join([prefix, "v1", *map(str, parts)])
    if len(data.encode()) > MAX_DATA:
        raise ValueError(f"callback data over {MAX_DATA} bytes: {data}")
    return data


def _label(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _explain(exc: ServiceError) -> dict:
    return {"reason": exc.reason, "text": "", "name": "", "mine": False, **exc.details}


def row_id(text: str) -> int:
    """A database id from button data; ValueError (a stale button) unless 1–18 ASCII digits."""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise ValueError(f"not a row id: {text[:20]!r}")
    return int(text)


def register(app) -> None:
    """/kpi, /target, /export, their buttons, and a director's typed target value."""
    app.add_handler(CommandHandler("kpi", show_kpi, filters=PRIVATE))
    app.add_handler(CommandHandler("target", target_command, filters=PRIVATE))
    app.add_handler(CommandHandler("export", export_xlsx, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(press_kpi, pattern=r"^kpi:v1:(l|t|\d{1,18}):[\w-]+$"))
    app.add_handler(CallbackQueryHandler(press_target, pattern=r"^tgt:v1:"))
    # Before activities and reports, whose typed-text handlers this one hands every other text
    # to; forwards stay with /feedback.
    text = PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    app.add_handler(MessageHandler(text & ~filters.FORWARDED, take_text))
