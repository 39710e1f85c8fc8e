"""Staff and roles: who is in the team, with which roles, active or not."""

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from bot import clock
from bot.db import connection, labelled, loaded, row_values
from bot.models import Draft, Prompt, Staff, StaffRole
from bot.services import audit, held
from bot.services.errors import ServiceError
from bot.services.roles import DEFAULT_ROLES, RolesConfig


class StaffError(ServiceError):
    """A staff change that cannot be made; `reason` is a stable code for the message."""


@dataclass(frozen=True)
class Person:
    """What we know of a Telegram user when they write to us."""

    telegram_id: int
    display_name: str
    username: str | None
    locale: str


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> Staff | None:
    """The staff row of a Telegram user, active or not, with its roles (one statement: every
    update starts here)."""
    found = await session.execute(_BY_TELEGRAM_ID, {"telegram_id": telegram_id})
    return found.unique().scalar_one_or_none()


async def sender(session: AsyncSession, telegram_id: int) -> Staff | None:
    """The sender of an update (`by_telegram_id`), read in the same statement as their open prompt
    and draft, which are held for the transaction (services/held.py): a typed answer or a form
    button then needs no statement of its own to find them.

    Read as plain rows and made the session's objects as if loaded (`db.loaded`): the ORM's
    joined loading set itself up afresh on every update, ~0.5 ms of CPU for four small rows
    (decision 67, tenth round). The update's session holds nothing yet; should it hold the
    person already, the ORM reads them as before."""
    kept = session.info.pop(_KEPT_SENDER, None)
    if session.identity_map:
        return await _sender_by_orm(session, telegram_id)
    if kept is not None and kept[0] == telegram_id:  # read with the update's record
        rows = kept[1]
    else:
        conn = await connection(session)
        rows = (await conn.execute(SENDER_ROWS, {"telegram_id": telegram_id})).all()
    if not rows:
        return None
    first = rows[0]
    person = from_rows(session, rows)
    prompt = loaded(session, Prompt, row_values(first, "p_", Prompt)) if first.p_id else None
    draft = loaded(session, Draft, row_values(first, "d_", Draft)) if first.d_id else None
    held.keep(session, Prompt, person.id, prompt)
    held.keep(session, Draft, person.id, draft)
    return person


def keep_sender(session: AsyncSession, telegram_id: int, rows: list[Row]) -> None:
    """`SENDER_ROWS` read with the update's record (team.mark_update_and_sender), before
    anything else in its transaction: `sender` takes them instead of reading."""
    session.info[_KEPT_SENDER] = (telegram_id, rows)


_KEPT_SENDER = "opsbot.sender_rows"


def from_rows(session: AsyncSession, rows: list[Row]) -> Staff:
    """A person and their roles read as rows (`s_` and `r_` columns, one row per role), as the
    session's objects as if loaded; the session's own object when it holds the person already
    (read in this transaction, so as current)."""
    first = rows[0]
    person = session.identity_map.get(identity_key(Staff, first.s_id))
    if person is not None:
        return person
    person = loaded(session, Staff, row_values(first, "s_", Staff))
    roles = [loaded(session, StaffRole, row_values(r, "r_", StaffRole)) for r in rows if r.r_id]
    set_committed_value(person, "roles", roles)
    for role in roles:
        set_committed_value(role, "staff", person)
    return person


async def _sender_by_orm(session: AsyncSession, telegram_id: int) -> Staff | None:
    rows = (await session.execute(_SENDER, {"telegram_id": telegram_id})).unique().all()
    if not rows:
        return None
    person, prompt, draft = rows[0]
    held.keep(session, Prompt, person.id, prompt)
    held.keep(session, Draft, person.id, draft)
    return person


# Built once: SQLAlchemy memoizes a statement's cache key, so a statement reused with new
# parameters skips building and keying it again (~0.2–0.3 ms of CPU on every update).
_BY_TELEGRAM_ID = (
    select(Staff)
    .where(Staff.telegram_id == bindparam("telegram_id"))
    .options(joinedload(Staff.roles))
)
# Prompts and drafts are unique per person: one row per role, as above.
_STAFF, _ROLES = Staff.__table__, StaffRole.__table__
_PROMPTS, _DRAFTS = Prompt.__table__, Draft.__table__
SENDER_ROWS = (
    select(*(column for prefix, model in (("s_", Staff), ("r_", StaffRole), ("p_", Prompt),
                                          ("d_", Draft)) for column in labelled(prefix, model)))
    .select_from(
        _STAFF.outerjoin(_ROLES, _ROLES.c.staff_id == _STAFF.c.id)
        .outerjoin(_PROMPTS, _PROMPTS.c.staff_id == _STAFF.c.id)
        .outerjoin(_DRAFTS, _DRAFTS.c.staff_id == _STAFF.c.id)
    )
    .where(_STAFF.c.telegram_id == bindparam("telegram_id"))
    .order_by(_ROLES.c.id)
)  # fmt: skip
_SENDER = (
    select(Staff, Prompt, Draft)
    .outerjoin(Prompt, Prompt.staff_id == Staff.id)
    .outerjoin(Draft, Draft.staff_id == Staff.id)
    .where(Staff.telegram_id == bindparam("telegram_id"))
    .options(joinedload(Staff.roles))
)


