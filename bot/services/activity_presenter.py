"""Activity plans as the approval engine words them: the activity_* cards with act:v1 buttons,
the decided notice, the group's announcement and the activity.* audit entries (decision 65)."""

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.calendar import WorkCalendar, at_local, local_date
from bot.forms.spec import ReportsConfig
from bot.models import ApprovalFollowup, ApprovalRequest, Staff
from bot.outbox import Buttons, enqueue
from bot.render import render
from bot.services import activities, approval_followups, approvals, audit, team
from bot.services.budgets import yuan
from bot.services.reminders import when
from bot.states import Decision

FORM_KEY = "activity_plan"
# The engine's decision words -> a plan's status words (its audit actions say these).
WORDS = {
    Decision.APPROVE: "approved",
    Decision.REJECT: "rejected",
    Decision.CHANGES: "changes_requested",
}


class PlanPresenter(approvals.Presenter):
    """An activity plan reads as it always did, whichever code decides it."""

    def card_key(self, request_id: int, version: int, telegram_id: int | str) -> str:
        return f"act:{request_id}:v{version}:card:{telegram_id}"

    def about(self, request: ApprovalRequest) -> str:
        # The sender's "act" check (activities.card_still_wanted).
        return f"act:{request.id}:{request.version}"

    async def card(self, session: AsyncSession, request: ApprovalRequest, locale: str) -> str:
        before = await approvals.previous_answers(session, request)
        return await activities.card_text(session, request, locale, before=before)

    def start_day(self, request: ApprovalRequest) -> date | None:
        return request.start_date  # its own column (a plan built by hand has no answers)

    def buttons(self, request: ApprovalRequest, locale: str) -> Buttons:
        return activities.card_buttons(request, locale)

    def files(self, request: ApprovalRequest) -> list[dict[str, Any]]:
        return []

    async def closed_card(
        self, session: AsyncSession, request: ApprovalRequest, locale: str, *, closed_by: str,
        outcome: str, step: int,
    ) -> str:  # fmt: skip
        return await activities.card_text(session, request, locale, decider=closed_by)

    def closed_key(self, key: str, request: ApprovalRequest) -> str:
        return f"{key}:{request.status}"

    async def card_again(self, session: AsyncSession, request: ApprovalRequest, locale: str) -> str:
        return await activities.card_text(session, request, locale)  # as /pending always sent it

    # A press on a plan's card answers in the activity_* words; a press by someone who is not a
    # director (nor standing in for one) is refused and audited.
    refusal_template = "activity_error.html.j2"
    audited = ("not_director",)

    def done(self, request: ApprovalRequest) -> tuple[str, dict[str, Any]]:
        return "activity_done.html.j2", {"plan": request}

    def reason_question(
        self, request: ApprovalRequest, decision: str
    ) -> tuple[str, dict[str, Any]]:
        return "activity_reason_ask.html.j2", {"plan": request, "decision": WORDS[decision]}

    async def decided(
        self, session: AsyncSession, request: ApprovalRequest, person: Staff, decision: str,
        comment: str | None,
    ) -> None:  # fmt: skip
        # A plan keeps who decided it and why on its own row (its card, /activity, the export).
        request.decided_by, request.decision_reason = person.id, comment
        await session.flush()

    async def tell_proposer(
        self, session: AsyncSession, request: ApprovalRequest, person: Staff, decision: str,
        comment: str | None,
    ) -> None:  # fmt: skip
        proposer = await session.get(Staff, request.proposer_id)
        if person.id == proposer.id:  # the only director approved it: their card says so
            await enqueue(
                session,
                self.card_key(request.id, request.version, proposer.telegram_id),
                proposer.telegram_id,
                await activities.card_text(
                    session, request, proposer.locale, decider=proposer.display_name
                ),
            )
            return
        await enqueue(
            session,
            f"act:{request.id}:v{request.version}:decided",
            proposer.telegram_id,
            render(
                "activity_decided.html.j2", proposer.locale, plan=request,
                by=person.display_name, reason=comment,
            ),
        )  # fmt: skip

    async def announce(
        self, session: AsyncSession, request: ApprovalRequest, proposer: Staff, where: str
    ) -> None:
        group = await team.get(session)
        if where != "group" or group.group_chat_id is None:
            return
        await enqueue(
            session,
            f"act:{request.id}:announce",
            group.group_chat_id,
            render(
                "activity_announce.html.j2", group.locale, plan=request,
                proposer=proposer.display_name, budget=yuan(request.budget_fen),
            ),
        )  # fmt: skip

    async def audit(
        self, session: AsyncSession, actor: int | None, event: str, request: ApprovalRequest,
        **details: Any,
    ) -> None:  # fmt: skip
        kept: dict[str, Any] = {}
        if event in WORDS:
            kept = {"reason": details.get("comment"), "self_approved": details["self_approved"]}
        if event not in ("running", "completed"):
            kept = {"version": request.version, **kept}
        target = f"activity:{request.id}"
        await audit.record(session, actor, f"activity.{WORDS.get(event, event)}", target, **kept)

    def deadline(
        self, request: ApprovalRequest, cal: WorkCalendar, tz: ZoneInfo, reports: ReportsConfig,
        decision_days: int,
    ) -> datetime:  # fmt: skip
        # Every step of a plan has [approvals] decision_working_days (its TOML cannot refer to
        # the setting): the first from submission, as always, a configured later one from its
        # start.
        began = request.submitted_at if request.step == 0 else request.updated_at
        return activities.decision_deadline(began, cal, tz, decision_days)

    async def remind(
        self, session: AsyncSession, due: list[ApprovalRequest], cal: WorkCalendar, tz: ZoneInfo,
        now: datetime,
    ) -> int:  # fmt: skip
        # One message per decider listing every plan of theirs near or past its deadline, before
        # it, again the moment one passes, then once per working half-day (the plans' own
        # reminder, worded as it always was). A step the directors do not decide (a configured
        # person's) is escalated to them a working day after its deadline, as the engine does.
        today = local_date(now, tz)
        waiting: dict[int, tuple[Staff, list[ApprovalRequest]]] = {}
        queued = 0
        for plan in due:
            for person in await approvals.deciders(session, plan, today):
                waiting.setdefault(person.id, (person, []))[1].append(plan)
            if approvals.step_who(plan) != "directors":
                queued += await approvals.escalate(session, plan, cal, tz, now)
        half = "am" if now.astimezone(tz).hour < 13 else "pm"
        for person, plans in waiting.values():
            phase = "overdue" if any(p.decide_by <= now for p in plans) else "before"
            queued += await enqueue(
                session, f"approvals:{person.telegram_id}:{today.isoformat()}:{half}:{phase}",
                person.telegram_id,
                render("approval_reminder.html.j2", person.locale, plans=plans, now=now,
                       when=lambda at, locale=person.locale: when(at, now, tz, locale)),
            )  # fmt: skip
        return queued

    # A plan's results were always asked at the first tick of the day after its end date,
    # whatever the hour, and once: no reminders (test_activity_results pins the wording).
    followups_held = False

    def followup_due(self, request: ApprovalRequest, kind: str, tz: ZoneInfo) -> datetime | None:
        return at_local(request.end_date + timedelta(days=1), time(0), tz)

    async def ask_followup(
        self, session: AsyncSession, row: ApprovalFollowup, request: ApprovalRequest,
        person: Staff, step: int, reports: ReportsConfig | None,
    ) -> int:  # fmt: skip
        if step:
            return 0
        return await enqueue(
            session, f"act:{request.id}:results-ask", person.telegram_id,
            render("activity_results_ask.html.j2", person.locale, plan=request),
            about=approval_followups.about_key(row),
        )  # fmt: skip


approvals.PRESENTERS[FORM_KEY] = PlanPresenter()
