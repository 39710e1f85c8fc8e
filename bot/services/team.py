"""The team this deployment serves: first-start defaults, and its bound group."""

from collections.abc import Sequence
from functools import cache

from sqlalchemy import (
    BigInteger,
    DateTime,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from bot import clock, marks
from bot.config import TeamSettings
from bot.db import connection, insert_for_dialect
from bot.models import Outbox, ProcessedUpdate, Team
from bot.outbox import enqueue
from bot.render import render
from bot.services import audit
from bot.services import staff as staff_service
from bot.services.staff import Person
from bot.states import OutboxStatus

TEAM_ID = 1


async def ensure(session: AsyncSession, settings: TeamSettings) -> Team:
    """Create the team row and config directors on first start; later starts only refresh the
    group's language from config."""
    team = await session.get(Team, TEAM_ID)
    if team is None:
        team = Team(id=TEAM_ID, name=settings.name, group_chat_id=settings.group_chat_id)
        session.add(team)
    team.locale = settings.locale
    for telegram_id in settings.directors:
        if await staff_service.by_telegram_id(session, telegram_id) is None:
            person = Person(telegram_id, f"Director {telegram_id}", None, settings.locale)
            await staff_service.add(session, person, {"director"}, actor=None)
    await session.flush()
    return team


async def get(session: AsyncSession) -> Team:
    """The team row (created by ensure at start-up)."""
    team = session.identity_map.get(identity_key(Team, TEAM_ID))
    if team is None:
        team = await session.scalar(_TEAM)
    if team is None:
        raise RuntimeError("team row missing: start-up did not run")
    return team


# Built once: session.get builds its SELECT afresh every time it reads the row (~0.3 ms).
_TEAM = select(Team).where(Team.id == TEAM_ID)


async def bind_group(session: AsyncSession, chat_id: int, title: str | None, actor: int) -> Team:
    """Make `chat_id` the team group."""
    team = await get(session)
    before = team.group_chat_id
    team.group_chat_id, team.group_title = chat_id, title
    team.bound_by, team.bound_at = actor, clock.now()
    await audit.record(session, actor, "group.bind", f"chat:{chat_id}", before=before)
    return team


async def follow_migration(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> bool:
    """A group became a supergroup: keep it bound under its new id."""
    team = await session.get(Team, TEAM_ID)
    if team is None or team.group_chat_id != old_chat_id:
        return False
    team.group_chat_id = new_chat_id
    await audit.record(session, None, "group.migrated", f"chat:{new_chat_id}", old=old_chat_id)
    return True


async def mark_update(session: AsyncSession, update_id: int, sent: Sequence[dict] = ()) -> bool:
    """Record an update id, and write `sent` (outbox marks, bot/marks.py) with it; False when
    it was already handled (a redelivery)."""
    # Core, on the session's connection: with parameters, session.execute would take an
    # INSERT for an ORM bulk insert, whose result has no rowcount.
    conn = await connection(session)
    postgresql = conn.dialect.name == "postgresql"
    record = {"update_id": update_id, "processed_at": clock.now()}
    if sent and postgresql:
        # One statement, one round trip to the server instead of two (~0.5 ms of CPU an
        # update: decision 67, twelfth round).
        record |= {"sent": OutboxStatus.SENT, **marks.as_arrays(sent)}
        done = await conn.execute(_record_and_mark(), record)
    else:
        await marks.write(session, sent)
        done = await conn.execute(_mark_statement(postgresql), record)
    return done.rowcount == 1


async def mark_update_and_sender(
    session: AsyncSession, update_id: int, sent: Sequence[dict], telegram_id: int
) -> bool:
    """PostgreSQL: `mark_update`, and the sender's read that `staff.sender` makes next, in one
    round trip to the server (~0.5 ms of CPU an update: decision 67, thirteenth round)."""
    values = {"update_id": update_id, "processed_at": clock.now(), "sent": OutboxStatus.SENT,
              "telegram_id": telegram_id, **marks.as_arrays(sent)}  # fmt: skip
    rows = (await (await connection(session)).execute(_record_and_sender(), values)).all()
    staff_service.keep_sender(session, telegram_id, [row for row in rows if row.read_])
    return rows[0].fresh == 1


@cache
def _record_and_sender():
    # The record and the marks as data-modifying CTEs; the sender's rows outer-joined to the
    # record's count, so a row comes back (its `fresh`) for an unknown sender too.
    table = ProcessedUpdate.__table__
    recorded = _mark_statement(True).returning(table.c.update_id).cte("recorded")
    counted = select(func.count().label("fresh")).select_from(recorded).subquery("counted")
    sender = staff_service.SENDER_ROWS
    found = sender.add_columns(literal_column("1").label("read_")).subquery("found")
    return (
        select(counted.c.fresh, *found.c)
        .select_from(counted.outerjoin(found, true()))
        .order_by(found.c.r_id)  # the roles in order, as SENDER_ROWS reads them
        .add_cte(_marked())
    )


@cache
def _marked():
    """The marks (`marks.as_arrays`) written as a data-modifying CTE: UPDATE … FROM unnest."""
    # Here, not at the top: PostgreSQL's dialect takes ~20 ms to import, which a bot on SQLite
    # would pay at every start for nothing.
    from sqlalchemy.dialects.postgresql import ARRAY

    outbox = Outbox.__table__
    mark = (
        func.unnest(
            bindparam("row_ids", type_=ARRAY(BigInteger)),
            bindparam("sent_ids", type_=ARRAY(BigInteger)),
            bindparam("ats", type_=ARRAY(DateTime(timezone=True))),
        )
        .table_valued("row_id", "sent_id", "at")
        .render_derived(name="mark")
    )
    return (
        update(outbox)
        .where(outbox.c.id == mark.c.row_id)
        .values(status=bindparam("sent"), lease_until=None, last_error=None,
                message_id=mark.c.sent_id, sent_at=mark.c.at)
        .cte("marked")
    )  # fmt: skip


@cache
def _record_and_mark():
    # The marks as a data-modifying CTE of the record's INSERT, whose row count is the
    # statement's.
    return _mark_statement(True).add_cte(_marked())


@cache
def _mark_statement(postgresql: bool):
    # Built once per dialect and reused: every update runs it (see staff._BY_TELEGRAM_ID).
    insert = insert_for_dialect(postgresql)
    return (
        insert(ProcessedUpdate)
        .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
        .on_conflict_do_nothing(index_elements=["update_id"])
    )


async def forget_updates_before(session: AsyncSession, moment) -> None:
    """Prune old processed update ids (Telegram never redelivers after a day)."""
    await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < moment))


async def is_team_group(session: AsyncSession, chat_id: int) -> bool:
    """True for the bound team group."""
    return await session.scalar(select(Team.group_chat_id).where(Team.id == TEAM_ID)) == chat_id


async def group_lost(session: AsyncSession, chat_id: int, by: int | None, how: str) -> bool:
    """The bot left or was removed from the team group: tell every director what to do, once."""
    team = await get(session)
    if team.group_chat_id != chat_id:
        return False
    await audit.record(session, by, "group.lost", f"chat:{chat_id}", how=how)
    remover = await staff_service.by_telegram_id(session, by) if by else None
    episode = clock.now().strftime("%Y%m%dT%H%M%S")
    for director in await staff_service.directors(session):
        if director.unreachable_since is not None:
            continue
        text = render(
            "group_lost.html.j2",
            director.locale,
            title=team.group_title or str(chat_id),
            by=remover.display_name if remover else None,
        )
        await enqueue(session, f"group.lost:{chat_id}:{episode}:{director.telegram_id}",
                      director.telegram_id, text)  # fmt: skip
    return True