async def by_handle(session: AsyncSession, handle: str) -> Staff | None:
    """An active team member by @username or Telegram id (as shown in /staff)."""
    handle = handle.lstrip("@")
    if handle.isdigit() and not (handle.isascii() and len(handle) <= 18):
        return None  # "²" or twenty digits: no Telegram id (a BIGINT would overflow)
    if handle.isdigit():
        found = await by_telegram_id(session, int(handle))
    else:
        found = await session.scalar(select(Staff).where(Staff.username == handle))
    return found if found is not None and found.active else None


async def get(session: AsyncSession, staff_id: int) -> Staff:
    """A staff row by id, or StaffError('not_found')."""
    staff = await session.get(Staff, staff_id)
    if staff is None:
        raise StaffError("not_found")
    return staff


async def by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Staff]:
    """Staff rows by id (the ids that exist): those this session holds already (the sender, say)
    without a statement, the rest with their roles in one."""
    ids, found = set(ids) - {None}, {}
    for staff_id in ids:
        held = session.identity_map.get(identity_key(Staff, staff_id))
        if held is not None:
            found[staff_id] = held
    missing = ids - found.keys()
    if missing:
        rows = await session.execute(_BY_IDS, {"ids": list(missing)})
        found |= {s.id: s for s in rows.unique().scalars()}
    return found


async def locales(session: AsyncSession, telegram_ids: Iterable[int]) -> dict[int, str]:
    """The locale of each Telegram id that is staff, active or not: of the people this session
    holds already without a statement, of the rest in one."""
    wanted, found = set(telegram_ids), {}
    for obj in session.identity_map.values():
        # Read from the instance's dict: an expired attribute must not load (async).
        values = vars(obj) if isinstance(obj, Staff) else {}
        if values.get("telegram_id") in wanted and values.get("locale") is not None:
            found[values["telegram_id"]] = values["locale"]
    missing = wanted - found.keys()
    if missing:
        rows = await session.execute(_LOCALES, {"ids": list(missing)})
        found |= {telegram_id: locale for telegram_id, locale in rows}
    return found


# Built once (see _BY_TELEGRAM_ID): a decision reads its proposer and its readers' languages.
_BY_IDS = (
    select(Staff)
    .where(Staff.id.in_(bindparam("ids", expanding=True)))
    .options(joinedload(Staff.roles))
)
_LOCALES = select(Staff.telegram_id, Staff.locale).where(
    Staff.telegram_id.in_(bindparam("ids", expanding=True))
)


