"""Tasks (交办事项): assigned with a deadline, confirmed, sent, done, accepted; postponed,
questioned, handed back or reopened on the way. Every step is one conditional UPDATE on the
versioned row, so double taps, two directors and outdated cards have exactly one effect
(docs/decisions.md 57).
"""

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.buttons import ID, Action
from bot.calendar import WorkCalendar, at_local, local_date
from bot.i18n import N_, t
from bot.models import Outbox, Prompt, Staff, Task, TaskEvent, TaskSeries
from bot.outbox import Buttons, enqueue, enqueue_card, enqueue_edit, keys_starting
from bot.render import render
from bot.services import audit, deadlines, leave, prompts, recurrence
from bot.services.deadlines import Deadline
from bot.services.errors import ServiceError
from bot.states import TASK_OPEN, TaskStatus

TITLE_MAX = 200
# /tasks lists at most this many of each kind (soonest deadline first), so it stays one message.
LIST_MAX = 25
TEXT_MAX = 1000  # a reason, a question
FILE_MAX_BYTES = 20 * 2**20  # what the Bot API lets the bot download again (getFile)
# The assigner's confirmation card (before anything is sent).
SEND = Action("task", "sd:{task}:{version}", task=ID, version=ID)
CANCEL = Action("task", "cx:{task}:{version}", task=ID, version=ID)
MOVE = Action("task", "mv:{task}:{version}", task=ID, version=ID)  # off a day off
# The assignee's card.
DONE = Action("task", "dn:{task}:{version}", task=ID, version=ID)
DONE_NOTE = Action("task", "dw:{task}:{version}", task=ID, version=ID)  # with a note or a file
POSTPONE = Action("task", "pp:{task}:{version}", task=ID, version=ID)
QUESTION = Action("task", "qu:{task}:{version}", task=ID, version=ID)
GIVE_BACK = Action("task", "rt:{task}:{version}", task=ID, version=ID)
# The assigner's notices.
ACCEPT = Action("task", "ac:{task}:{version}", task=ID, version=ID)
REOPEN = Action("task", "ro:{task}:{version}", task=ID, version=ID)
APPROVE = Action("task", "pa:{task}:{version}", task=ID, version=ID)
REFUSE = Action("task", "pr:{task}:{version}", task=ID, version=ID)

# The assigner's buttons on a notice: a task marked done, a postponement asked.
DONE_LABELS = (N_("✅ Accept"), N_("↩️ Reopen"))
ASKED_LABELS = (N_("✅ Approve"), N_("✖ Refuse"))
# Steps answered by a typed message (a prompt of kind TASK_REPLY); postponement takes two.
TYPED = ("postpone_date", "postpone_reason", "question", "give_back", "reopen", "done_note")
# The guided /assign: who (buttons), then the title, then the deadline (buttons or typed).
GUIDED = ("guided_title", "guided_deadline")
PICK = Action("task", "gp:{person}", person=ID)
QUICK = Action("task", "gq:{prompt}:{when}", prompt=ID, when=r"[a-z]{1,10}")
# A quick deadline button and what it stands for (read like a typed one).
QUICK_DEADLINES = {
    "today": (N_("Today"), "今天"),
    "tomorrow": (N_("Tomorrow"), "明天"),
    "friday": (N_("This Friday"), "本周五"),
    "monday": (N_("Next Monday"), "下周一"),
}
# Which side of the task may take each step.
ASSIGNEE_STEPS = {"done", "done_note", "postpone_date", "postpone_reason", "question", "give_back"}
DECIDER_STEPS = {"accept", "reopen", "approve", "refuse"}


class TaskError(ServiceError):
    """A task step that cannot happen; `reason` picks the message, `details` fill it in."""


@dataclass(frozen=True)
class Lists:
    """What /tasks shows: my open tasks (overdue first) and the ones I assigned, still open."""

    mine: list[Task]
    assigned: list[Task]
    names: dict[int, str]


def about(task_id: int) -> str:
    """What prompts and outbox rows about a task name."""
    return f"task:{task_id}"


# ---- assigning -------------------------------------------------------------------------------


async def may_assign(session: AsyncSession, assigner: Staff, assignee: Staff, today: date) -> None:
    """A director, a deputy standing in for one, or anyone for themselves; else TaskError."""
    if assigner.id == assignee.id or assigner.has_role("director"):
        return
    if await leave.acting_for(session, assigner.id, today):
        return
    raise TaskError("not_allowed")


