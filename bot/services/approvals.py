"""Approvals of any form: configured steps, one decision per version, reasons, rounds, deadlines.

A form with `target = "approval"` and a [forms.approval] table (bot/forms/spec.py) files an
`approval_requests` row. The steps that apply to its answers are fixed when it is (re)submitted;
the deciders of the current step each get a card through the outbox; every decision is one
conditional UPDATE on (id, version, pending, step), so a double tap, two deciders at once or an
older card yields exactly one decision. Reject and Request changes return it to the proposer;
a resubmission is a new round, starting again at step 1, its cards showing what changed.
Decision 58 in docs/decisions.md.

Who decides a step (`who`): "directors" (at work, or the deputies of those on leave);
"role:<key>" (everyone holding it; one on leave is replaced by their deputy); "person:@handle";
"lead" — the proposer's lead, named per role in [forms.approval] `leads` (the first of the
proposer's roles named there), else the directors. A step whose people are missing, or only the
proposer, goes to the directors; when the proposer is the only director left, they approve it
themselves and the card and audit log say so (as with activity plans).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from bot import clock, outbox
from bot.buttons import ID, Action
from bot.calendar import WorkCalendar, local_date
from bot.db import connection, labelled, loaded, row_values
from bot.forms.fields import FieldContext
from bot.forms.spec import ApprovalSpec, FormSpec, ReportsConfig
from bot.forms.summary import full_text_buttons, snapshot_items
from bot.i18n import t
from bot.models import (
    ApprovalDecision,
    ApprovalFollowup,
    ApprovalRequest,
    ApprovalRequestId,
    ApprovalRound,
    Outbox,
    Prompt,
    Staff,
    StaffRole,
    Team,
)
from bot.outbox import Buttons, cards_under, enqueue, enqueue_card, reader_of
from bot.render import TELEGRAM_TEXT_LIMIT, render
from bot.services import activities, audit, leave, prompts, team
from bot.services import staff as staff_service
from bot.services.errors import ServiceError
from bot.states import Decision, RequestStatus

# A decider's press on a request's card (handlers/approvals.py); the version it carries makes a
# press on an older card (an earlier step, an earlier round) outdated.
APPROVE = Action("apr", "ok:{req}:{version}", req=ID, version=ID)
COMMENT = Action("apr", "cm:{req}:{version}", req=ID, version=ID)  # approve with a comment
CHANGES = Action("apr", "ch:{req}:{version}", req=ID, version=ID)
REJECT = Action("apr", "rj:{req}:{version}", req=ID, version=ID)
NOTE = Action("apr", "nt:{req}:{version}", req=ID, version=ID)  # a suggestion: read, on file
# Reason or comment length; a card's answers are clipped harder and harder until it fits.
REASON_MAX = 1000
CLIPS = (600, 300, 150, 60)
# The config words of reason_required, by decision.
REASON_WORD = {Decision.REJECT: "reject", Decision.CHANGES: "changes"}
# After the last approval: every key of [forms.approval.after] (bot/forms/spec.py ApprovalAfter)
# names the action run with its configured value, in the approving transaction. To add one
# (charge a budget pool, ask for a published link), add the key to ApprovalAfter and the
# function here; tests/test_approvals.py checks that every key has one.
AfterAction = Callable[[AsyncSession, ApprovalRequest, Staff, Any], Awaitable[None]]
AFTER_APPROVAL: dict[str, AfterAction] = {}
# Told of every change of a request, in its transaction: "submitted" (each round), "approved",
# "rejected", "changes_requested", "withdrawn" — e.g. a budget pool holds a claim's amount
# when it is submitted and releases it when it is rejected, sent back or withdrawn. The form's
# [forms.approval] as it was submitted is `request.steps["approval"]`.
Listener = Callable[[AsyncSession, ApprovalRequest, str], Awaitable[None]]
LISTENERS: list[Listener] = []
# Extra lines under an open card's answers (e.g. a budget pool's remainder and an over-budget
# warning): HTML rendered from templates, in the reader's locale, or None.
CardLine = Callable[[AsyncSession, ApprovalRequest, str], Awaitable[str | None]]
CARD_LINES: list[CardLine] = []


class ApprovalError(ServiceError):
    """A step that cannot happen; `reason` picks the message, `details` fill it in."""


def after_approval(key: str) -> Callable[[AfterAction], AfterAction]:
    """Register the action of [forms.approval.after] `key`."""

    def register(action: AfterAction) -> AfterAction:
        AFTER_APPROVAL[key] = action
        return action

    return register


@dataclass(frozen=True)
class StepView:
    """One step of a request's round as a card shows it."""

    number: int  # from 1
    name: str
    decisions: list[tuple[str, str, str | None]]  # (decider, decision, comment)


def request_key(request_id: int) -> str:
    """The about-key of a request (prompts, audit)."""
    return f"approval:{request_id}"


def card_key(request: ApprovalRequest, telegram_id: int) -> str:
    """Outbox key of one decider's card of this version (later edits refer to it)."""
    return presenter(request).card_key(request.id, request.version, telegram_id)


