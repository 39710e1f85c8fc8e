"""Filing a form: the guided (one question at a time) and one-message paths over `drafts`.

Every function takes the caller's session and changes the draft in that transaction, so an
answer and the draft's new position are stored together: a restart between any two messages
loses nothing, and any process can take the next message.
"""

import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, date
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import Period
from bot.db import connection, insert_for_dialect, loaded
from bot.forms import sentence
from bot.forms.fields import (
    FieldContext,
    FieldError,
    check_file,
    parse_answer,
    parse_choice_key,
)
from bot.forms.oneshot import parse_message
from bot.forms.spec import FILE_TYPES, FieldSpec, FormSpec, ReportsConfig
from bot.i18n import t
from bot.models import Channel, Draft, Report, Staff
from bot.services import budgets, channels, filing, held
from bot.services.filing import Opening
from bot.services.reports import missing_required

PAGE = 8  # channels per picker page: with the other buttons, well under Telegram's limits


@dataclass(frozen=True)
class FlowContext:
    """Who is filing which form, in which language, on which team-local day."""

    staff: Staff
    form: FormSpec
    reports: ReportsConfig
    today: date
    team_locale: str = "zh"
    pools: tuple = budgets.DEFAULT_POOLS  # the configured budget pools (approvals draw on them)

    @property
    def fields(self) -> FieldContext:
        return FieldContext(
            locale=self.staff.locale,
            today=self.today,
            regions=self.reports.regions,
            industries=self.reports.industries,
        )


class Mode(StrEnum):
    """Where a draft is (drafts.mode, stored as the string)."""

    ASK = "ask"  # a question: the cursor is the field's index
    REVIEW = "review"  # the summary card, with Submit
    PICK = "pick"  # the menu of fields to change


class StepKind(StrEnum):
    """What a step shows (handlers/report_view.py renders it; outcomes use form_<kind>.html.j2)."""

    ASK = "ask"
    REVIEW = "review"
    PICK = "pick"
    FILED = "filed"
    PLAN_SUBMITTED = "plan_submitted"
    RESULTS_FILED = "results_filed"
    CANCELLED = "cancelled"
    NOTHING_DUE = "nothing_due"
    NO_RESULTS = "no_results"  # the results form, with no ended activity to report on
    OTHER_FORM = "other_form"  # a draft of another form is open


@dataclass
class Step:
    """What to show next: a question, the review card, the field menu, or an outcome."""

    kind: StepKind
    form: FormSpec
    draft: Draft | None = None
    field: FieldSpec | None = None
    error: FieldError | None = None
    suggestion: Any = None
    report: Report | None = None
    notes: tuple[str, ...] = ()
    options: list[tuple[str, str]] = dc_field(default_factory=list)  # (key, label) to pick from
    selected: list[Any] = dc_field(default_factory=list)
    page: int = 0
    pages: int = 1
    new_channel: dict[str, Any] | None = None
    plan: Any = None
    keepable: bool = False  # the field has an answer (pre-filled, or being edited) to keep


# Answers gathered over several messages or presses, kept in scratch["sel"] until Done.
SELECTIONS = ("multichoice", "channels", *FILE_TYPES)
# (session, draft, context, notes=…) -> the step to answer with: `show`, or `opened`.
Presenter = Callable[..., Awaitable[Step]] | None


# ---- starting -------------------------------------------------------------------------------


async def begin(session: AsyncSession, ctx: FlowContext, present: Presenter = None) -> Step:
    """/daily: continue a draft, start the oldest open period, edit a filed one, or say none.
    `present` draws the draft's step (`show` by default; `opened` when the caller fills the
    draft and shows a step of its own)."""
    present = present or show
    draft = await draft_of(session, ctx.staff.id)
    if draft is not None:
        if draft.form_key != ctx.form.key:
            return Step(StepKind.OTHER_FORM, ctx.form, draft=draft)
        return await present(session, draft, ctx, notes=("resumed",))
    opening = await filing.opening(session, ctx.staff, ctx.form, ctx.today)
    if opening.resubmit is not None:  # a director asked for changes: that plan comes first
        return await begin_resubmission(session, ctx, opening.resubmit)
    if opening.key is None:  # no ended activity, or a day off: offer the last report or today's
        notes = (f"editable:{opening.editable}",) if opening.editable is not None else ()
        return Step(StepKind(opening.nothing), ctx.form, notes=notes)
    return await _start(session, ctx, opening, present=present)


