"""Activity plans: submission, one director's decision per version, budget, and the start."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import clock
from bot.buttons import ID, Action
from bot.calendar import Period, WorkCalendar, at_local
from bot.forms.fields import (
    FieldContext,
    fields_snapshot,
)
from bot.forms.spec import (
    ApprovalAfter,
    ApprovalSpec,
    ApprovalStep,
    FormSpec,
    Labels,
    ReportsConfig,
)
from bot.forms.summary import full_text_buttons, snapshot_items
from bot.i18n import t
from bot.models import ACTIVITY_FORM, ActivityPlan, ApprovalRequest, Budget, Prompt, Staff
from bot.outbox import Buttons
from bot.render import TELEGRAM_TEXT_LIMIT, render
from bot.services import approvals, budgets, leave, prompts
from bot.services import staff as staff_service
from bot.services.budgets import COMMITTED, yuan
from bot.services.errors import ServiceError
from bot.states import Decision, PlanStatus

STATUSES = tuple(PlanStatus)
DECISIONS = (PlanStatus.APPROVED, PlanStatus.REJECTED, PlanStatus.CHANGES_REQUESTED)
# A director's press on a plan's card (handlers/approvals.py); the version it carries makes a
# press on an older card stale.
APPROVE = Action("act", "ap:{plan}:{version}", plan=ID, version=ID)
REJECT = Action("act", "rj:{plan}:{version}", plan=ID, version=ID)
REQUEST_CHANGES = Action("act", "ch:{plan}:{version}", plan=ID, version=ID)
# A plan's card again (/pending's button) and the proposer's withdraw button (/activity list,
# /mine).
SHOW_CARD = Action("act", "cd:{plan}", plan=ID)
WITHDRAW = Action("act", "wd:{plan}", plan=ID)
# A card must stay under Telegram's 4,096 characters: long answers are clipped, harder and harder
# until the whole card fits (the plan itself keeps every word).
CLIPS = (600, 300, 150, 60)
REASON_MAX = 1000
# A plan on the approval engine (decision 65) is decided as its form's [forms.approval] says
# (bot/forms/defaults.toml); a deployment's activity_plan form without one is decided as the
# shipped one: one step, the directors (their deputies standing in), the group told of an
# approval. bot/services/activity_presenter.py words it as before.
DEFAULT_APPROVAL = ApprovalSpec(
    deadline_workdays=1,
    steps=(ApprovalStep(who="directors", name=Labels(zh="董事", en="Directors")),),
    after=ApprovalAfter(announce="group"),
)
# A director's decision -> the engine's.
TO_ENGINE = {
    PlanStatus.APPROVED: Decision.APPROVE,
    PlanStatus.REJECTED: Decision.REJECT,
    PlanStatus.CHANGES_REQUESTED: Decision.CHANGES,
}
# The engine's refusals in a plan's words (the rest keep theirs: not_yours, not_pending, …).
REFUSALS = {"no_deciders": "no_directors", "own_request": "own_plan", "not_decider": "not_director"}


class ActivityError(ServiceError):
    """A plan step that cannot happen; `reason` picks the message, `details` fill it in."""


@dataclass(frozen=True)
class BudgetView:
    """A plan's cost against its month's department budget (all in fen)."""

    period: str
    budget: int | None
    committed: int
    plan: int

    @property
    def left(self) -> int | None:
        return None if self.budget is None else self.budget - self.committed

    @property
    def over(self) -> bool:
        return self.left is not None and self.plan > self.left


def card_key(plan_id: int, version: int, director_telegram_id: int) -> str:
    """Outbox key of one director's copy of a plan's card (later edits refer to it)."""
    return f"act:{plan_id}:v{version}:card:{director_telegram_id}"


def card_buttons(plan: ActivityPlan, locale: str) -> Buttons:
    """The whole text of clipped answers; Approve / Reject / Request changes, carrying the
    plan's version."""
    ids = (plan.id, plan.version)
    ctx = FieldContext(locale=locale, today=clock.now().date())
    return [
        *full_text_buttons("p", plan.id, snapshot_items(plan.fields, plan.answers, ctx), locale),
        [
            (t(locale, "✅ Approve"), APPROVE.pack(*ids)),
            (t(locale, "❌ Reject"), REJECT.pack(*ids)),
        ],
        [(t(locale, "✏️ Request changes"), REQUEST_CHANGES.pack(*ids))],
    ]


# ---- submitting ------------------------------------------------------------------------------