class Presenter:
    """What the people of a request read and what the audit log says: cards, their buttons and
    keys, the proposer's notice, the announcement. The engine's own words by default; a form
    whose requests read otherwise registers its own in PRESENTERS (activity plans: decision 65).
    """

    def card_key(self, request_id: int, version: int, telegram_id: int | str) -> str:
        """Outbox key of one decider's card of `version`."""
        return f"req:{request_id}:v{version}:card:{telegram_id}"

    def about(self, request: ApprovalRequest) -> str:
        """The sender's check of a card: still wanted while this version waits (bot/sender.py)."""
        return f"req:{request.id}:{request.version}"

    def start_day(self, request: ApprovalRequest) -> date | None:
        """The day an approved request runs from: its [forms.approval.after] start_on field."""
        field = (request.steps.get("after") or {}).get("start_on")
        value = request.answers.get(field) if field else None
        try:
            return date.fromisoformat(str(value)) if value else None
        except ValueError:
            return None

    async def card(self, session: AsyncSession, request: ApprovalRequest, locale: str) -> str:
        """The open card of the current step."""
        return await card_text(session, request, locale)

    def buttons(self, request: ApprovalRequest, locale: str) -> Buttons:
        """The open card's buttons."""
        return card_buttons(request, locale)

    def files(self, request: ApprovalRequest) -> list[dict[str, Any]]:
        """The files the card carries."""
        return files(request)

    async def closed_card(
        self, session: AsyncSession, request: ApprovalRequest, locale: str, *, closed_by: str,
        outcome: str, step: int,
    ) -> str:  # fmt: skip
        """A card of a decided (or withdrawn) version: who decided it, no buttons."""
        return await card_text(
            session, request, locale, closed_by=closed_by, outcome=outcome, at_step=step
        )

    def closed_key(self, key: str, request: ApprovalRequest) -> str:
        """Outbox key of the edit that closes the card `key`."""
        return f"{key}:closed"

    async def card_again(self, session: AsyncSession, request: ApprovalRequest, locale: str) -> str:
        """The open card sent again on request (/pending's button): the card itself."""
        return await self.card(session, request, locale)

    # What a decider's press answers (handlers/approvals.py): the template of a refusal, the
    # refusals also written to the audit log (a press by someone who may not decide), ...
    refusal_template = "approval_error.html.j2"
    audited = ("not_decider", "own_request")

    def done(self, request: ApprovalRequest) -> tuple[str, dict[str, Any]]:
        """... the confirmation after a decision or a withdrawal (template, context) ..."""
        return "approval_done.html.j2", {"request": request, "suggestion": _suggestion(request)}

    def reason_question(
        self, request: ApprovalRequest, decision: str
    ) -> tuple[str, dict[str, Any]]:
        """... and the question for the reason or comment a press asks for."""
        ctx = {"request": request, "decision": decision, "suggestion": _suggestion(request)}
        return "approval_reason_ask.html.j2", ctx

    async def decided(
        self, session: AsyncSession, request: ApprovalRequest, person: Staff, decision: str,
        comment: str | None,
    ) -> None:  # fmt: skip
        """A decision was recorded (before the cards close and the proposer is told)."""

    async def tell_proposer(
        self, session: AsyncSession, request: ApprovalRequest, person: Staff, decision: str,
        comment: str | None,
    ) -> None:  # fmt: skip
        """The proposer is told the outcome (`person` is the proposer when self-approved)."""
        await _tell_proposer(session, request, person, decision, comment)

    async def announce(
        self, session: AsyncSession, request: ApprovalRequest, proposer: Staff, where: str
    ) -> None:
        """[forms.approval.after] announce = "group" | "directors" | "none"."""
        await _announce_generic(session, request, proposer, where)

    async def audit(
        self, session: AsyncSession, actor: int | None, event: str, request: ApprovalRequest,
        **details: Any,
    ) -> None:  # fmt: skip
        """Record `event` (submitted, resubmitted, a decision, withdrawn, running, completed)."""
        await audit.record(session, actor, f"approval.{event}", request_key(request.id), **details)

    def deadline(
        self, request: ApprovalRequest, cal: WorkCalendar, tz: ZoneInfo, reports: ReportsConfig,
        decision_days: int,
    ) -> datetime:  # fmt: skip
        """When the current step must be decided: the form's deadline_workdays working days
        after the step began (its last change); `decision_days` is [approvals]
        decision_working_days, for a presenter that dates by it."""
        form = reports.form(request.form_key)
        days = form.approval.deadline_workdays if form and form.approval else 2
        return activities.decision_deadline(request.updated_at, cal, tz, days)

    # A follow-up's ask and reminders wait for working hours on working days (approval_followups).
    followups_held = True

    def followup_due(self, request: ApprovalRequest, kind: str, tz: ZoneInfo) -> datetime | None:
        """When a follow-up of `kind` falls due; None: as approval_followups dates it (the
        results the morning of the first working day after the request's results_after day)."""
        return None

    async def ask_followup(
        self, session: AsyncSession, row: ApprovalFollowup, request: ApprovalRequest,
        person: Staff, step: int, reports: ReportsConfig | None,
    ) -> int:  # fmt: skip
        """Ask `person` for a follow-up (step 0) or remind them (1, 2); how many queued."""
        return await approval_followups.ask_text(session, row, request, person, step, reports)

    async def remind(
        self, session: AsyncSession, due: list[ApprovalRequest], cal: WorkCalendar, tz: ZoneInfo,
        now: datetime,
    ) -> int:  # fmt: skip
        """Remind the deciders of `due` (this form's pending requests near or past their step's
        deadline, soonest first): each request's deciders once per version and phase, and the
        directors a working day after the deadline (escalation). Returns how many were queued."""
        today = local_date(now, tz)
        queued = 0
        for request in due:
            phase = "overdue" if request.step_due_at <= now else "before"
            for person in await deciders(session, request, today):
                queued += await _remind(session, request, person, phase, tz, now)
            queued += await escalate(session, request, cal, tz, now)
        return queued


# Per form key; every other form reads as the engine's own Presenter.
PRESENTERS: dict[str, Presenter] = {}
GENERIC = Presenter()


async def _proposer(session: AsyncSession, request: ApprovalRequest) -> Staff | None:
    """The request's proposer, with their roles, read once per session (a press reads them with
    the request: `on_card`): a decision names them on the closed cards, in the notice and to
    the after-actions."""
    proposer = (await staff_service.by_ids(session, [request.proposer_id])).get(request.proposer_id)
    _keep_proposer(session, proposer)
    return proposer


def _keep_proposer(session: AsyncSession, proposer: Staff | None) -> None:
    # In the session's `info`: its identity map holds a person only while something refers to
    # them, and `staff.by_ids` finds them there without a statement.
    if proposer is not None:
        session.info.setdefault("approvals.proposers", {})[proposer.id] = proposer


def presenter(request: ApprovalRequest) -> Presenter:
    """Who words this request's cards and notices."""
    return PRESENTERS.get(request.form_key, GENERIC)


def _about(request: ApprovalRequest) -> str:
    return presenter(request).about(request)


async def still_wanted(session: AsyncSession, about: str) -> bool:
    """The sender's check: a card or reminder goes out only while its version waits."""
    _, request_id, version = about.split(":")
    request = await session.get(ApprovalRequest, int(request_id), populate_existing=True)
    return (
        request is not None
        and request.status == RequestStatus.PENDING
        and request.version == int(version)
    )


# ---- which steps apply ------------------------------------------------------------------------


