"""Task reminders on the reports' ladder: before the deadline, at it, the next working morning;
the directors after the deadline has passed by some working days. Quiet hours hold them, the
assignee's leave pauses them (the assigner is told once), and a task closed or postponed drops
what was queued (the sender's "tasknag" check). Derived from rows and the calendar each tick;
the outbox key of each (task, deadline, step) makes every reminder go out once, whichever
process ticks (docs/decisions.md 57).
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import WorkCalendar, at_local, local_date
from bot.config import ReminderSettings
from bot.models import Outbox, Staff, Task
from bot.outbox import enqueue
from bot.render import render
from bot.services import leave
from bot.services.obligations import clock_time
from bot.services.reminders import quiet, when
from bot.services.tasks import card_buttons
from bot.states import TASK_OPEN

PREFIX = "tasknag"
BEFORE, DUE, NEXT_DAY, ESCALATE, LEAVE = "before", "due", "next_day", "escalate", "leave"
LADDER = (BEFORE, DUE, NEXT_DAY)  # in order: after downtime only the latest due one is sent


def about(task: Task) -> str:
    """The outbox `about` of a task's reminder: the task and the deadline it was sent for."""
    return f"{PREFIX}:{task.id}:{_stamp(task.deadline)}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M")


def _key(task: Task, step: str, suffix: str = "") -> str:
    return f"{about(task)}:{step}" + (f":{suffix}" if suffix else "")


def step_times(
    task: Task, cal: WorkCalendar, tz: ZoneInfo, cfg: ReminderSettings
) -> dict[str, datetime]:
    """When each step falls due for this task (the escalation included)."""
    due_day = local_date(task.deadline, tz)
    morning = clock_time(cfg.next_day_time)
    return {
        BEFORE: task.deadline - timedelta(minutes=cfg.before_due_minutes),
        DUE: task.deadline,
        NEXT_DAY: at_local(cal.next_workday(due_day), morning, tz),
        ESCALATE: at_local(cal.add_workdays(due_day, cfg.task_escalate_after_days), morning, tz),
    }


async def remind(
    session: AsyncSession, cal: WorkCalendar, tz: ZoneInfo, cfg: ReminderSettings
) -> int:
    """Queue every task reminder due now and not queued before; returns how many were queued."""
    now = clock.now()
    if quiet(now, tz, cfg):
        return 0
    soonest = now + timedelta(minutes=cfg.before_due_minutes)
    tasks = list(
        await session.scalars(
            select(Task)
            .where(Task.status.in_(TASK_OPEN), Task.deadline <= soonest)
            .order_by(Task.deadline, Task.id)
        )
    )
    if not tasks:
        return 0
    queued = 0
    today = local_date(now, tz)
    for task in tasks:
        times = step_times(task, cal, tz, cfg)
        # A step that fell before the task existed is not news (a task given an hour's notice).
        reached = [s for s in LADDER if task.created_at <= times[s] <= now]
        escalate = times[ESCALATE] <= now and task.assigner_id != task.assignee_id
        if not reached and not escalate:
            continue
        assignee = await session.get(Staff, task.assignee_id)
        if assignee is None or not assignee.active:
            continue
        away = await leave.on_leave(session, assignee.id, today)
        if away is not None:
            queued += await _tell_leave(session, task, assignee, away.id, now, tz)
            continue
        if reached:
            queued += await _nag(session, task, assignee, reached[-1], now, tz)
        if escalate:
            queued += await _escalate(session, task, assignee, today, now, tz, cal)
    return queued


async def _nag(
    session: AsyncSession, task: Task, assignee: Staff, step: str, now: datetime, tz: ZoneInfo
) -> int:
    if await _queued(session, _key(task, step)):
        return 0  # the usual case once a step went out: nothing rendered
    locale = assignee.locale
    text = render("task_reminder.html.j2", locale, step=step, task=task,
                  due=when(task.deadline, now, tz, locale))  # fmt: skip
    return await _send(session, task, _key(task, step), assignee.telegram_id, text,
                       card_buttons(task, locale))  # fmt: skip


async def _escalate(
    session: AsyncSession, task: Task, assignee: Staff, today, now: datetime, tz: ZoneInfo,
    cal: WorkCalendar,
) -> int:  # fmt: skip
    """Each director (or the deputy of one away) hears of it once; not the assignee."""
    assigner = await session.get(Staff, task.assigner_id)
    days = cal.count_workdays(local_date(task.deadline, tz) + timedelta(days=1), today)
    queued = 0
    for reader in await leave.deciders(session, today):
        if reader.id == assignee.id:
            continue
        key = _key(task, ESCALATE, str(reader.telegram_id))
        if await _queued(session, key):
            continue
        text = render(
            "task_reminder.html.j2", reader.locale, step=ESCALATE, task=task, days=days,
            due=when(task.deadline, now, tz, reader.locale), assignee=assignee.display_name,
            assigner=assigner.display_name if assigner else "",
        )  # fmt: skip
        queued += await _send(session, task, key, reader.telegram_id, text)
    return queued


async def _tell_leave(
    session: AsyncSession, task: Task, assignee: Staff, leave_id: int, now: datetime,
    tz: ZoneInfo,
) -> int:  # fmt: skip
    """Reminders wait while the assignee is away; the assigner hears so once per leave."""
    if task.assigner_id == task.assignee_id:
        return 0
    key = _key(task, LEAVE, str(leave_id))
    if await _queued(session, key):
        return 0
    assigner = await session.get(Staff, task.assigner_id)
    if assigner is None or not assigner.active:
        return 0
    text = render(
        "task_reminder.html.j2", assigner.locale, step=LEAVE, task=task,
        due=when(task.deadline, now, tz, assigner.locale), assignee=assignee.display_name,
        assigner=assigner.display_name,
    )  # fmt: skip
    return await _send(session, task, key, assigner.telegram_id, text)


async def _send(
    session: AsyncSession, task: Task, key: str, chat_id: int, text: str, buttons=None
) -> int:
    """Queue once per key (two processes ticking at once: one row), re-checked when sent."""
    # The same as about(task), spelled out so tests/test_sender_rechecks.py sees the prefix.
    queued = await enqueue(session, key, chat_id, text, buttons,
                           about=f"tasknag:{task.id}:{_stamp(task.deadline)}")  # fmt: skip
    return int(queued)


async def _queued(session: AsyncSession, key: str) -> bool:
    return await session.scalar(select(Outbox.id).where(Outbox.dedup_key == key)) is not None


async def still_wanted(session: AsyncSession, about_text: str) -> bool:
    """The sender's check: a reminder for a task since done, accepted, cancelled, handed back or
    given a new deadline is dropped."""
    _, task_id, stamp = about_text.split(":", 2)
    task = await session.get(Task, int(task_id), populate_existing=True)
    return task is not None and task.status in TASK_OPEN and _stamp(task.deadline) == stamp
