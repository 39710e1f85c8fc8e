"""Filing a form: what a person files next, the answers a draft starts with, and filing it.

The conversation (bot/forms/flow.py) asks the questions and keeps the draft; this module knows
what a draft is for (a period's report, a new or sent-back activity plan, an ended activity's
results) and files it: the report with its obligation, metrics and announcements; the plan with
its cards to the directors; the results with their review cards.
"""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar import Period
from bot.forms.spec import FormSpec, ReportsConfig
from bot.models import ActivityPlan, Draft, Report, Staff
from bot.services import (
    activities,
    activity_results,
    announce,
    approval_followups,
    approvals,
    budgets,
    feedback,
    obligations,
    prefill,
    reports,
)
from bot.services.activities import ActivityError
from bot.services.approvals import ApprovalError
from bot.services.reports import ReportError

# Drafts of activity plans have no period: a new plan, or the plan being resubmitted. Other
# adhoc reports (a research report) take the day they are filed as their key.
NEW_PLAN = "new"
PLAN_PREFIX = "plan:"
RESULTS_PREFIX = "results:"
# Drafts of forms approved in steps (bot/services/approvals.py): a new request, or "req:7" sent
# back for changes and being resubmitted.
NEW_REQUEST = "req:new"
REQUEST_PREFIX = "req:"


class DraftFor(StrEnum):
    """What a draft files, read from its key (drafts.period_key doubles as the draft's type)."""

    PERIOD = "period"  # a daily or weekly report: the key is the period's
    NEW_PLAN = "new_plan"
    PLAN = "plan"  # a plan the directors sent back, being resubmitted
    RESULTS = "results"  # an ended activity's results
    NEW_REQUEST = "new_request"  # a new filing of a form approved in steps
    REQUEST = "request"  # a request sent back for changes, being resubmitted


@dataclass(frozen=True)
class Subject:
    """A draft key read: what it files, and the plan it is about (PLAN, RESULTS)."""

    kind: DraftFor
    plan_id: int | None = None


def subject(key: str) -> Subject:
    """Read a draft key ("2026-11-26", "new", "plan:7", "results:7")."""
    if key == NEW_PLAN:
        return Subject(DraftFor.NEW_PLAN)
    if key.startswith(PLAN_PREFIX):
        return Subject(DraftFor.PLAN, int(key[len(PLAN_PREFIX) :]))
    if key.startswith(RESULTS_PREFIX):
        return Subject(DraftFor.RESULTS, int(key[len(RESULTS_PREFIX) :]))
    if key == NEW_REQUEST:
        return Subject(DraftFor.NEW_REQUEST)
    if key.startswith(REQUEST_PREFIX):
        return Subject(DraftFor.REQUEST, int(key[len(REQUEST_PREFIX) :]))
    return Subject(DraftFor.PERIOD)


# Where an activity-plan problem sends the proposer back to.
PLAN_PROBLEM_FIELDS = {
    "dates": "end_date",
    "start_in_past": "start_date",
    "no_targets": "targets",
    "budget": "budget",
}


# ---- what to file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Opening:
    """What a form's command opens when the person has no draft: a draft key, or why not."""

    key: str | None = None  # the new draft's period_key (a period, NEW_PLAN, plan:…, results:…)
    obligation_id: int | None = None  # the obligation the report settles, when one is known
    # A plan the directors sent back (its id), or a request sent back ("req:7"): it comes first.
    resubmit: int | str | None = None
    nothing: Literal["no_results", "nothing_due"] | None = None
    editable: str | None = None  # nothing due: the period of the last report still editable
    unfiled: bool = False  # known to have no report on file yet (`start` need not look)


async def opening(session: AsyncSession, staff: Staff, form: FormSpec, today: date) -> Opening:
    """The oldest open period, a plan (new or sent back), an ended activity, or nothing due."""
    if form.target == "activity_results":
        ended = await activity_results.awaiting_results(session, staff.id, today)
        return Opening(nothing="no_results") if ended is None else Opening(results_key(ended.id))
    if form.target == "activity_plan":
        sent_back = await activities.sent_back(session, staff.id)
        return Opening(resubmit=sent_back.id) if sent_back is not None else Opening(NEW_PLAN)
    if form.target == "approval":
        back = await approvals.sent_back(session, staff.id, form.key)
        return Opening(resubmit=request_key(back.id)) if back is not None else Opening(NEW_REQUEST)
    if form.cadence == "adhoc":  # owed by nobody: filed for the day, edited again that day
        return Opening(Period.containing("day", today).key)
    due, on_file = await obligations.oldest_open(session, staff.id, form.key, today)
    if due is not None:
        return Opening(due.period_key, due.id, unfiled=not on_file)
    filed = await obligations.editable(session, staff.id, form.key, today)
    if filed is not None and today in Period.parse(filed.period_key):
        return Opening(filed.period_key, filed.id)
    # A day off: nothing is owed; the last report (still open for edits) may be offered.
    return Opening(nothing="nothing_due", editable=filed.period_key if filed else None)