async def submit(
    session: AsyncSession,
    proposer: Staff,
    form: FormSpec,
    answers: dict[str, Any],
    *,
    plan_id: int | None = None,
    reports: ReportsConfig,
    today: date,
) -> ActivityPlan:
    """File a new plan, or resubmit one the directors sent back, and queue its cards: a request
    of the approval engine, with its own row."""
    start, end = _checked(answers, today)
    own = dict(
        title=str(answers.get("title") or "")[:200],
        budget_fen=int(answers.get("budget") or 0),
        start_date=start,
        end_date=end,
        budget_period=f"{start:%Y-%m}",
        decided_by=None,
        decision_reason=None,
    )
    try:
        plan = await approvals.submit(
            session, proposer, form, answers, reports=reports, today=today, request_id=plan_id,
            approval=approval(form), own=own,
        )  # fmt: skip
    except approvals.ApprovalError as exc:
        raise _translated(exc) from None
    return plan


# A plan's results are owed the day after its end date, asked and tracked by the engine's
# follow-ups (approval_followups; worded by the plan's presenter) and filed by /results
# (activity_results.complete closes the follow-up). Always so, whatever its [forms.approval]
# says: the config may not name a plan's results (bot/forms/spec.py, "the plan's own").
RESULTS = {"results_after": "end_date", "results_form": "activity_results"}


def approval(form: FormSpec) -> ApprovalSpec:
    """How a plan of this form is decided: its [forms.approval], else the shipped default, its
    results asked after its end date."""
    spec = form.approval or DEFAULT_APPROVAL
    return spec.model_copy(update={"after": spec.after.model_copy(update=RESULTS)})


def _translated(exc: "approvals.ApprovalError") -> ActivityError:
    return ActivityError(REFUSALS.get(exc.reason, exc.reason), **exc.details)


def _checked(answers: dict[str, Any], today: date) -> tuple[date, date]:
    try:
        start, end = _day(answers.get("start_date")), _day(answers.get("end_date"))
    except (TypeError, ValueError):
        raise ActivityError("dates") from None
    if end < start:
        raise ActivityError("dates", start=start.isoformat(), end=end.isoformat())
    if start < today:
        raise ActivityError("start_in_past", start=start.isoformat())
    if not answers.get("targets"):
        raise ActivityError("no_targets")
    budget = answers.get("budget")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int)):
        raise ActivityError("budget")
    if budget is not None and budget < 0:
        raise ActivityError("budget")
    if not str(answers.get("title") or "").strip():
        raise ActivityError("no_title")
    return start, end


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _snapshot(form: FormSpec, reports: ReportsConfig) -> dict[str, Any]:
    """The form's labels kept with the plan; regions become plain choices, so a card can be
    redrawn later (by decide, by the tick) without the reports config."""
    snapshot = fields_snapshot(form)
    for entry in snapshot.values():
        source = {"region": reports.regions, "industry": reports.industries}.get(entry["type"])
        if source is not None:
            entry["type"] = "choice"
            entry["choices"] = {c.key: c.label.model_dump() for c in source}
    return snapshot


async def card_still_wanted(session: AsyncSession, about: str) -> bool:
    """The sender's check: a card is worth sending only while its version waits for a decision."""
    _, plan_id, version = about.split(":")
    plan = await session.get(ApprovalRequest, int(plan_id), populate_existing=True)
    return plan is not None and plan.status == PlanStatus.PENDING and plan.version == int(version)


async def get(session: AsyncSession, plan_id: int) -> ActivityPlan | None:
    """A plan by id."""
    return await session.get(ActivityPlan, plan_id)


async def for_resubmission(session: AsyncSession, proposer: Staff, plan_id: int) -> ActivityPlan:
    """The proposer's plan that the directors sent back for changes."""
    plan = await session.get(ActivityPlan, plan_id, populate_existing=True)
    if plan is None or plan.proposer_id != proposer.id:
        raise ActivityError("not_yours")
    if plan.status != PlanStatus.CHANGES_REQUESTED:
        raise ActivityError("not_pending", status=plan.status)
    return plan


# ---- the card --------------------------------------------------------------------------------


def plan_rows(plan: ActivityPlan, locale: str, answers: dict[str, Any] | None = None) -> list:
    """(label, text) for every field the plan was filed with, in form order."""
    ctx = FieldContext(locale=locale, today=clock.now().date())
    answers = plan.answers if answers is None else answers
    return [(label, text) for _, label, text in snapshot_items(plan.fields, answers, ctx)]


