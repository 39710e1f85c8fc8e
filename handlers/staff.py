"""/staff: directors list people, change roles, deactivate, and hand open work over."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.buttons import ID, Action
from bot.i18n import t
from bot.models import Staff
from bot.services import notices
from bot.services import staff as staff_service
from bot.services.roles import RolesConfig
from bot.services.staff import StaffError
from bot.state import BotContext
from handlers.access import staff_only
from handlers.reply import acknowledge, answer_alert, edit, reply, rows_of

PAGE_SIZE = 8
# Only these shapes are handled (ids of at most 18 ASCII digits, which fit BIGINT): anything
# else is forged or stale, and goes to stale_button.
LIST = Action("staff", "list:{page}", page=ID)
SHOW = Action("staff", "show:{person}", person=ID)
ROLE = Action("staff", "role:{person}:{role}", person=ID, role="[a-z0-9_]+")
OFF = Action("staff", "off:{person}", person=ID)
ON = Action("staff", "on:{person}", person=ID)
PICK_HANDOVER = Action("staff", "ho:{person}", person=ID)
HANDOVER = Action("staff", "hoto:{person}:{to}", person=ID, to=ID)


@staff_only("director")
async def list_staff(
    update: Update, context: BotContext, session: AsyncSession, director: Staff
) -> None:
    """/staff: the first page of the team."""
    everyone = await staff_service.list_all(session)
    text, buttons = _page(everyone, 0, director.locale, context.settings.roles)
    await reply(update, director.locale, "staff_list.html.j2", buttons, **text)


def on_press(action: Action, step):
    """The handler of one /staff button: its data's ids as ints, a StaffError as an alert."""

    @staff_only("director")
    async def press(
        update: Update, context: BotContext, session: AsyncSession, director: Staff
    ) -> None:
        values = action.unpack(update.callback_query.data)
        args = [int(v) if v.isdecimal() else v for v in values]
        try:
            await step(update, context.settings, session, director, *args)
        except StaffError as exc:
            await answer_alert(update, director.locale, "staff_error.html.j2", reason=exc.reason)
            return
        await acknowledge(update)

    return press


async def _show_page(update, settings, session, director, page: int) -> None:
    everyone = await staff_service.list_all(session)
    text, buttons = _page(everyone, page, director.locale, settings.roles)
    await edit(update, director.locale, "staff_list.html.j2", buttons, **text)


async def _show_person(update, settings, session, director, staff_id: int) -> None:
    person = await staff_service.get(session, staff_id)
    await edit(
        update,
        director.locale,
        "staff_card.html.j2",
        _person_buttons(person, director, settings.roles),
        person=person,
        roles=settings.roles.labels(person.role_names, director.locale),
    )


async def _toggle_role(update, settings, session, director, staff_id: int, role: str) -> None:
    person = await staff_service.get(session, staff_id)
    if not settings.roles.known(role) and not person.has_role(role):
        raise StaffError("unknown_role")
    await staff_service.toggle_role(session, person, role, director.telegram_id, settings.roles)
    await notices.staff_changed(session, person, director, settings.roles, settings.reports.forms)
    await _show_person(update, settings, session, director, staff_id)


async def _deactivate(update, settings, session, director, staff_id: int) -> None:
    person = await staff_service.get(session, staff_id)
    await staff_service.deactivate(session, person, director.telegram_id)
    await notices.staff_changed(session, person, director, settings.roles, settings.reports.forms)
    await _show_person(update, settings, session, director, staff_id)


async def _reactivate(update, settings, session, director, staff_id: int) -> None:
    person = await staff_service.get(session, staff_id)
    await staff_service.reactivate(session, person, director.telegram_id)
    await notices.staff_changed(session, person, director, settings.roles, settings.reports.forms)
    await _show_person(update, settings, session, director, staff_id)


async def _pick_handover(update, settings, session, director, staff_id: int) -> None:
    person = await staff_service.get(session, staff_id)
    active = await staff_service.list_all(session, active_only=True)
    rows = [[(s.display_name, HANDOVER.pack(person.id, s.id))] for s in active[:20]]
    rows.append([(t(director.locale, "« Back"), SHOW.pack(person.id))])
    await edit(update, director.locale, "staff_handover.html.j2", rows, person=person)


async def _handover(update, settings, session, director, source_id: int, target_id: int) -> None:
    source = await staff_service.get(session, source_id)
    target = await staff_service.get(session, target_id)
    moved = await staff_service.handover(
        session, source, target, director.telegram_id, tz=settings.team.tz
    )
    back = [[(t(director.locale, "« Back"), LIST.pack(0))]]
    await edit(
        update,
        director.locale,
        "staff_handover_done.html.j2",
        back,
        source=source,
        target=target,
        moved=moved,
    )


def _page(everyone: list[Staff], page: int, locale: str, roles: RolesConfig):
    pages = max(1, -(-len(everyone) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = everyone[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [[(_button_label(s), SHOW.pack(s.id))] for s in shown]
    nav = []
    if page > 0:
        nav.append(("◀", LIST.pack(page - 1)))
    if page < pages - 1:
        nav.append(("▶", LIST.pack(page + 1)))
    if nav:
        rows.append(nav)
    people_ = [(s, roles.labels(s.role_names, locale)) for s in shown]
    return {"people": people_, "page": page + 1, "pages": pages, "total": len(everyone)}, rows


def _button_label(s: Staff) -> str:
    return s.display_name if s.active else f"⛔ {s.display_name}"


def _person_buttons(
    person: Staff, director: Staff, roles: RolesConfig
) -> list[list[tuple[str, str]]]:
    loc = director.locale
    toggles = [
        (
            ("✓ " if person.has_role(r) else "") + roles.label(r, loc),
            ROLE.pack(person.id, r),
        )
        for r in roles.keys
    ]
    rows = rows_of(toggles)
    if person.active:
        rows.append([(t(loc, "Deactivate"), OFF.pack(person.id))])
    else:
        rows.append(
            [
                (t(loc, "Reactivate"), ON.pack(person.id)),
                (t(loc, "Hand over open work"), PICK_HANDOVER.pack(person.id)),
            ]
        )
    rows.append([(t(loc, "« Back"), LIST.pack(0))])
    return rows


def register(app) -> None:
    """/staff and its buttons."""
    app.add_handler(CommandHandler("staff", list_staff, filters=filters.ChatType.PRIVATE))
    for action, step in [
        (LIST, _show_page),
        (SHOW, _show_person),
        (ROLE, _toggle_role),
        (OFF, _deactivate),
        (ON, _reactivate),
        (PICK_HANDOVER, _pick_handover),
        (HANDOVER, _handover),
    ]:
        app.add_handler(CallbackQueryHandler(on_press(action, step), pattern=action.pattern))
