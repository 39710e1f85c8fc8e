"""Everything recorded in a date range as an XLSX workbook: reports, channels, feedback, plans,
tasks."""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import Period, at_local
from bot.config import Settings
from bot.forms import fields as field_types
from bot.forms.fields import FieldContext
from bot.forms.spec import Choice, FieldSpec, FormSpec
from bot.i18n import N_, normalise, t
from bot.models import (
    ACTIVITY_FORM,
    ActivityPlan,
    ApprovalRequest,
    Channel,
    ChannelStageChange,
    Feedback,
    Report,
    Staff,
    Task,
    TaskEvent,
)
from bot.render import render
from bot.services.activity_results import Effect, effects, number_text
from bot.services.channels import DIFFICULTY_LABELS, STAGE_LABELS
from bot.services.feedback import CATEGORY_LABELS, SEGMENT_LABELS, SEVERITY_LABELS
from bot.services.prefill import generated_text
from bot.services.sheets import Formatted, Sheet
from bot.states import TaskStatus

OWED_CADENCES = ("daily", "weekly", "monthly", "quarterly", "yearly")
MONEY = "#,##0.00"
PERCENT = "0%"
DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm"
UNLABELLED_POSITION = 10**6  # after every field that has a label
TITLE_MAX = 31  # Excel's limit on a sheet name
CELL_MAX = 32_767  # Excel's limit on the text of one cell
WIDTH_MIN, WIDTH_MAX = 6, 60
# Excel refuses these in sheet names, and reserves "History" for its change tracking.
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")
_RESERVED_TITLES = {"history"}
_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")

