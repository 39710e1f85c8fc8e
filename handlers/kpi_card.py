"""/kpi: my card; a director's picker, the team's card and anyone's card, and their buttons."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import clock
from bot.buttons import ID, Action
from bot.calendar import Period
from bot.i18n import t
from bot.models import Staff
from bot.services import kpi, kpi_view, periods
from bot.services.kpi_input import InputError
from bot.state import BotContext
from handlers import kpi_shared as shared
from handlers.access import staff_only, stale_data
from handlers.reply import acknowledge, answer_alert, edit, reply, rows_of

# A director's buttons: the picker, the team's card, or one person's card, for a period.
PICKER = Action("kpi", "l:{period}", period=shared.PERIOD)
TEAM_CARD = Action("kpi", shared.TEAM + ":{period}", period=shared.PERIOD)
PERSON_CARD = Action("kpi", "{person}:{period}", person=ID, period=shared.PERIOD)


@staff_only()
async def show_kpi(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """/kpi [period] — my card; a director picks someone, or names them: /kpi @user 2026-10."""
    if not me.has_role("director"):
        await _show_mine(update, context, session, me)
        return
    try:
        who, period = await _who_and_when(
            session, context, shared.args(update), shared.today(context)
        )
    except InputError as exc:
        await reply(update, me.locale, "kpi_error.html.j2", command="kpi", **shared.explain(exc))
        return
    if who is None:
        text, buttons = await _picker(session, context, me, period)
        await reply(update, me.locale, "kpi_pick.html.j2", buttons, **text)
        return
    await _reply_card(update, context, session, me, who, period)


async def _show_mine(update: Update, context: BotContext, session: AsyncSession, me: Staff):
    """A staff member's own card; naming anyone else, known or not, is refused."""
    try:
        who, period = await _who_and_when(
            session, context, shared.args(update), shared.today(context)
        )
    except InputError as exc:
        if exc.reason == "unknown_person":
            who, period = None, None
        else:
            await reply(
                update, me.locale, "kpi_error.html.j2", command="kpi", **shared.explain(exc)
            )
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
async def press_picker(update: Update, context: BotContext, session: AsyncSession, me: Staff):
    """The picker for a period (⬅️ / ➡️, and « Back from a card)."""
    (key,) = PICKER.unpack(update.callback_query.data)
    if (period := await _period(update, session, me, key)) is None:
        return
    text, buttons = await _picker(session, context, me, period)
    await edit(update, me.locale, "kpi_pick.html.j2", buttons, **text)
    await acknowledge(update)


@staff_only("director")
async def press_team(update: Update, context: BotContext, session: AsyncSession, me: Staff):
    """The team's card for a period."""
    (key,) = TEAM_CARD.unpack(update.callback_query.data)
    if (period := await _period(update, session, me, key)) is None:
        return
    card = await _team_card(session, context, me, period)
    await edit(update, me.locale, "kpi_card.html.j2", _back(me, period), **card)
    await acknowledge(update)


@staff_only("director")
async def press_person(update: Update, context: BotContext, session: AsyncSession, me: Staff):
    """One person's card for a period."""
    person_id, key = PERSON_CARD.unpack(update.callback_query.data)
    if (period := await _period(update, session, me, key)) is None:
        return
    person = await shared.assessed(session, context, int(person_id))
    card = person and await _person_card(session, context, me, person, period)
    if not card:
        await answer_alert(update, me.locale, "kpi_error.html.j2", reason="no_kpis",
                           command="kpi", name=person.display_name if person else "",
                           mine=False)  # fmt: skip
        return
    await edit(update, me.locale, "kpi_card.html.j2", _back(me, period), **card)
    await acknowledge(update)


async def _period(update: Update, session: AsyncSession, me: Staff, key: str) -> Period | None:
    """The period a button names; None (after the stale-button answer) if it names none."""
    try:
        return Period.parse(key)
    except ValueError:
        await stale_data(update, session, me)
        return None


def _back(me: Staff, period: Period):
    return rows_of([(t(me.locale, "« Back"), PICKER.pack(period.key))])


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
        person = await shared.find(session, context, " ".join(words[:cut]))
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


async def _picker(session: AsyncSession, context: BotContext, me: Staff, period: Period):
    """A director's choice: the team, everyone assessed, and the periods either side."""
    people = await kpi.assessed_staff(session, context.settings.kpi)
    label = shared.label
    buttons = [(t(me.locale, "👥 Team"), TEAM_CARD.pack(period.key))] if people else []
    buttons += [(label(p.display_name), PERSON_CARD.pack(p.id, period.key)) for p in people]
    earlier, later = period.previous(), period.next()
    nav = [(f"⬅️ {periods.label(earlier, me.locale)}", PICKER.pack(earlier.key)),
           (f"{periods.label(later, me.locale)} ➡️", PICKER.pack(later.key))]  # fmt: skip
    text = {"period": periods.label(period, me.locale), "count": len(people)}
    return text, [*rows_of(buttons), nav]


async def _person_card(
    session: AsyncSession, context: BotContext, me: Staff, person: Staff, period: Period
) -> dict | None:
    """The template context of one person's card, or None if no KPI applies to them."""
    card = (await _assess(session, context, period, [person])).card(person.id)
    if card is None:
        return None
    days = _days_left(context, period)
    lines = [kpi_view.line(r, me.locale, days, weighted=True) for r in card.results]
    return dict(team=False, name=person.display_name, period=periods.label(period, me.locale),
                lines=lines, score=kpi_view.score(card), best=kpi_view.best(card),
                people=[])  # fmt: skip


async def _team_card(session: AsyncSession, context: BotContext, me: Staff, period: Period):
    """The team's KPIs (no weights: the team has no score) and everyone's weighted score."""
    found = await _assess(session, context, period)
    days = _days_left(context, period)
    lines = [kpi_view.line(r, me.locale, days, weighted=False) for r in found.team]
    people = [(c.staff.display_name, kpi_view.score(c)) for c in found.cards]
    return dict(team=True, name="", period=periods.label(period, me.locale), lines=lines,
                score=None, best=kpi_view.team_best(found.cards), people=people)  # fmt: skip


async def _assess(session: AsyncSession, context: BotContext, period: Period, people=None):
    s = context.settings
    return await kpi.assess(session, s.kpi, s.reports, context.state.calendar, s.team.tz,
                            period, clock.now(), people)  # fmt: skip


def _days_left(context: BotContext, period: Period) -> int | None:
    """Working days after today, when the period is the current month (for the pace)."""
    return kpi_view.days_left(context.state.calendar, period, shared.today(context))


def register(app) -> None:
    """/kpi and its buttons."""
    app.add_handler(CommandHandler("kpi", show_kpi, filters=shared.PRIVATE))
    app.add_handler(CallbackQueryHandler(press_picker, pattern=PICKER.pattern))
    app.add_handler(CallbackQueryHandler(press_team, pattern=TEAM_CARD.pattern))
    app.add_handler(CallbackQueryHandler(press_person, pattern=PERSON_CARD.pattern))
