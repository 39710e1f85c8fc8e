"""The team this deployment serves: first-start defaults, and its bound group."""

from collections.abc import Sequence
from functools import cache

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from bot import clock, marks
from bot.config import TeamSettings
from bot.db import connection, insert_for_dialect
from bot.models import ProcessedUpdate, Team
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
        done = await conn.execute(_RECORD_AND_MARK, record)
    else:
        await marks.write(session, sent)
        done = await conn.execute(_mark_statement(postgresql), record)
    return done.rowcount == 1


# The marks as a data-modifying CTE of the record's INSERT, whose row count is the statement's.
_RECORD_AND_MARK = text(
    """
    WITH marked AS (
        UPDATE outbox SET status = :sent, lease_until = NULL, last_error = NULL,
            message_id = mark.sent_id, sent_at = mark.at
        FROM unnest(CAST(:row_ids AS BIGINT[]), CAST(:sent_ids AS BIGINT[]),
                    CAST(:ats AS TIMESTAMP WITH TIME ZONE[])) AS mark(row_id, sent_id, at)
        WHERE outbox.id = mark.row_id
    )
    INSERT INTO processed_updates (update_id, processed_at) VALUES (:update_id, :processed_at)
    ON CONFLICT (update_id) DO NOTHING
    """
)


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