async def begin_edit(session: AsyncSession, ctx: FlowContext, period_key: str) -> Step:
    """Edit the filed report of `period_key`, if it is still open for edits."""
    draft = await draft_of(session, ctx.staff.id)
    if draft is not None:
        return await show(session, draft, ctx, notes=("resumed",))
    opening = await filing.editing(session, ctx.staff, ctx.form, ctx.today, period_key)
    if opening is None:
        return Step(StepKind.NOTHING_DUE, ctx.form)
    return await _start(session, ctx, opening)


async def begin_resubmission(session: AsyncSession, ctx: FlowContext, plan_id: int) -> Step:
    """Edit a plan the director sent back: its answers, straight to the summary card."""
    draft = await draft_of(session, ctx.staff.id)
    if draft is not None:
        return await show(session, draft, ctx, notes=("resumed",))
    plan = await filing.resubmission(session, ctx.staff, plan_id)
    step = await _start(session, ctx, Opening(filing.plan_key(plan.id)))
    step.draft.answers, step.draft.mode = dict(plan.answers), Mode.REVIEW
    return await show(session, step.draft, ctx, notes=("resubmitting",))


async def begin_anyway(session: AsyncSession, ctx: FlowContext, present: Presenter = None) -> Step:
    """File for the current period although nothing is due (a holiday, a weekend)."""
    present = present or show
    draft = await draft_of(session, ctx.staff.id)
    if draft is not None:
        return await present(session, draft, ctx, notes=("resumed",))
    opening = await filing.anyway(session, ctx.staff, ctx.form, ctx.today)
    return await _start(session, ctx, opening, notes=("not_due",), present=present)


async def _start(
    session: AsyncSession,
    ctx: FlowContext,
    opening: Opening,
    notes: tuple[str, ...] = (),
    present: Presenter = None,
) -> Step:
    start = await filing.start(session, ctx.staff, ctx.form, opening.key, unfiled=opening.unfiled)
    now = clock.now()
    new = dict(
        staff_id=ctx.staff.id,
        form_key=ctx.form.key,
        period_key=opening.key,
        obligation_id=opening.obligation_id,
        report_id=start.report_id,
        answers=start.answers,
        mode=Mode.REVIEW if start.report_id else Mode.ASK,
        cursor="0",
        scratch={},
        version=1,
        created_at=now,
        updated_at=now,
    )
    # One statement: a draft is unique per person, and two /daily at once make one of them.
    # Core, on the session's connection: the ORM's INSERT … RETURNING of an object keyed its
    # statement afresh every time (~0.3 ms); the row comes back `loaded` as it was written.
    made = _new_draft(session.bind.dialect.name == "postgresql", tuple(new))
    conn = await connection(session)
    found = await conn.execute(made, {f"new_{column}": value for column, value in new.items()})
    new_id = found.scalar_one_or_none()
    present = present or show
    if new_id is None:  # the other one made the draft; continue it
        existing = await draft_of(session, ctx.staff.id, read=True)
        return await present(session, existing, ctx, notes=("resumed",))
    draft = loaded(session, Draft, {**new, "id": new_id})
    held.keep(session, Draft, ctx.staff.id, draft)  # what the sender read ("none") is not so
    notes = (*notes, "editing") if start.report_id else notes
    return await present(session, draft, ctx, notes=notes)


@cache
def _new_draft(postgresql: bool, columns: tuple[str, ...]):
    # Built once per dialect and run with the draft's values (see staff._BY_TELEGRAM_ID); the
    # parameters are not named after the columns, which an INSERT keeps for its VALUES.
    table = Draft.__table__
    values = {column: bindparam(f"new_{column}") for column in columns}
    insert = insert_for_dialect(postgresql)
    return (
        insert(table)
        .values(values)
        .on_conflict_do_nothing(index_elements=["staff_id"])
        .returning(table.c.id)
    )


