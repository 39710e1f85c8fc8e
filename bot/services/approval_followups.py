"""After an approval: the published link, the content's figures and a research's results, asked
of the proposer when due, reminded, and closed by the answer (decision 63 in docs/decisions.md).

[forms.approval.after] names them (bot/forms/spec.py ApprovalAfter); each key's action below runs
in the approving transaction and writes an `approval_followups` row. The link is asked at once
(a PUBLISHED_LINK prompt: the next text is it); the figures are owed `figures_after_days` working
days after the link was given (after the approval when no link is asked), the results the first
working day after the request's `results_after` date, both filed through an adhoc report form
(filing one closes the oldest open follow-up of that form). The tick (`run`) schedules, asks and
reminds; every message has a de-duplication key, so two processes ticking send each once.
"""

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.calendar import WorkCalendar, at_local, local_date
from bot.config import ReminderSettings
from bot.forms.spec import ReportsConfig
from bot.models import ApprovalFollowup, ApprovalRequest, Prompt, Report, Staff
from bot.outbox import enqueue, enqueue_edit
from bot.render import render
from bot.services import activities, approvals, audit, prompts, reminders, team
from bot.services import staff as staff_service
from bot.services.errors import ServiceError
from bot.services.obligations import clock_time
from bot.states import GRANTED


class FollowupKind(StrEnum):
    """What an approved request still asks for."""

    LINK = "link"  # the published link (content review)
    FIGURES = "figures"  # the content's figures, through [after] figures_form
    RESULTS = "results"  # a research's results, through [after] results_form


class FollowupStatus(StrEnum):
    """An `approval_followups` row."""

    WAITING = "waiting"  # not due yet (due_at None: the tick has not scheduled it)
    ASKED = "asked"  # the proposer was asked; reminded until answered
    DONE = "done"
    CANCELLED = "cancelled"  # the request is no longer approved


OPEN = (FollowupStatus.WAITING, FollowupStatus.ASKED)
# Reminders this many working days after the ask (same time of day), each once; after the last
# the follow-up stays open in /mine.
REMIND_AFTER_WORKDAYS = (1, 3)
LINK = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+\S*$", re.IGNORECASE)
LINK_MAX = 1000
# The form key of each filed kind in [forms.approval.after].
FORM_KEY = {FollowupKind.FIGURES: "figures_form", FollowupKind.RESULTS: "results_form"}


class FollowupError(ServiceError):
    """An answer that cannot be taken; `reason` picks the message."""


def _after(request: ApprovalRequest) -> dict[str, Any]:
    # [forms.approval.after] as it was when the request was (re)submitted.
    return dict(request.steps.get("after") or {})


def about_key(row: ApprovalFollowup) -> str:
    """The sender's key of a follow-up's messages: sent only while it is open (still_wanted)."""
    return f"fu:{row.id}"


async def still_wanted(session: AsyncSession, about: str) -> bool:
    """The sender's check: an ask or reminder goes out only while its follow-up is open."""
    row = await session.get(ApprovalFollowup, int(about.split(":")[1]), populate_existing=True)
    return row is not None and row.status in OPEN


# ---- after the last approval ------------------------------------------------------------------