async def editing(
    session: AsyncSession, staff: Staff, form: FormSpec, today: date, period_key: str
) -> Opening | None:
    """The filed report of `period_key`, if it is still open for edits."""
    filed = await obligations.editable(session, staff.id, form.key, today)
    if filed is None or filed.period_key != period_key:
        return None
    return Opening(filed.period_key, filed.id)


async def anyway(session: AsyncSession, staff: Staff, form: FormSpec, today: date) -> Opening:
    """The current period, although nothing is due (a holiday, a weekend)."""
    period = obligations.period_of(form, today)
    due = await obligations.for_period(session, staff.id, form.key, period.key)
    return Opening(period.key, due.id if due else None)


@dataclass(frozen=True)
class SentBack:
    """A request sent back, as the conversation resubmits it: `id` is its draft key."""

    id: str
    answers: dict[str, Any]


async def resubmission(
    session: AsyncSession, staff: Staff, plan_id: int | str
) -> ActivityPlan | SentBack:
    """The proposer's plan the directors sent back (its key is plan_key(plan.id)), or, for a
    request's key ("req:7"), the request sent back, keyed the same way."""
    if isinstance(plan_id, str):
        request = await approvals.for_resubmission(session, staff, subject(plan_id).plan_id)
        return SentBack(plan_id, dict(request.answers))
    return await activities.for_resubmission(session, staff, plan_id)


def plan_key(plan_id: int | str) -> str:
    """The draft key of a sent-back plan being resubmitted (a request's is its key already)."""
    return plan_id if isinstance(plan_id, str) else f"{PLAN_PREFIX}{plan_id}"


def request_key(request_id: int) -> str:
    """The draft key of a request sent back for changes."""
    return f"{REQUEST_PREFIX}{request_id}"


def results_key(plan_id: int) -> str:
    """The draft key of an ended activity's results."""
    return f"{RESULTS_PREFIX}{plan_id}"


@dataclass(frozen=True)
class Start:
    """The answers a new draft starts with, and the filed report it edits (if any)."""

    answers: dict[str, Any]
    report_id: int | None = None


async def start(
    session: AsyncSession, staff: Staff, form: FormSpec, key: str, *, unfiled: bool = False
) -> Start:
    """The filed report's answers (an edit), or those the bot pre-fills for a new one
    (`unfiled`: the caller knows there is no report, Opening.unfiled)."""
    report = None if unfiled else await reports.existing(session, staff.id, form.key, key)
    if report is not None:
        return Start(dict(report.answers), report.id)
    return Start(await _prefilled(session, staff, form, key))


async def _prefilled(
    session: AsyncSession, staff: Staff, form: FormSpec, key: str
) -> dict[str, Any]:
    """Answers written by the bot (this week's feedback, an activity's targets, the month's
    daily figures summed, the channel library)."""
    answers: dict[str, Any] = {}
    about = subject(key)
    for spec in form.fields:
        if spec.prefill and prefill.is_known(spec.prefill) and about.kind == DraftFor.PERIOD:
            answers[spec.key] = await prefill.value(session, staff.id, spec, key)
        if spec.prefill == "activity:targets" and about.kind == DraftFor.RESULTS:
            plan = await activities.get(session, about.plan_id)
            answers[spec.key] = activity_results.targets_as_actuals(plan) if plan else None
        if spec.prefill == "approval:title":  # the approved request this form follows up
            answers[spec.key] = await approval_followups.title_for(session, staff.id, form.key)
        if spec.prefill == "feedback:week":
            # Figures, not text: each reader sees them in their own language (decision 39).
            summary = await feedback.week_summary(session, key)
            answers[spec.key] = feedback.week_value(summary)
    return answers


# ---- filing ---------------------------------------------------------------------------------


class Outcome(StrEnum):
    """What filing a draft made (the conversation shows each: bot/forms/flow.StepKind)."""

    FILED = "filed"  # a report
    PLAN_SUBMITTED = "plan_submitted"
    RESULTS_FILED = "results_filed"