async def draft_of(session: AsyncSession, staff_id: int, *, read: bool = False) -> Draft | None:
    """The person's draft in progress, if any (`read`: from the database, whatever is held)."""
    known, draft = held.recall(session, Draft, staff_id)  # read with the sender, or by the router
    if known and not read:
        return draft
    return await session.scalar(
        select(Draft).where(Draft.staff_id == staff_id).execution_options(populate_existing=True)
    )


# ---- showing --------------------------------------------------------------------------------


async def opened(
    session: AsyncSession, draft: Draft, ctx: FlowContext, *, notes: tuple[str, ...] = ()
) -> Step:
    """The draft, opened, without its step drawn: for a caller that fills it at once and shows
    the step that leads to (a report in one message). Drawing the first question would read
    its options (a page of channels) for nothing."""
    return Step(StepKind.ASK, ctx.form, draft=draft, notes=notes)


async def show(
    session: AsyncSession,
    draft: Draft,
    ctx: FlowContext,
    *,
    error: FieldError | None = None,
    notes: tuple[str, ...] = (),
) -> Step:
    """The step the draft is at."""
    if draft.mode == Mode.REVIEW:
        return Step(StepKind.REVIEW, ctx.form, draft=draft, notes=notes, error=error)
    if draft.mode == Mode.PICK:
        return Step(StepKind.PICK, ctx.form, draft=draft, notes=notes)
    spec = current_field(draft, ctx.form)
    if spec is None:  # the form lost fields since the draft began: go to review
        draft.mode = Mode.REVIEW
        return Step(StepKind.REVIEW, ctx.form, draft=draft, notes=notes)
    step = Step(StepKind.ASK, ctx.form, draft=draft, field=spec, error=error, notes=notes)
    step.selected = list(draft.scratch.get("sel", _initial_selection(draft, spec)))
    step.new_channel = draft.scratch.get("new")
    if spec.suggest and draft.answers.get(spec.key) is None:
        step.suggestion = await _suggestion(session, ctx, draft, spec.suggest)
    # Picking lists keep their selection with Done; other fields need a way to keep theirs.
    step.keepable = draft.answers.get(spec.key) is not None and spec.type not in SELECTIONS
    await _options(session, ctx, draft, spec, step)
    return step


def current_field(draft: Draft, form: FormSpec) -> FieldSpec | None:
    """The field the cursor points at (None past the end)."""
    index = int(draft.cursor)
    return form.fields[index] if 0 <= index < len(form.fields) else None


def _initial_selection(draft: Draft, spec: FieldSpec) -> list[Any]:
    # Editing keeps what was there: a report's files stay unless removed (🗑) or replaced.
    value = draft.answers.get(spec.key)
    return list(value) if spec.type in SELECTIONS and isinstance(value, list) else []


async def _options(
    session: AsyncSession, ctx: FlowContext, draft: Draft, spec: FieldSpec, step: Step
) -> None:
    loc = ctx.staff.locale
    if step.new_channel is not None and "twin" in step.new_channel:
        step.options = [("use", t(loc, "Use the existing one")), ("new", t(loc, "Create anyway"))]
    elif step.new_channel is not None:
        pool = ctx.reports.industries if "region" in step.new_channel else ctx.reports.regions
        step.options = [(c.key, c.label.get(loc)) for c in pool]
    elif spec.type in ("choice", "multichoice"):
        step.options = [(c.key, c.label.get(loc)) for c in spec.choices]
    elif spec.type == "region":
        step.options = [(c.key, c.label.get(loc)) for c in ctx.reports.regions]
    elif spec.type == "industry":
        step.options = [(c.key, c.label.get(loc)) for c in ctx.reports.industries]
    elif spec.type == "channels":
        mine = await channels.page_mine(
            session, ctx.staff.id, int(draft.scratch.get("page", 0)), PAGE
        )
        step.pages, step.page = mine.pages(PAGE), mine.number
        step.options = [(str(c.id), c.name) for c in mine.channels]


async def _suggestion(session: AsyncSession, ctx: FlowContext, draft: Draft, source: str) -> Any:
    """A number the channel library already knows for this day (the person may override it)."""
    parts = source.split(":")
    if parts[0] != "library":
        return None
    stats = await channels.stats_for_day(
        session, ctx.staff.id, Period.parse(draft.period_key).start
    )
    if parts[1] == "created_today":
        return stats.created
    if parts[1] == "moved_today":
        return stats.moved_to.get(parts[2], 0)
    if parts[1] == "stage_now":
        return stats.in_stage.get(parts[2], 0)
    return None