def changes(plan: ActivityPlan, old_answers: dict[str, Any], locale: str) -> list:
    """(label, old, new) of every field whose text differs from `old_answers`."""
    before = plan_rows(plan, locale, old_answers)
    after = plan_rows(plan, locale)
    return [
        (label, old, new)
        for (label, old), (_, new) in zip(before, after, strict=True)
        if old != new
    ]


async def card_text(
    session: AsyncSession,
    plan: ActivityPlan,
    locale: str,
    *,
    before: dict[str, Any] | None = None,
    decider: str | None = None,
) -> str:
    """A plan's card in `locale`: the whole plan, its budget, and what changed since the answers
    `before` (a resubmission); once `decider` decided (or withdrew) it, only its title, budget
    and outcome: the director read the whole plan once in this round, and a resubmission
    brings a new card."""
    proposer = await session.get(Staff, plan.proposer_id)
    budget = await budget_view(session, plan)
    diff = changes(plan, before, locale) if before is not None and decider is None else None
    rows = plan_rows(plan, locale)
    rows = rows[:1] if decider is not None else rows
    # A plan whose config adds steps shows where it is, as every approval card does; its
    # version is the round (the engine's version also moves when a step opens).
    several = len((getattr(plan, "steps", None) or {}).get("steps", [])) > 1
    steps = await approvals.history(session, plan, locale) if several and not decider else []
    text = ""
    for clip in CLIPS:
        text = render(
            "activity_card.html.j2",
            locale,
            plan=plan,
            proposer=proposer.display_name if proposer else "?",
            rows=[(label, _clip(value, clip)) for label, value in rows],
            changes=[(label, _clip(o, clip // 2), _clip(n, clip // 2)) for label, o, n in diff]
            if diff is not None
            else None,
            budget=budget,
            money=yuan,
            decider=decider,
            steps=steps,
            current=getattr(plan, "step", 0) + 1,
            shown_version=getattr(plan, "round", plan.version),
            self_approved=plan.decided_by is not None and plan.decided_by == plan.proposer_id,
        )
        # Telegram counts UTF-16 units (an emoji is two or more); the HTML's own length is an
        # upper bound of what it shows.
        if len(text.encode("utf-16-le")) // 2 < TELEGRAM_TEXT_LIMIT - 96:
            break
    return text


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


# ---- deciding --------------------------------------------------------------------------------


async def decide(
    session: AsyncSession,
    plan_id: int,
    version: int,
    director: Staff,
    decision: str,
    reason: str | None = None,
    *,
    today: date,
) -> ActivityPlan:
    """Record the one decision on a plan's version; any other press raises ActivityError.

    `today` is the team-local day: a deputy may decide only on a day they stand in.
    """
    if decision not in DECISIONS:
        raise ActivityError("bad_decision")
    reason = (reason or "").strip() or None
    if decision != PlanStatus.APPROVED and reason is None:
        raise ActivityError("empty_reason")
    plan = await session.get(ActivityPlan, plan_id, populate_existing=True)
    if plan is None:
        raise ActivityError("not_found")
    await _may_decide(session, plan, director, today)
    if plan.status != PlanStatus.PENDING or plan.version != version:
        raise await _refusal(session, plan, version)
    # The engine's one conditional UPDATE: a double tap, the other director or an older card
    # matches no row; the presenter tells the proposer, closes the cards, tells the group.
    try:
        await approvals.decide(
            session, plan_id, version, director, TO_ENGINE[decision], reason, today=today
        )
    except approvals.ApprovalError as exc:
        await session.refresh(plan)
        if exc.reason in ("outdated", "withdrawn"):
            raise await _refusal(session, plan, version) from None
        raise _translated(exc) from None
    return plan


async def _may_decide(
    session: AsyncSession, plan: ActivityPlan, director: Staff, today: date
) -> None:
    # A directors' step words its refusals as a plan always did; any other step a deployment
    # configured ([forms.approval]) is the engine's to check (approvals._may_decide).
    if approvals.step_who(plan) not in (None, "directors"):  # None: a plan built by hand
        return
    if not director.has_role("director"):
        standing_in = await leave.acting_for(session, director.id, today)
        if not standing_in:
            raise ActivityError("not_director")
    if plan.proposer_id == director.id:
        others = [d for d in await staff_service.directors(session) if d.id != director.id]
        if others:
            raise ActivityError("own_plan")


async def _refusal(session: AsyncSession, plan: ActivityPlan, version: int) -> ActivityError:
    if plan.status == PlanStatus.WITHDRAWN:
        return ActivityError("withdrawn")
    if plan.version != version:
        return ActivityError("outdated", version=plan.version)
    decider = await session.get(Staff, plan.decided_by) if plan.decided_by else None
    return ActivityError("decided", status=plan.status, by=decider.display_name if decider else "")


# ---- the reason for Reject / Request changes ----------------------------------------------------


async def start_reason(
    session: AsyncSession,
    director: Staff,
    plan_id: int,
    version: int,
    decision: str,
    *,
    today: date,
) -> Prompt:
    """Ask `director` for the reason of `decision` on this version: their next message."""
    if decision not in (PlanStatus.REJECTED, PlanStatus.CHANGES_REQUESTED):
        raise ActivityError("bad_decision")
    plan = await session.get(ActivityPlan, plan_id, populate_existing=True)
    if plan is None:
        raise ActivityError("not_found")
    await _may_decide(session, plan, director, today)
    if plan.status != PlanStatus.PENDING or plan.version != version:
        raise await _refusal(session, plan, version)
    details = {"plan": plan_id, "version": version, "decision": decision}
    return await prompts.ask(
        session, director.id, prompts.Kind.DECISION_REASON, about=_about(plan_id), details=details
    )


async def reason_prompt(session: AsyncSession, director_id: int) -> Prompt | None:
    """The reason `director_id` owes, if they pressed Reject or Request changes."""
    prompt = await prompts.current(session, director_id)
    return prompt if prompt is not None and prompt.kind == prompts.Kind.DECISION_REASON else None


async def give_reason(
    session: AsyncSession, director: Staff, text: str, *, today: date
) -> ActivityPlan:
    """The director's message is the reason: decide with it (an empty one is asked again)."""
    prompt = await reason_prompt(session, director.id)
    if prompt is None:
        raise ActivityError("no_prompt")
    reason = (text or "").strip()
    if not reason:
        raise ActivityError("empty_reason")
    if len(reason) > REASON_MAX:
        raise ActivityError("reason_too_long", max=REASON_MAX, length=len(reason))
    # Gone whatever decide says: a refusal (someone else decided) ends the question too.
    await prompts.close(session, prompt.id)
    asked = prompt.details
    return await decide(
        session, asked["plan"], asked["version"], director, asked["decision"], reason, today=today
    )


async def cancel_reason(session: AsyncSession, director_id: int) -> bool:
    """Back out of a Reject / Request changes without deciding; True if there was one."""
    prompt = await reason_prompt(session, director_id)
    if prompt is not None:
        await prompts.close(session, prompt.id)
    return prompt is not None


def _about(plan_id: int) -> str:
    return f"activity:{plan_id}"


# ---- the proposer's side ---------------------------------------------------------------------


async def withdraw(session: AsyncSession, proposer: Staff, plan_id: int) -> ActivityPlan:
    """The proposer takes back a plan no director has decided yet."""
    plan = await session.get(ActivityPlan, plan_id, populate_existing=True)
    if plan is None or plan.proposer_id != proposer.id:
        raise ActivityError("not_yours")
    try:
        await approvals.withdraw(session, proposer, plan_id)
    except approvals.ApprovalError as exc:
        raise _translated(exc) from None
    await prompts.close_about(session, _about(plan_id))  # a director's reason no longer wanted
    return plan


async def mine(session: AsyncSession, staff_id: int) -> list[ActivityPlan]:
    """A person's plans, newest first."""
    query = (
        select(ActivityPlan)
        .where(ActivityPlan.proposer_id == staff_id)
        .order_by(ActivityPlan.created_at.desc(), ActivityPlan.id.desc())
    )
    return list(await session.scalars(query))


async def sent_back(session: AsyncSession, staff_id: int) -> ActivityPlan | None:
    """The person's newest plan a director sent back for changes, if any."""
    query = (
        select(ActivityPlan)
        .where(
            ActivityPlan.proposer_id == staff_id,
            ActivityPlan.status == PlanStatus.CHANGES_REQUESTED,
        )
        .order_by(ActivityPlan.updated_at.desc(), ActivityPlan.id.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def pending(session: AsyncSession) -> list[ActivityPlan]:
    """Plans waiting for a decision, the longest-waiting first."""
    query = (
        select(ActivityPlan)
        .where(ActivityPlan.status == PlanStatus.PENDING)
        .order_by(ActivityPlan.submitted_at, ActivityPlan.id)
    )
    return list(await session.scalars(query))


# ---- budget ----------------------------------------------------------------------------------


async def budget_left(session: AsyncSession, period_key: str) -> tuple[int | None, int]:
    """(the budget that covers a month or None when unset, fen committed against it): the
    activities pool (bot/services/budgets.py).

    A month's own budget wins; without one, the month's quarter budget applies, with what is
    committed across the quarter. Pending plans reserve nothing: only approval commits money, so
    two pending plans can each fit the budget and the second approval's card shows the overrun.
    A completed plan counts its actual cost when known. The figures are the pool's charges
    (a plan's follows its row: budgets.plan_charge).
    """
    view = await budgets.remainder(session, budgets.ACTIVITIES, period_key)
    return view.budget, view.charged


def _months_of(period_key: str) -> list[str]:
    """The months a budget period covers ("2026-12" -> itself; "2026-Q4" -> Oct, Nov, Dec)."""
    period = Period.parse(period_key)
    if period.kind == "month":
        return [period.key]
    first = period.start.month
    return [f"{period.start.year}-{m:02d}" for m in range(first, first + 3)]


async def budget_view(session: AsyncSession, plan: ActivityPlan) -> BudgetView:
    """The plan's cost against what its month has left (itself not counted twice)."""
    budget, committed = await budget_left(session, plan.budget_period)
    if plan.status in COMMITTED:
        committed -= plan.actual_cost_fen if plan.actual_cost_fen is not None else plan.budget_fen
    return BudgetView(plan.budget_period, budget, committed, plan.budget_fen)


async def set_budget(
    session: AsyncSession, period_key: str, amount_fen: int, director: Staff
) -> Budget:
    """Set a month's or a quarter's activity budget ("YYYY-MM" / "YYYY-Qn", whole fen)."""
    if amount_fen < 0 or isinstance(amount_fen, bool):
        raise ActivityError("budget")
    if not _is_budget_period(period_key):
        raise ActivityError("bad_period", period=period_key)
    return await budgets.set_amount(session, budgets.ACTIVITIES, period_key, amount_fen, director)


def _is_budget_period(key: str) -> bool:
    try:
        return Period.parse(key).kind in ("month", "quarter")
    except ValueError:
        return False


# ---- the start -------------------------------------------------------------------------------


def decision_deadline(
    submitted_at: datetime, cal: WorkCalendar, tz: ZoneInfo, working_days: int
) -> datetime:
    """`working_days` working days after submission, at the same time of day (team zone)."""
    local = submitted_at.astimezone(tz)
    day = local.date()
    for _ in range(working_days):
        day = cal.next_workday(day)
    return at_local(day, local.time().replace(tzinfo=None), tz)


async def start_due(session: AsyncSession, today: date) -> int:
    """Approved plans whose start date has come become running; returns how many (the engine
    moves them: approvals.start_due, its audit worded activity.running by the presenter)."""
    return await approvals.start_due(session, today, form_key=ACTIVITY_FORM)


@dataclass(frozen=True)
class BudgetReport:
    """A month's budget and where its money is (fen): reserved by approved or running plans, used
    by completed ones, and asked for by plans waiting for a decision."""

    period: str
    budget: int | None
    reserved: int
    used: int
    waiting: int

    @property
    def left(self) -> int | None:
        return None if self.budget is None else self.budget - self.reserved - self.used


async def budget_report(session: AsyncSession, period_key: str) -> BudgetReport:
    """What /budget shows for one month or quarter."""
    if not _is_budget_period(period_key):
        raise ActivityError("bad_period", period=period_key)
    cost = func.coalesce(ActivityPlan.actual_cost_fen, ActivityPlan.budget_fen)
    rows = await session.execute(
        select(ActivityPlan.status, func.coalesce(func.sum(cost), 0))
        .where(ActivityPlan.budget_period.in_(_months_of(period_key)))
        .group_by(ActivityPlan.status)
    )
    sums = {status: int(total) for status, total in rows}
    budget = await session.get(Budget, (budgets.ACTIVITIES, period_key))
    return BudgetReport(
        period_key,
        budget.amount_fen if budget else None,
        sums.get(PlanStatus.APPROVED, 0) + sums.get(PlanStatus.RUNNING, 0),
        sums.get(PlanStatus.COMPLETED, 0),
        sums.get(PlanStatus.PENDING, 0),
    )
