"""What the bot is waiting for from each person: at most one open prompt, and which question a
typed message answers. The precedence rules live here and nowhere else (docs/decisions.md 44).

A prompt is asked by a service (a director's Reject asks for a reason, /target for a value,
/channel new for a region and industry) and answered, cancelled, replaced or left to expire.
A form being filled is the one question that is not a row here: its draft (`drafts`) is the
question, so it survives every prompt asked in between and resumes once they are gone.
"""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.models import Draft, Prompt
from bot.services import held


class Kind(StrEnum):
    """What a prompt waits for; stored as its string value."""

    FORM_ANSWER = "form_answer"  # never a row: the person's draft
    DECISION_REASON = "decision_reason"  # a director's reason for Reject / Request changes
    TARGET_VALUE = "target_value"  # a director's typed /target value
    CHANNEL_ADD = "channel_add"  # a half-added channel: the region and industry buttons
    TASK_REPLY = "task_reply"  # a task's new date, reason or question (services/tasks.py)
    APPROVAL_REASON = "approval_reason"  # a decider's reason or comment (services/approvals.py)
    PUBLISHED_LINK = "published_link"  # an approved content's link (approval_followups.py)


# How long an unanswered prompt stands; a kind not named here waits until answered.
TTL = {Kind.TARGET_VALUE: timedelta(hours=1), Kind.CHANNEL_ADD: timedelta(days=7)}
# A plain text goes to the form being filled rather than to a prompt of another kind, except:
# a reason was just asked for by a press on a plan card (or a task card), so the next text is it.
# (A target value is asked with "reply to this message" when a form is open.)
BEFORE_FORM = frozenset({Kind.DECISION_REASON, Kind.TASK_REPLY, Kind.APPROVAL_REASON})
# Answered with buttons only: a typed text passes it by.
BUTTONS_ONLY = frozenset({Kind.CHANNEL_ADD})


@dataclass(frozen=True)
class Answering:
    """What a typed message answers: a prompt, or (prompt None) the person's form."""

    kind: Kind
    prompt: Prompt | None = None


async def ask(
    session: AsyncSession,
    staff_id: int,
    kind: Kind,
    *,
    about: str | None = None,
    details: dict[str, Any] | None = None,
    message_id: int | None = None,
    displace: bool = True,
) -> Prompt | None:
    """Open a prompt for `staff_id`; the one open before is closed (the newest question wins).

    With displace=False (an offer, not a question) an open prompt of another kind stays and
    nothing is asked: None.
    """
    if not displace:
        standing = await current(session, staff_id)
        if standing is not None and standing.kind != kind:
            return None
    await session.execute(delete(Prompt).where(Prompt.staff_id == staff_id))
    now = clock.now()
    ttl = TTL.get(kind)
    prompt = Prompt(
        staff_id=staff_id,
        kind=kind,
        about=about,
        details=details or {},
        message_id=message_id,
        created_at=now,
        expires_at=now + ttl if ttl else None,
    )
    session.add(prompt)
    await session.flush()
    return prompt


async def current(session: AsyncSession, staff_id: int) -> Prompt | None:
    """`staff_id`'s open prompt, unless it has expired."""
    known, prompt = held.recall(session, Prompt, staff_id)
    if known:
        return prompt if prompt is None or _open(prompt) else None
    return await session.scalar(
        select(Prompt)
        .where(Prompt.staff_id == staff_id, _unexpired())
        .execution_options(populate_existing=True)
    )


async def answering(session: AsyncSession, staff_id: int, reply_to: int | None) -> Answering | None:
    """What a message `staff_id` typed answers (replying to message `reply_to`, if it does).

    The open prompt, when it takes text and either the text replies to the message that asked
    it, or it comes before a form (BEFORE_FORM), or no form is being filled; else the form;
    else nothing (None).
    """
    prompt = await current(session, staff_id)
    if prompt is not None and prompt.kind not in BUTTONS_ONLY:
        kind = Kind(prompt.kind)
        replied = reply_to is not None and reply_to == prompt.message_id
        if replied or kind in BEFORE_FORM or not await _filling(session, staff_id):
            return Answering(kind, prompt)
    if await _filling(session, staff_id):
        return Answering(Kind.FORM_ANSWER)
    return None


async def claim(session: AsyncSession, prompt_id: int, staff_id: int, kind: Kind) -> Prompt | None:
    """Prompt `prompt_id` if it is `staff_id`'s open one of `kind`, locked until the transaction
    ends; None if answered, cancelled, replaced or expired.

    The write changes nothing; it makes a second press of the same button wait for the first to
    commit (row lock on PostgreSQL, write lock on SQLite), so it then finds the prompt closed.
    """
    claimed = await session.execute(
        update(Prompt)
        .where(
            Prompt.id == prompt_id, Prompt.staff_id == staff_id, Prompt.kind == kind, _unexpired()
        )
        .values(kind=Prompt.kind)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    return await session.get(Prompt, prompt_id, populate_existing=True)


async def close(session: AsyncSession, prompt_id: int) -> None:
    """The prompt is answered (or given up): it is no longer open."""
    await session.execute(delete(Prompt).where(Prompt.id == prompt_id))


async def close_about(session: AsyncSession, about: str) -> int:
    """Close every prompt about `about` (a plan withdrawn); how many there were."""
    closed = await session.execute(delete(Prompt).where(Prompt.about == about))
    return closed.rowcount


async def cancel(session: AsyncSession, staff_id: int) -> bool:
    """/cancel: drop `staff_id`'s open prompt, whatever its kind; whether one was open."""
    was_open = await current(session, staff_id) is not None
    await session.execute(delete(Prompt).where(Prompt.staff_id == staff_id))
    return was_open


def _unexpired():
    return or_(Prompt.expires_at.is_(None), Prompt.expires_at > clock.now())


def _open(prompt: Prompt) -> bool:
    return prompt.expires_at is None or prompt.expires_at > clock.now()  # as _unexpired()


async def _filling(session: AsyncSession, staff_id: int) -> bool:
    # The whole row, held for the form flow in this transaction (flow.draft_of): the answer
    # that follows reads it from there instead of a second time (decision 67).
    known, draft = held.recall(session, Draft, staff_id)
    if not known:
        draft = await session.scalar(select(Draft).where(Draft.staff_id == staff_id))
        held.keep(session, Draft, staff_id, draft)
    return draft is not None