# ---- answering ------------------------------------------------------------------------------


async def answer_text(session: AsyncSession, draft: Draft, ctx: FlowContext, text: str) -> Step:
    """A typed answer to the current question."""
    if draft.mode != Mode.ASK:
        return await show(session, draft, ctx, notes=("use_buttons",))
    spec = current_field(draft, ctx.form)
    if spec is None:
        return await show(session, draft, ctx)
    if draft.scratch.get("new") is not None:
        return await _typed_new_channel_detail(session, draft, ctx, text)
    # A whole report typed as the first answer (a text question's answer is its own, though:
    # an activity's title may name a region and a date).
    if (
        _fresh(draft)
        and spec.type not in ("text", "longtext", *FILE_TYPES)
        and not _BARE_NUMBER.fullmatch(text)  # "12" answers the question; it fills no report
    ):
        understood = await sentence.understand(session, ctx, text)
        if understood.count >= 2:
            return await sentence.put(session, draft, ctx, understood)
    try:
        value = parse_answer(spec, text, ctx.fields)
    except FieldError as exc:
        if exc.reason == "empty" and not spec.required:
            return await _set_and_advance(session, draft, ctx, spec, None)
        return await show(session, draft, ctx, error=exc)
    if spec.type == "channels":
        return await _typed_channels(session, draft, ctx, spec, value)
    return await _set_and_advance(session, draft, ctx, spec, value)


# A typed answer that is one number and nothing else: read as a whole report it could fill one
# field at most, so the reader (the channel library and the person's words) is not consulted.
_BARE_NUMBER = re.compile(r"\s*[-+]?[\d,，]*\.?\d+\s*")


def _fresh(draft: Draft) -> bool:
    """Nothing happened since /daily asked its first question."""
    return (
        draft.version == 1
        and draft.mode == Mode.ASK
        and draft.cursor == "0"
        and (not draft.scratch and draft.report_id is None)
    )


def _kept(draft: Draft) -> dict[str, Any]:
    """What outlives a question's scratch: a sentence's reading, for the summary card."""
    return {"read": draft.scratch["read"]} if "read" in (draft.scratch or {}) else {}


async def _set_and_advance(
    session: AsyncSession, draft: Draft, ctx: FlowContext, spec: FieldSpec, value: Any
) -> Step:
    await sentence.answered(session, draft, ctx, spec.key, value)
    draft.answers = {**draft.answers, spec.key: value}
    back_to = draft.scratch.get("return")
    draft.scratch = _kept(draft)
    _touch(draft)
    if back_to == "missing":
        return await _next_missing(session, draft, ctx)
    if back_to == "review" or int(draft.cursor) >= len(ctx.form.fields) - 1:
        draft.mode = Mode.REVIEW
    else:
        draft.cursor = str(int(draft.cursor) + 1)
    return await show(session, draft, ctx)


async def _next_missing(
    session: AsyncSession, draft: Draft, ctx: FlowContext, notes: tuple[str, ...] = ()
) -> Step:
    """After a one-message filing without its files: each required question still unanswered
    (the files first among them, in form order), then the summary card."""
    missing = missing_required(ctx.form, draft.answers)
    index = next((i for i, f in enumerate(ctx.form.fields) if f.key in missing), None)
    if index is None:
        draft.mode = Mode.REVIEW
        return await show(session, draft, ctx, notes=(*notes, *_files_optional(draft, ctx)))
    draft.mode, draft.cursor = Mode.ASK, str(index)
    draft.scratch = {**draft.scratch, "return": "missing"}
    return await show(session, draft, ctx, notes=notes)


def _files_optional(draft: Draft, ctx: FlowContext) -> tuple[str, ...]:
    # Optional files a one-message filing could not carry: the summary says how to add them.
    empty = [f for f in ctx.form.fields if f.type in FILE_TYPES and not draft.answers.get(f.key)]
    return ("files_optional",) if empty else ()


def _touch(draft: Draft) -> None:
    draft.version += 1
    draft.updated_at = clock.now()


