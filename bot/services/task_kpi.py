"""The tasks KPI: the share of assigned tasks due in a period that were done on time."""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Task, TaskEvent
from bot.states import TaskStatus

# Tasks that never became the assignee's work (a draft, a cancelled one) or that they handed
# back (not their area) are not measured.
MEASURED = (TaskStatus.OPEN, TaskStatus.POSTPONE_ASKED, TaskStatus.DONE, TaskStatus.ACCEPTED)
# Where the deadline came from before anything was postponed (the last wins).
SET = ("drafted", "moved")
MOVED = ("postpone_approved",)


async def on_time(session: AsyncSession, kpi, window, staff_ids: list[int]):
    """Per person and for the team: tasks done on time / tasks due in the window (by now).

    A task counts when its deadline — the original one, moved by each postponement approved
    while the deadline in force had not passed — falls in the window and has passed, or when it
    was already accepted as done on time. On time = done no later than that deadline and
    accepted; done late, or still open past it, is late; done in time but not yet accepted is
    left out until the assigner decides. Tasks of one's own are not measured (the rules speak of
    what a leader assigns, and one's own deadline moves at will)."""
    due: dict[int, int] = defaultdict(int)
    kept: dict[int, int] = defaultdict(int)
    for task, deadline in await due_between(session, window.since, window.until, staff_ids):
        verdict = judge(task, deadline, window)
        if verdict is None:
            continue
        due[task.assignee_id] += 1
        kept[task.assignee_id] += verdict
    mine = {s: Decimal(kept[s]) / due[s] for s in due}
    total = sum(due.values())
    return mine, (Decimal(sum(kept.values())) / total if total else None)


async def due_between(
    session: AsyncSession, since: datetime, until: datetime, staff_ids: list[int] | None = None
) -> list[tuple[Task, datetime]]:
    """Tasks others assigned (to these people, or anyone) whose judged deadline is in
    [since, until), with that deadline; drafts, cancelled and returned ones left out."""
    query = select(Task).where(
        Task.assigner_id != Task.assignee_id,
        Task.status.in_(MEASURED),
        # A postponement only ever moves the deadline later, so the one judged is never later
        # than the row's.
        Task.deadline >= since,
    )
    if staff_ids is not None:
        query = query.where(Task.assignee_id.in_(staff_ids))
    tasks = list(await session.scalars(query.order_by(Task.deadline, Task.id)))
    history = await _deadline_events(session, [t.id for t in tasks])
    judged = [(t, effective_deadline(t, history.get(t.id, []))) for t in tasks]
    return [(t, d) for t, d in judged if since <= d < until]


def judge(task: Task, deadline: datetime, window) -> bool | None:
    """True on time, False late, None when it does not count (yet) as of the window's now."""
    done_in_time = task.done_at is not None and task.done_at <= deadline
    if task.status == TaskStatus.ACCEPTED:
        return done_in_time
    if deadline > window.now:
        return None
    if task.status == TaskStatus.DONE and done_in_time:
        return None  # waiting for the assigner to accept it
    return False


def effective_deadline(task: Task, events: list[TaskEvent]) -> datetime:
    """The deadline the task is judged by: postponements approved after it passed do not count."""
    deadline = None
    for event in events:
        moved = datetime.fromisoformat(event.details["deadline"])
        if event.kind in SET or deadline is None or event.at <= deadline:
            deadline = moved
        else:
            break  # already late when the postponement came; later ones do not rescue it
    return deadline or task.deadline


async def _deadline_events(session: AsyncSession, task_ids: list[int]):
    """Each task's deadline-setting events, oldest first."""
    if not task_ids:
        return {}
    rows = await session.scalars(
        select(TaskEvent)
        .where(TaskEvent.task_id.in_(task_ids), TaskEvent.kind.in_(SET + MOVED))
        .order_by(TaskEvent.at, TaskEvent.id)
    )
    found: dict[int, list[TaskEvent]] = defaultdict(list)
    for event in rows:
        if "deadline" in event.details:
            found[event.task_id].append(event)
    return found