STATUS_LABELS = {
    "pending": N_("waiting for a decision"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "changes_requested": N_("changes requested"),
    "running": N_("running"),
    "completed": N_("completed"),
    "withdrawn": N_("withdrawn"),
}
# What the director decided, read off the status a decided plan is in now.
DECISION_OF_STATUS = {
    "approved": "approved",
    "running": "approved",
    "completed": "approved",
    "rejected": "rejected",
    "changes_requested": "changes_requested",
}
REPORT_HEADER = (N_("Name"), N_("Period"), N_("Filed at"), N_("Late"), N_("Version"))
CHANNEL_HEADER = (
    N_("Channel"), N_("Industry"), N_("Region"), N_("Stage"), N_("Owner"), N_("Contact"),
    N_("Phone"), N_("Difficulty"), N_("Created at"), N_("Updated at"),
)  # fmt: skip
STAGE_CHANGE_HEADER = (N_("Channel"), N_("From stage"), N_("To stage"), N_("Changed by"), N_("Day"))
FEEDBACK_HEADER = (
    N_("Week"), N_("Author"), N_("Category"), N_("Segment"), N_("Severity"), N_("Users"),
    N_("Channel"), N_("Text"), N_("Source"), N_("Created at"),
)  # fmt: skip
ACTIVITY_HEADER = (
    N_("Plan no."), N_("Title"), N_("Proposer"), N_("Status"), N_("Version"), N_("Start date"),
    N_("End date"), N_("Budget (CNY)"), N_("Submitted at"), N_("Decided at"), N_("Decided by"),
    N_("Decision"), N_("Reason"), N_("Actual cost (CNY)"), N_("Completed at"), N_("Results"),
    N_("Average effect"),
)  # fmt: skip

FILES_HEADER = (
    N_("Form"), N_("Period or date"), N_("Field"), N_("File name"), N_("Size (bytes)"),
    N_("Type"), N_("Sent by"), N_("Sent at"), N_("File ID"),
)  # fmt: skip
FILE_KINDS = {"photo": N_("photo"), "document": N_("document")}
TASK_HEADER = (
    N_("Task no."), N_("Task"), N_("Assigned by"), N_("Assignee"), N_("Deadline"), N_("Status"),
    N_("Done at"), N_("On time"), N_("Postponements"),
)  # fmt: skip
# Never sent: not work anyone was given.
UNSENT = (TaskStatus.DRAFT, TaskStatus.CANCELLED)
# A step that moved the deadline later (approved, or one's own task simply moved).
POSTPONED = ("postpone_approved", "postponed")


@dataclass(frozen=True)
class _Scope:
    """What every sheet needs: the range, the language, and names to show instead of ids."""

    settings: Settings
    locale: str
    tz: ZoneInfo
    start: date
    end: date
    people: dict[int, str]
    channels: list[Channel]
    channel_names: dict[int, str]

    @property
    def since(self) -> datetime:
        """The range's first moment (aware UTC)."""
        return at_local(self.start, time(0), self.tz)

    @property
    def until(self) -> datetime:
        """The moment right after the range (aware UTC)."""
        return at_local(self.end + timedelta(days=1), time(0), self.tz)

    def tr(self, msgid: str) -> str:
        return t(self.locale, msgid)

    def header(self, msgids: Iterable[str]) -> list[str]:
        return [self.tr(m) for m in msgids]

    def local(self, moment: datetime | None) -> datetime | None:
        """A stored moment as team-local wall time (Excel has no time zones)."""
        return moment.astimezone(self.tz).replace(tzinfo=None) if moment else None

    def person(self, staff_id: int | None) -> str | None:
        return self.people.get(staff_id) if staff_id is not None else None


async def build(
    session: AsyncSession,
    settings: Settings,
    start: date,
    end: date,
    locale: str = "zh",
    extra_sheets: Sequence[Sheet] = (),
) -> bytes:
    """An XLSX workbook of everything recorded from start to end (team-local dates, inclusive)."""
    return to_xlsx([*await sheets(session, settings, start, end, locale), *extra_sheets])


async def sheets(
    session: AsyncSession, settings: Settings, start: date, end: date, locale: str = "zh"
) -> list[Sheet]:
    """The workbook's sheets in order: one per form, channels, stage changes, feedback, plans,
    tasks, files."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    scope = await _scope(session, settings, start, end, locale)
    return [
        *await _report_sheets(session, scope),
        _channel_sheet(scope),
        await _stage_change_sheet(session, scope),
        await _feedback_sheet(session, scope),
        await _activity_sheet(session, scope),
        await _task_sheet(session, scope),
        _files_sheet(scope, await _filed_files(session, scope)),
    ]


async def _scope(
    session: AsyncSession, settings: Settings, start: date, end: date, locale: str
) -> _Scope:
    rows = await session.execute(select(Staff.id, Staff.display_name))
    people = {staff_id: name for staff_id, name in rows}
    channels = list(await session.scalars(select(Channel).order_by(Channel.id)))
    names = {c.id: c.name for c in channels}
    return _Scope(
        settings, normalise(locale), settings.team.tz, start, end, people, channels, names
    )


# ---- reports ---------------------------------------------------------------------------------


async def _report_sheets(session: AsyncSession, scope: _Scope) -> list[Sheet]:
    by_form: dict[str, list[Report]] = {}
    for report in await _reports_in_range(session, scope):
        by_form.setdefault(report.form_key, []).append(report)
    owed = [f for f in scope.settings.reports.forms if f.cadence in OWED_CADENCES]
    found = [_form_sheet(scope, f.key, by_form.pop(f.key, [])) for f in owed]
    # Forms removed from config (or no longer owed) still have their reports exported.
    return found + [_form_sheet(scope, key, by_form[key]) for key in sorted(by_form)]


async def _reports_in_range(session: AsyncSession, scope: _Scope) -> list[Report]:
    # Period keys start with their (ISO week) year, so this cheaply narrows what is parsed.
    query = select(Report).where(
        Report.period_key >= f"{scope.start.year - 1:04d}",
        Report.period_key < f"{scope.end.year + 2:04d}",
    )
    found = []
    for report in await session.scalars(query):
        period = _period(report.period_key)
        if period is not None and period.start <= scope.end and period.end >= scope.start:
            found.append((period.start, scope.person(report.staff_id) or "", report.id, report))
    return [row[-1] for row in sorted(found, key=lambda row: row[:3])]


def _period(key: str) -> Period | None:
    try:
        return Period.parse(key)
    except ValueError:
        return None


def _form_sheet(scope: _Scope, form_key: str, reports: list[Report]) -> Sheet:
    form = scope.settings.reports.form(form_key)
    title = form.name.get(scope.locale) if form else form_key
    columns = _field_columns(form, reports, scope.locale)
    header = scope.header(REPORT_HEADER) + [label for _, label in columns]
    fctx = _field_context(scope)
    rows = [
        [
            scope.person(r.staff_id), r.period_key, scope.local(r.filed_at),
            scope.tr(N_("Yes") if r.late else N_("No")), r.version,
            *(_answer_cell(scope, fctx, _spec(form, r, key), r.answers.get(key))
              for key, _ in columns),
        ]
        for r in reports
    ]  # fmt: skip
    return title, header, rows


def _field_columns(
    form: FormSpec | None, reports: list[Report], locale: str
) -> list[tuple[str, str]]:
    """(field key, label): the form's fields in order, then fields only old reports have."""
    columns = {f.key: f.label.get(locale) for f in form.fields} if form else {}
    gone: dict[str, tuple[int, str]] = {}
    for report in reports:  # oldest period first, so the newest filing's label wins
        for key, entry in (report.fields or {}).items():
            if key not in columns and isinstance(entry, dict):
                label = field_types.field_from_snapshot(entry, key).label.get(locale)
                gone[key] = (_position(entry), label)
        # An answer without any label (a report stored without its snapshot) is not dropped.
        for key in report.answers or {}:
            if key not in columns and key not in gone:
                gone[key] = (UNLABELLED_POSITION, key)
    extra = sorted(gone.items(), key=lambda item: (item[1][0], item[0]))
    return [*columns.items(), *((key, label) for key, (_, label) in extra)]


def _position(entry: Any) -> int:
    position = entry.get("position") if isinstance(entry, dict) else None
    return position if isinstance(position, int) else 0


def _spec(form: FormSpec | None, report: Report, key: str) -> FieldSpec | None:
    """The field as the answer was filed: the current one unless its type changed since."""
    entry = (report.fields or {}).get(key)
    entry = entry if isinstance(entry, dict) else None
    current = form.field(key) if form else None
    if current is not None and (entry is None or entry.get("type") == current.type):
        return current
    return field_types.field_from_snapshot(entry, key) if entry is not None else None


def _field_context(scope: _Scope) -> FieldContext:
    reports = scope.settings.reports
    return FieldContext(scope.locale, scope.end, reports.regions, reports.industries)


def _answer_cell(scope: _Scope, fctx: FieldContext, spec: FieldSpec | None, value: Any) -> object:
    """A stored answer as a cell: numbers as numbers, money in yuan, dates as dates."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    generated = generated_text(value, fctx)  # the bot's pre-fill, kept as figures
    if generated is not None:  # … in the export's language
        return generated
    if spec is None:
        return field_types.display(_PLAIN, value, fctx)
    if spec.type in ("int", "decimal"):
        number = _number(value)
        return number if number is not None else str(value)
    if spec.type == "money":
        return (
            _yuan(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)
        )
    if spec.type == "date":
        return _date(value)
    if spec.type == "channels":
        return _channel_list(scope, value)
    return field_types.display(spec, value, fctx)


_PLAIN = FieldSpec.model_construct(key="plain", type="text", fields=(), choices=())


def _number(value: Any) -> int | Decimal | None:
    if isinstance(value, bool | list | dict):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return int(number) if number == number.to_integral_value() else number


def _date(value: Any) -> date | str:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return str(value)


def _channel_list(scope: _Scope, value: Any) -> str:
    """Channel names (today's, if renamed since), in the order they were picked."""
    names = scope.channel_names
    items = value if isinstance(value, list) else [value]
    return _join([_channel_name(names, item) for item in items], scope.locale)


def _channel_name(names: dict[int, str], item: Any) -> str:
    if isinstance(item, dict):
        channel_id = item.get("id")
        return names.get(channel_id) or str(item.get("name") or channel_id or "")
    if isinstance(item, int) and not isinstance(item, bool):
        return names.get(item, str(item))
    return str(item)


def _join(parts: Iterable[str], locale: str) -> str:
    return (", " if locale == "en" else "、").join(p for p in parts if p)


def _yuan(fen: int | None) -> Formatted | None:
    return None if fen is None else Formatted(Decimal(fen) / 100, MONEY)


# ---- the channel library ---------------------------------------------------------------------


def _channel_sheet(scope: _Scope) -> Sheet:
    """Every channel as the library stands now (the range does not apply)."""
    reports = scope.settings.reports
    rows = [
        [
            c.name, _choice(reports.industries, c.industry, scope.locale),
            _choice(reports.regions, c.region, scope.locale), _label(scope, STAGE_LABELS, c.stage),
            scope.person(c.owner_id), c.contact, c.phone,
            _label(scope, DIFFICULTY_LABELS, c.difficulty),
            scope.local(c.created_at), scope.local(c.updated_at),
        ]
        for c in scope.channels
    ]  # fmt: skip
    return scope.tr(N_("Channel library")), scope.header(CHANNEL_HEADER), rows


def _choice(choices: Sequence[Choice], key: str, locale: str) -> str:
    return next((c.label.get(locale) for c in choices if c.key == key), key)


def _label(scope: _Scope, labels: dict[str, str], key: str | None) -> str | None:
    if key is None:
        return None
    return scope.tr(labels[key]) if key in labels else key


async def _stage_change_sheet(session: AsyncSession, scope: _Scope) -> Sheet:
    changes = await session.scalars(
        select(ChannelStageChange)
        .where(ChannelStageChange.day >= scope.start, ChannelStageChange.day <= scope.end)
        .order_by(ChannelStageChange.at, ChannelStageChange.id)
    )
    names = scope.channel_names
    rows = [
        [
            names.get(c.channel_id), _label(scope, STAGE_LABELS, c.from_stage),
            _label(scope, STAGE_LABELS, c.to_stage), scope.person(c.by_staff_id), c.day,
        ]
        for c in changes
    ]  # fmt: skip
    return scope.tr(N_("Stage changes")), scope.header(STAGE_CHANGE_HEADER), rows


# ---- feedback --------------------------------------------------------------------------------


async def _feedback_sheet(session: AsyncSession, scope: _Scope) -> Sheet:
    items = await session.scalars(
        select(Feedback)
        .where(Feedback.created_at >= scope.since, Feedback.created_at < scope.until)
        .order_by(Feedback.created_at, Feedback.id)
    )
    names = scope.channel_names
    rows = [
        [
            f.week_key, scope.person(f.author_id), _label(scope, CATEGORY_LABELS, f.category),
            _label(scope, SEGMENT_LABELS, f.segment), _label(scope, SEVERITY_LABELS, f.severity),
            f.count, names.get(f.channel_id) if f.channel_id else None, f.text,
            _source(scope, f), scope.local(f.created_at),
        ]
        for f in items
    ]  # fmt: skip
    return scope.tr(N_("Feedback")), scope.header(FEEDBACK_HEADER), rows


def _source(scope: _Scope, item: Feedback) -> str:
    if item.source != "forward":
        return scope.tr(N_("Typed in"))
    if item.forwarded_from:
        return f"{scope.tr(N_('Forwarded from'))} {item.forwarded_from}"
    return scope.tr(N_("Forwarded"))


# ---- tasks -----------------------------------------------------------------------------------


async def _task_sheet(session: AsyncSession, scope: _Scope) -> Sheet:
    """Tasks given out that were due, assigned or done in the range (unsent drafts left out)."""

    def within(column):
        return and_(column >= scope.since, column < scope.until)

    tasks = list(
        await session.scalars(
            select(Task)
            .where(
                Task.status.not_in(UNSENT),
                or_(within(Task.deadline), within(Task.created_at), within(Task.done_at)),
            )
            .order_by(Task.deadline, Task.id)
        )
    )
    counts = await session.execute(
        select(TaskEvent.task_id, func.count())
        .where(TaskEvent.task_id.in_([t.id for t in tasks]), TaskEvent.kind.in_(POSTPONED))
        .group_by(TaskEvent.task_id)
    )
    postponed = dict(counts.all())
    rows = [
        [
            task.id, task.title, scope.person(task.assigner_id), scope.person(task.assignee_id),
            scope.local(task.deadline), render("task_status.html.j2", scope.locale,
                                               value=task.status).strip(),
            scope.local(task.done_at), _on_time(scope, task), postponed.get(task.id, 0),
        ]
        for task in tasks
    ]  # fmt: skip
    return scope.tr(N_("Tasks")), scope.header(TASK_HEADER), rows


def _on_time(scope: _Scope, task: Task) -> str | None:
    """Yes when marked done by the (last approved) deadline; No when done late or still open
    past it; blank while it is not due yet or was handed back."""
    if task.done_at is not None:
        return scope.tr(N_("Yes") if task.done_at <= task.deadline else N_("No"))
    if task.status == TaskStatus.RETURNED or task.deadline >= clock.now():
        return None
    return scope.tr(N_("No"))


# ---- activities ------------------------------------------------------------------------------


async def _activity_sheet(session: AsyncSession, scope: _Scope) -> Sheet:
    """Plans that run during the range, or were submitted in it."""
    rows = [_activity_row(scope, plan) for plan in await _plans_in_range(session, scope)]
    return scope.tr(N_("Activities")), scope.header(ACTIVITY_HEADER), rows


async def _plans_in_range(session: AsyncSession, scope: _Scope) -> list[ActivityPlan]:
    """Plans that run during the range, or were submitted in it."""
    plans = await session.scalars(
        select(ActivityPlan)
        .where(
            or_(
                and_(ActivityPlan.start_date <= scope.end, ActivityPlan.end_date >= scope.start),
                and_(
                    ActivityPlan.submitted_at >= scope.since,
                    ActivityPlan.submitted_at < scope.until,
                ),
            )
        )
        .order_by(ActivityPlan.id)
    )
    return list(plans)


def _activity_row(scope: _Scope, plan: ActivityPlan) -> list[object]:
    found = effects(plan)
    decision = DECISION_OF_STATUS.get(plan.status) if plan.decided_at else None
    return [
        plan.id, plan.title, scope.person(plan.proposer_id),
        _label(scope, STATUS_LABELS, plan.status), plan.version, plan.start_date, plan.end_date,
        _yuan(plan.budget_fen), scope.local(plan.submitted_at), scope.local(plan.decided_at),
        scope.person(plan.decided_by), _label(scope, STATUS_LABELS, decision),
        plan.decision_reason, _yuan(plan.actual_cost_fen), scope.local(plan.completed_at),
        "\n".join(_effect_text(e) for e in found) or None, _average(found),
    ]  # fmt: skip


def _effect_text(effect: Effect) -> str:
    """ "下载量: 4,200/5,000 次 (84%)"."""
    text = f"{effect.indicator}: {number_text(effect.actual)}/{number_text(effect.target)}"
    text += f" {effect.unit}" if effect.unit else ""
    return text + (f" ({effect.ratio:.0%})" if effect.ratio is not None else "")


def _average(found: list[Effect]) -> Formatted | None:
    ratios = [e.ratio for e in found if e.ratio is not None]
    if not ratios:
        return None
    mean = sum(ratios, Decimal(0)) / len(ratios)
    return Formatted(mean.quantize(Decimal("0.0001")), PERCENT)


# ---- files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FiledFile:
    """A photo or document kept in a filed report or plan (bot/forms/fields.check_file)."""

    form_key: str
    form_name: str
    period: str  # the report's period key (ad-hoc forms: the day), a plan's submission day
    field_label: str
    who: str
    item: dict[str, Any]

    @property
    def file_id(self) -> str:
        return str(self.item.get("file_id") or "")

    @property
    def name(self) -> str:
        return str(self.item.get("name") or self.file_id)

    @property
    def size(self) -> int | None:
        size = self.item.get("size")
        return size if isinstance(size, int) and not isinstance(size, bool) else None


async def filed_files(
    session: AsyncSession, settings: Settings, start: date, end: date, locale: str = "zh"
) -> list[FiledFile]:
    """Every photo and document in the reports of the range, the plans of the range (as the
    Activities sheet picks them) and the approval requests submitted in it."""
    return await _filed_files(session, await _scope(session, settings, start, end, locale))


async def _filed_files(session: AsyncSession, scope: _Scope) -> list[FiledFile]:
    found = []
    for report in await _reports_in_range(session, scope):
        form = scope.settings.reports.form(report.form_key)
        name = form.name.get(scope.locale) if form else report.form_key
        found += _files_of(scope, report.form_key, name, report.period_key, report, report.staff_id)
    plan_form = next((f for f in scope.settings.reports.forms if f.target == "activity_plan"), None)
    for plan in await _plans_in_range(session, scope):
        key, name = (plan_form.key, plan_form.name.get(scope.locale)) if plan_form else ("plan", "")
        day = scope.local(plan.submitted_at).date().isoformat()
        found += _files_of(scope, key, name or key, day, plan, plan.proposer_id)
    for request in await _requests_in_range(session, scope):
        form = scope.settings.reports.form(request.form_key)
        name = form.name.get(scope.locale) if form else request.form_key
        day = scope.local(request.submitted_at).date().isoformat()
        found += _files_of(scope, request.form_key, name, day, request, request.proposer_id)
    return found


async def _requests_in_range(session: AsyncSession, scope: _Scope) -> list[ApprovalRequest]:
    """Approval requests (expense claims, content …) submitted in the range; activity plans,
    requests too, have a sheet of their own."""
    found = await session.scalars(
        select(ApprovalRequest)
        .where(
            ApprovalRequest.submitted_at >= scope.since,
            ApprovalRequest.submitted_at < scope.until,
            ApprovalRequest.form_key != ACTIVITY_FORM,
        )
        .order_by(ApprovalRequest.submitted_at, ApprovalRequest.id)
    )
    return list(found)


def _files_of(
    scope: _Scope, form_key: str, form_name: str, period: str, filed: Any, staff_id: int
) -> list[FiledFile]:
    """The files of one report or plan, read by their shape (so a field removed from config, or
    a file field once of another type, still has its files listed)."""
    snapshot = filed.fields if isinstance(filed.fields, dict) else {}
    entries = sorted(snapshot.items(), key=lambda kv: _position(kv[1]))
    keys = [k for k, _ in entries] + sorted(set(filed.answers or {}) - set(snapshot))
    found = []
    for key in keys:
        label = _file_field_label(scope, snapshot.get(key), key)
        for item in _file_items((filed.answers or {}).get(key)):
            who = scope.person(item.get("staff_id")) or scope.person(staff_id) or ""
            found.append(FiledFile(form_key, form_name, period, label, who, item))
    return found


def _file_field_label(scope: _Scope, entry: Any, key: str) -> str:
    if not isinstance(entry, dict):
        return key
    return field_types.field_from_snapshot(entry, key).label.get(scope.locale)


def _file_items(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [
        item
        for item in value
        if isinstance(item, dict) and item.get("file_id") and item.get("kind") in FILE_KINDS
    ]


def _files_sheet(scope: _Scope, files: list[FiledFile]) -> Sheet:
    rows = [
        [
            f.form_name, f.period, f.field_label, f.name, f.size,
            _file_type(scope, f.item), f.who, scope.local(_moment(f.item.get("at"))), f.file_id,
        ]
        for f in files
    ]  # fmt: skip
    return scope.tr(N_("Files")), scope.header(FILES_HEADER), rows


def _file_type(scope: _Scope, item: dict[str, Any]) -> str:
    kind = scope.tr(FILE_KINDS[item["kind"]])
    return f"{kind} · {item['mime']}" if item.get("mime") else kind


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


# ---- the workbook ----------------------------------------------------------------------------


def to_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """The sheets as an XLSX file: bold frozen header with a filter, columns sized to fit."""
    book = Workbook()
    book.remove(book.active)
    for (_, header, rows), title in zip(sheets, sheet_titles([s[0] for s in sheets]), strict=True):
        _fill(book.create_sheet(title), header, rows)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def sheet_titles(wanted: Sequence[str]) -> list[str]:
    """Names Excel accepts: no []:*?/\\, at most 31 characters, unique ignoring case."""
    used: set[str] = set()
    titles = []
    for title in wanted:
        base = _trimmed(_BAD_TITLE.sub("-", title))[:TITLE_MAX]
        base = _trimmed(base) or "Sheet"
        candidate, number = base, 2
        while candidate.casefold() in used | _RESERVED_TITLES:
            suffix = f" ({number})"
            candidate, number = _trimmed(base[: TITLE_MAX - len(suffix)]) + suffix, number + 1
        used.add(candidate.casefold())
        titles.append(candidate)
    return titles


def _trimmed(title: str) -> str:
    # Excel also refuses a name that begins or ends with an apostrophe.
    return " ".join(title.split()).strip("'").strip()


def _fill(sheet, header: list[str], rows: Sequence[Sequence[object]]) -> None:
    widths: dict[int, int] = {}
    for column, text in enumerate(header, 1):
        cell = sheet.cell(row=1, column=column)
        _put(cell, text)
        cell.font = _BOLD
        widths[column] = _width(text) + 2  # bold, and room for the filter button
    for row_number, row in enumerate(rows, 2):
        for column, value in enumerate(row, 1):
            _put(sheet.cell(row=row_number, column=column), value)
            widths[column] = max(widths.get(column, 0), _width(value))
    for column, width in widths.items():
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = min(max(width + 1, WIDTH_MIN), WIDTH_MAX)
    sheet.freeze_panes = "A2"
    if header:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"


def _put(cell, value: object) -> None:
    number_format = None
    if isinstance(value, Formatted):
        value, number_format = value
    if isinstance(value, Decimal) and not value.is_finite():
        value = None
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:CELL_MAX]
        cell.value = value
        cell.data_type = "s"  # never a formula, whatever a user typed ("=HYPERLINK(…)")
        if "\n" in value:
            cell.alignment = _WRAP
        return
    cell.value = value
    if isinstance(value, datetime):
        cell.number_format = number_format or DATETIME
    elif isinstance(value, date):
        cell.number_format = number_format or DATE
    elif number_format:
        cell.number_format = number_format


def _width(value: object) -> int:
    """Characters the value needs on screen (CJK characters count double)."""
    if isinstance(value, Formatted):
        value = value.value
    if value is None:
        return 0
    if isinstance(value, datetime):
        return len("2026-11-26 18:00")
    if isinstance(value, date):
        return len("2026-11-26")
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return len(f"{value:,}") + 1
    return max((_text_width(line) for line in str(value).split("\n")), default=0)


def _text_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