async def names(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    """Display names by staff id (the ids that exist)."""
    return {i: person.display_name for i, person in (await by_ids(session, ids)).items()}


async def list_all(session: AsyncSession, *, active_only: bool = False) -> list[Staff]:
    """Everyone, active first, then by name."""
    query = select(Staff).order_by(Staff.active.desc(), Staff.display_name, Staff.id)
    if active_only:
        query = query.where(Staff.active.is_(True))
    return list(await session.scalars(query))


async def directors(session: AsyncSession) -> list[Staff]:
    """Active directors (the approvers)."""
    return await holding(session, ("director",))


async def holding(session: AsyncSession, roles: Iterable[str]) -> list[Staff]:
    """Active people holding any of `roles`, each once, with their roles (one statement)."""
    found = await session.execute(_HOLDING, {"roles": list(roles)})
    return list(found.unique().scalars())


_HOLDING = (  # built once: a decision reads the step's people (see _BY_TELEGRAM_ID)
    select(Staff)
    .where(
        Staff.active.is_(True),
        Staff.id.in_(
            select(StaffRole.staff_id).where(StaffRole.role.in_(bindparam("roles", expanding=True)))
        ),
    )
    .order_by(Staff.id)
    .options(joinedload(Staff.roles))
)


async def add(
    session: AsyncSession,
    person: Person,
    roles: Iterable[str],
    actor: int | None,
    known: RolesConfig = DEFAULT_ROLES,
) -> Staff:
    """Make `person` staff with `roles`, or reactivate them with those roles."""
    roles = _checked(roles, known)
    staff = await by_telegram_id(session, person.telegram_id)
    created = staff is None
    if created:
        staff = Staff(
            telegram_id=person.telegram_id,
            display_name=person.display_name,
            username=person.username,
            locale=person.locale,
            active=True,
            joined_at=clock.now(),
        )
        session.add(staff)
    staff.active = True
    _replace_roles(staff, roles)
    await session.flush()
    if created:
        session.info.setdefault(_CREATED, set()).add(staff.id)
    await audit.record(session, actor, "staff.add", f"staff:{staff.id}", roles=sorted(roles))
    return staff


_CREATED = "staff.created"  # session.info: ids of the rows `add` made in this session


def made_here(session: AsyncSession, staff: Staff) -> bool:
    """True when `add` made this person's row in this session: nothing refers to them yet (no
    obligations, leave or reports), so a newcomer's first obligations need not look for any."""
    return staff.id in session.info.get(_CREATED, ())


async def set_roles(
    session: AsyncSession,
    staff: Staff,
    roles: Iterable[str],
    actor: int,
    known: RolesConfig = DEFAULT_ROLES,
) -> None:
    """Replace a person's roles; the last active director cannot give up directing."""
    roles = _checked(roles, known, held=staff.role_names)
    if not roles:
        raise StaffError("no_roles")
    if staff.has_role("director") and "director" not in roles:
        await _keep_a_director(session, staff)
    before = sorted(staff.role_names)
    _replace_roles(staff, roles)
    await session.flush()
    await audit.record(
        session, actor, "staff.set_roles", f"staff:{staff.id}", before=before, after=sorted(roles)
    )


async def toggle_role(
    session: AsyncSession, staff: Staff, role: str, actor: int, known: RolesConfig = DEFAULT_ROLES
) -> None:
    """Add `role` to a person, or take it away."""
    roles = set(staff.role_names) ^ {role}
    await set_roles(session, staff, roles, actor, known)


async def deactivate(session: AsyncSession, staff: Staff, actor: int) -> None:
    """Stop a person from using the bot (their history stays)."""
    if not staff.active:
        raise StaffError("already_inactive")
    if staff.has_role("director"):
        await _keep_a_director(session, staff)
    staff.active = False
    await audit.record(session, actor, "staff.deactivate", f"staff:{staff.id}")


async def reactivate(session: AsyncSession, staff: Staff, actor: int) -> None:
    """Let a deactivated person use the bot again."""
    if staff.active:
        raise StaffError("already_active")
    staff.active = True
    await audit.record(session, actor, "staff.reactivate", f"staff:{staff.id}")


async def handover(
    session: AsyncSession, source: Staff, target: Staff, actor: int, *, tz: ZoneInfo
) -> int:
    """Give a deactivated person's open work to someone active; returns how many items moved.

    What open work is lives in bot/services/handover.py: channels, unfinished activity plans,
    drafts, open obligations and tasks (`tz`, the team's zone, for the task cards).
    """
    if source.active:
        raise StaffError("still_active")
    if not target.active or target.id == source.id:
        raise StaffError("bad_target")
    from bot.services.handover import MOVERS  # the movers read other features' tables

    moved = 0
    for mover in MOVERS:
        moved += await mover(session, source.id, target.id, actor=actor, tz=tz)
    await audit.record(
        session, actor, "staff.handover", f"staff:{source.id}", to=target.id, moved=moved
    )
    return moved


def refresh_profile(staff: Staff, person: Person) -> None:
    """Keep the name and @username we show in step with Telegram (called on /start)."""
    staff.display_name, staff.username = person.display_name, person.username


async def set_locale(session: AsyncSession, staff: Staff, locale: str) -> None:
    """Remember the language a person wants the bot to speak."""
    staff.locale = locale


def _checked(roles: Iterable[str], known: RolesConfig, held: set[str] = frozenset()) -> set[str]:
    # A role taken out of [roles] may stay on those who hold it; nobody gets it anew.
    roles = set(roles)
    unknown = [r for r in roles - held if not known.known(r)]
    if unknown:
        raise StaffError("unknown_role")
    return roles


def _replace_roles(staff: Staff, roles: set[str]) -> None:
    keep = [r for r in staff.roles if r.role in roles]
    have = {r.role for r in keep}
    staff.roles = keep + [StaffRole(role=r) for r in sorted(roles - have)]


async def _keep_a_director(session: AsyncSession, leaving: Staff) -> None:
    others = [d for d in await directors(session) if d.id != leaving.id]
    if not others:
        raise StaffError("last_director")