async def _create(
    session: AsyncSession, request: ApprovalRequest, kind: FollowupKind, due_at: datetime | None
) -> ApprovalFollowup:
    found = await session.scalar(
        select(ApprovalFollowup).where(
            ApprovalFollowup.request_id == request.id, ApprovalFollowup.kind == kind
        )
    )
    if found is not None:
        return found
    row = ApprovalFollowup(
        request_id=request.id, staff_id=request.proposer_id, kind=kind, due_at=due_at,
        status=FollowupStatus.WAITING, created_at=clock.now(),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


@approvals.after_approval("ask_link")
async def _ask_link(
    session: AsyncSession, request: ApprovalRequest, proposer: Staff, wanted: bool
) -> None:
    """ask_link = true: the proposer is asked for the published link right away."""
    if not wanted:
        return
    row = await _create(session, request, FollowupKind.LINK, clock.now())
    await _ask(session, row, request, proposer, clock.now())


@approvals.after_approval("figures_after_days")
async def _figures(
    session: AsyncSession, request: ApprovalRequest, proposer: Staff, days: int
) -> None:
    """The figures are owed `days` working days after the link; with no link asked, after the
    approval (the tick dates it from this row's creation)."""
    if not _after(request).get("ask_link"):
        await _create(session, request, FollowupKind.FIGURES, None)


@approvals.after_approval("results_after")
async def _results(
    session: AsyncSession, request: ApprovalRequest, proposer: Staff, field: str
) -> None:
    """The results are owed once the request's date field `field` has passed (the tick dates
    it on the working calendar)."""
    await _create(session, request, FollowupKind.RESULTS, None)


@approvals.after_approval("figures_form")
@approvals.after_approval("results_form")
async def _form_named(
    session: AsyncSession, request: ApprovalRequest, proposer: Staff, form_key: str
) -> None:
    """Read by figures_after_days and results_after: nothing to do on its own."""


# ---- the tick -----------------------------------------------------------------------------------


async def run(
    session: AsyncSession,
    cal: WorkCalendar,
    tz: ZoneInfo,
    cfg: ReminderSettings,
    reports: ReportsConfig,
) -> int:
    """Date what is not dated yet, cancel what no longer applies, ask what is due and remind
    what is unanswered (not in quiet hours, on working days only, unless the form's presenter
    asks at any hour: an activity plan). Returns how many queued."""
    now = clock.now()
    await _schedule(session, cal, tz, cfg)
    hushed = reminders.quiet(now, tz, cfg) or not cal.is_workday(local_date(now, tz))
    queued = 0
    rows = await session.scalars(
        select(ApprovalFollowup)
        .where(ApprovalFollowup.status.in_(OPEN), ApprovalFollowup.due_at <= now)
        .order_by(ApprovalFollowup.due_at, ApprovalFollowup.id)
    )
    for row in list(rows):
        request = await session.get(ApprovalRequest, row.request_id)
        if request is None or request.status not in GRANTED:
            await _set(session, row, FollowupStatus.CANCELLED)
            continue
        if hushed and approvals.presenter(request).followups_held:
            continue
        person = await session.get(Staff, row.staff_id)
        if person is None or not person.active:
            continue  # left: waits for a hand-over (bot/services/handover.py)
        if row.status == FollowupStatus.WAITING:
            # Conditional: of two processes ticking at once, one asks.
            if await _set(session, row, FollowupStatus.ASKED, asked_at=now):
                queued += await _ask(session, row, request, person, now, reports=reports)
            continue
        queued += await _remind(session, row, request, person, cal, tz, now, reports)
    return queued


async def _schedule(
    session: AsyncSession, cal: WorkCalendar, tz: ZoneInfo, cfg: ReminderSettings
) -> None:
    undated = await session.scalars(
        select(ApprovalFollowup).where(
            ApprovalFollowup.status == FollowupStatus.WAITING, ApprovalFollowup.due_at.is_(None)
        )
    )
    morning = clock_time(cfg.next_day_time)
    for row in list(undated):
        request = await session.get(ApprovalRequest, row.request_id)
        after = _after(request)
        own = approvals.presenter(request).followup_due(request, row.kind, tz)
        if own is not None:
            row.due_at = own
        elif row.kind == FollowupKind.FIGURES:
            days = int(after.get("figures_after_days") or 1)
            row.due_at = activities.decision_deadline(row.created_at, cal, tz, days)
        else:  # results: the morning of the first working day after the date
            end = _day(request.answers.get(after.get("results_after") or ""))
            end = end or local_date(row.created_at, tz)
            row.due_at = at_local(cal.next_workday(end), morning, tz)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


async def _set(
    session: AsyncSession, row: ApprovalFollowup, status: FollowupStatus, **values: Any
) -> bool:
    """Move an open row to `status`; False when another process (or answer) moved it first."""
    changed = await session.execute(
        update(ApprovalFollowup)
        .where(ApprovalFollowup.id == row.id, ApprovalFollowup.status == row.status)
        .values(status=status, **values)
    )
    await session.refresh(row)
    return changed.rowcount == 1


async def _ask(
    session: AsyncSession,
    row: ApprovalFollowup,
    request: ApprovalRequest,
    person: Staff,
    now: datetime,
    step: int = 0,
    *,
    reports: ReportsConfig | None = None,
) -> int:
    if row.status == FollowupStatus.WAITING:
        await _set(session, row, FollowupStatus.ASKED, asked_at=now)
    # An offer: a question the person is answering now (another link too) is not displaced;
    # a reminder opens it again once that one is answered.
    if row.kind == FollowupKind.LINK and await prompts.current(session, person.id) is None:
        await prompts.ask(
            session, person.id, prompts.Kind.PUBLISHED_LINK, about=about_key(row),
            details={"fu": row.id},
        )  # fmt: skip
    return await approvals.presenter(request).ask_followup(
        session, row, request, person, step, reports
    )


async def ask_text(
    session: AsyncSession,
    row: ApprovalFollowup,
    request: ApprovalRequest,
    person: Staff,
    step: int,
    reports: ReportsConfig | None,
) -> int:
    """The engine's ask (step 0) or reminder (step 1, 2) of a follow-up; how many queued."""
    command = _command(reports, request, row)
    key = f"fu:{row.id}:ask" if step == 0 else f"fu:{row.id}:remind:{step}"
    return await enqueue(
        session, key, person.telegram_id,
        render("approval_followup_ask.html.j2", person.locale, kind=row.kind,
               title=request.title, form=approvals.form_name(request, person.locale),
               command=command, reminder=step > 0),
        about=about_key(row),
    )  # fmt: skip


def _command(reports: ReportsConfig | None, request: ApprovalRequest, row: ApprovalFollowup) -> str:
    """The command of the form this follow-up is filed through ("" for the link)."""
    key = _after(request).get(FORM_KEY.get(FollowupKind(row.kind), ""), "")
    form = reports.form(key) if reports is not None and key else None
    return form.command if form is not None else key


async def _remind(
    session: AsyncSession,
    row: ApprovalFollowup,
    request: ApprovalRequest,
    person: Staff,
    cal: WorkCalendar,
    tz: ZoneInfo,
    now: datetime,
    reports: ReportsConfig,
) -> int:
    """The latest reminder step that is due, once (its key de-duplicates it)."""
    for step in range(len(REMIND_AFTER_WORKDAYS), 0, -1):
        days = REMIND_AFTER_WORKDAYS[step - 1]
        if activities.decision_deadline(row.asked_at, cal, tz, days) <= now:
            return await _ask(session, row, request, person, now, step, reports=reports)
    return 0


# ---- answers ------------------------------------------------------------------------------------


async def give_link(
    session: AsyncSession, person: Staff, prompt: Prompt, text: str
) -> ApprovalFollowup:
    """The proposer's message is the published link: kept, the directors told, the group's
    announcement updated, and the figures scheduled. Anything but an http(s) URL is refused
    (the question stays open)."""
    url = (text or "").strip().split()[0] if (text or "").strip() else ""
    if not LINK.match(url) or len(url) > LINK_MAX:
        raise FollowupError("not_a_link")
    row = await session.get(ApprovalFollowup, int(prompt.details.get("fu", 0)))
    await prompts.close(session, prompt.id)
    if row is None or row.staff_id != person.id or row.status not in OPEN:
        raise FollowupError("closed")
    now = clock.now()
    if not await _set(session, row, FollowupStatus.DONE, done_at=now, answer={"url": url}):
        raise FollowupError("closed")
    request = await session.get(ApprovalRequest, row.request_id)
    await audit.record(
        session, person.telegram_id, "approval.published", approvals.request_key(request.id),
        url=url,
    )  # fmt: skip
    await _tell_published(session, request, person, url)
    if _after(request).get("figures_after_days"):
        await _create(session, request, FollowupKind.FIGURES, None)
    return row


async def next_link(session: AsyncSession, person: Staff) -> str | None:
    """Another link still asked of `person`: its question is opened now; its request's title."""
    row = await session.scalar(
        select(ApprovalFollowup)
        .where(
            ApprovalFollowup.staff_id == person.id,
            ApprovalFollowup.kind == FollowupKind.LINK,
            ApprovalFollowup.status == FollowupStatus.ASKED,
        )
        .order_by(ApprovalFollowup.asked_at, ApprovalFollowup.id)
        .limit(1)
    )
    if row is None or await prompts.current(session, person.id) is not None:
        return None
    await prompts.ask(
        session,
        person.id,
        prompts.Kind.PUBLISHED_LINK,
        about=about_key(row),
        details={"fu": row.id},
    )
    return (await request_of(session, row)).title


async def _tell_published(
    session: AsyncSession, request: ApprovalRequest, person: Staff, url: str
) -> None:
    for director in await staff_service.directors(session):
        if director.id == person.id:
            continue
        await enqueue(
            session, f"req:{request.id}:published:{director.telegram_id}", director.telegram_id,
            render("approval_published.html.j2", director.locale, title=request.title, url=url,
                   proposer=person.display_name),
        )  # fmt: skip
    if _after(request).get("announce") == "group":
        group = await team.get(session)
        text = render(
            "approval_announce.html.j2", group.locale, request=request,
            form=approvals.form_name(request, group.locale), proposer=person.display_name,
            steps=await approvals.history(session, request, group.locale),
        ) + "\n" + render("approval_published.html.j2", group.locale, title=request.title,
                          url=url, proposer="")  # fmt: skip
        await enqueue_edit(
            session, f"req:{request.id}:announce:link", f"req:{request.id}:announce", text
        )


def _filed_through(staff_id):
    # A person's open follow-ups that a report files (figures, results), not a link.
    return (
        ApprovalFollowup.staff_id == staff_id,
        ApprovalFollowup.status.in_(OPEN),
        ApprovalFollowup.kind.in_(tuple(FORM_KEY)),
    )


def open_filed_through(staff_id) -> ColumnElement[bool]:
    """True when `staff_id` (a value or a bound parameter) has a follow-up open that a report
    files: asked with the submit's first statement (reports.submit), so that `filed` reads
    nothing for the many who have none."""
    return exists().where(*_filed_through(staff_id))


# Built once: a report filed by someone with a follow-up open runs it (see staff._BY_TELEGRAM_ID).
_OPEN_FILED_THROUGH = (
    select(ApprovalFollowup)
    .where(*_filed_through(bindparam("staff_id")))
    .order_by(ApprovalFollowup.due_at, ApprovalFollowup.id)
)


async def filed(
    session: AsyncSession, report: Report, staff: Staff, *, any_open: bool = True
) -> ApprovalFollowup | None:
    """A report of a form some follow-up is filed through closes that person's open one of it:
    the one whose title it carries, else the oldest. `any_open` False: the filer had none open
    (reports.Submitted), nothing to read."""
    if not any_open:
        return None
    rows = list(await session.scalars(_OPEN_FILED_THROUGH, {"staff_id": staff.id}))
    mine = []
    for row in rows:
        request = await session.get(ApprovalRequest, row.request_id)
        if _after(request).get(FORM_KEY[FollowupKind(row.kind)]) == report.form_key:
            mine.append((row, request))
    if not mine:
        return None
    texts = {str(v).strip() for v in report.answers.values() if isinstance(v, str)}
    row, request = next(((r, q) for r, q in mine if q.title in texts), mine[0])
    if not await _set(session, row, FollowupStatus.DONE, done_at=clock.now(),
                      answer={"report_id": report.id}):  # fmt: skip
        return None
    await audit.record(
        session, staff.telegram_id, f"approval.{row.kind}", approvals.request_key(request.id),
        report=report.id,
    )  # fmt: skip
    if row.kind == FollowupKind.RESULTS:
        await approvals.complete(session, request, staff)
    return row


async def title_for(session: AsyncSession, staff_id: int, form_key: str) -> str | None:
    """The pre-fill "approval:title": the title of the request whose open follow-up this form
    files (the oldest due), if any."""
    rows = await session.scalars(
        select(ApprovalFollowup)
        .where(
            ApprovalFollowup.staff_id == staff_id,
            ApprovalFollowup.status.in_(OPEN),
            ApprovalFollowup.kind.in_(tuple(FORM_KEY)),
        )
        .order_by(ApprovalFollowup.status, ApprovalFollowup.due_at, ApprovalFollowup.id)
    )
    for row in list(rows):
        request = await session.get(ApprovalRequest, row.request_id)
        if _after(request).get(FORM_KEY[FollowupKind(row.kind)]) == form_key:
            return request.title
    return None


async def of_requests(
    session: AsyncSession, request_ids: list[int]
) -> dict[int, list[ApprovalFollowup]]:
    """The follow-ups of these requests (for /mine), by request."""
    if not request_ids:
        return {}
    rows = await session.scalars(
        select(ApprovalFollowup)
        .where(ApprovalFollowup.request_id.in_(request_ids))
        .order_by(ApprovalFollowup.id)
    )
    found: dict[int, list[ApprovalFollowup]] = {}
    for row in rows:
        found.setdefault(row.request_id, []).append(row)
    return found


async def hand_over(session: AsyncSession, source: int, target: int, **_) -> int:
    """A leaver's open follow-ups are owed by their successor."""
    moved = await session.execute(
        update(ApprovalFollowup)
        .where(ApprovalFollowup.staff_id == source, ApprovalFollowup.status.in_(OPEN))
        .values(staff_id=target)
    )
    return moved.rowcount


async def request_of(session: AsyncSession, row: ApprovalFollowup) -> ApprovalRequest:
    """The request a follow-up belongs to."""
    return await session.get(ApprovalRequest, row.request_id)


def figures_days(request: ApprovalRequest) -> int | None:
    """In how many working days the request's figures are owed (None: none are)."""
    return _after(request).get("figures_after_days")
