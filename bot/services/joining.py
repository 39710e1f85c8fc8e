"""Joining the team: requests a director decides once, and single-use invite links."""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot import clock
from bot.buttons import ID, Action
from bot.forms.spec import FormSpec
from bot.i18n import t
from bot.models import Invite, JoinRequest, Staff
from bot.outbox import cards_under, edit_later, enqueue, enqueue_later, reader_of
from bot.render import render
from bot.services import audit, menu
from bot.services import staff as staff_service
from bot.services.errors import ServiceError
from bot.services.roles import DEFAULT_ROLES, RolesConfig
from bot.services.staff import Person
from bot.states import JoinStatus

REQUEST_WINDOW = timedelta(hours=24)


class JoinError(ServiceError):
    """A join step that cannot happen; `reason` picks the message the user gets."""


@dataclass(frozen=True)
class Decision:
    """The outcome of a director's press on a join card."""

    request: JoinRequest
    staff: Staff | None


def card_key(request_id: int, director_telegram_id: int | str) -> str:
    """Outbox key of one director's copy of a join card (later edits refer to it); with ""
    for the director, the prefix of every copy's key."""
    return f"join:{request_id}:card:{director_telegram_id}"


async def pending_request(session: AsyncSession, telegram_id: int) -> JoinRequest | None:
    """The person's request waiting for a director, if any."""
    return await session.scalar(
        select(JoinRequest).where(
            JoinRequest.telegram_id == telegram_id, JoinRequest.status == JoinStatus.PENDING
        )
    )


async def check_can_request(session: AsyncSession, person: Person, max_per_day: int) -> None:
    """Raise JoinError when `person` may not ask to join right now."""
    staff = await staff_service.by_telegram_id(session, person.telegram_id)
    if staff is not None:
        raise JoinError("already_staff" if staff.active else "deactivated")
    pending = await pending_request(session, person.telegram_id)
    if pending is not None:
        raise JoinError("pending", role=pending.role)
    since = clock.now() - REQUEST_WINDOW
    recent = await session.scalar(
        select(func.count())
        .select_from(JoinRequest)
        .where(JoinRequest.telegram_id == person.telegram_id, JoinRequest.created_at >= since)
    )
    if recent >= max_per_day:
        raise JoinError("rate_limited")


async def request(
    session: AsyncSession,
    person: Person,
    role: str,
    max_per_day: int,
    roles: RolesConfig = DEFAULT_ROLES,
) -> JoinRequest:
    """File a join request for `role` and queue a card to everyone who approves it (the
    directors, unless [roles] says otherwise for a configured role)."""
    if role not in roles.joinable:
        raise JoinError("bad_role")
    await check_can_request(session, person, max_per_day)
    req = JoinRequest(
        telegram_id=person.telegram_id,
        display_name=person.display_name,
        username=person.username,
        locale=person.locale,
        role=role,
        status=JoinStatus.PENDING,
        created_at=clock.now(),
    )
    session.add(req)
    await session.flush()
    approvers = await staff_service.holding(session, roles.approvers(role))
    if not approvers:
        raise JoinError("no_directors")
    for director in approvers:
        label = roles.label(req.role, director.locale)
        await enqueue(
            session,
            card_key(req.id, director.telegram_id),
            director.telegram_id,
            render("join_card.html.j2", director.locale, req=req, role=label),
            card_buttons(req.id, director.locale),
            about=f"join:{req.id}",
        )
    await audit.record(session, person.telegram_id, "join.request", f"join:{req.id}", role=role)
    return req


async def card_still_wanted(session: AsyncSession, about: str) -> bool:
    """The sender's check: a join card is worth sending only while its request is pending."""
    req = await session.get(JoinRequest, int(about.split(":", 1)[1]))
    return req is not None and req.status == JoinStatus.PENDING


# A director's decision on a join card (handlers/join.py).
APPROVE = Action("join", "ok:{request}", request=ID)
REJECT = Action("join", "no:{request}", request=ID)


def card_buttons(request_id: int, locale: str) -> list[list[tuple[str, str]]]:
    """Approve / Reject buttons of a join card."""
    return [
        [
            (t(locale, "✅ Approve"), APPROVE.pack(request_id)),
            (t(locale, "❌ Reject"), REJECT.pack(request_id)),
        ]
    ]


async def decide(
    session: AsyncSession,
    request_id: int,
    approve: bool,
    director: Staff,
    roles: RolesConfig,
    forms: Sequence[FormSpec],
) -> Decision:
    """Record the one decision on a request; a second press raises JoinError('decided'), a
    press by someone who does not approve the role JoinError('not_approver')."""
    asked = await session.scalar(_REQUEST, {"request_id": request_id})
    if asked is not None and not director.role_names & set(roles.approvers(asked.role)):
        raise JoinError("not_approver", approvers=roles.approvers(asked.role))
    status = JoinStatus.APPROVED if approve else JoinStatus.REJECTED
    now = clock.now()
    decision = {"request_id": request_id, "new": status, "by": director.id, "at": now}
    changed = await session.execute(_DECIDE, decision)
    if changed.rowcount == 1 and asked is not None:
        req = asked  # as the UPDATE left it, without marking the object changed
        for name, value in (("status", status), ("decided_by", director.id), ("decided_at", now)):
            set_committed_value(req, name, value)
    else:  # decided meanwhile, or never there: read what is true now
        req = await session.get(JoinRequest, request_id, populate_existing=True)
    if req is None:
        raise JoinError("not_found")
    if changed.rowcount != 1:
        decider = await session.get(Staff, req.decided_by) if req.decided_by else None
        raise JoinError("decided", status=req.status, by=decider.display_name if decider else "")
    # The copies of the card first: what is queued after them is written with their edits, in
    # one INSERT (outbox.enqueue_later), not after a read of them.
    await _close_cards(session, req, director, roles)
    new_staff = None
    if approve:
        person = Person(req.telegram_id, req.display_name, req.username, req.locale)
        new_staff = await staff_service.add(
            session, person, {req.role}, director.telegram_id, roles
        )
        await _welcome(session, new_staff, f"join:{req.id}:welcome", roles, forms)
    else:
        await enqueue_later(
            session,
            f"join:{req.id}:rejected",
            req.telegram_id,
            render("join_rejected.html.j2", req.locale),
        )
    await audit.record(session, director.telegram_id, f"join.{status}", f"join:{req.id}")
    return Decision(req, new_staff)