@dataclass(frozen=True)
class Filed:
    """A filed draft: a report (a new version when `edited`), a plan, or an activity's results."""

    kind: Outcome
    report: Report | None = None
    plan: ActivityPlan | None = None

    @property
    def edited(self) -> bool:
        return self.report is not None and self.report.version > 1


@dataclass(frozen=True)
class Refused:
    """Not filed: the field to fix and its error (a FieldError reason); the draft is kept."""

    field_key: str
    reason: str
    to_review: bool = True  # once fixed, straight back to the review card


async def submit(
    session: AsyncSession,
    draft: Draft,
    *,
    form: FormSpec,
    staff: Staff,
    config: ReportsConfig,
    today: date,
    team_locale: str,
    pools: tuple[budgets.Pool, ...] = budgets.DEFAULT_POOLS,
) -> Filed | Refused:
    """File a finished draft; the draft is gone once filed, kept as it was when refused
    (`pools`: the configured budget pools a request may draw on)."""
    if form.target == "activity_results":
        return await _submit_results(session, draft, form, staff)
    if form.target == "activity_plan":
        return await _submit_plan(session, draft, form, staff, config, today)
    if form.target == "approval":
        return await _submit_request(session, draft, form, staff, config, today, pools)
    try:
        report, followup_open = await reports.submit(session, draft, form, staff)
    except ReportError as exc:
        if exc.reason == "missing":  # back to the first one, then on through the form
            return Refused(exc.details["fields"][0], "empty", to_review=False)
        raise
    await approval_followups.filed(session, report, staff, any_open=followup_open)  # owed figures
    if form.announce:
        await announce.report_filed(session, report, form, staff, config, team_locale)
    return Filed(Outcome.FILED, report=report)


async def _submit_plan(
    session: AsyncSession,
    draft: Draft,
    form: FormSpec,
    staff: Staff,
    config: ReportsConfig,
    today: date,
) -> Filed | Refused:
    """An activity plan goes to the directors (a new plan, or a resubmission)."""
    missing = reports.missing_required(form, draft.answers)
    if missing:
        return Refused(missing[0], "empty")
    plan_id = subject(draft.period_key).plan_id  # None: a new plan
    try:
        async with session.begin_nested():  # nothing half-stored when the plan is refused
            plan = await activities.submit(
                session, staff, form, dict(draft.answers), plan_id=plan_id,
                reports=config, today=today,
            )  # fmt: skip
    except ActivityError as exc:
        field_key = PLAN_PROBLEM_FIELDS.get(exc.reason)
        if field_key is None:
            raise
        return Refused(field_key, f"plan_{exc.reason}")
    await session.execute(delete(Draft).where(Draft.id == draft.id))
    return Filed(Outcome.PLAN_SUBMITTED, plan=plan)


async def _submit_request(
    session: AsyncSession,
    draft: Draft,
    form: FormSpec,
    staff: Staff,
    config: ReportsConfig,
    today: date,
    pools: tuple[budgets.Pool, ...],
) -> Filed | Refused:
    """A filing of a form approved in steps goes to its first step's deciders (the outcome is
    shown as a plan's is: `plan` holds the request)."""
    missing = reports.missing_required(form, draft.answers)
    if missing:
        return Refused(missing[0], "empty")
    request_id = subject(draft.period_key).plan_id  # None: a new request
    try:
        async with session.begin_nested():  # nothing half-stored when it is refused
            request = await approvals.submit(
                session, staff, form, dict(draft.answers), reports=config, today=today,
                request_id=request_id, pools=pools,
            )  # fmt: skip
    except ApprovalError as exc:
        if exc.reason != "not_pending":
            raise
        # Resubmitted twice (two Submit presses): the first one filed it; this draft is done.
        request = await approvals.get(session, request_id)
    await session.execute(delete(Draft).where(Draft.id == draft.id))
    return Filed(Outcome.PLAN_SUBMITTED, plan=request)


async def _submit_results(
    session: AsyncSession, draft: Draft, form: FormSpec, staff: Staff
) -> Filed | Refused:
    """The results of an ended activity close its plan; directors get the review card."""
    missing = reports.missing_required(form, draft.answers)
    if missing:
        return Refused(missing[0], "empty")
    plan_id = subject(draft.period_key).plan_id
    plan = await activity_results.complete(session, staff, plan_id, dict(draft.answers))
    await session.execute(delete(Draft).where(Draft.id == draft.id))
    return Filed(Outcome.RESULTS_FILED, plan=plan)
