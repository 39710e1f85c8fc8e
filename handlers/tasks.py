"""Tasks on Telegram: /assign and its confirmation card, the assignee's and the assigner's
buttons, typed follow-ups (handlers/text.py routes them here), /tasks."""

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot import clock
from bot.buttons import Action
from bot.models import Prompt, Staff
from bot.services import audit, deadlines, prompts, recurrence, task_series, tasks
from bot.services import staff as staff_service
from bot.services.deadlines import DeadlineError
from bot.services.errors import ServiceError
from bot.services.obligations import clock_time
from bot.services.recurrence import Rule
from bot.services.tasks import TaskError
from bot.state import BotContext
from handlers.access import staff_only
from handlers.reply import acknowledge, answer_alert, answer_note, edit, reply, send_rendered

PRIVATE = filters.ChatType.PRIVATE
# The deadline is the last one to three words of /assign (周五下午5点, tomorrow 5pm, 12/10 17:00).
DEADLINE_WORDS = (3, 2, 1)
# Refusals recorded in the audit log (a press on someone else's task, or on no task at all).
AUDITED = {"not_yours", "not_found", "not_allowed"}


def _explain(exc: ServiceError) -> dict:
    return {"reason": exc.reason, **exc.details}


async def _refuse(update: Update, session: AsyncSession, me: Staff, exc: ServiceError) -> None:
    """An alert for a press, a message for a command or a typed text; foreign presses audited."""
    if exc.reason in AUDITED:
        target = update.callback_query.data if update.callback_query else "/assign"
        await audit.record(session, me.telegram_id, "access.refused", target, reason=exc.reason)
    if update.callback_query is not None:
        await answer_alert(update, me.locale, "task_error.html.j2", **_explain(exc))
    else:
        await reply(update, me.locale, "task_error.html.j2", **_explain(exc))


# ---- /assign ---------------------------------------------------------------------------------