# Built once: every decision runs them (see staff._BY_TELEGRAM_ID). The UPDATE is the table's
# (the ORM would annotate it afresh each time), its parameters not named after its columns.
_REQUEST = select(JoinRequest).where(JoinRequest.id == bindparam("request_id"))
_REQUESTS = JoinRequest.__table__
_DECIDE = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("request_id"), _REQUESTS.c.status == JoinStatus.PENDING)
    .values(status=bindparam("new"), decided_by=bindparam("by"), decided_at=bindparam("at"))
)


async def _close_cards(
    session: AsyncSession, req: JoinRequest, director: Staff, roles: RolesConfig
) -> None:
    """Edit every copy of the card to show the decision and who made it: the copies read at
    once, with what their edits need, each in its reader's language."""
    cards = await cards_under(session, card_key(req.id, ""))
    locales = await staff_service.locales(session, [reader_of(card) for card in cards])
    texts: dict[str, str] = {}  # a closed card reads the same for every reader of a language
    for card in cards:
        locale = locales.get(reader_of(card), director.locale)
        if locale not in texts:
            texts[locale] = render(
                "join_card.html.j2",
                locale,
                req=req,
                role=roles.label(req.role, locale),
                decided_by=director.display_name,
            )
        await edit_later(session, f"{card.dedup_key}:closed", card, texts[locale])


async def _welcome(
    session: AsyncSession, staff: Staff, key: str, known: RolesConfig, forms: Sequence[FormSpec]
) -> None:
    roles = [known.label(r, staff.locale) for r in sorted(staff.role_names)]
    commands = menu.commands_for(staff, forms)
    await enqueue_later(
        session,
        key,
        staff.telegram_id,
        render(
            "welcome.html.j2",
            staff.locale,
            name=staff.display_name,
            roles=roles,
            commands=menu.described(commands, staff.locale),
        ),
    )
    await menu.enqueue_commands(session, staff, f"{key}:menu", forms)


async def create_invite(
    session: AsyncSession,
    role: str,
    director: Staff,
    ttl: timedelta,
    roles: RolesConfig = DEFAULT_ROLES,
) -> Invite:
    """A single-use invite for `role`, valid for `ttl`."""
    if not roles.known(role):
        raise JoinError("bad_role")
    now = clock.now()
    invite = Invite(
        token=secrets.token_urlsafe(12),
        role=role,
        created_by=director.id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invite)
    await session.flush()
    await audit.record(
        session, director.telegram_id, "invite.create", f"invite:{invite.id}", role=role
    )
    return invite


async def redeem_invite(
    session: AsyncSession,
    token: str,
    person: Person,
    roles: RolesConfig,
    forms: Sequence[FormSpec],
) -> Staff:
    """Join with an invite token; it works once and only before it expires."""
    existing = await staff_service.by_telegram_id(session, person.telegram_id)
    if existing is not None:
        raise JoinError("already_staff" if existing.active else "deactivated")
    invite = await session.scalar(select(Invite).where(Invite.token == token))
    if invite is None:
        raise JoinError("invite_unknown")
    now = clock.now()
    claimed = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(used_at=now, used_by=person.telegram_id)
    )
    if claimed.rowcount != 1:
        await audit.record(session, person.telegram_id, "invite.refused", f"invite:{invite.id}")
        raise JoinError("invite_used" if invite.used_at else "invite_expired")
    staff = await staff_service.add(session, person, {invite.role}, person.telegram_id, roles)
    await audit.record(session, person.telegram_id, "invite.redeem", f"invite:{invite.id}")
    await _withdraw_pending(session, person.telegram_id)
    await _welcome(session, staff, f"invite:{invite.id}:welcome", roles, forms)
    await _tell_directors_invite_used(session, staff, invite, roles)
    return staff


async def _withdraw_pending(session: AsyncSession, telegram_id: int) -> None:
    """An invite made the request moot: close it, so its cards cannot approve anyone twice."""
    req = await pending_request(session, telegram_id)
    if req is None:
        return
    req.status, req.decided_at = JoinStatus.WITHDRAWN, clock.now()
    await audit.record(session, telegram_id, "join.withdrawn", f"join:{req.id}", why="invite")


async def _tell_directors_invite_used(
    session: AsyncSession, staff: Staff, invite: Invite, roles: RolesConfig
) -> None:
    for director in await staff_service.directors(session):
        if director.id == staff.id:
            continue
        await enqueue(
            session,
            f"invite:{invite.id}:joined:{director.telegram_id}",
            director.telegram_id,
            render(
                "invite_used.html.j2",
                director.locale,
                name=staff.display_name,
                role=roles.label(invite.role, director.locale),
            ),
        )