def applicable_steps(spec: ApprovalSpec, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps whose condition holds for `answers`, as stored with the request."""
    found = []
    for step in spec.steps:
        if step.when is not None and not step.when.holds(answers):
            continue  # no amount (or choice) given: the condition does not hold
        found.append({"who": step.who, "name": step.name.model_dump()})
    return found


def _steps(request: ApprovalRequest) -> list[dict[str, Any]]:
    return list(request.steps.get("steps") or [])


def step_name(request: ApprovalRequest, index: int, locale: str) -> str:
    """The name of step `index` in `locale`."""
    names = _steps(request)[index]["name"]
    return str(names.get(locale) or names.get("zh") or "?")


def style(request: ApprovalRequest) -> str:
    """ "suggestion" when the deciders answer 采纳 / 已阅 / 不采纳, else "approval"."""
    return str((request.steps.get("approval") or {}).get("style") or "approval")


def _suggestion(request: ApprovalRequest) -> bool:
    return style(request) == "suggestion"


def form_name(request: ApprovalRequest, locale: str) -> str:
    """The form's name as the request was filed with."""
    names = request.steps.get("form") or {}
    return str(names.get(locale) or names.get("zh") or request.form_key)


# ---- who decides ------------------------------------------------------------------------------


async def _named(session: AsyncSession, request: ApprovalRequest, who: str) -> list[Staff] | None:
    """The people a step names, leave aside; None when it names the directors (or nobody)."""
    if who == "lead":
        proposer = await _proposer(session, request)
        leads = request.steps.get("leads") or {}
        roles = proposer.role_names if proposer else set()
        who = next((w for role, w in leads.items() if role in roles), "directors")
    if who.startswith("role:"):
        return await staff_service.holding(session, (who.split(":", 1)[1],)) or None
    if who.startswith("person:@"):
        person = await staff_service.by_handle(session, who.split("@", 1)[1])
        return [person] if person is not None else None
    return None


def _named_is(person: Staff, who: str) -> bool:
    """True when `person` is one of those `_named` finds for `who` (the directors when it names
    nobody), told from their own row and roles: the step's deciders need not be read to let
    the one who pressed decide. False: not known without reading (a lead, someone else)."""
    if not person.active or who == "lead":
        return False
    if who.startswith("role:"):
        return person.has_role(who.split(":", 1)[1])
    if who.startswith("person:@"):
        handle = who.split("@", 1)[1].lstrip("@")
        return handle == person.username or handle == str(person.telegram_id)
    return person.has_role("director")  # named nobody: the directors decide


async def _present(session: AsyncSession, people: list[Staff], day: date) -> list[Staff]:
    """`people` at work on `day`, each away one replaced by their deputy; all of them when
    everyone is away without a deputy (a decision must stay possible)."""
    away = await leave.away_ids(session, day)
    present = [p for p in people if p.id not in away]
    for person in people:
        if person.id in away:
            standing = await leave.on_leave(session, person.id, day)
            deputy = (
                await session.get(Staff, standing.deputy_id)
                if standing and standing.deputy_id
                else None
            )
            if deputy is not None and deputy.active and deputy not in present:
                present.append(deputy)
    return present or people


def step_who(request: ApprovalRequest) -> str | None:
    """Who decides the request's current step (as configured when it was submitted)."""
    steps = _steps(request)
    return steps[request.step]["who"] if 0 <= request.step < len(steps) else None


async def deciders(session: AsyncSession, request: ApprovalRequest, day: date) -> list[Staff]:
    """Who gets the current step's card on `day` (the proposer never decides their own,
    unless nobody else can: see the module's docstring)."""
    named = await _named(session, request, _steps(request)[request.step]["who"])
    return await _deciders(session, request, day, named)


async def _deciders(
    session: AsyncSession, request: ApprovalRequest, day: date, named: list[Staff] | None,
    directors: list[Staff] | None = None,
) -> list[Staff]:  # fmt: skip
    if named is not None:
        people = [p for p in await _present(session, named, day) if p.id != request.proposer_id]
        if people:
            return people
    return [p for p in await leave.deciders(session, day, directors) if p.id != request.proposer_id]


async def _may_decide(
    session: AsyncSession, request: ApprovalRequest, person: Staff, day: date
) -> None:
    """The step's deciders (and those they stand in for) may decide; the directors too once the
    step is overdue; anyone else is refused."""
    if person.id == request.proposer_id:
        raise ApprovalError("own_request")
    if _named_is(person, _steps(request)[request.step]["who"]):
        return  # the step names them (leave or not): nothing to read
    # The step's people and the directors, each read once for every rule below.
    named = await _named(session, request, _steps(request)[request.step]["who"])
    directors = None if named else await staff_service.directors(session)
    allowed = {p.id for p in await _deciders(session, request, day, named, directors)}
    allowed |= {p.id for p in named or directors}
    due = request.step_due_at
    if due is not None and due <= clock.now():
        directors = await staff_service.directors(session) if directors is None else directors
        allowed |= {p.id for p in await leave.deciders(session, day, directors)}
        allowed |= {p.id for p in directors}
    allowed.discard(request.proposer_id)
    if person.id not in allowed:
        raise ApprovalError("not_decider")


# ---- submitting -------------------------------------------------------------------------------


async def submit(
    session: AsyncSession,
    proposer: Staff,
    form: FormSpec,
    answers: dict[str, Any],
    *,
    reports: ReportsConfig,
    today: date,
    request_id: int | None = None,
    pools: tuple = (),
    approval: ApprovalSpec | None = None,
    own: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """File a new request, or resubmit one sent back for changes (a new round from step 1).
    `pools`: the configured budget pools; the one a [forms.approval.budget] names is kept with
    the request as `steps["budget"]` (bot/services/approval_budget.py). A form with a target of
    its own (an activity plan) gives its `approval` here, and `own`: the values of its own
    row's columns and any it words itself (a plan's title)."""
    approval = approval or form.approval
    if approval is None:
        raise ApprovalError("not_approvable")
    now = clock.now()
    steps = {
        "form": form.name.model_dump(),
        "steps": applicable_steps(approval, answers),
        "leads": dict(approval.leads),
        "after": approval.after.model_dump(exclude_none=True),
        "approval": approval.model_dump(mode="json"),
        "budget": approval_budget.snapshot(form, answers, pools, today),
    }
    values = dict(
        title=_title(form, answers),
        answers=answers,
        fields=activities._snapshot(form, reports),  # the labels, regions as plain choices
        steps=steps,
        status=RequestStatus.PENDING,
        step=0,
        submitted_at=now,
        step_due_at=None,  # set by the tick from the working calendar (set_deadlines)
        decided_at=None,
        updated_at=now,
    )
    if request_id is None:
        # A form with a row of its own (joined inheritance: an activity plan) files that class.
        kinds = ApprovalRequest.__mapper__.polymorphic_map
        kind = kinds.get(form.key, ApprovalRequest.__mapper__).class_
        request = kind(
            form_key=form.key, proposer_id=proposer.id, round=1, version=1, created_at=now
        )
        for key, value in (values | (own or {})).items():
            setattr(request, key, value)
        session.add(request)
        await session.flush()
    else:
        request = await for_resubmission(session, proposer, request_id)
        # Conditional, so a double Submit cannot make two rounds out of one request.
        changed = await session.execute(
            update(ApprovalRequest)
            .where(
                ApprovalRequest.id == request.id,
                ApprovalRequest.status == RequestStatus.CHANGES_REQUESTED,
                ApprovalRequest.version == request.version,
            )
            .values(round=request.round + 1, version=request.version + 1, **values)
        )
        if changed.rowcount != 1:
            raise ApprovalError("not_pending")
        await session.refresh(request)
        if own:  # the form's own columns, and the words it gives (SQL cannot set both tables)
            for key, value in own.items():
                setattr(request, key, value)
            await session.flush()
    session.add(
        ApprovalRound(request_id=request.id, round=request.round, answers=answers, submitted_at=now)
    )
    await presenter(request).audit(
        session,
        proposer.telegram_id,
        "submitted" if request.round == 1 else "resubmitted",
        request,
        form=form.key,
        round=request.round,
    )
    await _tell_listeners(session, request, "submitted")
    await _open_step(session, request, today)
    return request


async def _tell_listeners(session: AsyncSession, request: ApprovalRequest, event: str) -> None:
    for listener in LISTENERS:
        await listener(session, request, event)


def _title(form: FormSpec, answers: dict[str, Any]) -> str:
    """The request's title: its first text answer (a title or subject field), else the form's."""
    for field in form.fields:
        value = answers.get(field.key)
        if field.type in ("text", "longtext") and isinstance(value, str) and value.strip():
            return value.strip().splitlines()[0][:200]
    return form.name.zh


async def for_resubmission(
    session: AsyncSession, proposer: Staff, request_id: int
) -> ApprovalRequest:
    """The proposer's request that was sent back for changes."""
    request = await session.get(ApprovalRequest, request_id, populate_existing=True)
    if request is None or request.proposer_id != proposer.id:
        raise ApprovalError("not_yours")
    if request.status != RequestStatus.CHANGES_REQUESTED:
        raise ApprovalError("not_pending", status=request.status)
    return request


async def sent_back(session: AsyncSession, staff_id: int, form_key: str) -> ApprovalRequest | None:
    """The person's newest request of `form_key` sent back for changes, if any."""
    return await session.scalar(
        select(ApprovalRequest)
        .where(
            ApprovalRequest.proposer_id == staff_id,
            ApprovalRequest.form_key == form_key,
            ApprovalRequest.status == RequestStatus.CHANGES_REQUESTED,
        )
        .order_by(ApprovalRequest.updated_at.desc(), ApprovalRequest.id.desc())
        .limit(1)
    )


async def _open_step(session: AsyncSession, request: ApprovalRequest, today: date) -> None:
    """Send the current step's cards; a step nobody but the proposer can decide is approved by
    them (stated on the card and in the audit log), and the next one opens."""
    if not _steps(request):  # no step applies: approved as filed
        await _finish(session, request, None, today)
        return
    people = await deciders(session, request, today)
    if people:
        for person in people:
            await _send_card(session, request, person)
        return
    if not await staff_service.directors(session):
        raise ApprovalError("no_deciders")
    proposer = await _proposer(session, request)
    await _record(session, request, proposer, Decision.APPROVE, None, self_approved=True)
    await _advance(session, request, proposer, Decision.APPROVE, None, today)


async def _send_card(session: AsyncSession, request: ApprovalRequest, person: Staff) -> bool:
    # Receipts, a draft, a design: one file carries the card as its caption, several follow it.
    shown = presenter(request)
    return await enqueue_card(
        session,
        card_key(request, person.telegram_id),
        person.telegram_id,
        await shown.card(session, request, person.locale),
        shown.buttons(request, person.locale),
        shown.files(request),
        about=_about(request),
    )


def files(request: ApprovalRequest) -> list[dict[str, Any]]:
    """Every photo and document the request's answers carry, in the form's order."""
    found = []
    ordered = sorted(request.fields.items(), key=lambda item: item[1].get("position", 0))
    for key, field in ordered:
        value = request.answers.get(key)
        if field.get("type") in ("photo", "document") and isinstance(value, list):
            found += [f for f in value if isinstance(f, dict) and f.get("file_id")]
    return found


# ---- the card ---------------------------------------------------------------------------------


def card_buttons(request: ApprovalRequest, locale: str) -> Buttons:
    """The whole text of clipped answers; Approve / Approve with a comment / Request changes /
    Reject, carrying the version."""
    ids = (request.id, request.version)
    ctx = FieldContext(locale=locale, today=clock.now().date())
    items = snapshot_items(request.fields, request.answers, ctx)
    if style(request) == "suggestion":  # every answer carries a reply the proposer reads
        return [
            *full_text_buttons("q", request.id, items, locale),
            [(t(locale, "✅ Adopt"), COMMENT.pack(*ids)), (t(locale, "📝 Noted"), NOTE.pack(*ids))],
            [(t(locale, "✖ Decline"), REJECT.pack(*ids))],
        ]  # fmt: skip
    return [
        *full_text_buttons("q", request.id, items, locale),
        [(t(locale, "✅ Approve"), APPROVE.pack(*ids)),
         (t(locale, "💬 Approve with a comment"), COMMENT.pack(*ids))],
        [(t(locale, "✏️ Send back for changes"), CHANGES.pack(*ids)),
         (t(locale, "✖ Reject"), REJECT.pack(*ids))],
    ]  # fmt: skip


async def history(session: AsyncSession, request: ApprovalRequest, locale: str) -> list[StepView]:
    """Every step of the current round with who decided it and what they said."""
    by_step: dict[int, list] = {}
    for step, name, decision, comment in await _decisions(session, request):
        by_step.setdefault(step, []).append((name, decision, comment))
    return [
        StepView(i + 1, step_name(request, i, locale), by_step.get(i, []))
        for i in range(len(_steps(request)))
    ]


Decided = tuple[int, str, str, str | None]  # (step, decider's name, decision, comment)


async def _decisions(session: AsyncSession, request: ApprovalRequest) -> list[Decided]:
    """The decisions of the request's current round, oldest first, read once per session: a
    decision's closed cards and its announcement draw the same history, and `_noted` adds the
    decision the session records (at the first step, that is the whole round: no read)."""
    kept = session.info.setdefault("approvals.decisions", {})
    key = (request.id, request.round)
    if key not in kept:
        rows = await session.execute(_HISTORY, {"request_id": request.id, "round": request.round})
        kept[key] = [(d.step, name, d.decision, d.comment) for d, name in rows]
    return kept[key]


def _noted(session: AsyncSession, request: ApprovalRequest, decided: Decided) -> None:
    # A round's first step is decided first, once (the one UPDATE that wins, in `decide`).
    kept = session.info.setdefault("approvals.decisions", {})
    key = (request.id, request.round)
    if key in kept:
        kept[key].append(decided)
    elif decided[0] == 0:
        kept[key] = [decided]


# Built once: every card drawn and every decision runs it (see staff._BY_TELEGRAM_ID).
_HISTORY = (
    select(ApprovalDecision, Staff.display_name)
    .join(Staff, Staff.id == ApprovalDecision.decider_id)
    .where(
        ApprovalDecision.request_id == bindparam("request_id"),
        ApprovalDecision.round == bindparam("round"),
    )
    .order_by(ApprovalDecision.id)
)


async def previous_answers(session: AsyncSession, request: ApprovalRequest) -> dict | None:
    """The answers of the round before this one (a resubmission's card shows the changes)."""
    if request.round <= 1:
        return None
    return await session.scalar(
        select(ApprovalRound.answers).where(
            ApprovalRound.request_id == request.id, ApprovalRound.round == request.round - 1
        )
    )


async def card_text(
    session: AsyncSession,
    request: ApprovalRequest,
    locale: str,
    *,
    closed_by: str | None = None,
    outcome: str | None = None,
    at_step: int | None = None,
) -> str:
    """A request's card in `locale`: where it is (第 2/2 步：运营总监), earlier steps' deciders and
    comments, what changed since the last round, and every answer; once `closed_by` decided
    this version (`outcome`: approve, reject, changes, withdrawn), the card says so instead of
    asking."""
    proposer = await _proposer(session, request)
    before = await previous_answers(session, request)
    # activity plans and requests keep their labels the same way: one diff, one row builder.
    diff = activities.changes(request, before, locale) if before is not None else None
    rows = activities.plan_rows(request, locale)
    steps = await history(session, request, locale)
    extra = []
    if closed_by is None:  # a closed card says who decided; what it cost was read then
        for line in CARD_LINES:
            found = await line(session, request, locale)
            if found:
                extra.append(Markup(found))  # rendered from a template: escaped already
    text = ""
    for clip in CLIPS:
        text = render(
            "approval_card.html.j2",
            locale,
            request=request,
            form=form_name(request, locale),
            proposer=proposer.display_name if proposer else "?",
            steps=steps,
            current=(request.step if at_step is None else at_step) + 1,
            rows=[(label, _clip(value, clip)) for label, value in rows],
            changes=[(label, _clip(o, clip // 2), _clip(n, clip // 2)) for label, o, n in diff]
            if diff is not None
            else None,
            closed_by=closed_by,
            outcome=outcome,
            extra=extra,
        )
        if len(text.encode("utf-16-le")) // 2 < TELEGRAM_TEXT_LIMIT - 96:
            break
    return text


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


# ---- deciding ---------------------------------------------------------------------------------


def needs_reason(form: FormSpec | None, decision: str) -> bool:
    """Whether `decision` on this form asks for a typed reason first (config reason_required;
    both when the form is no longer configured)."""
    if decision == Decision.NOTE:
        return True  # a suggestion read and kept on file: the proposer is told why
    if form is not None and form.approval is not None and form.approval.style == "suggestion":
        return True  # every answer to a suggestion carries a reply
    word = REASON_WORD.get(decision)
    if word is None:
        return False
    return form is None or form.approval is None or word in form.approval.reason_required


async def decide(
    session: AsyncSession,
    request_id: int,
    version: int,
    person: Staff,
    decision: str,
    comment: str | None = None,
    *,
    reports: ReportsConfig | None = None,
    today: date,
    pressed: bool = False,
) -> ApprovalRequest:
    """Record the one decision on this version of the request; any other press raises
    ApprovalError (outdated, withdrawn, not_decider, …). `today` is team-local: a deputy decides
    only on a day they stand in. `pressed`: the id is an `apr` card's (see on_card)."""
    if decision not in tuple(Decision):
        raise ApprovalError("bad_decision")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > REASON_MAX:
        raise ApprovalError("reason_too_long", max=REASON_MAX, length=len(comment))
    if pressed:
        request = await on_card(session, request_id, version)
    else:
        request = await session.get(ApprovalRequest, request_id, populate_existing=True)
    if request is None:
        raise ApprovalError("not_found")
    request_id = request.id
    await _may_press(session, request, version, person, today)
    form = reports.form(request.form_key) if reports is not None else None
    if comment is None and needs_reason(form, decision):
        raise ApprovalError("empty_reason")
    step = request.step
    last = step + 1 >= len(_steps(request))
    now = clock.now()
    values: dict[str, Any] = {"updated_at": now}
    if decision == Decision.NOTE and style(request) != "suggestion":
        raise ApprovalError("bad_decision")
    if decision == Decision.APPROVE and not last:
        # The next step's cards are a new version; a decided request keeps its version (its
        # status alone makes the cards it had outdated), so a one-step form's version is its
        # round — what an activity plan's buttons carry (decision 65).
        values |= {"step": step + 1, "step_due_at": None, "version": version + 1}
    else:
        status = {
            Decision.APPROVE: RequestStatus.APPROVED,
            Decision.REJECT: RequestStatus.REJECTED,
            Decision.CHANGES: RequestStatus.CHANGES_REQUESTED,
            Decision.NOTE: RequestStatus.NOTED,
        }[decision]
        values |= {"status": status, "decided_at": now}
    # The one decision: whichever press's UPDATE runs first wins; every later one (a double
    # tap, the step's other decider, an older card) matches no row.
    was = {"request_id": request_id, "version_was": version, "step_was": step}
    if session.new or session.dirty or session.deleted:
        await session.flush()  # as session.execute would have: what came first goes first
    # On the connection: the session's execute would take it through the ORM (~0.15 ms).
    conn = await connection(session)
    postgresql = conn.dialect.name == "postgresql"
    parameters = was | {f"new_{name}": value for name, value in values.items()}
    if postgresql:  # the decision's row too, written by the same statement
        row = _decision_row(request, step, person, decision, comment, now)
        parameters |= {f"d_{name}": value for name, value in row.items()}
    changed = await conn.execute(_decision_statement(tuple(sorted(values)), postgresql), parameters)
    # Only a refused press reads the row again: what beat it. The winner's values are set on
    # `request` as the UPDATE left them (nothing more to write).
    if changed.rowcount != 1:
        await session.refresh(request)
        raise await _refusal(session, request, version)
    for name, value in values.items():
        set_committed_value(request, name, value)
    await _record(session, request, person, decision, comment, step=step, written=postgresql)
    await _close_cards(session, request, version, step, person.display_name, decision)
    await _advance(session, request, person, decision, comment, today, decided=True)
    return request


_DECISION = insert(ApprovalDecision.__table__)


@cache
def _decision_statement(names: tuple[str, ...], postgresql: bool):
    # Built once per set of columns (a decided request, a next step), on the table: the ORM
    # would annotate it afresh each time. Parameters are not named after the columns, which an
    # UPDATE keeps for its SET clause.
    table = ApprovalRequest.__table__
    decided = (
        update(table)
        .where(
            table.c.id == bindparam("request_id"),
            table.c.version == bindparam("version_was"),
            table.c.status == RequestStatus.PENDING,
            table.c.step == bindparam("step_was"),
        )
        .values({name: bindparam(f"new_{name}") for name in names})
    )
    if not postgresql:
        return decided
    # PostgreSQL: the decision's row is written by the same statement, from what the UPDATE
    # returns (a data-modifying CTE): no row when the press lost, and one round trip to the
    # server instead of two (~0.5 ms of CPU; decision 67, twelfth round). Its parameters are
    # prefixed for the reason above: `step` would be SET on the request too.
    won = decided.returning(table.c.id).cte("won")
    columns = ApprovalDecision.__table__.c
    given = [bindparam(f"d_{name}", type_=columns[name].type) for name in _DECISION_VALUES]
    return _DECISION.from_select(["request_id", *_DECISION_VALUES], select(won.c.id, *given))


_DECISION_VALUES = ("round", "step", "decider_id", "decision", "comment", "at")


def _decision_row(
    request: ApprovalRequest, step: int, person: Staff, decision: str, comment: str | None, at
) -> dict[str, Any]:
    """The values of a decision's row (approval_decisions), but its request's id."""
    return dict(round=request.round, step=step, decider_id=person.id, decision=decision,
                comment=comment, at=at)  # fmt: skip


async def _record(
    session: AsyncSession,
    request: ApprovalRequest,
    person: Staff,
    decision: str,
    comment: str | None,
    *,
    step: int | None = None,
    self_approved: bool = False,
    written: bool = False,
) -> None:
    """The decision's row (unless `written` with the request's UPDATE), its audit entry and
    what its presenter keeps of it."""
    step = request.step if step is None else step
    if not written:
        await session.flush()  # what the caller changed first (nothing, mostly: no statement)
        # Never read back as an object: written by Core (an ORM object cost its flush ~0.2 ms).
        row = _decision_row(request, step, person, decision, comment, clock.now())
        await (await connection(session)).execute(_DECISION, {"request_id": request.id, **row})
    _noted(session, request, (step, person.display_name, decision, comment))
    shown = presenter(request)
    await shown.decided(session, request, person, decision, comment)
    await shown.audit(
        session,
        person.telegram_id,
        decision,
        request,
        round=request.round,
        step=step + 1,
        comment=comment,
        self_approved=self_approved,
    )


async def _advance(
    session: AsyncSession,
    request: ApprovalRequest,
    person: Staff,
    decision: str,
    comment: str | None,
    today: date,
    *,
    decided: bool = False,
) -> None:
    """What a decision causes: the next step's cards, or the proposer told (and the after
    actions of the last approval)."""
    if not decided and decision == Decision.APPROVE:
        # A self-approved step: move on here (decide() moved a real decision already).
        last = request.step + 1 >= len(_steps(request))
        now = clock.now()
        if last:
            request.status, request.decided_at = RequestStatus.APPROVED, now
        else:
            request.step, request.step_due_at = request.step + 1, None
            request.version += 1
        request.updated_at = now
        await session.flush()
    if request.status == RequestStatus.PENDING:
        await _open_step(session, request, today)
        return
    if request.status == RequestStatus.APPROVED:
        await _finish(session, request, person, today, comment)
        return
    await _tell_listeners(session, request, request.status)
    await presenter(request).tell_proposer(session, request, person, decision, comment)


async def _finish(
    session: AsyncSession, request: ApprovalRequest, person: Staff | None, today: date,
    comment: str | None = None,
) -> None:  # fmt: skip
    """The last approval: the proposer told, then every configured after-approval action."""
    if request.status != RequestStatus.APPROVED:
        now = clock.now()
        request.status, request.decided_at, request.updated_at = RequestStatus.APPROVED, now, now
        await session.flush()
    proposer = await _proposer(session, request)
    await _tell_listeners(session, request, RequestStatus.APPROVED)
    await presenter(request).tell_proposer(
        session, request, person or proposer, Decision.APPROVE, comment
    )
    # [forms.approval.after] as it was when the request was (re)submitted.
    for key, value in (request.steps.get("after") or {}).items():
        action = AFTER_APPROVAL.get(key)
        if action is not None:
            await action(session, request, proposer, value)


async def _tell_proposer(
    session: AsyncSession,
    request: ApprovalRequest,
    person: Staff,
    decision: str,
    comment: str | None,
) -> None:
    proposer = await _proposer(session, request)
    await outbox.enqueue_later(  # with the closed card: one statement
        session,
        f"req:{request.id}:v{request.version}:told",
        proposer.telegram_id,
        render(
            "approval_decided.html.j2",
            proposer.locale,
            request=request,
            form=form_name(request, proposer.locale),
            by=person.display_name,
            self_approved=person.id == proposer.id,
            decision=decision,
            comment=comment,
            suggestion=style(request) == "suggestion",
            step=step_name(request, request.step, proposer.locale) if _steps(request) else "",
            current=request.step + 1,
        ),
    )


async def _close_cards(
    session: AsyncSession,
    request: ApprovalRequest,
    version: int,
    step: int,
    decider: str,
    outcome: str,
) -> None:
    """Edit every copy of this version's card (each decider's, an escalated director's) to
    say who decided it; the buttons go."""
    shown = presenter(request)
    cards = await cards_under(session, shown.card_key(request.id, version, ""))
    readers = [reader_of(card) for card in cards]
    locales = await staff_service.locales(session, readers)
    texts: dict[str, str] = {}  # a closed card reads the same for every reader of a locale
    for row, reader in zip(cards, readers, strict=True):
        locale = locales.get(reader, "zh")
        if locale not in texts:
            texts[locale] = await shown.closed_card(
                session, request, locale, closed_by=decider, outcome=outcome, step=step
            )
        await outbox.edit_later(
            session, shown.closed_key(row.dedup_key, request), row, texts[locale]
        )


async def _may_press(
    session: AsyncSession, request: ApprovalRequest, version: int, person: Staff, day: date
) -> None:
    """A press on this version's card: refused when the request moved on (outdated, withdrawn),
    and when the presser may not decide its step and was never sent that card (forged, foreign:
    the handler audits not_decider)."""
    if request.status == RequestStatus.PENDING and request.version == version:
        await _may_decide(session, request, person, day)
        return
    if request.status == RequestStatus.PENDING:
        try:
            await _may_decide(session, request, person, day)
        except ApprovalError:
            sent = await session.scalar(
                select(Outbox.id).where(
                    Outbox.dedup_key
                    == presenter(request).card_key(request.id, version, person.telegram_id)
                )
            )
            if sent is None:
                raise
    raise await _refusal(session, request, version)


async def _refusal(session: AsyncSession, request: ApprovalRequest, version: int) -> ApprovalError:
    if request.status == RequestStatus.WITHDRAWN:
        return ApprovalError("withdrawn")
    latest = await session.execute(
        select(ApprovalDecision, Staff.display_name)
        .join(Staff, Staff.id == ApprovalDecision.decider_id)
        .where(ApprovalDecision.request_id == request.id)
        .order_by(ApprovalDecision.id.desc())
        .limit(1)
    )
    found = latest.first()
    by, decision = (found[1], found[0].decision) if found else ("", "")
    return ApprovalError("outdated", by=by, decision=decision)


# ---- a reason, or a comment -------------------------------------------------------------------


async def start_reason(
    session: AsyncSession,
    person: Staff,
    request_id: int,
    version: int,
    decision: str,
    *,
    today: date,
) -> Prompt:
    """Ask `person` for the reason of Reject / Request changes, or the comment of an approval:
    their next message."""
    if decision not in tuple(Decision):
        raise ApprovalError("bad_decision")
    request = await session.get(ApprovalRequest, request_id, populate_existing=True)
    if request is None:
        raise ApprovalError("not_found")
    await _may_press(session, request, version, person, today)
    details = {"req": request_id, "version": version, "decision": decision}
    return await prompts.ask(
        session, person.id, prompts.Kind.APPROVAL_REASON, about=request_key(request_id),
        details=details,
    )  # fmt: skip


async def give_reason(
    session: AsyncSession, person: Staff, prompt: Prompt, text: str, *, reports: ReportsConfig,
    today: date,
) -> ApprovalRequest:  # fmt: skip
    """The person's message is the reason (or comment): decide with it; an empty or too long
    one is asked again."""
    reason = (text or "").strip()
    if not reason:
        raise ApprovalError("empty_reason")
    if len(reason) > REASON_MAX:
        raise ApprovalError("reason_too_long", max=REASON_MAX, length=len(reason))
    # Gone whatever decide says: a refusal (someone else decided) ends the question too.
    await prompts.close(session, prompt.id)
    asked = prompt.details
    return await decide(
        session, asked["req"], asked["version"], person, asked["decision"], reason,
        reports=reports, today=today,
    )  # fmt: skip


async def asked(session: AsyncSession, prompt: Prompt) -> ApprovalRequest | None:
    """The request a reason prompt is about."""
    return await session.get(ApprovalRequest, int(prompt.details.get("req", 0)))


# ---- the proposer's side ----------------------------------------------------------------------


async def withdraw(session: AsyncSession, proposer: Staff, request_id: int) -> ApprovalRequest:
    """The proposer takes back a request still waiting for a decision."""
    request = await session.get(ApprovalRequest, request_id, populate_existing=True)
    if request is None or request.proposer_id != proposer.id:
        raise ApprovalError("not_yours")
    version = request.version
    changed = await session.execute(
        update(ApprovalRequest)
        .where(
            ApprovalRequest.id == request_id,
            ApprovalRequest.status == RequestStatus.PENDING,
            ApprovalRequest.version == version,
        )
        .values(status=RequestStatus.WITHDRAWN, updated_at=clock.now())
    )
    await session.refresh(request)
    if changed.rowcount != 1:
        raise ApprovalError("not_pending", status=request.status)
    await prompts.close_about(session, request_key(request_id))
    await _tell_listeners(session, request, RequestStatus.WITHDRAWN)
    await _close_cards(session, request, version, request.step, proposer.display_name, "withdrawn")
    await presenter(request).audit(
        session, proposer.telegram_id, "withdrawn", request, round=request.round
    )
    return request


# Built once: every press on a card reads its request as it is now, and its proposer with
# their roles, whom a decision names on its cards and notices (see staff._BY_TELEGRAM_ID).
_REQUEST = (
    select(ApprovalRequest, Staff)
    .outerjoin(Staff, Staff.id == ApprovalRequest.proposer_id)
    .where(ApprovalRequest.id == bindparam("request_id"))
    .options(joinedload(Staff.roles))
    .execution_options(populate_existing=True)
)


# The same as rows: most presses find neither the request nor its proposer in the session yet,
# and making the objects from rows (`db.loaded`) costs a third of the ORM's joined loading
# (~0.4 ms of CPU a press; decision 67, eleventh round). A press on a card reads the copies of
# that card it closes too (`outbox.cards_column`), and the team row, which a decision
# announced to the group needs (`team.get` finds it in the session): a statement fewer each.
@cache
def _request_rows(postgresql: bool | None):
    """None: the request and its proposer; True or False: the cards and the team too, on that
    dialect."""
    joined = (
        ApprovalRequest.__table__
        .outerjoin(Staff.__table__, Staff.id == ApprovalRequest.proposer_id)
        .outerjoin(StaffRole.__table__, StaffRole.staff_id == Staff.id)
    )  # fmt: skip
    extra = []
    if postgresql is not None:
        extra = [*labelled("t_", Team), outbox.cards_column(postgresql).label("cards")]
        joined = joined.outerjoin(Team.__table__, Team.id == team.TEAM_ID)
    return (
        select(*labelled("a_", ApprovalRequest), *labelled("s_", Staff),
               *labelled("r_", StaffRole), *extra)
        .select_from(joined)
        .where(ApprovalRequest.id == bindparam("request_id"))
        .order_by(StaffRole.id)
    )  # fmt: skip


async def on_card(
    session: AsyncSession, request_id: int, version: int | None = None
) -> ApprovalRequest | None:
    """The request an `apr` card's id names. A card sent before migration 0018 carries the old
    id: now no request's (ids given since are above every old one) or an activity plan's,
    whose cards are never `apr` ones; then approval_request_ids has the new one. A current id
    costs no look-up. `version`: the card's, whose copies a decision closes are read too."""
    request, proposer = await _with_proposer(session, request_id, version)
    _keep_proposer(session, proposer)
    if request is None or request.form_key in PRESENTERS:
        moved = await session.get(ApprovalRequestId, request_id)
        if moved is not None:
            request = await session.get(ApprovalRequest, moved.new_id, populate_existing=True)
    return request


async def _with_proposer(
    session: AsyncSession, request_id: int, version: int | None = None
) -> tuple[ApprovalRequest | None, Staff | None]:
    """The request as it is now and its proposer with their roles, in one statement (and the
    copies of its `version`'s card, held for `outbox.cards_under`)."""
    if identity_key(ApprovalRequest, request_id) in session.identity_map:
        found = (await session.execute(_REQUEST, {"request_id": request_id})).unique().first()
        return found if found is not None else (None, None)
    conn = await connection(session)
    parameters = {"request_id": request_id}
    if version is not None:
        prefix = GENERIC.card_key(request_id, version, "")
        low, high = outbox.key_bounds(prefix)
        parameters |= {"low": low, "high": high}
    postgresql = None if version is None else conn.dialect.name == "postgresql"
    rows = (await conn.execute(_request_rows(postgresql), parameters)).all()
    if not rows:
        return None, None
    request = loaded(session, ApprovalRequest, row_values(rows[0], "a_", ApprovalRequest))
    proposer = staff_service.from_rows(session, rows) if rows[0].s_id is not None else None
    if version is not None and request.form_key not in PRESENTERS:  # an apr card's copies
        outbox.hold_cards(session, prefix, rows[0].cards)
    found_team = version is not None and rows[0].t_id is not None  # start-up made the row
    if found_team and identity_key(Team, team.TEAM_ID) not in session.identity_map:
        # Kept in `info` as the proposer is (`_keep_proposer`): the identity map holds it only
        # while something refers to it, and `team.get` finds it there without a statement.
        session.info["approvals.team"] = loaded(session, Team, row_values(rows[0], "t_", Team))
    return request, proposer


async def get(session: AsyncSession, request_id: int) -> ApprovalRequest | None:
    """A request by id."""
    return await session.get(ApprovalRequest, request_id)


async def mine(session: AsyncSession, staff_id: int, limit: int = 20) -> list[ApprovalRequest]:
    """A person's requests, newest first."""
    return list(
        await session.scalars(
            select(ApprovalRequest)
            .where(ApprovalRequest.proposer_id == staff_id)
            .order_by(ApprovalRequest.created_at.desc(), ApprovalRequest.id.desc())
            .limit(limit)
        )
    )


async def waiting_for(session: AsyncSession, person: Staff, day: date) -> list[ApprovalRequest]:
    """Requests whose current step `person` may decide on `day`, the longest-waiting first."""
    pending = await session.scalars(
        select(ApprovalRequest)
        .where(ApprovalRequest.status == RequestStatus.PENDING)
        .order_by(ApprovalRequest.updated_at, ApprovalRequest.id)
    )
    found = []
    for request in list(pending):
        try:
            await _may_decide(session, request, person, day)
        except ApprovalError:
            continue
        found.append(request)
    return found


def where_is(request: ApprovalRequest, locale: str) -> dict[str, Any]:
    """Where a request is, for /mine: its status, and the step it waits at."""
    pending = request.status == RequestStatus.PENDING and bool(_steps(request))
    return {
        "status": request.status,
        "current": request.step + 1,
        "total": len(_steps(request)),
        "step": step_name(request, request.step, locale) if pending else "",
        "form": form_name(request, locale),
    }


# ---- deadlines and reminders ------------------------------------------------------------------


async def set_deadlines(
    session: AsyncSession,
    cal: WorkCalendar,
    tz: ZoneInfo,
    reports: ReportsConfig,
    decision_days: int,
) -> int:
    """Give every pending request's current step its deadline, as its presenter counts it (the
    form's deadline_workdays from the step's start by default). Returns how many were set."""
    undated = await session.scalars(
        select(ApprovalRequest).where(
            ApprovalRequest.status == RequestStatus.PENDING,
            ApprovalRequest.step_due_at.is_(None),
        )
    )
    count = 0
    for request in undated:
        request.step_due_at = presenter(request).deadline(request, cal, tz, reports, decision_days)
        count += 1
    return count


async def remind(
    session: AsyncSession,
    cal: WorkCalendar,
    tz: ZoneInfo,
    before: timedelta,
    quiet: Callable[[datetime], bool],
) -> int:
    """Requests whose step's deadline is within `before` or past are reminded as each form's
    presenter words it (the engine: per request, decider and phase, then escalation; activity
    plans: one list per decider and half-day). Held in quiet hours and off working days."""
    now = clock.now()
    today = local_date(now, tz)
    if quiet(now) or not cal.is_workday(today):
        return 0
    due = list(
        await session.scalars(
            select(ApprovalRequest)
            .where(
                ApprovalRequest.status == RequestStatus.PENDING,
                ApprovalRequest.step_due_at <= now + before,
            )
            .order_by(ApprovalRequest.step_due_at, ApprovalRequest.id)
        )
    )
    by_presenter: dict[int, tuple[Presenter, list[ApprovalRequest]]] = {}
    for request in due:
        shown = presenter(request)
        by_presenter.setdefault(id(shown), (shown, []))[1].append(request)
    queued = 0
    for shown, requests in by_presenter.values():
        queued += await shown.remind(session, requests, cal, tz, now)
    return queued


async def escalate(
    session: AsyncSession, request: ApprovalRequest, cal: WorkCalendar, tz: ZoneInfo,
    now: datetime,
) -> int:  # fmt: skip
    """A working day after the step's deadline the directors (or their deputies) get its card
    and a line saying why; nothing before then."""
    if activities.decision_deadline(request.step_due_at, cal, tz, 1) > now:
        return 0
    queued = 0
    for director in await leave.deciders(session, local_date(now, tz)):
        if director.id == request.proposer_id:
            continue
        queued += await _remind(session, request, director, "escalated", tz, now)
        queued += await _send_card(session, request, director)
    return queued


async def _remind(
    session: AsyncSession,
    request: ApprovalRequest,
    person: Staff,
    phase: str,
    tz: ZoneInfo,
    now: datetime,
) -> int:
    from bot.services.reminders import when  # the reminders' wording of a moment

    return await enqueue(
        session,
        f"req:{request.id}:v{request.version}:{phase}:{person.telegram_id}",
        person.telegram_id,
        render(
            "approval_nag.html.j2",
            person.locale,
            request=request,
            form=form_name(request, person.locale),
            step=step_name(request, request.step, person.locale),
            current=request.step + 1,
            total=len(_steps(request)),
            phase=phase,
            at=when(request.step_due_at, now, tz, person.locale),
        ),
        about=_about(request),
    )


# ---- after the last approval ------------------------------------------------------------------


@after_approval("announce")
async def _announce(
    session: AsyncSession, request: ApprovalRequest, proposer: Staff, where: str
) -> None:
    """[forms.approval.after] announce = "group" | "directors" | "none"."""
    await presenter(request).announce(session, request, proposer, where)


async def _announce_generic(
    session: AsyncSession, request: ApprovalRequest, proposer: Staff, where: str
) -> None:
    if where == "group":
        group = await team.get(session)
        if group.group_chat_id is not None:
            await enqueue(
                session, f"req:{request.id}:announce", group.group_chat_id,
                await _announcement(session, request, proposer, group.locale),
            )  # fmt: skip
    elif where == "directors":
        for director in await staff_service.directors(session):
            if director.id != proposer.id:
                await enqueue(
                    session, f"req:{request.id}:announce:{director.telegram_id}",
                    director.telegram_id,
                    await _announcement(session, request, proposer, director.locale),
                )  # fmt: skip


async def _announcement(
    session: AsyncSession, request: ApprovalRequest, proposer: Staff, locale: str
) -> str:
    return render(
        "approval_announce.html.j2",
        locale,
        request=request,
        form=form_name(request, locale),
        proposer=proposer.display_name,
        steps=await history(session, request, locale),
    )


@after_approval("start_on")
async def _starts_later(
    session: AsyncSession, request: ApprovalRequest, proposer: Staff, field: str
) -> None:
    """[forms.approval.after] start_on: the tick starts it on its day (start_due), as it
    starts an activity plan approved on its first day."""


def start_day(request: ApprovalRequest) -> date | None:
    """The day an approved request runs from, or None (see Presenter.start_day)."""
    return presenter(request).start_day(request)


async def start_due(session: AsyncSession, today: date, form_key: str | None = None) -> int:
    """Approved requests (of `form_key`, or every form) whose start day has come become
    running; returns how many."""
    query = select(ApprovalRequest).where(ApprovalRequest.status == RequestStatus.APPROVED)
    if form_key is not None:
        query = query.where(ApprovalRequest.form_key == form_key)
    approved = await session.scalars(query.order_by(ApprovalRequest.id))
    started = 0
    for request in list(approved):
        day = start_day(request)
        if day is None or day > today:
            continue
        if await _move(session, request, (RequestStatus.APPROVED,), RequestStatus.RUNNING):
            started += 1
            await presenter(request).audit(session, None, "running", request)
    return started


async def complete(session: AsyncSession, request: ApprovalRequest, by: Staff | None) -> bool:
    """A request that runs (start_on) is completed when its results are filed: approved (its
    day not come yet, or the tick not run) or running -> completed. False when it is neither."""
    if not start_day(request):
        return False
    if not await _move(
        session, request, (RequestStatus.APPROVED, RequestStatus.RUNNING), RequestStatus.COMPLETED
    ):
        return False
    await presenter(request).audit(session, by.telegram_id if by else None, "completed", request)
    return True


async def _move(
    session: AsyncSession, request: ApprovalRequest, sources: tuple[str, ...], target: str
) -> bool:
    # Conditional on the status: of two ticks (or a tick and a filing), one moves it and its
    # listeners are told once. No new cards go out, so the version stays.
    changed = await session.execute(
        update(ApprovalRequest)
        .where(ApprovalRequest.id == request.id, ApprovalRequest.status.in_(sources))
        .values(status=target, updated_at=clock.now())
    )
    await session.refresh(request)
    if changed.rowcount != 1:
        return False
    await _tell_listeners(session, request, target)
    return True


async def count_pending(session: AsyncSession) -> int:
    """How many requests wait for a decision (metrics, digests)."""
    return int(
        await session.scalar(
            select(func.count(ApprovalRequest.id)).where(
                ApprovalRequest.status == RequestStatus.PENDING
            )
        )
        or 0
    )


# The link, figures and results asked after approval register their after-actions on import;
# activity plans their presenter.
from bot.services import activity_presenter, approval_budget, approval_followups  # noqa: E402, F401