@staff_only()
async def assign(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """/assign @who title deadline: the task as understood, with ✅ Send / ✖ Cancel."""
    args = list(context.args or [])
    tz, cal = context.settings.team.tz, context.state.calendar
    if not args:
        await _guide(update, context, session, me)
        return
    if len(args) < 3:
        await reply(update, me.locale, "task_error.html.j2", reason="usage")
        return
    try:
        assignee = await staff_service.by_handle(session, args[0][:64])
        if assignee is None:
            raise TaskError("unknown_person", handle=args[0][:64])
        title, due = _split(args[1:], tz, cal)
        if isinstance(due, Rule):
            series = await task_series.draft(session, me, assignee, title, due, tz=tz, cal=cal)
        else:
            task = await tasks.draft(session, me, assignee, title, due, tz=tz)
    except ServiceError as exc:
        await _refuse(update, session, me, exc)
        return
    if isinstance(due, Rule):
        await _confirm_series(update, context, me, series, assignee)
        return
    await reply(
        update,
        me.locale,
        "task_confirm.html.j2",
        tasks.confirm_buttons(task, me.locale, due),
        **_confirm_context(task, me.locale, tz, assignee, due),
    )


async def _guide(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """/assign alone: whom (a director picks; anyone else is asked for their own task's title)."""
    tz = context.settings.team.tz
    people = await tasks.assignable(session, me, tz)
    if people == [me]:
        await tasks.pick(session, me, me.id, tz=tz)
        await reply(update, me.locale, "task_ask.html.j2", task=None, step="guided_title")
        return
    buttons = tasks.pick_buttons(people)
    await reply(update, me.locale, "task_ask.html.j2", buttons, task=None, step="guided_who")


@staff_only()
async def pick(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """A person picked in the guided /assign: the title is asked next."""
    (person,) = tasks.PICK.unpack(update.callback_query.data)
    try:
        assignee = await tasks.pick(session, me, int(person), tz=context.settings.team.tz)
    except ServiceError as exc:
        await _refuse(update, session, me, exc)
        return
    await acknowledge(update)
    await reply(
        update,
        me.locale,
        "task_ask.html.j2",
        task=None,
        step="guided_title",
        who=assignee.display_name,
    )


@staff_only()
async def quick(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """今天 / 明天 / 本周五 / 下周一 under the guided /assign's deadline question."""
    prompt_id, when = tasks.QUICK.unpack(update.callback_query.data)
    tz, cal = context.settings.team.tz, context.state.calendar
    try:
        done = await tasks.quick_deadline(session, me, int(prompt_id), when, tz=tz, cal=cal)
    except ServiceError as exc:
        await _refuse(update, session, me, exc)
        return
    await acknowledge(update)
    await _confirm(update, session, me, done, tz)


async def _confirm_series(update: Update, context: BotContext, me: Staff, series, assignee) -> None:
    """A recurring task's confirmation card: what, to whom, how often, the first one."""
    await reply(
        update,
        me.locale,
        "task_series_confirm.html.j2",
        task_series.confirm_buttons(series, me.locale),
        **_series_context(context, series, me.locale, assignee),
    )


def _series_context(context: BotContext, series, locale: str, assignee: Staff) -> dict:
    tz, cal = context.settings.team.tz, context.state.calendar
    morning = clock_time(context.settings.reminders.next_day_time)
    first = task_series.occurrence(series, series.next_on, cal, tz, morning).deadline
    return dict(
        series=series,
        assignee=assignee.display_name,
        repeat=task_series.rule_text(series, locale),
        first=deadlines.text_of(first, tz, locale),
    )


def _series_press(action: Action, step):
    """A press on a recurring task's card: ✅ Send, ✖ Cancel, ⏹ Stop."""

    @staff_only()
    async def press(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
        series_id, version = (int(v) for v in action.unpack(update.callback_query.data))
        try:
            series = await step(session, series_id, version, me, context)
        except ServiceError as exc:
            await _refuse(update, session, me, exc)
            return
        assignee = await staff_service.get(session, series.assignee_id)
        await acknowledge(update)
        await edit(
            update,
            me.locale,
            "task_series_confirm.html.j2",
            task_series.confirm_buttons(series, me.locale),
            **_series_context(context, series, me.locale, assignee),
        )

    press.__name__ = press.__qualname__ = f"series_{step.__name__}"
    return press


async def start_series(session, series_id, version, me, context):
    """✅ Send on a recurring task: it starts."""
    return await task_series.start(
        session, series_id, version, me, tz=context.settings.team.tz, cal=context.state.calendar,
        morning=clock_time(context.settings.reminders.next_day_time),
    )  # fmt: skip


async def cancel_series(session, series_id, version, me, context):
    """✖ Cancel on a recurring task's draft."""
    return await task_series.cancel(session, series_id, version, me)


async def stop_series(session, series_id, version, me, context):
    """⏹ Stop on a running recurring task."""
    return await task_series.stop(session, series_id, version, me, tz=context.settings.team.tz)


async def _confirm(update: Update, session: AsyncSession, me: Staff, done, tz) -> None:
    """The guided /assign's confirmation card, as /assign with arguments shows it."""
    assignee = await staff_service.get(session, done.task.assignee_id)
    await reply(
        update,
        me.locale,
        "task_confirm.html.j2",
        tasks.confirm_buttons(done.task, me.locale, done.due),
        **_confirm_context(done.task, me.locale, tz, assignee, done.due),
    )


def _split(words: list[str], tz, cal) -> tuple[str, deadlines.Deadline | Rule]:
    """(title, deadline or recurrence): the longest tail of at most three words that reads as a
    recurrence (每周一 10:00) or else as a deadline (周五下午5点)."""
    for count in DEADLINE_WORDS:
        if len(words) > count and (rule := recurrence.parse(" ".join(words[-count:]))):
            return " ".join(words[:-count]), rule
    error: DeadlineError | None = None
    for count in DEADLINE_WORDS:
        if len(words) <= count:
            continue
        try:
            due = deadlines.parse(" ".join(words[-count:]), now=clock.now(), tz=tz, cal=cal)
        except DeadlineError as exc:
            error = exc  # the last one tried (one word) says best what was wrong
            continue
        return " ".join(words[:-count]), due
    raise error or DeadlineError("unreadable", text="")


def _confirm_context(task, locale: str, tz, assignee: Staff, due=None) -> dict:
    day_off = due is not None and due.day_off
    return dict(
        task=task,
        assignee=assignee.display_name,
        due=deadlines.text_of(task.deadline, tz, locale),
        day_off=deadlines.day_text(due.day, locale) if day_off else None,
        instead=deadlines.day_text(due.instead.astimezone(tz).date(), locale)
        if day_off and due.instead
        else None,
        outcome=None,
    )


async def _draft_press(update, context, session, me: Staff, action: Action, step) -> None:
    task_id, version = (int(v) for v in action.unpack(update.callback_query.data))
    tz = context.settings.team.tz
    try:
        task = await step(session, task_id, version, me, tz, context.state.calendar)
    except ServiceError as exc:
        await _refuse(update, session, me, exc)
        return
    assignee = await staff_service.get(session, task.assignee_id)
    buttons, ctx = None, _confirm_context(task, me.locale, tz, assignee)
    if task.status == tasks.TaskStatus.DRAFT:  # moved to a working day: still to confirm
        buttons = tasks.confirm_buttons(task, me.locale)
    ctx["outcome"] = task.status
    await acknowledge(update)
    await edit(update, me.locale, "task_confirm.html.j2", buttons, **ctx)


@staff_only()
async def send(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """✅ Send: the assignee gets the card."""

    async def step(session, task_id, version, me, tz, cal):
        return await tasks.send(session, task_id, version, me, tz=tz)

    await _draft_press(update, context, session, me, tasks.SEND, step)


@staff_only()
async def cancel(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """✖ Cancel: nothing is sent."""

    async def step(session, task_id, version, me, tz, cal):
        return await tasks.cancel(session, task_id, version, me)

    await _draft_press(update, context, session, me, tasks.CANCEL, step)


@staff_only()
async def move(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """📅 The deadline moves off the day off to the suggested working day."""

    async def step(session, task_id, version, me, tz, cal):
        return await tasks.move_to_workday(session, task_id, version, me, tz=tz, cal=cal)

    await _draft_press(update, context, session, me, tasks.MOVE, step)


# ---- presses that take effect at once --------------------------------------------------------


def _instant(action: Action, step):
    """A handler for a button whose press is the whole step (done, accept, approve, refuse)."""

    @staff_only()
    async def press(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
        task_id, version = (int(v) for v in action.unpack(update.callback_query.data))
        tz = context.settings.team.tz
        try:
            task = await step(session, task_id, version, me, tz=tz)
        except ServiceError as exc:
            await _refuse(update, session, me, exc)
            return
        due = deadlines.text_of(task.deadline, tz, me.locale)
        await answer_note(update, me.locale, "task_done.html.j2", task=task, step=step.__name__,
                          due=due)  # fmt: skip
        if step.__name__ in tasks.DECIDED:  # the assigner's notice keeps what was asked
            text = await tasks.decided_text(session, task, step.__name__, me, me.locale, tz)
            await send_rendered(update, text, None, edit=True)
            return
        await edit(
            update, me.locale, "task_card.html.j2", None, **await _card(session, task, me, tz)
        )

    press.__name__ = press.__qualname__ = f"press_{step.__name__}"
    return press


async def _card(session: AsyncSession, task, me: Staff, tz) -> dict:
    assigner = await staff_service.get(session, task.assigner_id)
    assignee = await staff_service.get(session, task.assignee_id)
    return dict(
        task=task,
        due=deadlines.text_of(task.deadline, tz, me.locale),
        assigner=assigner.display_name,
        assignee=assignee.display_name,
        event=None,
        by=None,
        repeat=await tasks.repeat_text(session, task, me.locale),
    )


# ---- presses that ask for words --------------------------------------------------------------


def _typed(action: Action, step: str):
    """A handler for a button that asks for a typed follow-up (a new date, a reason, a question)."""

    @staff_only()
    async def press(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
        task_id, version = (int(v) for v in action.unpack(update.callback_query.data))
        tz = context.settings.team.tz
        try:
            task = await tasks.start_typed(session, me, task_id, version, step, tz=tz)
        except ServiceError as exc:
            await _refuse(update, session, me, exc)
            return
        await acknowledge(update)
        await reply(update, me.locale, "task_ask.html.j2", task=task, step=step)

    press.__name__ = press.__qualname__ = f"ask_{step}"
    return press


async def take_reply(
    update: Update, context: BotContext, session: AsyncSession, me: Staff, prompt: Prompt
) -> None:
    """A typed new date, reason or question (handlers/text.py routes it here)."""
    tz, cal = context.settings.team.tz, context.state.calendar
    text = update.effective_message.text or ""
    try:
        done = await tasks.take_typed(session, me, prompt, text, tz=tz, cal=cal)
    except ServiceError as exc:
        await reply(update, me.locale, "task_error.html.j2", again=True, **_explain(exc))
        return
    if done.step == "guided_deadline":  # the title was read: now the deadline
        prompt = await prompts.current(session, me.id)
        buttons = tasks.quick_buttons(prompt.id, me.locale)
        await reply(update, me.locale, "task_ask.html.j2", buttons, task=None, step=done.step)
        return
    if done.step == "guided_drafted" and done.series is not None:
        assignee = await staff_service.get(session, done.series.assignee_id)
        await _confirm_series(update, context, me, done.series, assignee)
        return
    if done.step == "guided_drafted":
        await _confirm(update, session, me, done, tz)
        return
    if done.asked is not None:  # the date was read: now the reason
        asked = deadlines.text_of(done.asked, tz, me.locale)
        await reply(
            update, me.locale, "task_ask.html.j2", task=done.task, step=done.step, asked=asked
        )
        return
    await reply(update, me.locale, "task_done.html.j2", task=done.task, step=done.step)


async def take_file(
    update: Update, context: BotContext, session: AsyncSession, me: Staff, prompt: Prompt,
    file: dict,
) -> None:  # fmt: skip
    """A photo or document answering 📝 done-with-a-note (handlers/files.py routes it here)."""
    caption = update.effective_message.caption or ""
    try:
        task = await tasks.take_file(session, me, prompt, file, caption,
                                     tz=context.settings.team.tz)  # fmt: skip
    except ServiceError as exc:
        await reply(update, me.locale, "task_error.html.j2", again=True, **_explain(exc))
        return
    await reply(update, me.locale, "task_done.html.j2", task=task, step="done_note")


# ---- /tasks ----------------------------------------------------------------------------------


@staff_only()
async def list_tasks(update: Update, context: BotContext, session: AsyncSession, me: Staff) -> None:
    """/tasks: mine (overdue, due soon, open) and the ones I assigned, with their state."""
    tz, cal, now = context.settings.team.tz, context.state.calendar, clock.now()
    found = await tasks.lists(session, me)

    def row(task, other_id):
        return dict(
            task=task,
            due=deadlines.text_of(task.deadline, tz, me.locale),
            state=tasks.due_state(task, now, tz, cal),
            other=found.names.get(other_id, "?"),
        )

    series = await task_series.running(session, me)
    names = await staff_service.names(session, {s.assignee_id for s in series})
    repeating = [
        dict(series=one, repeat=task_series.rule_text(one, me.locale),
             other=names.get(one.assignee_id, "?"))
        for one in series
    ]  # fmt: skip
    await reply(
        update,
        me.locale,
        "task_list.html.j2",
        task_series.stop_buttons(series, me, me.locale) or None,
        mine=[row(t, t.assigner_id) for t in found.mine],
        assigned=[row(t, t.assignee_id) for t in found.assigned],
        repeating=repeating,
        me_id=me.id,
    )


def register(app) -> None:
    """/assign, /tasks and every task button, one handler per kind (a typed follow-up:
    handlers/text.py)."""
    app.add_handler(CommandHandler("assign", assign, filters=PRIVATE))
    app.add_handler(CommandHandler("tasks", list_tasks, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(send, pattern=tasks.SEND.pattern))
    app.add_handler(CallbackQueryHandler(cancel, pattern=tasks.CANCEL.pattern))
    app.add_handler(CallbackQueryHandler(move, pattern=tasks.MOVE.pattern))
    app.add_handler(CallbackQueryHandler(pick, pattern=tasks.PICK.pattern))
    app.add_handler(CallbackQueryHandler(quick, pattern=tasks.QUICK.pattern))
    series = {
        task_series.SEND: start_series,
        task_series.CANCEL: cancel_series,
        task_series.STOP: stop_series,
    }
    for action, step in series.items():
        app.add_handler(CallbackQueryHandler(_series_press(action, step), pattern=action.pattern))
    instant = {
        tasks.DONE: tasks.done,
        tasks.ACCEPT: tasks.accept,
        tasks.APPROVE: tasks.approve_postponement,
        tasks.REFUSE: tasks.refuse_postponement,
    }
    for action, step in instant.items():
        app.add_handler(CallbackQueryHandler(_instant(action, step), pattern=action.pattern))
    typed = {
        tasks.POSTPONE: "postpone_date",
        tasks.QUESTION: "question",
        tasks.GIVE_BACK: "give_back",
        tasks.REOPEN: "reopen",
        tasks.DONE_NOTE: "done_note",
    }
    for action, step in typed.items():
        app.add_handler(CallbackQueryHandler(_typed(action, step), pattern=action.pattern))