async def press(
    session: AsyncSession, draft: Draft, ctx: FlowContext, action: str, arg: str
) -> Step:
    """A button under the current question, the review card or the field menu."""
    handler = _ACTIONS.get(action)
    if handler is None:
        return await show(session, draft, ctx)
    return await handler(session, draft, ctx, arg)


async def _choose(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    spec = current_field(draft, ctx.form)
    if spec is None or draft.mode != Mode.ASK:
        return await show(session, draft, ctx)
    if draft.scratch.get("new") is not None:
        return await _new_channel_detail(session, draft, ctx, arg)
    try:
        key = parse_choice_key(spec, arg, ctx.fields)
    except FieldError as exc:
        return await show(session, draft, ctx, error=exc)
    return await _set_and_advance(session, draft, ctx, spec, key)


async def _toggle(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    spec = current_field(draft, ctx.form)
    if spec is None or spec.type not in ("multichoice", "channels"):
        return await show(session, draft, ctx)
    selected = list(draft.scratch.get("sel", _initial_selection(draft, spec)))
    item = await _selection_item(session, ctx, spec, arg)
    if item is None:
        return await show(session, draft, ctx)
    if item in selected:
        selected.remove(item)
    elif len(selected) >= spec.max_items:
        return await show(
            session, draft, ctx, error=FieldError("too_many", max_items=spec.max_items)
        )
    else:
        selected.append(item)
    draft.scratch = {**draft.scratch, "sel": selected}
    _touch(draft)
    return await show(session, draft, ctx)


async def _selection_item(session, ctx: FlowContext, spec: FieldSpec, arg: str) -> Any:
    if spec.type == "multichoice":
        try:
            return parse_choice_key(spec, arg, ctx.fields)
        except FieldError:
            return None
    channel = await channels.get(session, int(arg)) if arg.isdigit() else None
    return _channel_ref(channel) if channel else None


def _channel_ref(channel: Channel) -> dict[str, Any]:
    # Name kept beside the id, so old reports read well even if the channel is renamed.
    return {"id": channel.id, "name": channel.name}


async def _done(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    spec = current_field(draft, ctx.form)
    if spec is None or spec.type not in SELECTIONS or draft.mode != Mode.ASK:
        return await show(session, draft, ctx)
    selected = list(draft.scratch.get("sel", _initial_selection(draft, spec)))
    if not selected and spec.required:
        return await show(session, draft, ctx, error=_empty(spec))
    return await _set_and_advance(session, draft, ctx, spec, selected or None)


def _empty(spec: FieldSpec) -> FieldError:
    """The error of a required question left without an answer."""
    return (
        FieldError("no_files", kind=spec.type) if spec.type in FILE_TYPES else FieldError("empty")
    )


# ---- files ----------------------------------------------------------------------------------


async def answer_file(
    session: AsyncSession, draft: Draft, ctx: FlowContext, item: dict[str, Any]
) -> Step:
    """A photo or document sent while filing: added to the current file question (an album's
    items one message each), or refused with what to send instead. `item` is what
    fields.check_file reads; the sender and the time are added here."""
    spec = current_field(draft, ctx.form)
    if draft.mode != Mode.ASK or spec is None or spec.type not in FILE_TYPES:
        return await show(session, draft, ctx, error=FieldError("no_file_here"))
    try:
        stored = check_file(spec, item, ctx.fields)
    except FieldError as exc:
        return await show(session, draft, ctx, error=exc)
    selected = list(draft.scratch.get("sel", _initial_selection(draft, spec)))
    notes = ("file_added",)
    if len(selected) >= spec.max_items:
        if spec.max_items > 1:
            error = FieldError("too_many_files", kind=spec.type, max_items=spec.max_items)
            return await show(session, draft, ctx, error=error)
        selected, notes = [], ("file_replaced",)  # one file: the newer one is the answer
    if not stored["name"]:  # photos have no name: the question's, numbered (收据1.jpg)
        extension = ".jpg" if stored["kind"] == "photo" else _extension(stored["mime"])
        # A label like 收据/发票 would read as a folder in a file name: keep its first part.
        label = re.split(r"[/\\|]", spec.label.get(ctx.team_locale))[0].strip() or spec.key
        stored["name"] = f"{label}{len(selected) + 1}{extension}"
    stored |= {"staff_id": ctx.staff.id, "at": clock.now().astimezone(UTC).isoformat()}
    draft.scratch = {**draft.scratch, "sel": [*selected, stored]}
    _touch(draft)
    return await show(session, draft, ctx, notes=notes)


def _extension(mime: str) -> str:
    return {"image/jpeg": ".jpg"}.get(mime) or mimetypes.guess_extension(mime) or ""


async def _clear(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    """🗑 under a file question: start its files over (the answer changes only with Done)."""
    spec = current_field(draft, ctx.form)
    if spec is None or spec.type not in FILE_TYPES or draft.mode != Mode.ASK:
        return await show(session, draft, ctx)
    draft.scratch = {**draft.scratch, "sel": []}
    _touch(draft)
    return await show(session, draft, ctx, notes=("files_cleared",))


async def _skip(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    spec = current_field(draft, ctx.form)
    if spec is None or spec.required:
        return await show(session, draft, ctx, error=_empty(spec) if spec else None)
    return await _set_and_advance(session, draft, ctx, spec, None)


async def _use_suggestion(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    spec = current_field(draft, ctx.form)
    if spec is None or not spec.suggest:
        return await show(session, draft, ctx)
    value = await _suggestion(session, ctx, draft, spec.suggest)
    return await _set_and_advance(session, draft, ctx, spec, value)


async def _keep(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    spec = current_field(draft, ctx.form)
    if spec is None or draft.answers.get(spec.key) is None or spec.type in SELECTIONS:
        return await show(session, draft, ctx)
    return await _set_and_advance(session, draft, ctx, spec, draft.answers[spec.key])


async def _back(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    if draft.mode == Mode.REVIEW:
        draft.mode, draft.cursor = Mode.ASK, str(len(ctx.form.fields) - 1)
        draft.scratch = _kept(draft)
    elif draft.scratch.get("new") is not None:
        # Leave the new-channel questions, back to the channel list with the picks so far.
        draft.scratch = {k: v for k, v in draft.scratch.items() if k != "new"}
    else:
        draft.cursor, draft.mode = str(max(0, int(draft.cursor) - 1)), Mode.ASK
        draft.scratch = _kept(draft)
    _touch(draft)
    return await show(session, draft, ctx)


async def _page(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    draft.scratch = {**draft.scratch, "page": max(0, int(arg) if arg.isdigit() else 0)}
    _touch(draft)
    return await show(session, draft, ctx)


async def _pick_menu(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    draft.mode = Mode.PICK
    _touch(draft)
    return await show(session, draft, ctx)


async def _edit_field(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    index = int(arg) if arg.isdigit() else -1
    if not 0 <= index < len(ctx.form.fields):
        return await show(session, draft, ctx)
    draft.mode, draft.cursor = Mode.ASK, str(index)
    draft.scratch = {**_kept(draft), "return": "review"}
    _touch(draft)
    return await show(session, draft, ctx)


async def _review(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    draft.mode, draft.scratch = Mode.REVIEW, _kept(draft)
    _touch(draft)
    return await show(session, draft, ctx)


async def _submit(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    if draft.mode != Mode.REVIEW:
        return await show(session, draft, ctx)
    outcome = await filing.submit(
        session, draft, form=ctx.form, staff=ctx.staff, config=ctx.reports, today=ctx.today,
        team_locale=ctx.team_locale, pools=ctx.pools,
    )  # fmt: skip
    if isinstance(outcome, filing.Refused):
        return await _back_to(session, draft, ctx, outcome)
    notes = ("edited",) if outcome.edited else ()
    return Step(
        StepKind(outcome.kind), ctx.form, report=outcome.report, plan=outcome.plan, notes=notes
    )


async def _back_to(session, draft: Draft, ctx: FlowContext, refused: filing.Refused) -> Step:
    """A draft filing refused: to the field to fix, then on (or back to the review card)."""
    index = next(i for i, f in enumerate(ctx.form.fields) if f.key == refused.field_key)
    scratch = {**_kept(draft), **({"return": "review"} if refused.to_review else {})}
    draft.mode, draft.cursor, draft.scratch = Mode.ASK, str(index), scratch
    _touch(draft)
    spec = ctx.form.fields[index]
    error = _empty(spec) if refused.reason == "empty" else FieldError(refused.reason)
    return await show(session, draft, ctx, error=error)


async def _cancel(session, draft: Draft, ctx: FlowContext, arg: str) -> Step:
    await session.execute(delete(Draft).where(Draft.id == draft.id))
    return Step(StepKind.CANCELLED, ctx.form)


async def cancel(session: AsyncSession, staff_id: int) -> bool:
    """/cancel: drop the person's draft; True when there was one."""
    result = await session.execute(delete(Draft).where(Draft.staff_id == staff_id))
    return result.rowcount > 0


# ---- channels inside the report -------------------------------------------------------------


async def _typed_channels(
    session: AsyncSession, draft: Draft, ctx: FlowContext, spec: FieldSpec, names: list[str]
) -> Step:
    """Typed names: known channels are selected; the first unknown one starts "add channel"."""
    selected = list(draft.scratch.get("sel", _initial_selection(draft, spec)))
    unknown: list[str] = []
    for name in names:
        found = await channels.search(session, name, limit=1)
        match = (
            found[0]
            if found and channels.normalise(found[0].name) == channels.normalise(name)
            else None
        )
        if match is None:
            unknown.append(name)
        elif _channel_ref(match) not in selected:
            selected.append(_channel_ref(match))
    scratch: dict[str, Any] = {**draft.scratch, "sel": selected[: spec.max_items]}
    if unknown:
        scratch["new"] = {"name": unknown[0][:128], "queue": unknown[1:]}
    draft.scratch = scratch
    _touch(draft)
    return await show(session, draft, ctx)


async def _typed_new_channel_detail(
    session: AsyncSession, draft: Draft, ctx: FlowContext, text: str
) -> Step:
    new = draft.scratch["new"]
    if "twin" in new:
        return await show(session, draft, ctx, notes=("use_buttons",))
    pool = ctx.reports.industries if "region" in new else ctx.reports.regions
    wanted = text.strip().casefold()
    for choice in pool:
        if wanted in (choice.key, choice.label.zh.casefold(), choice.label.en.casefold()):
            return await _new_channel_detail(session, draft, ctx, choice.key)
    reason = "unknown_industry" if "region" in new else "unknown_region"
    return await show(session, draft, ctx, error=FieldError(reason))


async def _new_channel_detail(session, draft: Draft, ctx: FlowContext, key: str) -> Step:
    """Region, then (after pointing out a likely duplicate) industry; then it is created."""
    new = dict(draft.scratch["new"])
    if "region" not in new:
        if key not in {c.key for c in ctx.reports.regions}:
            return await show(session, draft, ctx, error=FieldError("unknown_region"))
        new["region"] = key
        twin = await channels.find_duplicate(session, new["name"], key)
        if twin is not None:
            new["twin"] = _channel_ref(twin)
        return await _save_new(session, draft, ctx, new)
    if "twin" in new:
        if key == "use":
            twin = await channels.get(session, new["twin"]["id"])
            if twin is not None:
                return await _picked_new(session, draft, ctx, new, twin, "channel_reused")
        if key != "new":
            return await show(session, draft, ctx)
        new.pop("twin")
        return await _save_new(session, draft, ctx, new)
    if key not in {c.key for c in ctx.reports.industries}:
        return await show(session, draft, ctx, error=FieldError("unknown_industry"))
    channel = await channels.create(
        session,
        name=new["name"],
        industry=key,
        region=new["region"],
        actor=ctx.staff,
        day=ctx.today,
        regions=ctx.reports.regions,
        industries=ctx.reports.industries,
    )
    return await _picked_new(session, draft, ctx, new, channel, "channel_added")


async def _save_new(session, draft: Draft, ctx: FlowContext, new: dict[str, Any]) -> Step:
    draft.scratch = {**draft.scratch, "new": new}
    _touch(draft)
    return await show(session, draft, ctx)


async def _picked_new(
    session, draft: Draft, ctx: FlowContext, new: dict[str, Any], channel: Channel, note: str
) -> Step:
    """The typed channel is now in the library (new or existing): select it, go on."""
    selected = list(draft.scratch.get("sel", []))
    if _channel_ref(channel) not in selected:
        selected.append(_channel_ref(channel))
    queue = list(new.get("queue", []))
    back_to = {"return": draft.scratch["return"]} if "return" in draft.scratch else {}
    scratch: dict[str, Any] = {**_kept(draft), **back_to, "sel": selected, "added": channel.name}
    if queue:
        scratch["new"] = {"name": queue[0], "queue": queue[1:]}
    draft.scratch = scratch
    _touch(draft)
    return await show(session, draft, ctx, notes=(note,))


# ---- one message ----------------------------------------------------------------------------


async def oneshot(session: AsyncSession, ctx: FlowContext, text: str) -> Step:
    """`/daily` followed by "label: value" lines, or by a sentence (bot/forms/sentence.py):
    parse, keep what is valid, show what is not."""
    parsed = parse_message(ctx.form, text, ctx.fields)
    if not sentence.labels_win(parsed, text):  # else the reader's reading could not be used
        understood = await sentence.understand(session, ctx, text)
        if sentence.better_than_labels(understood, parsed):
            return await sentence.file(session, ctx, understood)
    step = await begin(session, ctx, opened)
    if step.kind == StepKind.NOTHING_DUE:
        step = await begin_anyway(session, ctx, opened)
    if step.kind in (StepKind.OTHER_FORM, StepKind.NO_RESULTS):  # no draft to put the answers in
        return step
    draft = step.draft
    answers = {**draft.answers, **{k: v for k, v in parsed.answers.items()}}
    unknown_channels: list[str] = []
    for spec in ctx.form.fields:
        if spec.type == "channels" and spec.key in parsed.answers:
            answers[spec.key], unknown_channels = await _resolve(session, parsed.answers[spec.key])
    for spec in ctx.form.fields:
        if spec.suggest and answers.get(spec.key) is None:
            answers[spec.key] = await _suggestion(session, ctx, draft, spec.suggest)
    draft.answers = answers
    _touch(draft)
    return await _after_oneshot(session, draft, ctx, parsed, unknown_channels, step.notes)


async def _resolve(session: AsyncSession, names: list[str]) -> tuple[list, list[str]]:
    found, unknown = [], []
    for name in names:
        hits = await channels.search(session, name, limit=1)
        if hits and channels.normalise(hits[0].name) == channels.normalise(name):
            found.append(_channel_ref(hits[0]))
        else:
            unknown.append(name)
    return found or None, unknown


async def _after_oneshot(
    session, draft: Draft, ctx: FlowContext, parsed, unknown_channels, notes
) -> Step:
    notes = (*notes, "oneshot")
    problem = next((f for f in ctx.form.fields if f.key in parsed.errors), None)
    error = parsed.errors.get(problem.key) if problem else None
    if problem is None and unknown_channels:
        problem = next(f for f in ctx.form.fields if f.type == "channels")
        draft.scratch = {
            "sel": draft.answers.get(problem.key) or [],
            "new": {"name": unknown_channels[0], "queue": unknown_channels[1:]},
        }
    if problem is None:
        missing = missing_required(ctx.form, draft.answers)
        problem = next((f for f in ctx.form.fields if f.key in missing), None)
        error = FieldError("empty") if problem else None
    if problem is not None and problem.type in FILE_TYPES and error.reason == "empty":
        # Files cannot come in the text: it is kept, and what is missing is asked for next.
        step = await _next_missing(session, draft, ctx, (*notes, "files_next"))
    elif problem is None:
        draft.mode = Mode.REVIEW
        step = await show(session, draft, ctx, notes=(*notes, *_files_optional(draft, ctx)))
    else:
        draft.mode, draft.cursor = Mode.ASK, str(ctx.form.fields.index(problem))
        draft.scratch = {**draft.scratch, "return": "review"}
        step = await show(session, draft, ctx, error=error, notes=notes)
    step.notes = (*step.notes, *(f"unknown_line:{line}" for line in parsed.unknown_lines[:5]))
    return step


_ACTIONS = {
    "c": _choose,
    "t": _toggle,
    "d": _done,
    "cl": _clear,
    "s": _skip,
    "u": _use_suggestion,
    "k": _keep,
    "b": _back,
    "p": _page,
    "e": _pick_menu,
    "f": _edit_field,
    "r": _review,
    "ok": _submit,
    "x": _cancel,
}