async def draft(
    session: AsyncSession, assigner: Staff, assignee: Staff, title: str, due: Deadline, *, tz
) -> Task:
    """The task as understood, not sent yet: the assigner confirms it on a card."""
    title = " ".join((title or "").split())
    if not title:
        raise TaskError("no_title")
    if len(title) > TITLE_MAX:
        raise TaskError("title_too_long", max=TITLE_MAX, length=len(title))
    if not assignee.active:
        raise TaskError("inactive", name=assignee.display_name)
    await may_assign(session, assigner, assignee, local_date(clock.now(), tz))
    now = clock.now()
    task = Task(
        assigner_id=assigner.id,
        assignee_id=assignee.id,
        title=title,
        deadline=due.at,
        status=TaskStatus.DRAFT,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    await _happened(session, task, assigner, "drafted", deadline=due.at.isoformat())
    return task


async def send(session: AsyncSession, task_id: int, version: int, actor: Staff, *, tz) -> Task:
    """✅ 发送: the draft goes to the assignee as a card with their buttons."""
    task = await _mine_to_send(session, task_id, actor)
    task = await _step(session, task, version, (TaskStatus.DRAFT,), status=TaskStatus.OPEN)
    await _happened(session, task, actor, "sent")
    await _send_card(session, task, tz, "sent")
    return task


async def open_occurrence(
    session: AsyncSession, series: TaskSeries, deadline: datetime, tz: ZoneInfo
) -> Task:
    """One occurrence of a recurring task: opened at once and its card sent to the assignee."""
    now = clock.now()
    task = Task(
        assigner_id=series.assigner_id, assignee_id=series.assignee_id, title=series.title,
        deadline=deadline, status=TaskStatus.OPEN, version=1, created_at=now, updated_at=now,
        series_id=series.id,
    )  # fmt: skip
    session.add(task)
    await session.flush()
    await _happened(session, task, None, "sent", series=series.id)
    await _send_card(session, task, tz, "recurring")
    return task


async def cancel(session: AsyncSession, task_id: int, version: int, actor: Staff) -> Task:
    """✖ 取消: the draft is dropped; nothing was sent."""
    task = await _mine_to_send(session, task_id, actor)
    task = await _step(session, task, version, (TaskStatus.DRAFT,), status=TaskStatus.CANCELLED)
    await _happened(session, task, actor, "cancelled")
    return task


async def move_to_workday(
    session: AsyncSession, task_id: int, version: int, actor: Staff, *, tz, cal: WorkCalendar
) -> Task:
    """The draft's deadline falls on a day off: move it to the suggested working day."""
    task = await _mine_to_send(session, task_id, actor)
    today = local_date(clock.now(), tz)
    suggested = deadlines.suggestion(task.deadline, tz, cal, today)
    if suggested is None:
        raise TaskError("not_day_off")
    task = await _step(session, task, version, (TaskStatus.DRAFT,), deadline=suggested)
    await _happened(session, task, actor, "moved", deadline=suggested.isoformat())
    return task


async def _mine_to_send(session: AsyncSession, task_id: int, actor: Staff) -> Task:
    task = await _get(session, task_id)
    if task.assigner_id != actor.id:
        raise TaskError("not_yours")
    return task


# ---- the assignee's steps --------------------------------------------------------------------


async def done(
    session: AsyncSession, task_id: int, version: int, actor: Staff, *, tz,
    note: str | None = None, file: dict | None = None,
) -> Task:  # fmt: skip
    """✅ 完成, maybe with a note, a link or a file: the assigner is asked to accept it (with the
    file attached to the notice); a task of one's own is closed at once."""
    note = _text(note) if note is not None and (note.strip() or file is None) else None
    task = await _get(session, task_id)
    _assignee(task, actor)
    now = clock.now()
    own = task.assigner_id == task.assignee_id
    status = TaskStatus.ACCEPTED if own else TaskStatus.DONE
    task = await _step(
        session, task, version, TASK_OPEN, status=status, done_at=now,
        accepted_at=now if own else None, asked_deadline=None, done_note=note,
    )  # fmt: skip
    details = {"on_time": now <= task.deadline}
    details |= {"note": note} if note else {}
    details |= {"file": file} if file else {}
    await _happened(session, task, actor, "done", **details)
    if not own:
        await _tell_assigner(session, task, tz, "done", _decide_done(task), file=file)
    return task


async def ask_postponement(
    session: AsyncSession, task_id: int, version: int, actor: Staff, due: datetime, reason: str,
    *, tz,
) -> Task:  # fmt: skip
    """🕒 申请延期 with a new deadline and a reason; the assigner approves or refuses it (one's
    own task simply moves)."""
    reason = _text(reason)
    task = await _get(session, task_id)
    _assignee(task, actor)
    if due <= task.deadline:
        raise TaskError("not_later")
    if task.assigner_id == task.assignee_id:
        task = await _step(session, task, version, TASK_OPEN, deadline=due, reason=reason)
        await _happened(session, task, actor, "postponed", deadline=due.isoformat(), reason=reason)
        return task
    task = await _step(
        session, task, version, (TaskStatus.OPEN,), status=TaskStatus.POSTPONE_ASKED,
        asked_deadline=due, reason=reason,
    )  # fmt: skip
    await _happened(session, task, actor, "postpone_asked", deadline=due.isoformat(), reason=reason)
    await _tell_assigner(session, task, tz, "postpone_asked", _decide_postponement(task))
    return task


async def ask_question(
    session: AsyncSession, task_id: int, version: int, actor: Staff, question: str, *, tz
) -> Task:
    """❓ 有疑问: the question goes to the assigner; the task stays as it is (same version)."""
    question = _text(question)
    task = await _get(session, task_id)
    _assignee(task, actor)
    if task.assigner_id == task.assignee_id:
        raise TaskError("own_task")
    # Conditional like every step, but the card stays valid: a question changes nothing.
    task = await _step(session, task, version, TASK_OPEN, bump=False)
    count = await _count(session, task.id, "question")
    await _happened(session, task, actor, "question", text=question)
    await _tell_assigner(session, task, tz, "question", None, text=question, nth=count + 1)
    return task


async def give_back(
    session: AsyncSession, task_id: int, version: int, actor: Staff, reason: str, *, tz
) -> Task:
    """↩️ 退回 with a reason (not my area, say): the task is closed and the assigner told."""
    reason = _text(reason)
    task = await _get(session, task_id)
    _assignee(task, actor)
    task = await _step(
        session, task, version, TASK_OPEN, status=TaskStatus.RETURNED, reason=reason,
        asked_deadline=None,
    )  # fmt: skip
    await _happened(session, task, actor, "returned", reason=reason)
    if task.assigner_id != task.assignee_id:
        await _tell_assigner(session, task, tz, "returned", None, text=reason)
    return task


# ---- the assigner's (or a director's) decisions ----------------------------------------------


async def accept(session: AsyncSession, task_id: int, version: int, actor: Staff, *, tz) -> Task:
    """Accept a task marked done: it is closed."""
    task = await _to_decide(session, task_id, actor, tz)
    task = await _step(
        session, task, version, (TaskStatus.DONE,), status=TaskStatus.ACCEPTED,
        accepted_at=clock.now(),
    )  # fmt: skip
    on_time = task.done_at is not None and task.done_at <= task.deadline
    await _happened(session, task, actor, "accepted", on_time=on_time)
    await _tell_assignee(session, task, tz, "accepted", actor)
    return task


async def reopen(
    session: AsyncSession, task_id: int, version: int, actor: Staff, reason: str, *, tz
) -> Task:
    """Reopen a task marked done, with a reason: the assignee gets a new card."""
    reason = _text(reason)
    task = await _to_decide(session, task_id, actor, tz)
    task = await _step(
        session, task, version, (TaskStatus.DONE,), status=TaskStatus.OPEN, reason=reason,
        done_at=None,
    )  # fmt: skip
    await _happened(session, task, actor, "reopened", reason=reason)
    await _send_card(session, task, tz, "reopened", by=actor)
    return task


async def approve_postponement(
    session: AsyncSession, task_id: int, version: int, actor: Staff, *, tz
) -> Task:
    """The asked deadline becomes the deadline; the assignee gets a new card."""
    task = await _to_decide(session, task_id, actor, tz)
    if task.asked_deadline is None:
        raise await _refusal(session, task, version)
    asked = task.asked_deadline
    task = await _step(
        session, task, version, (TaskStatus.POSTPONE_ASKED,), status=TaskStatus.OPEN,
        deadline=asked, asked_deadline=None,
    )  # fmt: skip
    await _happened(session, task, actor, "postpone_approved", deadline=asked.isoformat())
    await _send_card(session, task, tz, "postpone_approved", by=actor)
    return task


async def refuse_postponement(
    session: AsyncSession, task_id: int, version: int, actor: Staff, *, tz
) -> Task:
    """The deadline stays; the assignee gets a new card saying so."""
    task = await _to_decide(session, task_id, actor, tz)
    task = await _step(
        session, task, version, (TaskStatus.POSTPONE_ASKED,), status=TaskStatus.OPEN,
        asked_deadline=None,
    )  # fmt: skip
    await _happened(session, task, actor, "postpone_refused")
    await _send_card(session, task, tz, "postpone_refused", by=actor)
    return task


async def _to_decide(session: AsyncSession, task_id: int, actor: Staff, tz) -> Task:
    task = await _get(session, task_id)
    await may_decide(session, task.assigner_id, actor, tz)
    return task


async def may_decide(session: AsyncSession, assigner_id: int, actor: Staff, tz) -> None:
    """The assigner decides; so may any director (督导权), and a deputy standing in for one;
    anyone else gets TaskError("not_yours")."""
    if actor.id == assigner_id or actor.has_role("director"):
        return
    if await leave.acting_for(session, actor.id, local_date(clock.now(), tz)):
        return
    raise TaskError("not_yours")


# ---- typed follow-ups (a prompt of kind TASK_REPLY) -----------------------------------------


async def start_typed(
    session: AsyncSession, actor: Staff, task_id: int, version: int, step: str, *, tz
) -> Task:
    """A press that needs words (a new date, a reason, a question): ask for the next message,
    after checking the press could take effect now."""
    if step not in TYPED:
        raise TaskError("bad_step")
    task = await _get(session, task_id, fresh=True)
    if step in ASSIGNEE_STEPS:
        _assignee(task, actor)
        if step == "question" and task.assigner_id == task.assignee_id:
            raise TaskError("own_task")
    else:
        await _to_decide(session, task_id, actor, tz)
    wanted = (TaskStatus.DONE,) if step == "reopen" else TASK_OPEN
    if step == "postpone_date":
        wanted = (TaskStatus.OPEN,)
    if task.version != version or task.status not in wanted:
        raise await _refusal(session, task, version)
    details = {"task": task_id, "version": version, "step": step}
    await prompts.ask(
        session, actor.id, prompts.Kind.TASK_REPLY, about=about(task_id), details=details
    )
    return task


@dataclass(frozen=True)
class Typed:
    """What a typed follow-up did: the step it completed (or asked next), the task, and for a
    postponement's date the deadline read."""

    step: str
    task: Task | None
    asked: datetime | None = None
    due: Deadline | None = None  # a guided /assign's deadline, read
    series: "TaskSeries | None" = None  # a guided /assign answered with 每周一 10:00


async def take_typed(
    session: AsyncSession, actor: Staff, prompt: Prompt, text: str, *, tz, cal: WorkCalendar
) -> Typed:
    """The typed answer to a TASK_REPLY prompt.

    A postponement's date is asked first, then its reason ("postpone_reason" comes back while
    the reason is still owed); an unreadable date or an empty text raises and asks again.
    """
    asked = dict(prompt.details)
    if asked["step"] in GUIDED:
        return await _guided(session, actor, prompt, text, tz=tz, cal=cal)
    step, task_id, version = asked["step"], int(asked["task"]), int(asked["version"])
    if step == "postpone_date":
        due = deadlines.parse(text, now=clock.now(), tz=tz, cal=cal)
        task = await _get(session, task_id)
        if due.at <= task.deadline:
            raise TaskError("not_later")
        await prompts.ask(
            session, actor.id, prompts.Kind.TASK_REPLY, about=about(task_id),
            details={**asked, "step": "postpone_reason", "deadline": due.at.isoformat()},
        )  # fmt: skip
        return Typed("postpone_reason", task, due.at)
    text = _text(text)
    # Gone whatever the step says: a refusal (someone else acted first) ends the question too.
    await prompts.close(session, prompt.id)
    if step == "postpone_reason":
        due_at = datetime.fromisoformat(asked["deadline"])
        task = await ask_postponement(session, task_id, version, actor, due_at, text, tz=tz)
    elif step == "question":
        task = await ask_question(session, task_id, version, actor, text, tz=tz)
    elif step == "give_back":
        task = await give_back(session, task_id, version, actor, text, tz=tz)
    elif step == "done_note":
        task = await done(session, task_id, version, actor, tz=tz, note=text)
    else:
        task = await reopen(session, task_id, version, actor, text, tz=tz)
    return Typed(step, task)


def takes_file(prompt: Prompt) -> bool:
    """True when the open question may be answered with a photo or a document (done with a
    file)."""
    return prompt.kind == prompts.Kind.TASK_REPLY and prompt.details.get("step") == "done_note"


async def take_file(
    session: AsyncSession, actor: Staff, prompt: Prompt, file: dict, caption: str, *, tz
) -> Task:
    """A photo or document answering 📎 done-with-a-note: the task is done with the file (and the
    caption as its note); the assigner gets the file with the notice."""
    if file.get("size") and file["size"] > FILE_MAX_BYTES:
        raise TaskError("file_too_big", max=FILE_MAX_BYTES // 2**20)
    await prompts.close(session, prompt.id)
    kept = {k: file.get(k) for k in ("kind", "file_id", "file_unique_id", "name", "size", "mime")}
    return await done(session, int(prompt.details["task"]), int(prompt.details["version"]), actor,
                      tz=tz, note=caption or None, file=kept)  # fmt: skip


# ---- the guided /assign ----------------------------------------------------------------------


async def assignable(session: AsyncSession, actor: Staff, tz) -> list[Staff]:
    """Whom `actor` may assign: everyone active for a director or a standing-in deputy, else
    themselves."""
    if actor.has_role("director") or await leave.acting_for(
        session, actor.id, local_date(clock.now(), tz)
    ):
        people = await session.scalars(
            select(Staff).where(Staff.active.is_(True)).order_by(Staff.display_name, Staff.id)
        )
        return list(people)
    return [actor]


async def pick(session: AsyncSession, actor: Staff, assignee_id: int, *, tz) -> Staff:
    """The guided /assign's first answer: whom; the title is asked next."""
    assignee = await session.get(Staff, assignee_id)
    if assignee is None or not assignee.active:
        raise TaskError("unknown_person", handle=str(assignee_id))
    await may_assign(session, actor, assignee, local_date(clock.now(), tz))
    details = {"step": "guided_title", "assignee": assignee.id}
    await prompts.ask(session, actor.id, prompts.Kind.TASK_REPLY, details=details)
    return assignee


async def _guided(
    session: AsyncSession, actor: Staff, prompt: Prompt, text: str, *, tz, cal: WorkCalendar
) -> Typed:
    asked = dict(prompt.details)
    if asked["step"] == "guided_title":
        title = " ".join((text or "").split())
        if not title:
            raise TaskError("no_title")
        if len(title) > TITLE_MAX:
            raise TaskError("title_too_long", max=TITLE_MAX, length=len(title))
        details = {**asked, "step": "guided_deadline", "title": title}
        await prompts.ask(session, actor.id, prompts.Kind.TASK_REPLY, details=details)
        return Typed("guided_deadline", None)
    assignee = await session.get(Staff, int(asked["assignee"]))
    if rule := recurrence.parse(text):
        from bot.services import task_series  # it builds on this module

        series = await task_series.draft(session, actor, assignee, asked["title"], rule, tz=tz,
                                         cal=cal)  # fmt: skip
        await prompts.close(session, prompt.id)
        return Typed("guided_drafted", None, series=series)
    due = deadlines.parse(text, now=clock.now(), tz=tz, cal=cal)
    await prompts.close(session, prompt.id)
    task = await draft(session, actor, assignee, asked["title"], due, tz=tz)
    return Typed("guided_drafted", task, due=due)


async def quick_deadline(
    session: AsyncSession, actor: Staff, prompt_id: int, when: str, *, tz, cal: WorkCalendar
) -> Typed:
    """A quick deadline button of the guided /assign: read as if typed."""
    prompt = await prompts.claim(session, prompt_id, actor.id, prompts.Kind.TASK_REPLY)
    if prompt is None or prompt.details.get("step") != "guided_deadline":
        raise TaskError("no_prompt")
    if when not in QUICK_DEADLINES:
        raise TaskError("no_prompt")
    return await _guided(session, actor, prompt, QUICK_DEADLINES[when][1], tz=tz, cal=cal)


def pick_buttons(people: list[Staff]) -> Buttons:
    """One button per person, two to a row."""
    buttons = [(p.display_name[:30], PICK.pack(p.id)) for p in people]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def quick_buttons(prompt_id: int, locale: str) -> Buttons:
    """今天 / 明天 / 本周五 / 下周一 under the deadline question."""
    buttons = [(t(locale, label), QUICK.pack(prompt_id, key))
               for key, (label, _) in QUICK_DEADLINES.items()]  # fmt: skip
    return [buttons[:2], buttons[2:]]


def _text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise TaskError("empty_text")
    if len(text) > TEXT_MAX:
        raise TaskError("text_too_long", max=TEXT_MAX, length=len(text))
    return text


# ---- the one conditional update ----------------------------------------------------------------


async def _step(
    session: AsyncSession, task: Task, version: int, states, *, bump: bool = True, **values
) -> Task:
    """Move `task` from one of `states` at `version`: whichever press's UPDATE runs first wins;
    a double tap, the other director, an older card match no row and get TaskError."""
    new_version = version + 1 if bump else version
    changed = await session.execute(
        update(Task)
        .where(Task.id == task.id, Task.version == version, Task.status.in_(tuple(states)))
        .values(version=new_version, updated_at=clock.now(), **values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(task)
    if changed.rowcount != 1:
        raise await _refusal(session, task, version)
    return task


async def _refusal(session: AsyncSession, task: Task, version: int) -> TaskError:
    if task.version != version:
        return TaskError("outdated", status=task.status)
    return TaskError("wrong_state", status=task.status)


async def _get(session: AsyncSession, task_id: int, *, fresh: bool = False) -> Task:
    task = await session.get(Task, task_id, populate_existing=fresh)
    if task is None:
        raise TaskError("not_found")
    return task


def _assignee(task: Task, actor: Staff) -> None:
    if task.assignee_id != actor.id:
        raise TaskError("not_yours")


async def get(session: AsyncSession, task_id: int) -> Task:
    """A task by id, or TaskError("not_found")."""
    return await _get(session, task_id, fresh=True)


async def _happened(
    session: AsyncSession, task: Task, actor: Staff | None, kind: str, **details
) -> None:
    """The step in the task's history and in the audit log (`actor` None: the bot's own)."""
    session.add(
        TaskEvent(
            task_id=task.id, at=clock.now(), actor_id=actor.id if actor else None, kind=kind,
            version=task.version, details=details,
        )
    )  # fmt: skip
    await audit.record(
        session, actor.telegram_id if actor else None, f"task.{kind}", about(task.id),
        version=task.version, **details,
    )  # fmt: skip


async def _count(session: AsyncSession, task_id: int, kind: str) -> int:
    rows = await session.scalars(
        select(TaskEvent.id).where(TaskEvent.task_id == task_id, TaskEvent.kind == kind)
    )
    return len(list(rows))


# ---- messages (through the outbox, so they survive a restart) --------------------------------


def card_buttons(task: Task, locale: str) -> Buttons:
    """The assignee's buttons, carrying the task's version."""
    ids = (task.id, task.version)
    own = task.assigner_id == task.assignee_id
    first = [(t(locale, "✅ Done"), DONE.pack(*ids)),
             (t(locale, "📝 Done, with a note"), DONE_NOTE.pack(*ids))]  # fmt: skip
    rest = [(t(locale, "🕒 Postpone"), POSTPONE.pack(*ids))]
    if not own:
        rest.append((t(locale, "❓ Question"), QUESTION.pack(*ids)))
    rest.append((t(locale, "↩️ Hand back"), GIVE_BACK.pack(*ids)))
    return [first, rest[:2], rest[2:]] if len(rest) > 2 else [first, rest]


def confirm_buttons(task: Task, locale: str, due: Deadline | None = None) -> Buttons:
    """The assigner's ✅ Send / ✖ Cancel, and the move off a day off when there is one."""
    ids = (task.id, task.version)
    rows = [[(t(locale, "✅ Send"), SEND.pack(*ids)), (t(locale, "✖ Cancel"), CANCEL.pack(*ids))]]
    if due is not None and due.day_off and due.instead is not None:
        rows.insert(0, [(t(locale, "📅 Move to the working day"), MOVE.pack(*ids))])
    return rows


def _decide_done(task: Task) -> Buttons:
    return [[("✅", ACCEPT.pack(task.id, task.version)), ("↩️", REOPEN.pack(task.id, task.version))]]


def _decide_postponement(task: Task) -> Buttons:
    ids = (task.id, task.version)
    return [[("✅", APPROVE.pack(*ids)), ("✖", REFUSE.pack(*ids))]]


def _labelled(buttons: Buttons, locale: str, labels: tuple[str, ...]) -> Buttons:
    return [[(t(locale, label), data) for label, (_, data) in zip(labels, row, strict=True)]
            for row in buttons]  # fmt: skip


async def _send_card(
    session: AsyncSession, task: Task, tz: ZoneInfo, event: str, *, by: Staff | None = None
) -> None:
    assignee = await session.get(Staff, task.assignee_id)
    assigner = await session.get(Staff, task.assigner_id)
    text = card_text(task, assignee.locale, tz, assigner=assigner.display_name, event=event,
                     by=by.display_name if by else None,
                     repeat=await repeat_text(session, task, assignee.locale))  # fmt: skip
    key = f"task:{task.id}:v{task.version}:card"
    await _supersede_cards(session, task, key, assignee.locale, tz)
    await enqueue(session, key, assignee.telegram_id, text, card_buttons(task, assignee.locale),
                  about=about(task.id))  # fmt: skip


async def _supersede_cards(
    session: AsyncSession, task: Task, new_key: str, locale: str, tz: ZoneInfo
) -> None:
    """Earlier cards of the task lose their buttons and point to the new one, so nobody presses
    a card that can only answer "outdated"."""
    older = await session.execute(
        select(Outbox.dedup_key, Outbox.chat_id).where(
            Outbox.about == about(task.id),
            keys_starting(session, f"task:{task.id}:v"),
            Outbox.dedup_key.like(f"task:{task.id}:v%:card"),
            Outbox.dedup_key != new_key,
        )
    )
    for key, chat_id in list(older):
        # The old card's reader: after a hand-over, not the one the new card goes to.
        reader = await session.scalar(select(Staff).where(Staff.telegram_id == chat_id))
        text = render("task_superseded.html.j2", reader.locale if reader else locale, task=task)
        await enqueue_edit(session, f"{key}:superseded", key, text)


async def repeat_text(session: AsyncSession, task: Task, locale: str) -> str | None:
    """每周一 10:00 for an occurrence of a recurring task, else None."""
    if task.series_id is None:
        return None
    series = await session.get(TaskSeries, task.series_id)
    return recurrence.text_of(recurrence.Rule.from_json(series.rule), locale)


def card_text(task: Task, locale: str, tz: ZoneInfo, **ctx) -> str:
    """The task's card: what, from whom, by when (team zone), and what just happened."""
    ctx.setdefault("event", None)
    ctx.setdefault("by", None)
    ctx.setdefault("assigner", None)
    ctx.setdefault("assignee", None)
    ctx.setdefault("repeat", None)
    return render(
        "task_card.html.j2", locale, task=task, due=deadlines.text_of(task.deadline, tz, locale),
        **ctx,
    )  # fmt: skip


async def _tell_assigner(
    session: AsyncSession, task: Task, tz: ZoneInfo, event: str, buttons: Buttons | None,
    **ctx,
) -> None:  # fmt: skip
    assigner = await session.get(Staff, task.assigner_id)
    assignee = await session.get(Staff, task.assignee_id)
    locale = assigner.locale
    if buttons is not None:
        buttons = _labelled(buttons, locale, DONE_LABELS if event == "done" else ASKED_LABELS)
    asked = deadlines.text_of(task.asked_deadline, tz, locale) if task.asked_deadline else None
    text = render(
        "task_notice.html.j2", locale, task=task, event=event, who=assignee.display_name,
        who_id=assignee.telegram_id, due=deadlines.text_of(task.deadline, tz, locale),
        asked=asked, text=ctx.get("text"),
    )  # fmt: skip
    key = f"task:{task.id}:v{task.version}:{event}" + (f":{ctx['nth']}" if "nth" in ctx else "")
    files = [ctx["file"]] if ctx.get("file") else None
    await enqueue_card(session, key, assigner.telegram_id, text, buttons, files,
                       about=about(task.id))  # fmt: skip


# The notice a decision answers: accept answers "done", the postponement decisions "postpone_asked".
DECIDED = {"accept": "done", "approve_postponement": "postpone_asked",
           "refuse_postponement": "postpone_asked"}  # fmt: skip


async def decided_text(
    session: AsyncSession, task: Task, step: str, by: Staff, locale: str, tz: ZoneInfo
) -> str:
    """The assigner's notice once decided: what was asked, then who decided what (it replaces
    the notice's buttons, so the chat keeps the story)."""
    assignee = await session.get(Staff, task.assignee_id)
    return render(
        "task_notice.html.j2", locale, task=task, event=DECIDED[step], who=assignee.display_name,
        who_id=assignee.telegram_id, due=deadlines.text_of(task.deadline, tz, locale),
        asked=None, text=None, outcome=step, by=by.display_name,
    )  # fmt: skip


async def _tell_assignee(
    session: AsyncSession, task: Task, tz: ZoneInfo, event: str, by: Staff
) -> None:
    assignee = await session.get(Staff, task.assignee_id)
    if assignee.id == by.id:
        return
    text = render(
        "task_notice.html.j2", assignee.locale, task=task, event=event, who=by.display_name,
        who_id=by.telegram_id, due=deadlines.text_of(task.deadline, tz, assignee.locale),
        asked=None, text=None,
    )  # fmt: skip
    key = f"task:{task.id}:v{task.version}:{event}"
    await enqueue(session, key, assignee.telegram_id, text, about=about(task.id))


# ---- hand-over (a person deactivated; bot/services/handover.py) ---------------------------


async def hand_over(
    session: AsyncSession, source_id: int, target_id: int, actor: int | None, *, tz: ZoneInfo
) -> int:
    """Move a departed person's open tasks to their successor; returns how many moved.

    Tasks assigned to them (open, or a postponement asked) go to the successor with a new card;
    an asked postponement lapses (it was theirs to argue). Tasks they assigned to others, still
    open or done-awaiting-acceptance, get the successor as assigner, so the next notice reaches
    someone; one waiting for a decision is sent to the successor again. Their unsent drafts are
    cancelled. Each move is a task event and an audit entry (`actor` is a Telegram id).
    """
    moved = 0
    owed = await session.scalars(
        select(Task).where(Task.assignee_id == source_id, Task.status.in_(TASK_OPEN))
    )
    for task in list(owed):
        values = {"assignee_id": target_id, "status": TaskStatus.OPEN, "asked_deadline": None}
        if task.assigner_id == source_id:
            values["assigner_id"] = target_id  # their own task becomes the successor's own
        task = await _step(session, task, task.version, TASK_OPEN, **values)
        await _handed(session, task, actor, source_id, target_id, "assignee")
        await _send_card(session, task, tz, "handed_over", by=await session.get(Staff, source_id))
        moved += 1
    waiting = (*TASK_OPEN, TaskStatus.DONE)
    given = await session.scalars(
        select(Task).where(Task.assigner_id == source_id, Task.status.in_(waiting))
    )
    for task in list(given):
        # An open task keeps its version, so the assignee's card keeps working.
        open_ = task.status == TaskStatus.OPEN
        task = await _step(session, task, task.version, waiting, bump=not open_,
                           assigner_id=target_id)  # fmt: skip
        await _handed(session, task, actor, source_id, target_id, "assigner")
        if task.status == TaskStatus.DONE:
            await _tell_assigner(session, task, tz, "done", _decide_done(task))
        elif task.status == TaskStatus.POSTPONE_ASKED:
            await _tell_assigner(session, task, tz, "postpone_asked", _decide_postponement(task))
        moved += 1
    drafts = await session.scalars(
        select(Task).where(Task.assigner_id == source_id, Task.status == TaskStatus.DRAFT)
    )
    for task in list(drafts):
        task = await _step(session, task, task.version, (TaskStatus.DRAFT,),
                           status=TaskStatus.CANCELLED)  # fmt: skip
        await _handed(session, task, actor, source_id, target_id, "cancelled")
    return moved


async def _handed(
    session: AsyncSession, task: Task, actor: int | None, source: int, target: int, side: str
) -> None:
    details = {"side": side, "from_staff": source, "to_staff": target}
    session.add(
        TaskEvent(task_id=task.id, at=clock.now(), actor_id=None, kind="handed_over",
                  version=task.version, details=details)
    )  # fmt: skip
    await audit.record(session, actor, "task.handed_over", about(task.id),
                       version=task.version, **details)  # fmt: skip


# ---- lists -----------------------------------------------------------------------------------


async def lists(session: AsyncSession, me: Staff) -> Lists:
    """/tasks: my open tasks by deadline, and the open ones I assigned to others."""
    waiting = (*TASK_OPEN, TaskStatus.DONE)
    mine = await session.scalars(
        select(Task)
        .where(Task.assignee_id == me.id, Task.status.in_(waiting))
        .order_by(Task.deadline, Task.id)
        .limit(LIST_MAX)
    )
    assigned = await session.scalars(
        select(Task)
        .where(
            Task.assigner_id == me.id,
            Task.assignee_id != me.id,
            Task.status.in_(waiting),
        )
        .order_by(Task.deadline, Task.id)
        .limit(LIST_MAX)
    )
    mine, assigned = list(mine), list(assigned)
    ids = {task.assigner_id for task in mine} | {task.assignee_id for task in assigned}
    people = await session.scalars(select(Staff).where(Staff.id.in_(ids))) if ids else []
    return Lists(mine, assigned, {p.id: p.display_name for p in people})


def due_state(task: Task, now: datetime, tz: ZoneInfo, cal: WorkCalendar) -> str:
    """ "overdue", "soon" (by the end of the next working day) or "" for a listed task."""
    if task.status == TaskStatus.DONE:
        return ""
    if task.deadline < now:
        return "overdue"
    today = local_date(now, tz)
    soon = at_local(cal.next_workday(today), deadlines.END_OF_DAY, tz)
    return "soon" if task.deadline <= soon else ""
